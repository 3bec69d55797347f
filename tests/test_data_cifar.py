"""CIFAR-10 from its binary archive, served by a local HTTP server on 127.0.0.1: a tiny archive
in the real format (the real 170 MB download cannot be exercised without the internet, as for
MNIST), verified by SHA-256, cached, and damaged archives reported."""
import gzip
import hashlib
import io
import tarfile

import numpy as np
import pytest

from cnnspec.data.cifar import ARCHIVE, FOLDER, RECORD, TEST_BATCH, TRAIN_BATCHES
from cnnspec.data.downloads import load_download
from cnnspec.errors import RunError


def _records(n: int, rng) -> tuple[bytes, np.ndarray, np.ndarray]:
    """``n`` CIFAR-10 records: a label byte, then the red, green and blue 32x32 planes."""
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    data = b"".join(bytes([label]) + image.tobytes() for label, image in zip(labels, images))
    return data, images, labels


def write_archive(folder, per_batch=3, seed=0, drop=None, truncate=False):
    """A tiny cifar-10-binary.tar.gz in the real layout; returns its path and the arrays."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ARCHIVE
    arrays = {}
    with tarfile.open(path, "w:gz") as archive:
        for name in (*TRAIN_BATCHES, TEST_BATCH):
            if name == drop:
                continue
            data, images, labels = _records(per_batch, rng)
            if truncate:
                data = data[:-5]
            arrays[name] = (images, labels)
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path, arrays


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_archive_is_downloaded_verified_and_read_in_the_real_layout(tmp_path, serve):
    path, arrays = write_archive(tmp_path / "mirror")
    cache = tmp_path / "cache"
    data = _load(cache, mirrors=[serve(tmp_path / "mirror")], sha256=_digest(path))
    assert (cache / "cifar10" / ARCHIVE).is_file()
    assert data.x_train.shape == (15, 3, 32, 32) and data.x_test.shape == (3, 3, 32, 32)
    np.testing.assert_array_equal(data.x_train[:3] * 255, arrays[TRAIN_BATCHES[0]][0])
    np.testing.assert_array_equal(data.y_test, arrays[TEST_BATCH][1])
    assert data.classes[0] == "airplane" and data.input_shape == (3, 32, 32)
    # The cache is used without a network from then on.
    again = _load(cache, mirrors=[], sha256=_digest(path))
    np.testing.assert_array_equal(again.x_train, data.x_train)


def test_a_wrong_digest_is_a_failed_download_with_a_hint(tmp_path, serve):
    write_archive(tmp_path / "mirror")
    with pytest.raises(RunError, match="SHA-256 mismatch") as info:
        _load(tmp_path / "cache", mirrors=[serve(tmp_path / "mirror")], sha256="0" * 64)
    assert "CNNSPEC_CIFAR10_MIRROR" in info.value.hint and ARCHIVE in info.value.hint
    assert not (tmp_path / "cache" / "cifar10" / ARCHIVE).exists()


@pytest.mark.parametrize("damage, message", [
    ({"drop": TEST_BATCH}, "has no cifar-10-batches-bin/test_batch.bin"),
    ({"truncate": True}, "not a whole number of 3,073-byte CIFAR-10 records"),
])
def test_a_damaged_archive_is_named(tmp_path, damage, message):
    path, _ = write_archive(tmp_path / "cache" / "cifar10", **damage)
    with pytest.raises(RunError, match=message):
        _load(tmp_path / "cache", mirrors=[], sha256=_digest(path))
    assert RECORD == 3073


def _load(cache, mirrors, sha256):
    """CIFAR-10 from the registry of downloads, with these mirrors and the archive's digest."""
    return load_download("cifar10", cache, mirrors=mirrors, checksums={ARCHIVE: sha256})


def _place_by_hand(cache, suffix: str, compressed: bool):
    """The tiny archive in the cache under ``cifar-10-binary.tar`` + ``suffix``, compressed or
    not whatever the name says; returns where it is and its arrays."""
    path, arrays = write_archive(cache / "mirror")
    data = path.read_bytes() if compressed else gzip.decompress(path.read_bytes())
    placed = cache / "cifar10" / (ARCHIVE.removesuffix(".gz") + suffix)
    placed.parent.mkdir(parents=True)
    placed.write_bytes(data)
    return placed, arrays


@pytest.mark.parametrize("suffix, compressed", [(".gz", True), (".gz", False), ("", True),
                                                ("", False)])
def test_an_archive_placed_by_hand_is_read_compressed_or_not_whatever_its_name(
        tmp_path, suffix, compressed):
    """A plain tar was opened as gzip by its .gz name, and a compressed one as plain without
    it, each then called damaged: the first bytes (1f 8b) tell."""
    placed, arrays = _place_by_hand(tmp_path, suffix, compressed)
    data = _load(tmp_path, mirrors=[], sha256=_digest(placed))
    np.testing.assert_array_equal(data.y_test, arrays[TEST_BATCH][1])
    np.testing.assert_array_equal(data.x_train[:3] * 255, arrays[TRAIN_BATCHES[0]][0])


@pytest.mark.parametrize("suffix, compressed, words", [
    (".gz", False, "the archive is damaged"),
    ("", True, "the archive is damaged"),
    ("", False, "the archive is damaged"),
])
def test_a_damaged_archive_placed_by_hand_is_named_damaged(tmp_path, suffix, compressed,
                                                           words):
    placed, _ = _place_by_hand(tmp_path, suffix, compressed)
    placed.write_bytes(placed.read_bytes()[:len(placed.read_bytes()) // 2])
    with pytest.raises(RunError, match=f"cannot read {placed}") as info:
        _load(tmp_path, mirrors=[], sha256="0" * 64)
    assert words in info.value.hint


def test_an_archive_whose_stream_breaks_past_its_headers_is_named_damaged(tmp_path):
    """The gzip stream is read as the batches are: a damaged deflate block past the tar
    headers came out of reading a batch as zlib's own error, a traceback."""
    placed, _ = _place_by_hand(tmp_path, "", compressed=False)
    no_deflate_block = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 64
    placed.write_bytes(gzip.compress(placed.read_bytes()[:2048]) + no_deflate_block)
    with pytest.raises(RunError, match=f"cannot read {placed}") as info:
        _load(tmp_path, mirrors=[], sha256="0" * 64)
    assert "the archive is damaged" in info.value.hint
