"""``load_dataset``: from the IR's ``training.data`` object to a :class:`Dataset`."""
from __future__ import annotations

from cnnspec.data.dataset import Dataset
from cnnspec.data.names import DATASET_NAMES
from cnnspec.errors import SpecError
from cnnspec.seeding import streams


def _unknown(cfg: dict) -> SpecError:
    return SpecError(f"unknown dataset {cfg.get('name')!r}", json_path="$.training.data.name",
                     hint="valid datasets: " + ", ".join(DATASET_NAMES))


def load_dataset(cfg: dict, seed: int, data_dir: str | None = None) -> Dataset:
    """The dataset described by ``cfg`` (an IR ``training.data`` object).

    ``seed`` is the run's seed: only ``shapes`` uses it, through the ``dataset`` stream of
    :func:`cnnspec.seeding.streams`; every other dataset and every train/test split is fixed.
    ``data_dir`` is where downloaded datasets are cached (default ``~/.cache/cnnspec``).
    """
    if not isinstance(cfg, dict):
        raise SpecError("training.data must be an object with a name",
                        json_path="$.training.data", hint='e.g. {"name": "digits"}')
    name = cfg.get("name")
    # Each loader is imported only for the dataset asked for: the download code behind mnist
    # alone costs ~25 ms of imports that the built-in datasets never need.
    if name == "digits":
        from cnnspec.data.digits import load_digits

        return load_digits()
    if name == "shapes":
        from cnnspec.data.synthetic_shapes import load_shapes

        return load_shapes(cfg, streams(seed)["dataset"])
    if name in ("mnist", "fashion-mnist"):
        from cnnspec.data.mnist import load_idx_dataset

        return load_idx_dataset(name, data_dir=data_dir)
    if name == "npz":
        from cnnspec.data.npz import load_npz

        if not isinstance(cfg.get("path"), str) or not cfg["path"]:
            raise SpecError("npz data needs a path", json_path="$.training.data.path",
                            hint='e.g. {"name": "npz", "path": "my_images.npz"}')
        return load_npz(cfg["path"])
    raise _unknown(cfg)
