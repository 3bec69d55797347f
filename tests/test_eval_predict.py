"""``evaluate``, ``predict`` and ``load_run``: the figures agree with training, inputs are
preprocessed as in training, and every bad input is a clear error."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from cnnspec import Settings, train
from cnnspec.cli import OPTION_NAMES, main
from cnnspec.data import load_dataset
from cnnspec.errors import InputError, RunError
from cnnspec.training import rundir
from cnnspec.training.evaluate import _check_classes_match, evaluate, format_confusion
from cnnspec.training.predict import format_predictions, predict
from cnnspec.training.run import load_run, softmax

DATA = {"name": "shapes", "size": 8, "classes": ["x", "plus"], "count": 240}


@pytest.fixture(scope="module")
def run_path(tmp_path_factory, tiny_shapes_text):
    tmp = tmp_path_factory.mktemp("evalpredict")
    (tmp / "tiny.cnn").write_text(tiny_shapes_text)
    return train(tmp / "tiny.cnn", run_dir=tmp / "run", curves=False, progress="none").path


@pytest.fixture(scope="module")
def shapes():
    return load_dataset(DATA, seed=3)


@pytest.mark.parametrize("which, name", [("last", rundir.CHECKPOINT), ("best", rundir.BEST)])
def test_load_run_restores_the_trained_model(run_path, which, name):
    run = load_run(run_path, which)
    assert run.classes == ["x", "plus"] and len(run.metrics) == 2
    assert run.summary["status"] == "finished" and run.preprocessor.mode == "standardize"
    saved = np.load(run_path / name, allow_pickle=False)
    np.testing.assert_array_equal(run.model.state_dict()["fc.weight"], saved["fc.weight"])
    assert run.weights == which


def test_evaluate_matches_the_test_figures_of_training(run_path):
    """The summary's test figures are of the weights eval opens by default (the best
    epoch's), its last_test_* figures of the last epoch's."""
    run = load_run(run_path)
    result = evaluate(run)
    assert result["accuracy"] == pytest.approx(run.summary["test_acc"])
    assert result["loss"] == pytest.approx(run.summary["test_loss"], rel=1e-6)
    last = evaluate(load_run(run_path, "last"))
    assert last["accuracy"] == pytest.approx(run.summary["last_test_acc"])
    assert last["loss"] == pytest.approx(run.summary["last_test_loss"], rel=1e-6)
    confusion = np.array(result["confusion"])
    assert confusion.sum() == result["examples"] == run.summary["test_examples"]
    assert np.trace(confusion) == round(result["accuracy"] * result["examples"])
    assert result["classes"] == ["x", "plus"]


def test_confusion_text_is_aligned():
    text = format_confusion([[5, 0], [1, 120]], ["x", "plus"])
    lines = text.splitlines()
    assert len({len(line) for line in lines}) == 1  # every row as wide as the header
    assert lines[2].split() == ["plus", "1", "120"]


def test_evaluate_on_data_that_does_not_fit(run_path, tmp_path):
    # A trained run cannot be edited: the message says the data must change, not the spec.
    with pytest.raises(RunError, match="10 classes, but the run's network has 2") as info:
        evaluate(load_run(run_path), data="digits")
    assert "train a new run" in info.value.hint and "input" not in info.value.hint
    # the run's own data is had without the data parameter, or eval's --data
    assert "(drop data to use it)" in info.value.hint
    assert "(drop --data to use it)" in info.value.worded(OPTION_NAMES)[1]
    np.savez(tmp_path / "big.npz", x=np.zeros((10, 16, 16), np.float32), y=np.arange(10) % 2)
    with pytest.raises(RunError, match="shape 1x16x16, but the run takes 1x8x8"):
        evaluate(load_run(run_path), data=f"npz:{tmp_path / 'big.npz'}")
    with pytest.raises(RunError, match="unknown dataset"):
        evaluate(load_run(run_path), data="digts")


@pytest.mark.parametrize("data, said", [
    ("mnist", "'mnist' has images of shape 1x28x28, but the run takes 1x8x8"),
    ("cifar10", "'cifar10' has images of shape 3x32x32, but the run takes 1x8x8"),
    ({"name": "shapes", "size": 8},
     "'shapes' has 10 classes, but the run's network has 2 outputs"),
])
def test_data_that_cannot_fit_is_refused_before_it_loads(run_path, monkeypatch, data, said):
    """eval --data mnist of an 8x8 run downloaded MNIST's four files, then refused them."""
    import cnnspec.training.evaluate as module

    def never(*args):
        raise AssertionError("loaded data whose declared shape or classes cannot fit")

    monkeypatch.setattr(module, "load_dataset", never)
    with pytest.raises(RunError) as info:
        evaluate(load_run(run_path), data=data)
    assert info.value.message == f"the data {said}"


