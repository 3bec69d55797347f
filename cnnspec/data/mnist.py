"""MNIST and Fashion-MNIST: IDX files downloaded on first use, verified, cached.

- MNIST (LeCun, Bottou, Bengio & Haffner 1998): 70,000 28x28 greyscale handwritten digits,
  60,000 train / 10,000 test, light strokes on a dark background.
- Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747): 70,000 28x28 greyscale
  images of 10 kinds of clothing, same layout and split.

The train/test split is the published one. Pixels (0..255) are divided by 255.

Where the files come from: each dataset has a list of base URLs tried in order (the
maintainers' own host first where it still serves the files), overridable with an environment
variable (``CNNSPEC_MNIST_MIRROR``, ``CNNSPEC_FASHION_MNIST_MIRROR``: one or more base URLs
separated by spaces or commas) or the ``mirrors`` argument. Every downloaded ``.gz`` file must
match its published SHA-256 (the digests TensorFlow Datasets and torchvision record for these
files); a mismatch is treated like a failed download.

Where they are kept: ``<root>/<dataset>/`` where ``root`` is ``data_dir`` if given, else
``$XDG_CACHE_HOME/cnnspec`` or ``~/.cache/cnnspec``. Files already there are used without a
network: a ``.gz`` file is checked against its SHA-256; an uncompressed file (the same name
without ``.gz``, e.g. placed by hand) is used as it is and validated by the IDX parser.
"""
from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import numpy as np

from cnnspec.data.arrays import pixels_to_unit
from cnnspec.data.dataset import Dataset
from cnnspec.data.download import TIMEOUT_SECONDS, download, sha256_of
from cnnspec.data.idx import read_images_and_labels
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import MAX_WORD, RunError, SettingError, literal, shortened
from cnnspec.records import record
from cnnspec.usercache import cache_dir


@record(frozen=True)
class IdxSource:
    """One IDX dataset: its files with their SHA-256, where to get them, what the labels mean."""

    name: str
    description: str
    classes: tuple[str, ...]
    mirrors: tuple[str, ...]
    mirror_env: str
    sha256: dict  # file name -> hex digest of the published .gz file

    def file(self, split: str, part: str) -> str:
        """``train-images-idx3-ubyte.gz`` and the like: ``split`` train/test, ``part``
        images/labels."""
        prefix = "train" if split == "train" else "t10k"
        return f"{prefix}-images-idx3-ubyte.gz" if part == "images" \
            else f"{prefix}-labels-idx1-ubyte.gz"


MNIST = IdxSource(
    name="mnist",
    description="MNIST handwritten digits, 28x28 greyscale, 10 classes "
                "(LeCun et al. 1998; CC BY-SA 3.0); 60,000 train / 10,000 test",
    classes=tuple(str(d) for d in range(10)),
    mirrors=(
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    mirror_env="CNNSPEC_MNIST_MIRROR",
    sha256={
        "train-images-idx3-ubyte.gz":
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz":
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz":
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz":
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
)

FASHION_MNIST = IdxSource(
    name="fashion-mnist",
    description="Fashion-MNIST clothing images, 28x28 greyscale, 10 classes "
                "(Xiao, Rasul & Vollgraf 2017; MIT licence); 60,000 train / 10,000 test",
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
             "Sneaker", "Bag", "Ankle boot"),
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ),
    mirror_env="CNNSPEC_FASHION_MNIST_MIRROR",
    sha256={
        "train-images-idx3-ubyte.gz":
            "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
        "train-labels-idx1-ubyte.gz":
            "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
        "t10k-images-idx3-ubyte.gz":
            "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
        "t10k-labels-idx1-ubyte.gz":
            "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
    },
)

SOURCES = {source.name: source for source in (MNIST, FASHION_MNIST)}


