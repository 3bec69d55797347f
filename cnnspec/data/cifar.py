"""CIFAR-10: the standard 3x32x32 colour benchmark, downloaded once, verified, cached.

CIFAR-10 (Krizhevsky 2009, "Learning Multiple Layers of Features from Tiny Images"): 60,000
32x32 colour images in 10 classes, 50,000 train (five batches) / 10,000 test. It is read from
the authors' *binary* archive, ``cifar-10-binary.tar.gz``, never from the Python version's
pickles: the archive's ``cifar-10-batches-bin/data_batch_{1..5}.bin`` and ``test_batch.bin``
hold records of 3,073 bytes, a label byte (0..9) then 1,024 red, 1,024 green and 1,024 blue
pixels, each plane row by row; ``batches.meta.txt`` names the classes. The archive is read in
memory (nothing is extracted to disk). Pixels (0..255) are divided by 255.

The archive must match its published SHA-256 (the digest TensorFlow Datasets records); it is
kept in ``<cache>/cifar10/`` (see :func:`cnnspec.data.mnist.cache_root`) and used from there
without a network. ``CNNSPEC_CIFAR10_MIRROR`` (base URLs separated by spaces or commas) or the
``mirrors`` argument replaces the authors' host.
"""
from __future__ import annotations

import os
import tarfile
from pathlib import Path

import numpy as np

from cnnspec.data.arrays import pixels_to_unit
from cnnspec.data.dataset import Dataset
from cnnspec.data.download import TIMEOUT_SECONDS
from cnnspec.data.mnist import IdxSource, cache_root, local_or_download, mirror_list
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import RunError

ARCHIVE = "cifar-10-binary.tar.gz"
FOLDER = "cifar-10-batches-bin"
TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_BATCH = "test_batch.bin"
SIDE = 32
RECORD = 1 + 3 * SIDE * SIDE  # a label byte, then the red, green and blue planes

CIFAR10 = IdxSource(
    name="cifar10",
    description="CIFAR-10 colour images, 32x32, 10 classes (Krizhevsky 2009); "
                "50,000 train / 10,000 test",
    classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"),
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    mirror_env="CNNSPEC_CIFAR10_MIRROR",
    sha256={ARCHIVE: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"},
)


def read_batch(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The images (N, 3, 32, 32) uint8 and labels (N,) of one ``.bin`` batch's bytes."""
    if len(data) % RECORD:
        raise RunError(f"{name} holds {len(data):,} bytes, not a whole number of "
                       f"{RECORD:,}-byte CIFAR-10 records",
                       hint="the archive is damaged; delete it and run again to download it")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    return records[:, 1:].reshape(-1, 3, SIDE, SIDE), records[:, 0].astype(np.int64)


def read_archive(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (x, y), "test": (x, y)}`` read from the binary archive, in memory."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            def member(name: str) -> bytes:
                try:
                    found = archive.extractfile(f"{FOLDER}/{name}")
                except KeyError:
                    found = None
                if found is None:  # missing, or not a regular file
                    raise KeyError(name)
                return found.read()

            train = [read_batch(member(name), name) for name in TRAIN_BATCHES]
            test = read_batch(member(TEST_BATCH), TEST_BATCH)
    except KeyError as exc:
        raise RunError(f"{path} has no {FOLDER}/{exc.args[0]}",
                       hint="this is not the CIFAR-10 binary archive; delete it and run again"
                       ) from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise RunError(f"cannot read {path}: {exc}",
                       hint="the archive is damaged; delete it and run again") from None
    return {"train": (np.concatenate([x for x, _ in train]),
                      np.concatenate([y for _, y in train])),
            "test": test}


def load_cifar10(data_dir: str | os.PathLike | None = None, mirrors: list[str] | None = None,
                 sha256: str | None = None, timeout: float = TIMEOUT_SECONDS,
                 dtype: str = DEFAULT_DTYPE) -> Dataset:
    """CIFAR-10 from the cache, or downloaded into it, its images in ``dtype``. ``mirrors`` (base
    URLs) and ``sha256`` replace the built-in ones, e.g. to serve a copy of the archive over
    HTTP."""
    folder = cache_root(data_dir) / CIFAR10.name
    digest = sha256 or CIFAR10.sha256[ARCHIVE]
    path = local_or_download(CIFAR10, ARCHIVE, folder, mirror_list(CIFAR10, mirrors), digest,
                             timeout)
    out = {}
    for split, (images, labels) in read_archive(path).items():
        if labels.size and labels.max() >= len(CIFAR10.classes):
            raise RunError(f"cifar10 {split} labels go up to {labels.max()}, but there are only "
                           "10 classes", hint="the archive is damaged; delete it and run again")
        out[split] = (pixels_to_unit(images, dtype), labels)
    return Dataset(CIFAR10.name, *out["train"], *out["test"], list(CIFAR10.classes),
                   CIFAR10.description)