def test_evaluate_on_the_same_classes_in_another_order_is_refused(run_path):
    """Two classes as trained but swapped: every figure would be scored against the wrong
    names, so the classes are compared by name and order, not only counted; a mistake in
    what was asked (exit 2 on the command line), as a class count that does not fit is."""
    swapped = {**DATA, "classes": ["plus", "x"]}
    with pytest.raises(InputError) as info:
        evaluate(load_run(run_path), data=swapped)
    assert info.value.message == (
        "the data 'shapes' names its classes otherwise than the run was trained on (the same "
        "names in another order): class 0 is 'plus' there, 'x' in the run; class 1 is 'x' "
        "there, 'plus' in the run")
    assert info.value.hint == ("evaluate on data with the run's classes in the run's order, x, "
                               "plus (drop data to use the run's own), or train a new run on "
                               "this data")
    assert "(drop --data to use the run's own)" in info.value.worded(OPTION_NAMES)[1]


def test_evaluate_on_other_class_names_names_those_that_differ():
    """Five classes trained, five given with four other names: the first three that differ
    are named, the rest counted; the class whose name is the same is not."""
    trained = SimpleNamespace(classes=["x", "plus", "o", "square", "diag"])
    with pytest.raises(InputError) as info:
        _check_classes_match(trained, "mine", ["antidiag", "plus", "square", "o", "x"])
    assert info.value.message == (
        "the data 'mine' names its classes otherwise than the run was trained on: class 0 is "
        "'antidiag' there, 'x' in the run; class 2 is 'square' there, 'o' in the run; class 3 "
        "is 'o' there, 'square' in the run; and 1 more class")
    assert "run's order, x, plus, o, square, diag (drop" in info.value.hint
    _check_classes_match(trained, "mine", list(trained.classes))  # the same: no error


def test_predict_npy_agrees_with_the_model(run_path, shapes, tmp_path):
    run = load_run(run_path)
    paths = []
    for i in range(4):
        paths.append(tmp_path / f"img{i}.npy")
        np.save(paths[-1], shapes.x_test[i])
    results = predict(run, [str(p) for p in paths])
    logits = run.model.forward(run.preprocessor.apply(shapes.x_test[:4]))
    expected = softmax(logits)
    for result, p in zip(results, expected):
        assert sum(result["probabilities"].values()) == pytest.approx(1.0)
        assert result["probabilities"]["x"] == pytest.approx(p[0], rel=1e-5)
        assert result["predicted"] == ["x", "plus"][int(np.argmax(p))]
        assert result["note"] is None and result["top"][0]["class"] == result["predicted"]
    text = format_predictions(results)
    assert "img0.npy" in text and "%" in text


def test_predict_says_which_weights_it_uses_as_eval_does(run_path, shapes, tmp_path, capsys):
    """eval began with the weights it used (`weights: best epoch 2 of 3 by val_loss`);
    predict, opening the same by default and the last with --last, said nothing of them."""
    from cnnspec.cli import main

    np.save(tmp_path / "one.npy", shapes.x_test[0])
    lines = {}
    for extra in ([], ["--last"]):
        assert main(["eval", str(run_path), *extra]) == 0
        said = capsys.readouterr().out.splitlines()[0]
        assert main(["predict", str(run_path), str(tmp_path / "one.npy"), *extra]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0] == said and out[1].startswith(f"{tmp_path / 'one.npy'}: ")
        lines[bool(extra)] = said
    assert lines[False].startswith("weights: best epoch ") and "(--last for the last)" in \
        lines[False]
    assert lines[True].startswith("weights: last epoch (")


