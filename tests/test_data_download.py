"""MNIST-style downloads against a local HTTP server on 127.0.0.1: mirrors tried in order,
SHA-256 verification, no partial files, the cache used offline, and the error messages."""
import gzip
import hashlib
import socket

import numpy as np
import pytest
from test_data_idx import write_idx_set

from cnnspec.data import load_dataset
from cnnspec.data.downloads import cache_root, load_download
from cnnspec.data.mnist import idx_file
from cnnspec.downloaded import CIFAR10, DOWNLOADS, FASHION_MNIST, MNIST
from cnnspec.errors import RunError


@pytest.fixture
def dead_url():
    """A base URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def published(tmp_path):
    """The four small IDX files a mirror serves, their SHA-256 digests and arrays."""
    folder = tmp_path / "mirror"
    arrays = write_idx_set(folder)
    digests = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
               for name in arrays}
    return folder, digests, arrays


def files_in(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_downloads_verifies_and_loads(tmp_path, serve, published):
    folder, digests, arrays = published
    cache = tmp_path / "cache"
    data = load_download("mnist", data_dir=cache, mirrors=[serve(folder)], checksums=digests)
    assert files_in(cache / "mnist") == sorted(digests)
    assert data.x_train.shape == (12, 1, 4, 5) and data.x_test.shape == (6, 1, 4, 5)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    np.testing.assert_allclose(data.x_train[:, 0] * 255, arrays["train-images-idx3-ubyte.gz"],
                               atol=1e-4)
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert data.classes == list(MNIST.classes)


def test_cached_files_are_used_offline(tmp_path, serve, published, dead_url):
    folder, digests, _ = published
    cache = tmp_path / "cache"
    first = load_download("mnist", data_dir=cache, mirrors=[serve(folder)], checksums=digests)
    again = load_download("mnist", data_dir=cache, mirrors=[dead_url], checksums=digests)
    np.testing.assert_array_equal(first.x_train, again.x_train)


def test_falls_back_to_the_next_mirror_after_a_corrupt_file(tmp_path, serve, published):
    folder, digests, _ = published
    corrupt = tmp_path / "corrupt"
    write_idx_set(corrupt, n_train=13)  # valid IDX files, but not the published bytes
    cache = tmp_path / "cache"
    data = load_download("mnist", data_dir=cache, mirrors=[serve(corrupt), serve(folder)],
                            checksums=digests)
    assert len(data.x_train) == 12


def test_corrupt_download_leaves_no_file_and_says_what_to_do(tmp_path, serve, published):
    _, digests, _ = published
    corrupt = tmp_path / "corrupt"
    write_idx_set(corrupt, n_train=13)
    cache = tmp_path / "cache"
    with pytest.raises(RunError, match="SHA-256 mismatch") as info:
        load_download("mnist", data_dir=cache, mirrors=[serve(corrupt)], checksums=digests)
    assert files_in(cache / "mnist") == []  # not even a hidden .part file
    hint = info.value.hint
    assert "retry" in hint and "network" in hint and str(cache / "mnist") in hint
    assert "train-images-idx3-ubyte.gz" in hint


def test_missing_file_on_the_server_is_a_404(tmp_path, serve, published):
    folder, digests, _ = published
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    cache = tmp_path / "cache"
    with pytest.raises(RunError, match="t10k-labels-idx1-ubyte.gz: .*HTTP 404"):
        load_download("mnist", data_dir=cache, mirrors=[serve(folder)], checksums=digests)
    # The files that did download are complete and kept; the missing one left nothing behind.
    assert files_in(cache / "mnist") == sorted(set(digests) - {"t10k-labels-idx1-ubyte.gz"})


def test_no_network_lists_every_mirror(tmp_path, dead_url):
    with pytest.raises(RunError) as info:
        load_download("fashion-mnist", data_dir=tmp_path, mirrors=[dead_url, dead_url + "x/"])
    assert info.value.message.count("127.0.0.1") == 2
    assert "CNNSPEC_FASHION_MNIST_MIRROR" in info.value.hint


def test_mirror_from_the_environment(tmp_path, serve, published, monkeypatch):
    folder, digests, _ = published
    mirrors = f"http://127.0.0.1:9/nothing, {serve(folder)}"
    monkeypatch.setenv("CNNSPEC_FASHION_MNIST_MIRROR", mirrors)
    data = load_download("fashion-mnist", data_dir=tmp_path, checksums=digests)
    assert data.classes[0] == "T-shirt/top" and len(data.classes) == 10
    assert files_in(tmp_path / "fashion-mnist") == sorted(digests)


def test_files_placed_by_hand_uncompressed(tmp_path, dead_url, monkeypatch):
    monkeypatch.setenv("CNNSPEC_MNIST_MIRROR", dead_url)
    arrays = write_idx_set(tmp_path / "mnist", gz=False)
    data = load_dataset({"name": "mnist"}, seed=0, data_dir=str(tmp_path))
    assert data.name == "mnist" and len(data.y_train) == 12
    np.testing.assert_array_equal(data.y_train, arrays["train-labels-idx1-ubyte.gz"])


def test_a_damaged_cached_file_is_reported_not_used(tmp_path, serve, published):
    folder, digests, _ = published
    cache = tmp_path / "cache"
    load_download("mnist", data_dir=cache, mirrors=[serve(folder)], checksums=digests)
    damaged = cache / "mnist" / "train-images-idx3-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:-5])
    with pytest.raises(RunError, match="does not match its published SHA-256") as info:
        load_download("mnist", data_dir=cache, mirrors=[serve(folder)], checksums=digests)
    assert "delete it" in info.value.hint


def test_labels_beyond_the_classes_are_rejected(tmp_path, dead_url):
    arrays = write_idx_set(tmp_path / "mnist", gz=False)
    labels = arrays["train-labels-idx1-ubyte.gz"].copy()
    labels[0] = 10
    path = tmp_path / "mnist" / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:8] + labels.tobytes())
    with pytest.raises(RunError, match="labels go up to 10"):
        load_download("mnist", data_dir=tmp_path, mirrors=[dead_url])


def test_cache_root_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_root() == tmp_path / "cnnspec"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "cnnspec"
    assert cache_root("elsewhere").name == "elsewhere"


def test_built_in_sources_have_four_published_digests():
    for source in (MNIST, FASHION_MNIST):
        names = {idx_file(s, p) for s in ("train", "test") for p in ("images", "labels")}
        assert set(source.sha256) == names
        assert all(len(d) == 64 and int(d, 16) >= 0 for d in source.sha256.values())
        assert source.mirrors


def test_every_downloaded_file_has_its_published_size_and_a_download_is_held_to_it(
        monkeypatch, tmp_path):
    """Each file's size bounds its download (a mirror sending more is cut off there); a file
    whose checksum the caller replaces is another file, bounded by no published size."""
    from cnnspec.data import download, mnist

    for source in DOWNLOADS.values():
        assert set(source.sizes) == set(source.sha256)
        assert all(type(n) is int and n > 0 for n in source.sizes.values())
    asked = {}

    def local(filename, folder, mirrors, sha256, timeout, hint, size):
        asked[filename] = size
        return folder / filename

    monkeypatch.setattr(download, "local_or_download", local)
    monkeypatch.setattr(mnist, "read_files", lambda source, paths, dtype: paths)
    load_download("mnist", data_dir=tmp_path)
    assert asked == MNIST.sizes
    replaced = {"t10k-labels-idx1-ubyte.gz": "0" * 64}
    load_download("mnist", data_dir=tmp_path, checksums=replaced)
    assert asked == {**MNIST.sizes, "t10k-labels-idx1-ubyte.gz": None}


def test_a_long_mirror_from_the_environment_is_quoted_short(tmp_path, monkeypatch):
    """A 5,000-character CNNSPEC_MNIST_MIRROR is quoted as its start and its length, not whole
    (twice: the URL, and the URL again in the reason); a usual URL stays whole."""
    long_url = "http://" + "a" * 5000
    monkeypatch.setenv("CNNSPEC_MNIST_MIRROR", f"{long_url} http://127.0.0.1:9/mnist/")
    with pytest.raises(RunError) as info:
        load_download("mnist", data_dir=tmp_path)
    message = info.value.message
    assert len(message) < 600
    assert f"{long_url[:200]}... (5,034 characters): " in message
    assert "; http://127.0.0.1:9/mnist/train-images-idx3-ubyte.gz: " in message


def test_a_data_folder_that_cannot_be_used_is_named_not_a_traceback(tmp_path, monkeypatch):
    """A 5,000-character XDG_CACHE_HOME is no path to show whole; a data folder inside a file
    is a real path, shown whole."""
    from cnnspec.errors import SettingError

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ("c" * 5000)))
    with pytest.raises(SettingError) as info:
        load_download("mnist")
    assert len(info.value.message) < 300
    assert info.value.message.endswith("characters): File name too long")
    assert "data_dir" in info.value.hint
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(SettingError, match="cannot use the data folder "
                       f"{tmp_path / 'file' / 'mnist'}: Not a directory"):
        load_download("mnist", data_dir=tmp_path / "file")


@pytest.mark.parametrize("relative", ["relative/dir", "."])
def test_a_relative_xdg_cache_home_is_ignored(monkeypatch, tmp_path, relative):
    """The XDG Base Directory Specification: a relative path there is invalid. It put a cache
    folder into the folder each command ran in."""
    monkeypatch.setenv("XDG_CACHE_HOME", relative)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "cnnspec"


def test_each_download_is_a_dataset_of_the_ir_made_from_its_entry_with_a_reader():
    """The IR's datasets downloaded on first use are made from the registry of downloads
    (cnnspec.downloaded), which the loader reads too: the same image shape, classes and split,
    listed as downloaded; and each one's reader reads files."""
    import importlib

    from cnnspec.ir.datasets import DATASETS

    assert {"mnist", "fashion-mnist", "cifar10"} <= set(DOWNLOADS)
    for name, source in DOWNLOADS.items():
        kind = DATASETS[name]
        assert (kind.image, kind.classes) == (source.image, len(source.classes)), name
        assert (kind.examples, kind.test_examples) == (
            source.train_examples + source.test_examples, source.test_examples), name
        assert kind.description == source.listed, name
        assert f"{source.image[1]}x{source.image[2]}" in kind.description, name
        assert callable(importlib.import_module(f"cnnspec.data.{source.reader}").read_files)
        assert source.sha256 and all(len(d) == 64 and int(d, 16) >= 0
                                     for d in source.sha256.values()), name
    downloaded = {name for name, kind in DATASETS.items() if "downloaded" in kind.description}
    assert downloaded == set(DOWNLOADS)


