"""CIFAR-10: the standard 3x32x32 colour benchmark, downloaded once, verified, cached.

CIFAR-10 (Krizhevsky 2009, "Learning Multiple Layers of Features from Tiny Images"): 60,000
32x32 colour images in 10 classes, 50,000 train (five batches) / 10,000 test. It is read from
the authors' *binary* archive, ``cifar-10-binary.tar.gz``, never from the Python version's
pickles: the archive's ``cifar-10-batches-bin/data_batch_{1..5}.bin`` and ``test_batch.bin``
hold records of 3,073 bytes, a label byte (0..9) then 1,024 red, 1,024 green and 1,024 blue
pixels, each plane row by row; ``batches.meta.txt`` names the classes. The archive is read in
memory (nothing is extracted to disk). Pixels (0..255) are divided by 255.

Where it comes from, its SHA-256 and where it is kept are its entry in the registry of
downloads, :data:`cnnspec.downloaded.CIFAR10`, which
:func:`cnnspec.data.downloads.load_download` fetches and hands to :func:`read_files`.
"""
from __future__ import annotations

import tarfile
import zlib
from pathlib import Path

import numpy as np

from cnnspec.data.arrays import pixels_to_unit
from cnnspec.data.dataset import Dataset
from cnnspec.data.gzipped import file_is_gzip
from cnnspec.downloaded import CIFAR10, Download
from cnnspec.errors import RunError

(ARCHIVE,) = CIFAR10.sha256
FOLDER = "cifar-10-batches-bin"
TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_BATCH = "test_batch.bin"
SIDE = 32
RECORD = 1 + 3 * SIDE * SIDE  # a label byte, then the red, green and blue planes

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
        # Compressed or not by its first bytes: an archive placed by hand may be the plain tar
        # under the published name, or the published file under the name without .gz.
        mode = "r:gz" if file_is_gzip(path) else "r:"
        with tarfile.open(path, mode) as archive:
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
    # zlib.error: a stream damaged past the tar headers it opened by, found while a batch
    # is read (tarfile wraps it only at the opening).
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise RunError(f"cannot read {path}: {exc}",
                       hint="the archive is damaged; delete it and run again") from None
    return {"train": (np.concatenate([x for x, _ in train]),
                      np.concatenate([y for _, y in train])),
            "test": test}


def read_files(source: Download, paths: dict[str, Path], dtype: str) -> Dataset:
    """The dataset of the binary archive (``paths``' one file), its images in ``dtype``."""
    out = {}
    for split, (images, labels) in read_archive(paths[ARCHIVE]).items():
        if labels.size and labels.max() >= len(source.classes):
            raise RunError(f"{source.name} {split} labels go up to {labels.max()}, but there "
                           f"are only {len(source.classes)} classes",
                           hint="the archive is damaged; delete it and run again")
        out[split] = (pixels_to_unit(images, dtype), labels)
    return Dataset(source.name, *out["train"], *out["test"], list(source.classes),
                   source.description)
