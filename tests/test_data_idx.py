"""The IDX parser: good files (gzip or raw), truncated files, wrong magic numbers, count
mismatches. The small writers here are also used by test_data_download.py."""
import gzip
import struct

import numpy as np
import pytest

from cnnspec.data.idx import read_idx, read_images_and_labels
from cnnspec.errors import RunError


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """IDX encoding of an array: zero bytes, type code, ndim, big-endian dims, data."""
    dtypes = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}
    header = struct.pack(">HBB", 0, type_code, array.ndim)
    dims = struct.pack(f">{array.ndim}I", *array.shape)
    return header + dims + array.astype(dtypes[type_code]).tobytes()


def small_split(n: int, seed: int, rows: int = 4, cols: int = 5):
    """``n`` random uint8 images (n, rows, cols) and their labels 0..9."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, rows, cols), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def write_idx_set(folder, gz: bool = True, n_train: int = 12, n_test: int = 6) -> dict:
    """The four MNIST-named files in ``folder``; returns the arrays by (gz) file name."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n, seed in (("train", n_train, 1), ("t10k", n_test, 2)):
        images, labels = small_split(n, seed)
        arrays[f"{prefix}-images-idx3-ubyte.gz"] = images
        arrays[f"{prefix}-labels-idx1-ubyte.gz"] = labels
    for name, array in arrays.items():
        data = idx_bytes(array)
        if gz:
            (folder / name).write_bytes(gzip.compress(data))
        else:
            (folder / name.removesuffix(".gz")).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_reads_images_and_labels_gzipped_or_raw(tmp_path, gz):
    arrays = write_idx_set(tmp_path, gz=gz)
    suffix = ".gz" if gz else ""
    images, labels = read_images_and_labels(tmp_path / f"train-images-idx3-ubyte{suffix}",
                                            tmp_path / f"train-labels-idx1-ubyte{suffix}")
    assert images.shape == (12, 1, 4, 5) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[:, 0], arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(labels, arrays["train-labels-idx1-ubyte.gz"])


@pytest.mark.parametrize("type_code,values", [
    (0x0B, np.array([[-300, 2], [7, 30000]])),
    (0x0D, np.array([1.5, -2.25, 2.0**40])),
])
def test_other_element_types_in_native_byte_order(tmp_path, type_code, values):
    path = tmp_path / "data.idx"
    path.write_bytes(idx_bytes(values, type_code))
    out = read_idx(path)
    np.testing.assert_array_equal(out, values)
    assert out.dtype.isnative


def test_truncated_data_is_reported_with_sizes(tmp_path):
    images, _ = small_split(3, 0)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_bytes(images)[:-7])
    with pytest.raises(RunError, match=r"truncated: .* 60 bytes .* has 53") as info:
        read_idx(path)
    assert info.value.hint


@pytest.mark.parametrize("dims, promised", [
    ((2 ** 31, 2 ** 31, 4), f"{2 ** 64}"),  # 0 in 64-bit integers, the size of no data
    ((2 ** 32 - 1,) * 3, f"{(2 ** 32 - 1) ** 3}")])
def test_a_header_beyond_64_bit_sizes_is_truncated_data(tmp_path, dims, promised):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(struct.pack(">HBB3I", 0, 0x08, 3, *dims))
    with pytest.raises(RunError, match=f"promises {promised} bytes of data .* has 0"):
        read_idx(path)


@pytest.mark.parametrize("cut", [2, 9])
def test_truncated_header(tmp_path, cut):
    images, _ = small_split(3, 0)
    path = tmp_path / "short"
    path.write_bytes(idx_bytes(images)[:cut])
    with pytest.raises(RunError, match="truncated"):
        read_idx(path)


def test_truncated_gzip_stream(tmp_path):
    images, _ = small_split(30, 0)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(images))[:-40])
    with pytest.raises(RunError, match="damaged gzip"):
        read_idx(path)


def test_trailing_bytes_are_an_error(tmp_path):
    _, labels = small_split(4, 0)
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(labels) + b"\x00\x01")
    with pytest.raises(RunError, match="2 bytes after the data"):
        read_idx(path)


def test_not_an_idx_file(tmp_path):
    path = tmp_path / "page.html"
    path.write_bytes(b"<html><body>Not Found</body></html>")
    with pytest.raises(RunError, match="not an IDX file: magic number 0x3C68746D"):
        read_idx(path)


def test_swapped_images_and_labels_fail_on_the_magic_number(tmp_path):
    write_idx_set(tmp_path, gz=False)
    with pytest.raises(RunError, match="magic number 0x00000801, expected 0x00000803") as info:
        read_images_and_labels(tmp_path / "train-labels-idx1-ubyte",
                               tmp_path / "train-images-idx3-ubyte")
    assert "swapped" in info.value.hint


def test_label_and_image_counts_must_agree(tmp_path):
    images, _ = small_split(5, 0)
    _, labels = small_split(4, 0)
    (tmp_path / "images").write_bytes(idx_bytes(images))
    (tmp_path / "labels").write_bytes(idx_bytes(labels))
    with pytest.raises(RunError, match="holds 5 images but .* holds 4 labels"):
        read_images_and_labels(tmp_path / "images", tmp_path / "labels")


def test_missing_file(tmp_path):
    with pytest.raises(RunError, match="cannot read"):
        read_idx(tmp_path / "absent")
