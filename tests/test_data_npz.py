"""The npz:PATH dataset (the user's own arrays), its validation, and --data parsing."""
import os
import tracemalloc

import numpy as np
import pytest

from cnnspec.data import DATASET_NAMES, SHAPE_CLASSES, load_dataset, parse_data_arg
from cnnspec.data.arrayfiles import READ_PIECE_BYTES, read_npz
from cnnspec.errors import RunError, SpecError


def save(tmp_path, **arrays):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return str(path)


def load(path):
    return load_dataset({"name": "npz", "path": path}, seed=0)


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (50, 6, 7), dtype=np.uint8), np.arange(50) % 5


def test_uint8_nhw_becomes_nchw_in_unit_range_with_a_fixed_split(tmp_path, images):
    x, y = images
    data = load(save(tmp_path, x=x, y=y))
    assert data.name == "npz"
    assert data.x_train.shape == (40, 1, 6, 7) and data.x_test.shape == (10, 1, 6, 7)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert np.bincount(data.y_test).tolist() == [2] * 5  # stratified
    assert data.classes == ["0", "1", "2", "3", "4"]
    # Every image keeps its label through the split.
    for xs, ys in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        for img, label in zip(xs[:, 0], ys):
            index = np.flatnonzero((x == np.round(img * 255)).all(axis=(1, 2)))
            assert y[index[0]] == label
    again = load_dataset({"name": "npz", "path": save(tmp_path, x=x, y=y)}, seed=9)
    np.testing.assert_array_equal(again.x_test, data.x_test)


def test_given_test_arrays_and_class_names(tmp_path, images):
    x, y = images
    x4 = (x[:, None].repeat(3, axis=1) / 255).astype(np.float64)
    data = load(save(tmp_path, x=x4[:30], y=y[:30], x_test=x4[30:], y_test=y[30:],
                     classes=np.array(["a", "b", "c", "d", "e"])))
    assert data.x_train.shape == (30, 3, 6, 7) and data.x_test.shape == (20, 3, 6, 7)
    np.testing.assert_allclose(data.x_test, x4[30:], rtol=1e-6)
    assert data.classes == ["a", "b", "c", "d", "e"]
    assert "x_test" in data.description


def test_class_names_stored_as_bytes_are_read_as_text(tmp_path):
    """np.array([b'a', ...]) (dtype S, as Python 2 and many HDF5 exports store text) names
    the classes 'a', not "b'a'"."""
    data = load(save(tmp_path, x=np.zeros((10, 3, 3)), y=np.arange(10) % 2,
                     classes=np.array([b"a", "café".encode()])))
    assert data.classes == ["a", "café"]


