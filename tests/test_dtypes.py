"""The dtypes' limits, computed from their IEEE 754 layouts without NumPy, are NumPy's."""
import json

import numpy as np
import pytest
from PIL import Image

from cnnspec.dtypes import FORMATS, VALUE_BYTES
from cnnspec.ir.limits import FLOAT32_MAX


@pytest.mark.parametrize("dtype", list(FORMATS))
def test_a_dtypes_limits_are_numpys_finfo(dtype):
    layout, finfo = FORMATS[dtype], np.finfo(dtype)
    assert layout.fraction_bits == finfo.nmant
    assert VALUE_BYTES[dtype] == layout.bytes == finfo.bits // 8
    assert layout.largest == float(finfo.max)
    assert layout.tiny == float(finfo.tiny)
    assert layout.smallest_subnormal == float(finfo.smallest_subnormal)


def test_the_irs_float32_limit_is_float32s():
    assert FLOAT32_MAX == float(np.finfo(np.float32).max)


@pytest.mark.parametrize("dtype", list(FORMATS))
@pytest.mark.parametrize("x", [1000.0, -3000.0, 1.0, 0.75, 1e-40, 1e-310, 0.0, 3e38])
def test_a_dtypes_spacing_is_numpys(dtype, x):
    value = np.dtype(dtype).type(x)
    assert FORMATS[dtype].spacing(float(value)) == abs(float(np.spacing(value)))


# ---- a float64 run's data and inputs are float64 from the start --------------------------

def _pixels(tmp_path):
    """An npz data set of 0..255 pixel values (k/255, which float32 rounds) and its path."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 1, 8, 8), dtype=np.uint8)
    path = tmp_path / "pixels.npz"
    np.savez(path, x=x, y=np.arange(40) % 4)
    return x, str(path)


@pytest.mark.parametrize("dtype", list(FORMATS))
def test_a_data_set_loads_in_the_runs_dtype(tmp_path, dtype):
    """k/255 was rounded to float32 before a float64 run's float64 preprocessing; a float32
    run's images are what they were, bit for bit."""
    from cnnspec.data import load_dataset

    x, path = _pixels(tmp_path)
    data = load_dataset({"name": "npz", "path": path}, 0, dtype=dtype)
    assert data.x_train.dtype == data.x_test.dtype == np.dtype(dtype)
    both = np.concatenate([data.x_train, data.x_test])
    expected = (x / 255).astype(dtype)
    np.testing.assert_array_equal(np.sort(both, axis=None), np.sort(expected, axis=None))
    shapes = load_dataset({"name": "shapes", "size": 8, "count": 60}, 3, dtype=dtype)
    assert shapes.x_train.dtype == np.dtype(dtype)
    digits = load_dataset({"name": "digits"}, 0, dtype=dtype)
    assert digits.x_train.dtype == np.dtype(dtype)


@pytest.fixture(scope="module")
def float64_run(tmp_path_factory):
    """A float64 run trained on :func:`_pixels`, and those pixels."""
    import cnnspec

    tmp_path = tmp_path_factory.mktemp("float64")
    x, path = _pixels(tmp_path)
    spec = tmp_path / "tiny.cnn"
    spec.write_text(f'input 1x8x8\nflatten\ndense 4\ntrain {{\n  data npz(path="{path}")\n'
                    "  epochs 1\n  batch 16\n}\n")
    run = cnnspec.train(str(spec), run_dir=tmp_path / "run", progress="none", curves=False,
                        dtype="float64")
    return run, x


def test_predict_reads_a_float64_runs_inputs_in_float64(float64_run):
    import cnnspec

    run, x = float64_run
    run = cnnspec.load_run(run.path)  # a model of its own, whose forward is spied on below
    seen = []
    run.model.forward = lambda images, forward=run.model.forward: (
        seen.append(images), forward(images))[1]
    run.predict(x[:2])
    expected = run.prepare((x[:2] / 255).astype(np.float64))
    np.testing.assert_array_equal(seen[0], expected)


