"""The datasets downloaded on first use, one registry of them: what each one is (its name,
what its images show, their shape, its classes and its published split), its files with
their published SHA-256, the mirrors tried in order, the environment variable that replaces
them, and the module of :mod:`cnnspec.data` that reads its files.

Plain data, no NumPy and no network code, so that both the IR's dataset registry
(:mod:`cnnspec.ir.datasets`, which a spec is checked against) and the loader
(:mod:`cnnspec.data.downloads`, which fetches and caches the files) read it here; docs/data.md's
table of mirrors is generated from it (cnnspec/data/docs.py).

Every downloaded file must match its published SHA-256 (the digests TensorFlow Datasets and
torchvision record for these files), and is no longer than its published size (the bytes
TensorFlow's and Keras' downloaders report for them): a mirror that sends more is cut off
there, rather than filling the disk until the deadline.
"""
from __future__ import annotations

from cnnspec.records import record


@record(frozen=True)
class Download:
    """One dataset downloaded on first use: ``title`` says what its images show, ``image`` is
    their shape (C, H, W), ``classes`` what the labels mean, ``credit`` whose it is and its
    licence, ``train_examples`` and ``test_examples`` its published split; its files with
    their SHA-256, where to get them, and ``reader``, the module of :mod:`cnnspec.data` whose
    ``read_files`` makes the dataset of its files. ``files_note``: what the docs say of its
    files."""

    name: str
    title: str
    image: tuple[int, int, int]
    classes: tuple[str, ...]
    credit: str
    train_examples: int
    test_examples: int
    mirrors: tuple[str, ...]
    mirror_env: str
    sha256: dict  # file name -> hex digest of the published file
    sizes: dict  # file name -> the published file's length in bytes
    reader: str
    files_note: str = ""

    @property
    def listed(self) -> str:
        """How the IR's registry and ``--help`` list it: what it is, its size, and that it is
        downloaded (``MNIST handwritten digits, 28x28 (downloaded on first use)``)."""
        return f"{self.title}, {self._size()} (downloaded on first use)"

    @property
    def description(self) -> str:
        """The loaded dataset's line: what it is, its classes, whose it is and its split."""
        shade = " greyscale" if self.image[0] == 1 else ""
        return (f"{self.title}, {self._size()}{shade}, {len(self.classes)} classes "
                f"({self.credit}); {self.train_examples:,} train / {self.test_examples:,} test")

    def _size(self) -> str:
        return f"{self.image[1]}x{self.image[2]}"


# The four files of MNIST and of Fashion-MNIST, which publishes its files under the same names
# (the digests of each are its own): train images and labels, then test images and labels.
IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _idx_download(name: str, title: str, classes: tuple[str, ...], credit: str,
                  mirrors: tuple[str, ...], mirror_env: str, digests: tuple[str, ...],
                  sizes: tuple[int, ...]) -> Download:
    """A dataset in MNIST's layout, which Fashion-MNIST keeps: the four :data:`IDX_FILES`
    (``digests`` their SHA-256 and ``sizes`` their bytes, in that order), 28x28 greyscale,
    60,000 train / 10,000 test."""
    return Download(name=name, title=title, image=(1, 28, 28), classes=classes, credit=credit,
                    train_examples=60_000, test_examples=10_000, mirrors=mirrors,
                    mirror_env=mirror_env, sha256=dict(zip(IDX_FILES, digests, strict=True)),
                    sizes=dict(zip(IDX_FILES, sizes, strict=True)), reader="mnist")


MNIST = _idx_download(
    "mnist", "MNIST handwritten digits", tuple(str(d) for d in range(10)),
    "LeCun et al. 1998; CC BY-SA 3.0",
    ("https://storage.googleapis.com/cvdf-datasets/mnist/",
     "https://ossci-datasets.s3.amazonaws.com/mnist/",
     "http://yann.lecun.com/exdb/mnist/"),
    "CNNSPEC_MNIST_MIRROR",
    ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
     "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
     "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
     "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    (9_912_422, 28_881, 1_648_877, 4_542))

FASHION_MNIST = _idx_download(
    "fashion-mnist", "Fashion-MNIST clothing images",
    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
     "Ankle boot"),
    "Xiao, Rasul & Vollgraf 2017; MIT licence",
    ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
     "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"),
    "CNNSPEC_FASHION_MNIST_MIRROR",
    ("08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
     "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
     "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
     "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf"),
    (26_421_880, 29_515, 4_422_102, 5_148))

CIFAR10 = Download(
    name="cifar10",
    title="CIFAR-10 colour images",
    image=(3, 32, 32),
    classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"),
    credit="Krizhevsky 2009",
    train_examples=50_000,
    test_examples=10_000,
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    mirror_env="CNNSPEC_CIFAR10_MIRROR",
    sha256={"cifar-10-binary.tar.gz":
            "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"},
    sizes={"cifar-10-binary.tar.gz": 170_052_171},
    reader="cifar",
    files_note="the binary version; never the pickled one",
)

DOWNLOADS = {source.name: source for source in (MNIST, FASHION_MNIST, CIFAR10)}