@pytest.mark.parametrize("arrays,message", [
    ({"y": np.zeros(4, int)}, "missing array 'x'"),
    ({"x": np.zeros((4, 3, 3))}, "missing array 'y'"),
    ({"x": np.zeros((4, 9)), "y": np.zeros(4, int)}, r"shape \(4, 9\); expected"),
    ({"x": np.zeros((4, 1, 3, 3)), "y": np.zeros(5, int)}, "5 labels in 'y' but 4 images"),
    ({"x": np.zeros((4, 3, 3)), "y": np.array([0, 1, 0.5, 1])}, "not integers"),
    ({"x": np.zeros((4, 3, 3)), "y": np.zeros((4, 1), int)}, r"shape \(4, 1\)"),
    ({"x": np.zeros((4, 3, 3)), "y": np.array([0, -1, 0, 1])}, "negative"),
    ({"x": np.full((4, 3, 3), np.nan), "y": np.zeros(4, int)}, "36 NaN or infinite"),
    ({"x": np.full((4, 3, 3), 255.0), "y": np.zeros(4, int)}, r"outside \[0, 1\]"),
    ({"x": np.full((4, 3, 3), 300), "y": np.zeros(4, int)}, "outside 0..255"),
    ({"x": np.zeros((4, 3, 3), "datetime64[s]"), "y": np.zeros(4, int)}, "not numbers"),
    # NumPy counts timedelta64 among its integers; a duration is no pixel nor label
    ({"x": np.zeros((4, 3, 3), "timedelta64[s]"), "y": np.zeros(4, int)},
     r"'x' has dtype timedelta64\[s\], not numbers"),
    ({"x": np.zeros((4, 3, 3)), "y": np.zeros(4, "timedelta64[D]")},
     r"labels 'y' have dtype timedelta64\[D\], not integers"),
    ({"x": np.zeros((4, 3, 3)), "y": np.zeros(4, int), "x_test": np.zeros((2, 3, 3))},
     "'y_test' is missing"),
    ({"x": np.zeros((4, 3, 3)), "y": np.zeros(4, int), "x_test": np.zeros((2, 4, 4)),
      "y_test": np.zeros(2, int)}, "'x_test' images are"),
    ({"x": np.zeros((2, 3, 3)), "y": np.zeros(2, int)}, "too few"),
    ({"x": np.zeros((0, 3, 3)), "y": np.zeros(0, int)}, "no images"),
    # images of no pixels: check told the spec to take their shape, `input 1x3x0`
    ({"x": np.zeros((4, 3, 0)), "y": np.zeros(4, int)},
     r"shape \(4, 1, 3, 0\): its images hold no"),
    ({"x": np.zeros((4, 0, 3, 3)), "y": np.zeros(4, int)}, "its images hold no pixels"),
    ({"x": np.zeros((4, 3, 3)), "y": np.zeros(4, int), "x_test": np.zeros((2, 0, 3)),
      "y_test": np.zeros(2, int)}, "'x_test' has shape .*: its images hold no pixels"),
    ({"x": np.zeros((10, 3, 3)), "y": np.arange(10) % 3, "classes": np.array(["a", "b"])},
     "at least 3 names"),
    # two labels of one name: a prediction's probabilities (keyed by name) would lose one
    ({"x": np.zeros((10, 3, 3)), "y": np.arange(10) % 2, "classes": np.array(["a", "a"])},
     "names 'a' more than once"),
    # printed in tables: a newline breaks their rows, an escape sequence drives the terminal
    ({"x": np.zeros((10, 3, 3)), "y": np.arange(10) % 2, "classes": np.array(["a\nb", "c"])},
     r"name 'a\\nb' of label 0 holds the control character '\\n'"),
    ({"x": np.zeros((10, 3, 3)), "y": np.arange(10) % 2,
      "classes": np.array(["a", "\x1b[31mred"])}, "label 1 holds the control character"),
    ({"x": np.zeros((10, 3, 3)), "y": np.arange(10) % 2, "classes": np.array(["a", " "])},
     "gives label 1 an empty name"),
    ({"x": np.zeros((10, 3, 3)), "y": np.arange(10) % 2,
      "classes": np.array([b"a", b"caf\xe9"])},
     r"name b'caf\\xe9' of label 1 is not UTF-8 text \(byte 0xe9 at 3\)"),
])
def test_bad_arrays_are_run_errors_naming_the_problem(tmp_path, arrays, message):
    with pytest.raises(RunError, match=message) as info:
        load(save(tmp_path, **arrays))
    assert info.value.hint


@pytest.mark.parametrize("y, one_hot", [
    (np.eye(4, dtype=np.float32)[np.arange(10) % 4], True),  # Keras' to_categorical
    (np.eye(4, dtype=np.int64)[np.arange(10) % 4], True),  # PyTorch's F.one_hot
    (np.full((10, 4), 0.25), False),  # probabilities are not labels of one class
    (np.zeros((10, 1), dtype=np.int64), False),  # a column of indices: (N, 1)
])
def test_one_hot_labels_are_answered_with_argmax(tmp_path, y, one_hot):
    with pytest.raises(RunError, match=r"'y' has shape \(10, \d\); expected \(N,\) labels") as info:
        load(save(tmp_path, x=np.zeros((10, 3, 3)), y=y))
    assert ("y.argmax(axis=1)" in info.value.hint) == one_hot


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.array([np.zeros(3), np.zeros(4)], dtype=object), y=np.zeros(2, int))
    with pytest.raises(RunError, match="cannot read"):
        load(str(path))


