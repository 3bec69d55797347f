"""The datasets downloaded on first use, one registry of them: each one's files with their
published SHA-256, the mirrors tried in order, the environment variable that replaces them,
its classes, and the module that reads its files. The loader (:func:`load_download`, which
``load_dataset`` calls for each of them), docs/data.md's table of mirrors (generated,
cnnspec/data/docs.py) and the tests read it here; the IR's dataset registry
(:mod:`cnnspec.ir.datasets`) holds what a spec checks against (image shape, classes).

Where the files come from: each dataset has a list of base URLs tried in order (the
maintainers' own host first where it still serves the files), overridable with its
environment variable (one or more base URLs separated by spaces or commas) or the ``mirrors``
argument. Every downloaded file must match its published SHA-256 (the digests TensorFlow
Datasets and torchvision record for these files); a mismatch is treated like a failed
download.

Where they are kept: ``<root>/<dataset>/`` where ``root`` is ``data_dir`` if given, else
``$XDG_CACHE_HOME/cnnspec`` or ``~/.cache/cnnspec``. Files already there are used without a
network: a ``.gz`` file is checked against its SHA-256; an uncompressed file (the same name
without ``.gz``, e.g. placed by hand) is used as it is and validated by its reader.

No NumPy and no network code is imported here until a dataset is loaded.
"""
from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.records import record
from cnnspec.usercache import cache_dir


@record(frozen=True)
class Download:
    """One dataset downloaded on first use: its files with their SHA-256, where to get them,
    what the labels mean, and ``reader``, the module of this package whose ``read_files``
    makes the dataset of its files. ``files_note``: what the docs say of its files."""

    name: str
    description: str
    classes: tuple[str, ...]
    mirrors: tuple[str, ...]
    mirror_env: str
    sha256: dict  # file name -> hex digest of the published file
    reader: str
    files_note: str = ""


MNIST = Download(
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
    reader="mnist",
)

FASHION_MNIST = Download(
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
    reader="mnist",
)

CIFAR10 = Download(
    name="cifar10",
    description="CIFAR-10 colour images, 32x32, 10 classes (Krizhevsky 2009); "
                "50,000 train / 10,000 test",
    classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"),
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    mirror_env="CNNSPEC_CIFAR10_MIRROR",
    sha256={"cifar-10-binary.tar.gz":
            "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"},
    reader="cifar",
    files_note="the binary version; never the pickled one",
)

DOWNLOADS = {source.name: source for source in (MNIST, FASHION_MNIST, CIFAR10)}


def cache_root(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir``, else ``$XDG_CACHE_HOME/cnnspec``, else ``~/.cache/cnnspec``."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    return cache_dir()


def mirror_list(source: Download, mirrors: list[str] | None = None) -> list[str]:
    """Base URLs to try: the argument, else the environment variable, else the built-in list."""
    if mirrors is not None:
        return list(mirrors)
    from_env = os.environ.get(source.mirror_env, "").strip()
    if from_env:
        return [url for url in re.split(r"[\s,]+", from_env) if url]
    return list(source.mirrors)


def load_download(name: str, data_dir: str | os.PathLike | None = None,
                  mirrors: list[str] | None = None, checksums: dict | None = None,
                  timeout: float | None = None, dtype: str = DEFAULT_DTYPE):
    """The dataset ``name`` of :data:`DOWNLOADS`, its files from the cache or downloaded into
    it, read by its reader with the images in ``dtype``.

    ``mirrors`` (base URLs) and ``checksums`` (file name -> SHA-256) replace the built-in ones,
    e.g. to use a local copy of the files served over HTTP; ``timeout`` (seconds a read may
    wait) replaces :data:`cnnspec.data.download.TIMEOUT_SECONDS`.
    """
    from cnnspec.data.download import TIMEOUT_SECONDS, local_or_download

    source = DOWNLOADS[name]
    folder = cache_root(data_dir) / source.name
    urls = mirror_list(source, mirrors)
    digests = {**source.sha256, **(checksums or {})}
    paths = {filename: local_or_download(filename, folder, urls, digests[filename],
                                         TIMEOUT_SECONDS if timeout is None else timeout,
                                         _by_hand_hint(source, folder))
             for filename in source.sha256}
    reader = importlib.import_module(f"cnnspec.data.{source.reader}")
    return reader.read_files(source, paths, dtype)


def _by_hand_hint(source: Download, folder: Path) -> str:
    """What to do when every mirror of ``source`` fails: another mirror, or its files by hand."""
    files = ", ".join(source.sha256)
    what = (f"the {len(source.sha256)} files ({files})" if len(source.sha256) > 1
            else f"{files}")
    return (f"retry later and check the network connection (or set {source.mirror_env} to "
            f"another mirror); or download {what} yourself and place "
            f"{'them' if len(source.sha256) > 1 else 'it'} in {folder}")
