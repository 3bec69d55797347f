"""A finished (or interrupted) training run, opened from its folder."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnspec.check.load import load
from cnnspec.check.model import CheckedSpec
from cnnspec.compiler import compile_spec
from cnnspec.data import Preprocessor
from cnnspec.errors import RunError, SettingError
from cnnspec.training import rundir
from cnnspec.training.files import read_json, read_jsonl
from cnnspec.training.rundir import RunDir, open_run_dir
from cnnspec.training.state import BEST_EPOCH_KEY, load_weights

WHICH = ("best", "last")  # the weights load_run can open


@dataclass
class Run:
    """A run folder and what it holds, with the model's weights loaded.

    ``metrics`` is one dict per finished epoch (as in ``metrics.jsonl``); ``summary`` is
    ``summary.json``; ``preprocessor`` transforms raw images ``(N, C, H, W)`` in [0, 1] the way
    training did; ``classes[i]`` names output ``i``. ``weights`` says which weights the model
    holds: ``"best"`` (``best.npz``, the best epoch by the ``monitor`` setting, which is
    ``weights_epoch``) or ``"last"`` (``checkpoint.npz``, the last saved).
    """

    path: Path
    spec: CheckedSpec
    model: object
    metrics: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    preprocessor: object = None
    classes: list[str] = field(default_factory=list)
    weights: str = "last"
    weights_epoch: int | None = None

    @property
    def training(self) -> dict:
        """The effective training settings (the spec's, with the run's overrides)."""
        return self.spec.ir["training"]

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """Raw images (N, C, H, W) in [0, 1] as the model takes them: preprocessed as in
        training, in the model's dtype."""
        return self.preprocessor.apply(images).astype(self.model.dtype, copy=False)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """(N, K) class probabilities (float64) for raw images (N, C, H, W) in [0, 1],
        preprocessed as in training and run through the model in eval mode;
        ``classes[k]`` names column k."""
        self.model.eval()
        out = self.model.forward(self.prepare(images))
        # A softmax output layer already gives probabilities and a log_softmax one their logs;
        # otherwise the outputs are logits.
        kind = self.spec.by_name[self.spec.ir["output"]].kind
        if kind == "softmax":
            return out.astype(np.float64)
        if kind == "log_softmax":
            return np.exp(out.astype(np.float64))
        if out.shape[1] == 1:  # one logit for 2 classes (the bce loss): [1 - p, p]
            p = 0.5 * (1 + np.tanh(0.5 * out[:, 0].astype(np.float64)))
            return np.stack([1 - p, p], axis=1)
        return softmax(out)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, K) scores, computed in float64 after subtracting the max."""
    z = scores.astype(np.float64) - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def load_run(path, which: str = "best") -> Run:
    """Open a run folder: its resolved spec, metrics, summary and weights: with ``which``
    ``"best"`` those of its best epoch (``best.npz``) when it has one (a run with a validation
    split), else the last checkpoint's; with ``"last"`` the last checkpoint's."""
    if which not in WHICH:
        raise SettingError(f"which must be one of {', '.join(WHICH)}, not {which!r}",
                           invalid=True)
    run = open_run_dir(path)
    checked = as_checked(run.spec_json)
    try:
        summary, unreadable = read_json(run.summary, what="run summary"), None
    except RunError as exc:  # said after the checkpoint is checked, as before
        summary, unreadable = {}, exc
    # Runs from before --dtype trained in float32.
    model = compile_model(checked, checked.ir["training"]["seed"],
                          summary.get("dtype", "float32"))
    if which == "best" and (run / rundir.BEST).is_file():
        epoch = int(load_weights(run, model, rundir.BEST)[BEST_EPOCH_KEY])
    else:
        load_weights(run, model)
        which, epoch = "last", None
    model.eval()
    if unreadable is not None:
        raise unreadable
    if which == "last":
        epoch = summary.get("epochs_done")
    return Run(
        path=run.path,
        spec=checked,
        model=model,
        metrics=read_jsonl(run.metrics),
        summary=summary,
        preprocessor=Preprocessor.from_dict(read_json(run / rundir.PREPROCESS,
                                                      what="preprocessing record")),
        classes=list(summary.get("classes") or []),
        weights=which,
        weights_epoch=epoch,
    )


def as_checked(spec) -> CheckedSpec:
    """``spec`` itself if checked already, else the spec loaded and checked from that path."""
    if isinstance(spec, CheckedSpec):
        return spec
    return load(str(spec))


DTYPES = ("float32", "float64")


def compile_model(checked: CheckedSpec, seed: int, dtype: str = "float32"):
    """The model of ``checked`` in ``dtype`` with the initial weights of ``seed``."""
    return compile_spec(checked, seed=seed, dtype=dtype)


def run_dir_of(run: Run) -> RunDir:
    return RunDir(Path(run.path))