def test_missing_and_non_npz_files(tmp_path):
    with pytest.raises(RunError, match="not found") as info:
        load(str(tmp_path / "absent.npz"))
    # not how to save a file one has, nor (no run read it before) where a moved one goes
    assert info.value.hint.startswith("check the path") and "moved" not in info.value.hint
    junk = tmp_path / "junk.npz"
    junk.write_text("not a zip archive")
    with pytest.raises(RunError, match="cannot read"):
        load(str(junk))


def test_files_that_are_not_zip_archives_say_so_without_pickle_advice(tmp_path):
    text = tmp_path / "text.npz"
    text.write_text("x,y\n1,2\n")
    single = tmp_path / "single.npz"
    with open(single, "wb") as handle:  # a .npy array under a .npz name
        np.save(handle, np.zeros((4, 3, 3)))
    for path in (text, single):
        with pytest.raises(RunError, match="not a .npz file") as info:
            load(str(path))
        assert "pickle" not in str(info.value) and "np.savez" in info.value.hint


def test_train_test_key_names_get_a_rename_hint(tmp_path):
    path = save(tmp_path, x_train=np.zeros((10, 3, 3)), y_train=np.zeros(10, int))
    with pytest.raises(RunError, match="missing array 'x'") as info:
        load(path)
    assert "not x_train and y_train" in info.value.hint


def test_npz_config_needs_a_path():
    with pytest.raises(SpecError) as info:
        load_dataset({"name": "npz"}, seed=0)
    assert info.value.json_path == "$.training.data.path"


def test_unknown_dataset_in_the_ir_is_a_spec_error():
    with pytest.raises(SpecError) as info:
        load_dataset({"name": "cifar"}, seed=0)
    assert info.value.json_path == "$.training.data.name"


# --data on the command line

@pytest.mark.parametrize("text,cfg", [
    ("digits", {"name": "digits"}),
    ("shapes", {"name": "shapes", "size": 16, "classes": list(SHAPE_CLASSES), "count": 4000,
                "noise": 0.1, "colour": False}),
    ("mnist", {"name": "mnist"}),
    ("fashion-mnist", {"name": "fashion-mnist"}),
    ("fashion_mnist", {"name": "fashion-mnist"}),  # the language's spelling
    ("npz:some/dir/my data.npz", {"name": "npz", "path": "some/dir/my data.npz"}),
])
def test_parse_data_arg(text, cfg):
    assert parse_data_arg(text) == cfg


@pytest.mark.parametrize("text,hint", [
    ("fashion", "did you mean 'fashion-mnist'"),
    ("Fashion_MNIST", "did you mean 'fashion-mnist'"),
    ("digit", "did you mean 'digits'"),
    ("imagenet", "valid datasets: digits, shapes, mnist, fashion-mnist, cifar10, npz:PATH"),
    ("npz", "npz:PATH"),
    ("mine.npz", "npz:mine.npz"),
    ("npz:", "npz:PATH"),
])
def test_parse_data_arg_explains_mistakes(text, hint):
    with pytest.raises(RunError) as info:
        parse_data_arg(text)
    assert hint in info.value.hint


def test_every_name_is_described():
    assert set(DATASET_NAMES) == {"digits", "shapes", "mnist", "fashion-mnist", "cifar10", "npz"}
    assert all(DATASET_NAMES.values())


def test_labels_counted_from_one_are_refused_unless_classes_name_them(tmp_path, images):
    """Labels 1..5 would give class 0 no image and every label the name of the next."""
    x, y = images
    with pytest.raises(RunError, match=r"no image has label 0 \(the labels run from 1 to 5\); "
                       r"labels are class indices 0\.\.K-1") as info:
        load(save(tmp_path, x=x, y=y + 1))
    assert info.value.hint.startswith("number the classes from 0, e.g. y - 1")
    named = load(save(tmp_path, x=x, y=y + 1, classes=np.array(list("nabcde"))))
    assert named.classes == list("nabcde") and 0 not in named.y_train