def test_a_downloads_description_says_its_split_and_shade():
    """The loaded dataset's line is made from the entry: its counts, its classes, and
    greyscale for one channel."""
    assert MNIST.description == ("MNIST handwritten digits, 28x28 greyscale, 10 classes "
                                 "(LeCun et al. 1998; CC BY-SA 3.0); 60,000 train / 10,000 test")
    assert CIFAR10.description.startswith("CIFAR-10 colour images, 32x32, 10 classes")
    assert "50,000 train / 10,000 test" in CIFAR10.description


def test_load_dataset_fetches_every_download_through_the_registry(monkeypatch):
    from cnnspec.data import load as load_module

    asked = []
    monkeypatch.setattr(load_module, "load_download",
                        lambda name, data_dir=None, dtype=None: asked.append(name) or name)
    for name in DOWNLOADS:
        assert load_dataset({"name": name}, seed=0) == name
    assert asked == list(DOWNLOADS)


# How a file placed by hand is stored: (the name's suffix, gzip-compressed or not).
STORED = [(".gz", True), (".gz", False), ("", True), ("", False)]


def _place_by_hand(folder, suffix: str, compressed: bool) -> dict:
    """The four MNIST files in ``folder`` under their names with ``suffix`` ('.gz' or none),
    compressed or not whatever the name says; returns the arrays by published name."""
    plain = folder / "plain"
    arrays = write_idx_set(plain, gz=False)
    folder.mkdir(parents=True, exist_ok=True)
    for name in arrays:
        data = (plain / name.removesuffix(".gz")).read_bytes()
        (folder / (name.removesuffix(".gz") + suffix)).write_bytes(
            gzip.compress(data) if compressed else data)
    return arrays