def test_the_weights_line_offers_last_only_where_it_opens_other_weights():
    """`weights: best epoch 8 of 8 by val_loss (--last for the last)` offered the same weights
    again, as train's last lines had (they say "the last" there)."""
    from types import SimpleNamespace

    from cnnspec.cli.arguments import weights_line

    def loaded(epoch, status="finished"):
        return SimpleNamespace(weights="best", weights_epoch=epoch, weights_text=lambda: "w",
                               summary={"status": status, "epochs_done": 8})

    assert weights_line(loaded(8)) == "weights: w"
    assert weights_line(loaded(7)) == "weights: w (--last for the last)"
    assert weights_line(loaded(8, "interrupted")) == "weights: w (--last for the last)"


def test_the_public_run_predicts_probabilities_of_raw_images(run_path, shapes):
    """cnnspec.load_run(path).predict(images): preprocessing as in training, eval mode."""
    import cnnspec

    run = cnnspec.load_run(run_path)
    probs = run.predict(shapes.x_test[:6])
    assert probs.shape == (6, 2) and probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    accuracy = float(np.mean(probs.argmax(axis=1) == shapes.y_test[:6]))
    assert accuracy >= 0.5  # the tiny run learned x against plus


def test_the_public_run_takes_what_predict_takes_in_a_npy_file(run_path, shapes):
    """run.predict reads its images as `cnnspec predict` reads a .npy array: one image
    (C, H, W) gives one row, a one-channel batch may leave out its channel axis, a nested
    list is an array, and pixel values 0..255 are divided by 255. A batch of one and one of
    three run the float32 convolutions by different paths (the machine's chunk limits decide
    which), so their probabilities agree to float32 rounding, not bit for bit."""
    run = load_run(run_path)
    images = shapes.x_test[:3]
    expected = run.predict(images)
    float32 = {"rtol": 1e-5, "atol": 1e-7}
    np.testing.assert_allclose(run.predict(images[0]), expected[:1], **float32)
    np.testing.assert_array_equal(run.predict(images[:, 0]), expected)
    np.testing.assert_allclose(run.predict(images[0, 0].tolist()), expected[:1], **float32)
    pixels = np.round(images * 255).astype(np.uint8)
    np.testing.assert_allclose(run.predict(pixels), run.predict(pixels / 255.0))
    assert run.predict(images[:0]).shape == (0, 2)


@pytest.mark.parametrize("images, message, hint", [
    (np.full((1, 1, 8, 8), np.nan), "contains 64 NaN or infinite values", "replace or drop"),
    (np.full((1, 8, 8), 2.5), "has float values outside [0, 1]", "scale the images"),
    (np.zeros((2, 3, 8, 8)), ("has shape (2, 3, 8, 8); the model takes (N, 1, 8, 8) or "
                              "(1, 8, 8)"), "resize the images"),
    (np.zeros((2, 8, 8, 1)), "has shape (2, 8, 8, 1)", "pass array.transpose(0, 3, 1, 2)"),
    ([[0] * 8, [0] * 7], "is not an array of numbers", "give a NumPy array (N, 1, 8, 8)"),
    ([["a"] * 8] * 8, "has dtype <U1, not numbers", None),
])
def test_the_public_run_refuses_images_as_predict_does(run_path, images, message, hint):
    """The CLI's own checks (exit 2 there), not NaN probabilities or an AttributeError."""
    from cnnspec.errors import InputError

    with pytest.raises(InputError) as caught:
        load_run(run_path).predict(images)
    assert caught.value.message.startswith("the array of images ")
    assert message in caught.value.message
    if hint:
        assert hint in caught.value.hint


def test_predict_png_is_resized_and_says_so(run_path, shapes, tmp_path):
    picture = (shapes.x_test[0, 0] * 255).astype(np.uint8)
    Image.fromarray(picture).resize((32, 32), Image.Resampling.NEAREST).save(tmp_path / "big.png")
    [result] = predict(load_run(run_path), [str(tmp_path / "big.png")])
    assert "resized 32x32 -> 8x8" in result["note"]
    assert result["predicted"] == ["x", "plus"][shapes.y_test[0]]