def test_a_missing_file_of_a_spec_is_worded_for_the_library_that_reads_it(tmp_path):
    """init_report was told to give the file's new place "with train's or eval's --data": a
    spec's file has no place a run recorded, and the library no --data."""
    from cnnspec.errors import SpecErrors
    from cnnspec.lab.report import init_report

    spec = tmp_path / "net.cnn"
    spec.write_text(f'input 1x8x8\nflatten\nfc1: dense 10\n'
                    f'train {{\n  data npz(path="{tmp_path / "absent.npz"}")\n}}\n')
    with pytest.raises(SpecErrors) as info:
        init_report(str(spec), input_kind="data")
    (error,) = info.value.errors
    assert error.hint.startswith("check the path")
    assert "--data" not in error.hint and "moved" not in error.hint


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_pixel_value_is_scaled_as_dividing_in_float64_and_rounding(dtype):
    """Pixels are divided by 255 in the run's dtype, with no float64 copy of a whole set: for
    each of the 256 values the quotient is bit for bit the float64 one rounded to dtype."""
    from cnnspec.data.arrays import pixels_to_unit

    for pixels in (np.arange(256, dtype=np.uint8), np.arange(256, dtype=np.int64),
                   np.arange(256, dtype=np.float64)):
        scaled = pixels_to_unit(pixels, dtype)
        assert scaled.dtype == dtype
        expected = (np.arange(256) / 255.0).astype(dtype)
        np.testing.assert_array_equal(scaled.view(f"u{scaled.itemsize}"),
                                      expected.view(f"u{scaled.itemsize}"))


@pytest.mark.parametrize("images, test", [(3, True), (7, False), (50, False)])
def test_the_training_images_are_counted_from_the_labels_as_loading_splits_them(
        tmp_path, images, test):
    from cnnspec.data.npz import load_npz, training_image_count

    rng = np.random.default_rng(0)
    arrays = {"x": rng.random((images, 1, 4, 4)), "y": np.arange(images) % 2}
    if test:
        arrays.update(x_test=rng.random((2, 1, 4, 4)), y_test=np.arange(2))
    np.savez(tmp_path / "d.npz", **arrays)
    path = str(tmp_path / "d.npz")
    assert training_image_count(path) == len(load_npz(path).y_train)


def test_the_training_images_are_counted_opening_the_archive_once(tmp_path, monkeypatch):
    """The labels' header and whether a test split is given are read from one opening."""
    import zipfile

    from cnnspec.data.npz import training_image_count

    np.savez(tmp_path / "d.npz", x=np.zeros((4, 1, 2, 2)), y=np.arange(4) % 2,
             x_test=np.zeros((2, 1, 2, 2)), y_test=np.arange(2))
    opened = []

    class Counted(zipfile.ZipFile):
        def __init__(self, *args, **kwargs):
            opened.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(zipfile, "ZipFile", Counted)
    assert training_image_count(str(tmp_path / "d.npz")) == 4
    assert len(opened) == 1


def test_a_file_whose_labels_cannot_be_counted_is_left_to_loading(tmp_path):
    from cnnspec.data.npz import training_image_count

    np.savez(tmp_path / "no_y.npz", x=np.zeros((5, 1, 4, 4)))
    np.savez(tmp_path / "one.npz", x=np.zeros((1, 1, 4, 4)), y=np.zeros(1, dtype=int))
    (tmp_path / "text.npz").write_text("not an archive")
    os.mkfifo(tmp_path / "pipe.npz")  # never opened: reading it would wait for a writer
    for name in ("no_y.npz", "one.npz", "text.npz", "missing.npz", "pipe.npz"):
        assert training_image_count(str(tmp_path / name)) is None


def test_reading_an_npz_holds_its_arrays_and_a_few_pieces_of_the_file_at_most(tmp_path):
    """A member is read in pieces (READ_PIECE_BYTES): read in one request, a zip member holds
    the whole array's bytes once or twice more while it is copied into the array (a run's
    best.npz, read at the end of training, raised its peak by two weights' sizes)."""
    weight = np.arange(4 << 20, dtype=np.float32)  # 16 MiB
    np.savez(tmp_path / "best.npz", weight=weight)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        read = read_npz(tmp_path / "best.npz")
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(read["weight"], weight)
    # the pieces of the member and of the file under it, and the archive's own objects
    assert peak <= weight.nbytes + 3 * READ_PIECE_BYTES, peak / weight.nbytes