@pytest.mark.parametrize("suffix, compressed", STORED)
def test_a_file_placed_by_hand_is_read_compressed_or_not_whatever_its_name(
        tmp_path, dead_url, suffix, compressed):
    """Compressed or not is told by the first bytes (1f 8b): a plain file under the published
    .gz name was checked against the compressed file's SHA-256 and called damaged. A
    compressed one under its published name is still checked against the digest given."""
    arrays = _place_by_hand(tmp_path / "mnist", suffix, compressed)
    digests = {name: hashlib.sha256((tmp_path / "mnist" / name).read_bytes()).hexdigest()
               for name in arrays} if suffix and compressed else None
    data = load_download("mnist", data_dir=tmp_path, mirrors=[dead_url], checksums=digests)
    np.testing.assert_array_equal(data.y_train, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_allclose(data.x_test[:, 0] * 255, arrays["t10k-images-idx3-ubyte.gz"],
                               atol=1e-4)


@pytest.mark.parametrize("suffix, compressed, words", [
    (".gz", True, "does not match its published SHA-256"),
    (".gz", False, "is truncated"),
    ("", True, "is a damaged gzip file"),
    ("", False, "is truncated"),
])
def test_a_damaged_file_placed_by_hand_is_named_damaged(tmp_path, dead_url, suffix,
                                                        compressed, words):
    arrays = _place_by_hand(tmp_path / "mnist", suffix, compressed)
    damaged = tmp_path / "mnist" / ("train-images-idx3-ubyte" + suffix)
    damaged.write_bytes(damaged.read_bytes()[:-7])
    with pytest.raises(RunError, match=words) as info:
        load_download("mnist", data_dir=tmp_path, mirrors=[dead_url],
                      checksums={name: "0" * 64 for name in arrays})
    assert "delete" in info.value.hint and str(damaged) in info.value.message
