"""``load_dataset``: from the IR's ``training.data`` object to a :class:`Dataset`."""
from __future__ import annotations

from cnnspec.data.dataset import Dataset
from cnnspec.data.downloads import load_download
from cnnspec.downloaded import DOWNLOADS
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import SpecError
from cnnspec.ir.datasets import problems, with_defaults
from cnnspec.seeding import streams


def _config(cfg) -> dict:
    """``cfg`` with its canonical name and defaults filled in; its mistakes (as ``check``
    reports them for a spec) raise a :class:`SpecError` at their JSON path."""
    if not isinstance(cfg, dict):
        raise SpecError("training.data must be an object with a name",
                        json_path="$.training.data", hint='e.g. {"name": "digits"}')
    cfg = with_defaults(cfg)
    for problem in problems(cfg):
        raise SpecError(problem.message, json_path=f"$.training.data.{problem.arg}",
                        hint=problem.hint)
    return cfg


def load_dataset(cfg: dict, seed: int, data_dir: str | None = None,
                 dtype: str = DEFAULT_DTYPE, n_classes: int | None = None) -> Dataset:
    """The dataset described by ``cfg`` (an IR ``training.data`` object; arguments left out
    take their defaults).

    ``seed`` is the run's seed: only ``shapes`` uses it, through the ``dataset`` stream of
    :func:`cnnspec.seeding.streams`; every other dataset and every train/test split is fixed.
    ``data_dir`` is where downloaded datasets are cached (default ``~/.cache/cnnspec``).
    ``dtype``: the images' (a float64 run's are scaled in float64: k/255 rounded to float32
    would carry float32's rounding into the run). ``n_classes``: the classes a trained
    network scores, for an ``npz`` file whose labels may name only some of them
    (:func:`cnnspec.data.npz.load_npz`); a built-in or downloaded dataset's are its own.
    """
    cfg = _config(cfg)
    name = cfg["name"]
    # Each loader is imported only for the dataset asked for: the download code behind mnist
    # alone costs ~25 ms of imports that the built-in datasets never need (downloads.py
    # imports it only when one is loaded).
    if name == "digits":
        from cnnspec.data.digits import load_digits

        return load_digits(dtype)
    if name == "shapes":
        from cnnspec.data.synthetic_shapes import load_shapes

        return load_shapes(cfg, streams(seed)["dataset"], dtype)
    if name in DOWNLOADS:
        return load_download(name, data_dir=data_dir, dtype=dtype)
    from cnnspec.data.npz import load_npz

    return load_npz(cfg["path"], dtype, n_classes)