def test_predict_wrong_shape_names_both_shapes(run_path, tmp_path):
    np.save(tmp_path / "wide.npy", np.zeros((1, 8, 9), dtype=np.float32))
    with pytest.raises(RunError) as info:
        predict(load_run(run_path), [str(tmp_path / "wide.npy")])
    assert "(1, 8, 9)" in info.value.message and "(1, 8, 8)" in info.value.message
    with pytest.raises(RunError, match="not found"):
        predict(load_run(run_path), [str(tmp_path / "missing.png")])


def test_predict_refuses_an_array_of_durations(run_path, tmp_path):
    """NumPy counts timedelta64 among its integers: it is refused as no pixel values."""
    durations = tmp_path / "durations.npy"
    np.save(durations, np.zeros((1, 8, 8), "timedelta64[ms]"))
    with pytest.raises(RunError, match=f"{durations} has dtype timedelta64\\[ms\\], not "
                       "numbers") as info:
        predict(load_run(run_path), [str(durations)])
    assert "0..255" in info.value.hint


def test_broken_run_folders_are_run_errors(run_path, tmp_path):
    # the library is told of the folder cnnspec.train returned, not of what the command printed
    returned = "pass the folder cnnspec.train returned (its run.path)"
    printed = "pass the folder `cnnspec train` printed at the end (runs/<name>-<time>)"
    with pytest.raises(RunError, match="does not exist") as info:
        load_run(tmp_path / "nothing")
    assert (info.value.hint, info.value.worded(OPTION_NAMES)[1]) == (returned, printed)
    with pytest.raises(RunError, match="spec.json is missing") as info:
        load_run(tmp_path)  # it holds no run folder
    assert (info.value.hint, info.value.worded(OPTION_NAMES)[1]) == (returned, printed)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / rundir.SPEC_JSON).write_text((run_path / rundir.SPEC_JSON).read_text())
    with pytest.raises(RunError, match="checkpoint.npz is missing") as info:
        load_run(broken)
    assert (info.value.hint, info.value.worded(OPTION_NAMES)[1]) == (returned, printed)
    (broken / rundir.CHECKPOINT).write_bytes(b"garbage")
    with pytest.raises(RunError, match="cannot be read: it is not a .npz archive") as info:
        load_run(broken)
    assert "pickle" not in info.value.message  # np.load's advice would be wrong here
    spec = tmp_path / "tiny.cnn"
    spec.write_text("model tiny\n")
    with pytest.raises(RunError, match="is a file, not a run folder") as info:
        load_run(spec)
    assert f"cnnspec.train({str(spec)!r})" in info.value.hint  # the library's own call


def _renamed_fc(weights):
    weights["out.weight"] = weights.pop("fc.weight")


@pytest.mark.parametrize("change, message", [
    (lambda weights: weights.update({"fc.weight": np.zeros((2, 10), np.float32)}),
     r"checkpoint\.npz: fc\.weight has shape \(2, 10\), the spec needs \(2, 64\)"),
    (_renamed_fc, (r"checkpoint\.npz does not fit the run's spec \(missing \['fc\.weight'\], "
                   r"unexpected \['out\.weight'\]\)")),
], ids=["shape", "names"])
def test_checkpoint_of_another_network_is_refused(run_path, tmp_path, change, message):
    other = tmp_path / "other"
    other.mkdir()
    for name in (rundir.SPEC_JSON, rundir.SUMMARY, rundir.PREPROCESS):
        (other / name).write_text((run_path / name).read_text())
    weights = dict(np.load(run_path / rundir.CHECKPOINT, allow_pickle=False))
    change(weights)
    np.savez(other / rundir.CHECKPOINT, **weights)
    with pytest.raises(RunError, match=message) as info:
        load_run(other)
    assert info.value.hint == "the checkpoint was written for a different network; train again"