def cache_root(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir``, else ``$XDG_CACHE_HOME/cnnspec``, else ``~/.cache/cnnspec``."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    return cache_dir()


def mirror_list(source: IdxSource, mirrors: list[str] | None = None) -> list[str]:
    """Base URLs to try: the argument, else the environment variable, else the built-in list."""
    if mirrors is not None:
        return list(mirrors)
    from_env = os.environ.get(source.mirror_env, "").strip()
    if from_env:
        return [url for url in re.split(r"[\s,]+", from_env) if url]
    return list(source.mirrors)


def _by_hand_hint(source: IdxSource, folder: Path) -> str:
    files = ", ".join(source.sha256)
    what = (f"the {len(source.sha256)} files ({files})" if len(source.sha256) > 1
            else f"{files}")
    return (f"retry later and check the network connection (or set {source.mirror_env} to "
            f"another mirror); or download {what} yourself and place "
            f"{'them' if len(source.sha256) > 1 else 'it'} in {folder}")


def local_or_download(source: IdxSource, filename: str, folder: Path, mirrors: list[str],
                      sha256: str, timeout: float) -> Path:
    """The path of one dataset file: a verified ``.gz``, a raw copy, or a fresh download.
    A data folder that cannot be used (unreadable, not a folder, a name too long) is a
    :class:`SettingError` naming it."""
    try:
        return _local_or_download(source, filename, folder, mirrors, sha256, timeout)
    except OSError as exc:
        # A name too long for the file system (an environment variable's value, say) is no
        # real path to show whole; any other is.
        shown = shortened(str(folder), MAX_WORD) if exc.errno == errno.ENAMETOOLONG \
            else str(folder)
        raise SettingError(literal(f"cannot use the data folder {shown}: "
                                   f"{exc.strerror or exc}"),
                           hint="give a folder that can be read and written with {data_dir}"
                           ) from None


def _local_or_download(source: IdxSource, filename: str, folder: Path, mirrors: list[str],
                       sha256: str, timeout: float) -> Path:
    gz, raw = folder / filename, folder / filename.removesuffix(".gz")
    if gz.is_file():
        found = sha256_of(gz)
        if found != sha256:
            raise RunError(f"{gz} does not match its published SHA-256 "
                           f"(found {found[:12]}..., expected {sha256[:12]}...)",
                           hint="delete it and run again to download a fresh copy")
        return gz
    if raw.is_file():
        return raw
    return download(filename, sha256, mirrors, folder, timeout=timeout,
                    hint=_by_hand_hint(source, folder))


def load_idx_dataset(name: str, data_dir: str | os.PathLike | None = None,
                     mirrors: list[str] | None = None, checksums: dict | None = None,
                     timeout: float = TIMEOUT_SECONDS, dtype: str = DEFAULT_DTYPE) -> Dataset:
    """MNIST or Fashion-MNIST (``name``), from the cache or downloaded into it, its images in
    ``dtype``.

    ``mirrors`` (base URLs) and ``checksums`` (file name -> SHA-256) replace the built-in ones,
    e.g. to use a local copy of the files served over HTTP.
    """
    source = SOURCES[name]
    folder = cache_root(data_dir) / source.name
    urls = mirror_list(source, mirrors)
    digests = {**source.sha256, **(checksums or {})}
    arrays = {}
    for split in ("train", "test"):
        paths = [local_or_download(source, source.file(split, part), folder, urls,
                                   digests[source.file(split, part)], timeout)
                 for part in ("images", "labels")]
        arrays[split] = read_images_and_labels(*paths)
    return _to_dataset(source, arrays, dtype)


def _to_dataset(source: IdxSource, arrays: dict, dtype: str) -> Dataset:
    """Scale the uint8 images to [0, 1] in ``dtype`` and check the labels name known classes."""
    out = {}
    for split, (images, labels) in arrays.items():
        if labels.size and labels.max() >= len(source.classes):
            raise RunError(f"{source.name} {split} labels go up to {labels.max()}, but there are "
                           f"only {len(source.classes)} classes",
                           hint="the label file does not belong to this dataset; replace it")
        out[split] = (pixels_to_unit(images, dtype), labels.astype(np.int64))
    return Dataset(source.name, *out["train"], *out["test"], list(source.classes),
                   source.description)
