"""What an export starts from: a checked spec and the weights to write with it.

A run folder gives its trained weights (the best epoch's where there is one, as ``eval``
reads them), batch norm's running statistics included; a spec gives the initial weights its
training seed draws, exactly those ``cnnspec train`` would start from.
"""
from __future__ import annotations

from dataclasses import field
from pathlib import Path

import numpy as np

from cnnspec.atomic import write_bytes
from cnnspec.check.load import given_spec_path
from cnnspec.check.model import CheckedSpec
from cnnspec.compiler import compile_spec
from cnnspec.dtypes import UNRECORDED_DTYPE
from cnnspec.errors import RunError, counted, hinted
from cnnspec.kinds import KINDS
from cnnspec.records import record
from cnnspec.training.run import as_checked, load_run


@record(frozen=True)
class Exported:
    """A checked spec, its weights by checkpoint key (``<layer>.weight``, ``<layer>.bias``,
    ``<layer>.running_mean``, ...), and in words where it comes from (``source``) and which
    weights these are (``weights``); a run's fitted ``preprocessor``
    (:class:`~cnnspec.data.preprocess.Preprocessor`), None for a spec, whose statistics are
    fitted when it trains; the ``dtype`` a run trained in (None for a spec); a run's
    ``metrics_note`` (:attr:`cnnspec.training.run.Run.metrics_note`)."""

    checked: CheckedSpec
    # left out of the repr: the export's return value, printed, would list every weight
    state: dict[str, np.ndarray] = field(repr=False)
    source: str
    weights: str
    preprocessor: object = None
    dtype: str | None = None
    metrics_note: str | None = None

    def input_note(self) -> str | None:
        """What the exported network's input must be, in words, where it is not the images
        in [0, 1] that ``predict`` reads: the network was trained on preprocessed images, and
        an exported model holds the network alone (as torchvision's models leave
        ``Normalize`` to their transforms). None where no preprocessing applies."""
        if self.preprocessor is not None:
            if self.preprocessor.mode == "none":
                return None
            return (f"images x in [0, 1] preprocessed as the run trained on them "
                    f"({self.preprocessor.mode}): {self.preprocessor.formula()}")
        mode = self.checked.ir["training"]["preprocess"]
        if mode == "none":
            return None
        return (f"images in [0, 1] after the spec's `preprocess {mode}`, whose statistics "
                "training fits (a run's export carries them)")

    def needed_layers(self) -> list:
        """The layers the output depends on, in the spec's order (an unused branch has no
        place in a model meant for inference)."""
        by_name = self.checked.by_name
        needed, todo = set(), [self.checked.ir["output"]]
        while todo:
            name = todo.pop()
            if name in by_name and name not in needed:
                needed.add(name)
                todo.extend(by_name[name].inputs)
        return [layer for layer in self.checked.layers if layer.name in needed]

    def require_mapping(self, format_name: str, attribute: str, layers=None) -> None:
        """A located error for the first of ``layers`` (default: the needed ones) whose kind
        declares no mapping to the format (``attribute`` of its
        :class:`~cnnspec.kinds.Kind`: ``onnx`` or ``torch``)."""
        for layer in self.needed_layers() if layers is None else layers:
            if getattr(KINDS[layer.kind], attribute) is None:
                raise self.checked.spec.error(
                    f"{layer.kind} layer '{layer.name}' cannot be exported to {format_name}: "
                    f"the kind '{layer.kind}' has no {format_name} mapping", layer.name,
                    **hinted("replace the layer with one that has, or write the IR, which "
                             "names every kind ({ir_json})"))


def open_exported(source, dtype: str = "float64") -> Exported:
    """``source``: a run folder (its trained weights), a path to a ``.cnn``/``.json`` spec or
    a :class:`CheckedSpec` (the initial weights of its seed, drawn in ``dtype``); anything
    else is a :class:`~cnnspec.errors.SettingError` naming ``source``."""
    if not isinstance(source, CheckedSpec):
        source = given_spec_path(source, "source")
    if isinstance(source, Path) and source.is_dir():
        run = load_run(source, which_taken=False)  # export is given no which
        epoch = "" if run.weights_epoch is None else f", epoch {run.weights_epoch}"
        # a run that did not finish is exported as eval evaluates it: say which weights
        status = run.summary.get("status")
        stopped = (f"; the run {status} after {counted(run.summary.get('steps', 0), 'step')} "
                   "and these were saved before that"
                   if status in ("diverged", "interrupted") else "")
        return Exported(run.spec, run.model.state_dict(), f"run {Path(source)}",
                        f"trained weights ({run.weights}{epoch}{stopped})", run.preprocessor,
                        run.summary.get("dtype", UNRECORDED_DTYPE), run.metrics_note)
    if isinstance(source, Path) and not source.exists():
        raise RunError(f"{source} does not exist",
                       hint="pass a .cnn spec, a .json IR file or a run folder")
    checked = as_checked(source)
    seed = checked.ir["training"]["seed"]
    model = compile_spec(checked, seed=seed, dtype=dtype)
    return Exported(checked, model.state_dict(),
                    f"spec {checked.spec.path or checked.ir['name']}",
                    f"initial weights of seed {seed}")


def write_output(path: Path, data) -> None:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically, as run files are; a
    RunError where the folder is missing or not writable."""
    path = Path(path)
    if not path.parent.is_dir():
        raise RunError(f"cannot write {path}: the folder {path.parent} does not exist",
                       hint="create the folder first, or pass another -o path")
    data = data.encode("utf-8") if isinstance(data, str) else data
    write_bytes(path, data)