@pytest.mark.usefixtures("tiny_shapes_spec")
def test_own_npz_data_is_found_again_from_another_directory(shapes, tmp_path, monkeypatch):
    np.savez(tmp_path / "mine.npz", x=shapes.x_train[:, 0], y=shapes.y_train)
    monkeypatch.chdir(tmp_path)
    run = train("tiny.cnn", Settings(epochs=1, data="npz:mine.npz"), run_dir="run",
                curves=False, progress="none")
    monkeypatch.chdir(tmp_path.parent)
    result = evaluate(load_run(tmp_path / "run"))
    assert result["data"]["path"] == str(tmp_path / "mine.npz")
    assert result["accuracy"] == pytest.approx(run.summary["test_acc"])


def test_predict_a_npy_batch_gives_one_result_per_image(run_path, shapes, tmp_path):
    run = load_run(run_path)
    batch = tmp_path / "batch.npy"
    np.save(batch, (shapes.x_test[:5] * 255).astype(np.uint8))  # uint8 0..255 as pictures are
    results = predict(run, [str(batch)])
    assert [r["input"] for r in results] == [f"{batch}[{i}]" for i in range(5)]
    expected = run.predict(shapes.x_test[:5])
    for result, p in zip(results, expected):
        assert result["probabilities"]["x"] == pytest.approx(p[0], abs=0.02)
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((2, 1, 9, 9), np.float32))
    with pytest.raises(RunError, match=r"holds a batch of shape \(2, 1, 9, 9\); the model takes"):
        predict(run, [str(wrong)])


@pytest.mark.parametrize("shape, transpose", [((2, 8, 8, 1), "(0, 3, 1, 2)"),
                                              ((8, 8, 1), "(2, 0, 1)")])
def test_predict_a_channels_last_npy_says_how_to_transpose_it(run_path, tmp_path, capsys,
                                                               shape, transpose):
    """Keras and TensorFlow keep images (N, H, W, C); the hint had said arrays are not
    resized."""
    keras = tmp_path / "keras.npy"
    np.save(keras, np.zeros(shape, np.float32))
    assert main(["predict", str(run_path), str(keras)]) == 2  # a mistake in the input given
    err = capsys.readouterr().err
    assert f"holds a{' batch' if len(shape) == 4 else 'n array'} of shape {shape}" in err
    assert f"hint: the array is channels last, as Keras and TensorFlow store images; " \
           f"cnnspec takes them channels first, as PyTorch and Caffe do: save " \
           f"array.transpose{transpose}" in err


@pytest.mark.parametrize("shape", [(0, 1, 8, 8), (0, 8, 8)])
def test_predict_a_npy_batch_of_no_images_is_an_error(run_path, tmp_path, capsys, shape):
    """It printed nothing and exited 0."""
    empty = tmp_path / "empty.npy"
    np.save(empty, np.zeros(shape, np.float32))
    assert main(["predict", str(run_path), str(empty)]) == 2
    assert f"holds a batch of no images (shape {shape})" in capsys.readouterr().err


def test_precision_recall_and_top_k_are_those_of_the_confusion_matrix():
    from cnnspec.training.evaluate import format_per_class
    from cnnspec.training.scoring import Score, per_class

    rows = per_class(np.array([[5, 1, 0], [2, 6, 0], [0, 0, 0]]))
    assert rows[0] == {"precision": 5 / 7, "recall": 5 / 6, "support": 6}
    assert rows[1] == {"precision": 6 / 7, "recall": 6 / 8, "support": 8}
    assert rows[2] == {"precision": None, "recall": None, "support": 0}
    text = format_per_class([{"class": c, **r} for c, r in zip(["x", "plus", "o"], rows)])
    assert "71.4%" in text and "83.3%" in text and text.splitlines()[3].split()[1] == "-"
    ranks = Score(0.0, 0.5, np.zeros(4, np.int64), np.array([0, 1, 2, 0]))
    assert (ranks.top_k_accuracy(1), ranks.top_k_accuracy(2), ranks.top_k_accuracy(3)) == (
        0.5, 0.75, 1.0)