def test_the_command_lines_predict_of_a_float64_run_is_the_librarys(float64_run, tmp_path,
                                                                    capsys):
    """``cnnspec predict`` read a picture and a .npy array in float32 for every run, so its
    probabilities for a float64 run were not run.predict's of the same pixels."""
    import cnnspec
    from cnnspec.cli import main
    from cnnspec.data.images import load_image

    run, x = float64_run
    Image.fromarray(x[0, 0] // 3, "L").save(tmp_path / "dark.png")  # not inverted: dark border
    np.save(tmp_path / "one.npy", x[1])
    library = cnnspec.load_run(run.path)
    given = {tmp_path / "dark.png": np.asarray(Image.open(tmp_path / "dark.png")),
             tmp_path / "one.npy": np.load(tmp_path / "one.npy")}
    for path, pixels in given.items():  # one at a time: a batch of one, as in the library
        assert main(["predict", str(run.path), str(path), "--format", "json"]) == 0
        [printed] = json.loads(capsys.readouterr().out)
        assert list(printed["probabilities"].values()) == list(library.predict(pixels)[0])
    # as run.predict's hint for a path says to read a file
    x, _ = load_image(tmp_path / "dark.png", library.spec.input_shape, dtype=library.input_dtype)
    assert list(library.predict(x)[0]) == list(library.predict(given[tmp_path / "dark.png"])[0])


@pytest.mark.parametrize("dtype", list(FORMATS))
def test_a_picture_loads_in_the_dtype_asked(tmp_path, dtype):
    """A float32 picture is what it was bit for bit (float32(k) / 255 is (k / 255) rounded
    to float32); a float64 one is k/255 unrounded."""
    from cnnspec.data.images import load_image

    pixels = np.arange(64, dtype=np.uint8).reshape(8, 8)
    Image.fromarray(pixels, "L").save(tmp_path / "ramp.png")
    x, note = load_image(tmp_path / "ramp.png", (1, 8, 8), dtype=dtype)
    assert x.dtype == np.dtype(dtype) and note is None
    np.testing.assert_array_equal(x[0], (pixels / 255).astype(dtype))


@pytest.mark.parametrize("given", ["picture", "index"])
def test_features_reads_a_float64_runs_input_in_float64(float64_run, tmp_path, monkeypatch,
                                                        given):
    """``features`` drew a float64 run's input, a file or a test image, rounded to float32."""
    from cnnspec.cli import main
    from cnnspec.data import load_dataset
    from cnnspec.render import run_pictures

    run, x = float64_run
    drawn = []
    monkeypatch.setattr(run_pictures, "features_picture",
                        lambda run, image, out, caption: drawn.append(image) or out)
    if given == "picture":
        Image.fromarray(x[0, 0] // 3, "L").save(tmp_path / "dark.png")
        chosen, expected = [str(tmp_path / "dark.png")], (x[0] // 3) / 255
    else:
        chosen = ["--index", "1"]
        expected = load_dataset(run.training["data"], 0, dtype="float64").x_test[1]
    assert main(["features", str(run.path), *chosen, "-o", str(tmp_path / "f.png")]) == 0
    np.testing.assert_array_equal(drawn[0], expected)


def test_a_dtype_in_other_letters_is_answered_with_its_name():
    """FLOAT64 (C's and Java's case) is refused as any other, with the name it means."""
    from cnnspec.dtypes import given_dtype
    from cnnspec.errors import SettingError

    for written, meant in (("FLOAT64", "float64"), ("Float32", "float32")):
        with pytest.raises(SettingError) as info:
            given_dtype(written)
        assert info.value.hint == f"did you mean {meant}?"
    with pytest.raises(SettingError) as info:
        given_dtype("float16")
    assert info.value.hint == "e.g. dtype='float64'"