def test_eval_of_ten_classes_reports_top_3_and_every_class(tmp_path, capsys):
    from cnnspec.cli import main

    spec = tmp_path / "d.cnn"
    spec.write_text("input 1x8x8\nflatten\ndense 10\ntrain {\n  data digits\n  epochs 1\n}\n")
    assert main(["train", str(spec), "--out", str(tmp_path / "r"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "r"), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["top_k_accuracy"]) == {"2", "3", "5"}
    assert result["accuracy"] <= result["top_k_accuracy"]["2"] <= result["top_k_accuracy"]["5"]
    assert [row["class"] for row in result["per_class"]] == [str(k) for k in range(10)]
    assert main(["eval", str(tmp_path / "r")]) == 0
    assert "top-3" in capsys.readouterr().out


def test_whole_float_pixels_0_to_255_are_scaled_and_the_result_says_so(run_path, shapes,
                                                                       tmp_path):
    run = load_run(run_path)
    unscaled = tmp_path / "unscaled.npy"
    pixels = np.round(shapes.x_test[0] * 255.0)
    np.save(unscaled, pixels)
    [result] = predict(run, [str(unscaled)])
    assert "read as 0..255 and divided by 255" in result["note"]
    expected = run.predict((pixels / 255.0)[None])[0]
    assert result["probabilities"]["x"] == pytest.approx(expected[0], abs=1e-5)
    too_bright = tmp_path / "bright.npy"
    bright = np.round(shapes.x_test[0] * 255.0)
    bright[0, 0, 0] = 300.0
    np.save(too_bright, bright)
    with pytest.raises(RunError, match="float values outside"):
        predict(run, [str(too_bright)])


def test_predicted_classes_are_listed_flush_left_under_their_input():
    """Each input's classes start under its note, names padded to the longest so that the
    percentages line up (a 12-wide right-aligned field pushed a 1-letter class far right)."""
    top = [{"class": "square", "probability": 0.58}, {"class": "o", "probability": 0.4},
           {"class": "plus", "probability": 0.02}]
    text = format_predictions([{"input": "a.png", "predicted": "square", "probability": 0.58,
                                "top": top, "note": None}])
    assert text.splitlines() == ["a.png: square (58.0%)",
                                 "  square   58.00%",
                                 "  o        40.00%",
                                 "  plus      2.00%"]


@pytest.mark.parametrize("array, message", [
    (np.zeros((3, 5, 5), np.float32), "holds an array of shape (3, 5, 5)"),
    (np.full((1, 8, 8), 0.5, np.float64) * np.array([1, 3] * 32).reshape(1, 8, 8),
     "float values outside [0, 1]"),
    (np.full((1, 8, 8), np.nan, np.float32), "NaN or infinite values"),
])
def test_an_input_no_image_of_the_model_is_a_mistake_in_what_was_asked(run_path, tmp_path,
                                                                         capsys, array,
                                                                         message):
    """A readable array of another shape, or values no image holds, is exit 2 (README's
    table: a mistake in what was asked), as an unknown option is; an input that cannot be
    read at all (a disk's error) stays exit 1; one that is no .npy array is exit 2, as a
    damaged data file is."""
    given = tmp_path / "given.npy"
    np.save(given, array)
    for command in (["predict", str(run_path), str(given)],
                    ["features", str(run_path), str(given), "-o", str(tmp_path / "f.png")]):
        assert main(command) == 2, command
        assert message in capsys.readouterr().err
    (tmp_path / "damaged.npy").write_bytes(b"\x93NUMPY garbage")
    assert main(["predict", str(run_path), str(tmp_path / "damaged.npy")]) == 2
    assert f"cannot read {tmp_path / 'damaged.npy'} as a .npy array" in capsys.readouterr().err
    import errno

    from cnnspec.data import arrayfiles

    def disk_error(path):
        raise OSError(errno.EIO, "Input/output error", str(path))

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(arrayfiles, "read_npy", disk_error)
        assert main(["predict", str(run_path), str(tmp_path / "damaged.npy")]) == 1


def test_a_batch_given_where_one_image_is_taken_is_told_to_pick_one(run_path, tmp_path,
                                                                     capsys):
    """predict takes a batch (N, C, H, W) and its message says so; features draws one image,
    and a batch given to it is hinted the one to save."""
    run = load_run(run_path)
    c, h, w = run.spec.input_shape
    batch = tmp_path / "batch.npy"
    np.save(batch, np.zeros((2, c, h, w), np.float32))
    assert main(["features", str(run_path), str(batch), "-o", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert f"holds an array of shape (2, {c}, {h}, {w}); the model takes ({c}, {h}, {w})" in err
    assert ("hint: it is a batch of 2 images, and this command takes one: save one of them, "
            "e.g. np.save(PATH, array[0])") in err
    odd = tmp_path / "odd.npy"
    np.save(odd, np.zeros((5, 5), np.float32))
    assert main(["predict", str(run_path), str(odd)]) == 2
    assert f"or (N, {c}, {h}, {w})" in capsys.readouterr().err


def test_integer_pixels_of_a_small_range_are_noted_as_a_dim_image(run_path, shapes, tmp_path):
    """scikit-learn's digits hold 0..16: read as 0..255 they are a near-black image, which
    predict classified without a word; full-range integers get no note."""
    run = load_run(run_path)
    small = tmp_path / "small.npy"
    digits_like = np.round(shapes.x_test[0] / shapes.x_test[0].max() * 16)
    np.save(small, digits_like.astype(np.int64))
    [result] = predict(run, [str(small)])
    assert result["note"] == ("integer values up to 16 read as 0..255 and divided by 255: the "
                              "image is at most 6.3% bright")
    ones = tmp_path / "ones.npy"  # a 0/1 mask: 1/255 of full brightness, not "0%"
    np.save(ones, np.ones(shapes.x_test[0].shape, np.int64))
    [result] = predict(run, [str(ones)])
    assert result["note"].endswith("the image is at most 0.39% bright")
    full = tmp_path / "full.npy"
    np.save(full, np.round(shapes.x_test[0] * 255).astype(np.uint8))
    [result] = predict(run, [str(full)])
    assert result["note"] is None


def test_eval_says_when_the_last_weights_are_within_an_epoch():
    """A run stopped by Ctrl-C saves its weights mid-epoch: eval --last called them the last
    finished epoch's ("last epoch (7 of 7)" for weights one step into epoch 8)."""
    import json
    from types import SimpleNamespace

    import numpy as np

    from cnnspec.training.run import Run
    from cnnspec.training.state import POSITION_KEY, steps_into_epoch

    def position(batch):
        return {POSITION_KEY: np.asarray(json.dumps({"epoch": 7, "batch": batch, "step": 1}))}

    assert steps_into_epoch(position(12)) == 12
    assert steps_into_epoch(position(0)) == 0 and steps_into_epoch({}) == 0
    assert steps_into_epoch({POSITION_KEY: np.asarray("not json")}) == 0
    loaded = SimpleNamespace(summary={}, metrics=[{}] * 7, weights="last", steps_into_epoch=1)
    assert Run.weights_text(loaded) == ("last checkpoint, 1 step into epoch 8 (after 7 finished "
                                        "epochs)")
    loaded.steps_into_epoch = 0
    assert Run.weights_text(loaded) == "last epoch (7 of 7)"


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A run of ten classes, "0".."9" (one epoch on the built-in digits), and its test split."""
    from cnnspec.cli import main

    tmp = tmp_path_factory.mktemp("digitsrun")
    spec = tmp / "d.cnn"
    spec.write_text("input 1x8x8\nflatten\ndense 10\ntrain {\n  data digits\n  epochs 1\n}\n")
    assert main(["train", str(spec), "--out", str(tmp / "r"), "--quiet"]) == 0
    return tmp / "r", load_dataset({"name": "digits"}, seed=0)


@pytest.mark.parametrize("kept", [range(5), range(5, 10)])
def test_eval_of_some_of_the_run_s_classes_scores_them_among_all(digits_run, tmp_path,
                                                                   capsys, kept):
    """A test file of the digits 0..4 (or 5..9: no image of label 0) for a run of the ten,
    without names: the accuracy is over its images, the table and the matrix keep the ten
    classes, the absent ones shown so (not as a recall of 0%) and named in a note."""
    run, digits = digits_run
    keep = np.isin(digits.y_test, kept)
    path = tmp_path / "part.npz"
    np.savez(path, x=digits.x_test[keep], y=digits.y_test[keep])
    result = evaluate(load_run(run), data=f"npz:{path}")
    split = load_dataset({"name": "npz", "path": str(path)}, seed=0, n_classes=10)
    assert result["examples"] == len(split.y_test)
    assert result["classes"] == [str(k) for k in range(10)]
    assert result["classes_present"] == [str(k) for k in kept]
    confusion = np.array(result["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == result["examples"]
    assert np.trace(confusion) == round(result["accuracy"] * result["examples"])
    absent = [k for k in range(10) if k not in kept]
    assert not confusion[absent].any()
    assert all(result["per_class"][k]["recall"] is None for k in absent)
    capsys.readouterr()
    assert main(["eval", str(run), "--data", f"npz:{path}"]) == 0
    out, err = capsys.readouterr()
    table = out.split("class  precision  recall  support\n")[1].splitlines()
    assert [line.split()[2] == "absent" for line in table[:10]] == [
        k not in kept for k in range(10)]
    named = ", ".join(str(k) for k in absent[:-1]) + f" and {absent[-1]}"
    assert (f"note: the data holds images of 5 of the run's 10 classes; absent: {named}"
            in err)
    assert main(["eval", str(run), "--data", f"npz:{path}", "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["classes_present"] == result["classes_present"]
    assert len(printed["per_class"]) == 10


def test_eval_of_a_label_beyond_the_run_s_classes_is_refused_where_it_is(digits_run,
                                                                           tmp_path):
    run, digits = digits_run
    y_test = digits.y_test.copy()
    nines = np.flatnonzero(y_test == 9)
    y_test[nines] = 12
    path = tmp_path / "beyond.npz"
    np.savez(path, x=digits.x_test, y=digits.y_test, x_test=digits.x_test, y_test=y_test)
    with pytest.raises(InputError) as info:
        evaluate(load_run(run), data=f"npz:{path}")
    assert info.value.message == (
        f"{path}: 'y_test' holds label 12 at index {nines[0]}, and {len(nines) - 1} more "
        "labels above 9; the network was trained on 10 classes, labels 0..9")
    assert info.value.hint.startswith("keep only the images of labels 0..9 (keep = y_test <= 9;"
                                      " x_test[keep], y_test[keep]), or train a new run")
    np.savez(path, x=digits.x_test, y=y_test)  # the split is drawn from y: named there
    with pytest.raises(InputError, match=f"'y' holds label 12 at index {nines[0]}"):
        evaluate(load_run(run), data=f"npz:{path}")


def test_eval_of_the_run_s_first_classes_named_in_the_file(run_path, tmp_path):
    """A file that names its classes may name fewer than the run's, as the run's first ones;
    one that names another class first is refused as before."""
    x = np.zeros((5, 8, 8), np.float32)
    path = tmp_path / "first.npz"
    np.savez(path, x=x, y=np.zeros(5, np.int64), x_test=x, y_test=np.zeros(5, np.int64),
             classes=np.array(["x"]))
    result = evaluate(load_run(run_path), data=f"npz:{path}")
    assert result["classes"] == ["x", "plus"] and result["classes_present"] == ["x"]
    assert result["per_class"][1]["support"] == 0
    np.savez(path, x=x, y=np.zeros(5, np.int64), x_test=x, y_test=np.zeros(5, np.int64),
             classes=np.array(["plus"]))
    with pytest.raises(InputError, match="class 0 is 'plus' there, 'x' in the run"):
        evaluate(load_run(run_path), data=f"npz:{path}")


def test_the_note_of_absent_classes_names_ten_and_counts_the_rest():
    from cnnspec.training.evaluate import absent_note

    classes = [f"c{k}" for k in range(14)]
    assert absent_note({"classes": classes, "classes_present": classes}) is None
    note = absent_note({"classes": classes, "classes_present": ["c0", "c13"]})
    assert note.startswith("the data holds images of 2 of the run's 14 classes; absent: c1, "
                           "c2, c3, c4, c5, c6, c7, c8, c9, c10 and 2 more (no recall")
