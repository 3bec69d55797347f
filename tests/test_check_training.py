"""One validation pass: whatever ``train`` refuses at start-up, ``check`` reports first, located
in the ``.cnn`` file (line, column, hint) or at the ``.json`` IR's path, and a refused ``train``
leaves no run folder behind."""
import json
import re
from pathlib import Path

import pytest

from cnnspec.cli import main
from cnnspec.errors import SpecErrors

DOCS = Path(__file__).resolve().parent.parent / "docs"
NET = """\
input {input}
conv 4 3x3 relu
flatten
out: dense {units}
train {{
{settings}
  epochs 1
  batch 32
}}
"""


def spec_text(settings: str, input: str = "1x8x8", units: int = 10) -> str:
    return NET.format(input=input, units=units, settings=settings)


@pytest.fixture
def write(tmp_path):
    def write(text: str, name: str = "net.cnn") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write


def check_error(path: str, capsys) -> str:
    """The stderr of a ``check`` that fails with exit code 2 (and no traceback)."""
    assert main(["check", path]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def check_warnings(path: str, capsys) -> str:
    """The stderr of a ``check`` that passes (exit code 0): its warnings."""
    assert main(["check", path]) == 0
    return capsys.readouterr().err


def as_json(path: str, tmp_path, edit, capsys) -> str:
    """``path`` exported to a ``.json`` IR file with ``edit(ir)`` applied to it."""
    assert main(["export", path, "--no-check"]) == 0
    ir = json.loads(capsys.readouterr().out)
    edit(ir)
    out = tmp_path / "net.json"
    out.write_text(json.dumps(ir))
    return str(out)


def test_the_first_example_of_the_language_docs_checks_and_trains(tmp_path, capsys):
    text = re.search(r"```\n(# LeNet.*?)```", (DOCS / "language.md").read_text(), re.DOTALL)[1]
    path = tmp_path / "lenet.cnn"
    path.write_text(text)
    assert main(["check", str(path)]) == 0, capsys.readouterr().err
    assert main(["train", str(path), "--epochs", "1", "--quiet", "--out",
                 str(tmp_path / "run")]) == 0, capsys.readouterr().err


def test_more_outputs_than_classes_is_an_error_at_the_units(write, tmp_path, capsys):
    path = write(spec_text("  data shapes(size=8, classes=[x, plus, o, square])"))
    err = check_error(path, capsys)
    assert (f"{path}:4:12: error: the output 'out' gives 10 scores, but shapes has 4 classes"
            in err)
    assert "  out: dense 10\n             ^^\nhint: give 'out' 4 units" in err
    json_path = as_json(path, tmp_path, lambda ir: None, capsys)
    assert f"{json_path}: $.layers[3].units: error: the output 'out' gives 10" in check_error(
        json_path, capsys)


def test_the_output_width_is_traced_back_through_activations(write, capsys):
    path = write(spec_text("  data digits").replace("out: dense {units}", "")
                 .replace("out: dense 10", "fc: dense 4 relu\nout: softmax"))
    err = check_error(path, capsys)
    assert f"{path}:4:11: error: the output 'out' gives 4 scores, but digits has 10" in err
    assert "hint: give 'fc' 10 units" in err


def test_an_input_with_other_channels_than_the_data_is_an_error_with_the_right_hint(
        write, capsys):
    path = write(spec_text("  data shapes(size=8)", input="3x8x8"))
    err = check_error(path, capsys)
    assert f"{path}:1:1: error: the input is 3x8x8, but the shapes images are 1x8x8" in err
    assert "hint: the shapes images have 1 channel: write `input 1x8x8`" in err


def test_a_colour_input_on_greyscale_shapes_suggests_colour(write, capsys):
    path = write(spec_text("  data shapes(size=8)", input="3x8x8"))
    assert ("hint: the shapes images have 1 channel: write `input 1x8x8`, or draw the shapes "
            "as 3x8x8: give shapes the argument colour=true (`data shapes(colour=true)` in the "
            "train block, or train with --data 'shapes(colour=true)')"
            in check_error(path, capsys))
    path = write(spec_text("  data shapes(size=16, colour=true)", input="3x8x8"))
    assert ("hint: write `input 3x16x16`, or draw the shapes as 3x8x8: give shapes the "
            "argument size=8 (`data shapes(size=8)`" in check_error(path, capsys))
    path = write(spec_text("  data shapes(size=16, colour=true)"))
    assert ("hint: write `input 3x16x16`, or draw the shapes as 1x8x8: give shapes the "
            "arguments size=8, colour=false (`data shapes(size=8, colour=false)` in the train "
            "block, or train with --data 'shapes(size=8, colour=false)')"
            in check_error(path, capsys))


def test_colour_must_be_true_or_false(write, capsys):
    path = write(spec_text("  data shapes(size=8, colour=1)", input="3x8x8"))
    err = check_error(path, capsys)
    assert f"{path}:6:30: error: colour of shapes must be true or false" in err


def test_colour_shapes_fit_a_3_channel_input(write, capsys):
    path = write(spec_text("  data shapes(size=8, colour=true)", input="3x8x8"))
    assert main(["check", path]) == 0


def test_an_input_of_another_size_than_shapes_suggests_either_fix(write, capsys):
    path = write(spec_text("  data shapes(size=16)"))
    assert ("hint: write `input 1x16x16`, or draw the shapes as 1x8x8: give shapes the "
            "argument size=8 (`data shapes(size=8)` in the train block, or train with --data "
            "'shapes(size=8)')" in check_error(path, capsys))


def test_nesterov_without_momentum_is_a_check_error_and_train_makes_no_folder(
        write, tmp_path, capsys):
    path = write(spec_text("  data digits\n  optimizer sgd(momentum=0, nesterov=true)"))
    err = check_error(path, capsys)
    assert f"{path}:7:38: error: Nesterov momentum needs a momentum above 0" in err
    assert "hint: set a momentum, e.g. sgd(momentum=0.9, nesterov=true)" in err
    runs = tmp_path / "runs"
    assert main(["train", path, "--runs-dir", str(runs), "--quiet"]) == 2
    assert f"{path}:7:38: error: Nesterov" in capsys.readouterr().err
    assert not runs.exists()
    json_path = as_json(path, tmp_path, lambda ir: None, capsys)
    assert f"{json_path}: $.training.optimizer.nesterov: error: Nesterov" in check_error(
        json_path, capsys)


def test_train_makes_no_folder_for_data_that_does_not_fit(write, tmp_path, capsys):
    path = write(spec_text("  data digits"))
    assert main(["check", path]) == 0
    runs = tmp_path / "runs"
    assert main(["train", path, "--data", "shapes", "--runs-dir", str(runs), "--quiet"]) == 2
    assert f"{path}:1:1: error: the input is 1x8x8, but the shapes images are 1x16x16" in (
        capsys.readouterr().err)
    assert not runs.exists()


def test_too_many_shapes_is_an_error_at_the_count(write, tmp_path, capsys):
    path = write(spec_text("  data shapes(size=8, count=1000000000)"))
    err = check_error(path, capsys)
    assert (f"{path}:6:29: error: shapes count of 1,000,000,000 images of 8x8 pixels is more"
            in err)
    assert "hint: at this size, at most 4,194,304 images" in err

    def many(ir):
        ir["training"]["data"]["count"] = 10**9

    json_path = as_json(write(spec_text("  data shapes(size=8)")), tmp_path, many, capsys)
    assert f"{json_path}: $.training.data.count: error: shapes count of 1,000,000,000" in (
        check_error(json_path, capsys))


@pytest.mark.parametrize("data, hint", [
    # Too few of this size fit to hold five of each class: smaller images, for this count.
    ("shapes(size=100000)", ("hint: 4,000 images fit at up to 259x259 pixels (size=259); or "
     "fewer images")),
    # Not even the smallest size holds this count.
    ("shapes(size=4000, count=20000000)", ("hint: at the smallest size, 4x4, at most "
     "16,777,216 images")),
    # Already the smallest size: fewer images is the one way.
    ("shapes(size=4, count=99999999)", "hint: at this size, at most 16,777,216 images\n"),
])
def test_too_many_shapes_pixels_hint_what_fits(data, hint, write, capsys):
    """The hint once said "at most 0 images; or make them smaller" for images too large for
    one of each class, and "make them smaller" at the smallest size."""
    size = data.split("size=")[1].split(",")[0].rstrip(")")
    err = check_error(write(spec_text(f"  data {data}", input=f"1x{size}x{size}")), capsys)
    assert hint in err
    assert "at most 0 images" not in err


def test_negative_zero_noise_is_no_noise(write, tmp_path, capsys):
    from cnnspec import load
    from cnnspec.data import load_dataset

    path = write(spec_text("  data shapes(size=8, count=100, noise=-0.0)"))
    checked = load(path)
    noise = checked.ir["training"]["data"]["noise"]
    assert noise == 0 and str(noise) == "0.0"
    clean = load_dataset({"name": "shapes", "size": 8, "count": 100, "noise": 0.0}, seed=1)
    signed = load_dataset({"name": "shapes", "size": 8, "count": 100, "noise": -0.0}, seed=1)
    assert (clean.x_train == signed.x_train).all()
    assert main(["train", path, "--quiet", "--out", str(tmp_path / "run")]) == 0


@pytest.mark.parametrize("field, value, message", [
    ("noise", -0.5, "must be >= 0, got -0.5"),
    ("size", 3, "must be >= 4, got 3"),
    ("count", 12, "shapes count must be at least 50 (5 images per class for 10 classes)"),
])
def test_a_json_ir_gets_the_dataset_checks_at_their_path(field, value, message, write,
                                                         tmp_path, capsys):
    def edit(ir):
        ir["training"]["data"][field] = value

    json_path = as_json(write(spec_text("  data shapes(size=8)")), tmp_path, edit, capsys)
    err = check_error(json_path, capsys)
    assert f"{json_path}: $.training.data.{field}: error: {message}" in err


@pytest.mark.parametrize("written", ["fashion-mnist", "fashion_mnist"])
def test_fashion_mnist_has_one_name_and_two_spellings(written, write, tmp_path, capsys):
    path = write(spec_text(f"  data {written}", input="1x28x28"))
    assert main(["export", path]) == 0
    ir = json.loads(capsys.readouterr().out)
    assert ir["training"]["data"] == {"name": "fashion-mnist"}

    def spelt(ir):
        ir["training"]["data"]["name"] = written

    json_path = as_json(path, tmp_path, spelt, capsys)
    assert main(["export", json_path]) == 0
    assert json.loads(capsys.readouterr().out)["training"]["data"] == {"name": "fashion-mnist"}


def test_the_command_line_takes_both_spellings_of_fashion_mnist(write, tmp_path):
    from cnnspec.training.api import checked_with_overrides
    from cnnspec.training.settings import Settings

    path = write(spec_text("  data digits", input="1x28x28"))
    for written in ("fashion-mnist", "fashion_mnist"):
        checked = checked_with_overrides(path, Settings(data=written).overrides())
        assert checked.ir["training"]["data"] == {"name": "fashion-mnist"}
    with pytest.raises(SpecErrors, match="the input is 1x28x28, but the digits images"):
        checked_with_overrides(path, {})


def test_check_reads_any_spelling_of_a_dataset_in_an_ir_built_in_python():
    from cnnspec.check import check
    from cnnspec.lang import parse

    spec = parse(spec_text("  data digits", input="1x28x28"))
    spec.ir["training"]["data"] = {"name": "fashion_mnist"}
    assert check(spec).output_shape == (10,)
    spec.ir["training"]["data"] = {"name": "cifar"}
    with pytest.raises(SpecErrors) as info:
        check(spec)
    (error,) = info.value.errors
    assert error.message == "unknown dataset 'cifar'" and "fashion-mnist" in error.hint


def test_data_that_does_not_fit_says_when_it_is_the_default(write, capsys):
    path = write("input 1x28x28\nflatten\ndense 10\n")
    err = check_error(path, capsys)
    assert (f"{path}:1:1: error: the input is 1x28x28, but the digits images are 1x8x8 (the spec "
            "names no data; digits is the default)") in err
    # the data of that shape, named as the spec (in the train block it lacks) and train's
    # --data name it
    assert ("hint: write `input 1x8x8`, or train on data of shape 1x28x28: `train { data mnist "
            "}` after the layers, or train with --data mnist") in err
    assert main(["check", write("input 1x28x28\nflatten\ndense 10\ntrain {\n  data mnist\n}\n")
                 ]) == 0
    # data given to train is no default: the note would send the user after the wrong data
    path = write("input 1x8x8\nflatten\ndense 8\n")
    assert main(["train", path, "--data", "shapes(size=8)", "--out", str(Path(path).parent / "r")
                 ]) == 2
    err = capsys.readouterr().err
    assert "the output 'dense1' gives 8 scores, but shapes has 10 classes" in err
    assert "names no data" not in err and "is the default" not in err


def test_the_command_line_too_is_told_to_name_the_data_where_the_default_does_not_fit(write,
                                                                                       capsys):
    """A hint whose data advice names no train block ends by saying to name the data there,
    on the command line as in the library (the command line's hint dropped it); a spec with
    no train block is shown the block to add."""
    from cnnspec import load

    for block, named in [("", "`train { data ... }` after the layers"),
                         ("train {\n  epochs 2\n}\n", "`data ...` in the train block")]:
        path = write("input 3x8x8\nflatten\ndense 10\n" + block)
        said = ("the digits images have 1 channel: write `input 1x8x8`; or name the data to "
                f"train on: {named}")
        assert f"hint: {said}\n" in check_error(path, capsys)
        with pytest.raises(SpecErrors) as info:
            load(path)
        assert info.value.errors[0].hint == said


@pytest.mark.parametrize("shape, named", [
    ("3x32x32", "`train { data cifar10 }` after the layers, or train with --data cifar10"),
    ("3x20x20", ("`train { data shapes(size=20, colour=true) }` after the layers, or train "
                 "with --data 'shapes(size=20, colour=true)'")),
    ("2x20x20", ("your own arrays: `train { data npz(\"PATH\") }` after the layers, or train "
                 "with --data npz:PATH"))])
def test_data_that_does_not_fit_is_refused_by_check_and_said_by_summary(write, capsys, shape,
                                                                       named):
    """What train refuses check refuses; summary, diagram and export describe the network and
    say it as a warning (summary --strict: an error). The hint names data of the input's
    shape as the spec and train's --data write it: summary and check take no --data. The
    spec has no train block: the hint writes the one to add, not "in the train block"."""
    path = write(f"input {shape}\nflatten\ndense 10\n")
    hint = f"hint: write `input 1x8x8`, or train on data of shape {shape}: {named}"
    assert main(["check", path]) == 2
    assert hint in capsys.readouterr().err
    assert main(["summary", path]) == 0
    err = capsys.readouterr().err
    assert f"{path}:1:1: warning: the input is {shape}, but the digits images" in err
    assert hint in err
    assert main(["summary", "--strict", path]) == 2
    capsys.readouterr()
    assert main(["export", path, "-o", str(Path(path).with_suffix(".json"))]) == 0


def test_a_validation_split_of_most_of_the_data_is_a_warning_at_the_setting(write, capsys):
    path = write(spec_text("  data digits\n  val_split 0.999"))
    assert main(["check", path]) == 0
    err = capsys.readouterr().err
    assert (f"{path}:7:3: warning: val_split 0.999 holds out 99.9% of the training split to "
            "validate: the network trains on the other 0.1%") in err
    assert "hint: validate on a tenth or so, e.g. `val_split 0.1` (the default)" in err
    assert main(["check", write(spec_text("  data digits\n  val_split 0.5"))]) == 0
    assert "val_split" not in capsys.readouterr().err


def test_a_batch_larger_than_all_the_data_is_a_warning_at_the_setting(write, capsys):
    """`batch 5000` on the 1,797 digits: every epoch one step, said before training."""
    path = write(spec_text("  data digits").replace("batch 32", "batch 5000"))
    assert main(["check", path]) == 0
    err = capsys.readouterr().err
    assert (f"{path}:8:3: warning: batch 5,000 is more than all 1,797 images of digits "
            "(training, validation and test together): each epoch is a single step") in err
    assert "hint: use a batch well below 1,797, e.g. 64 (the default)" in err
    assert main(["check", "--strict", path]) == 2
    capsys.readouterr()
    # shapes counts its images: a batch of all of them is not warned about
    assert main(["check", write(spec_text("  data shapes(size=8, count=400)", units=10)
                                .replace("batch 32", "batch 400"))]) == 0
    assert "warning" not in capsys.readouterr().err


def test_epochs_beyond_any_training_are_a_warning_at_the_setting(write, capsys):
    """A run of more than ten million steps (the 1,293 digits a run trains on in batches of
    32: 41 steps an epoch) is a slip, warned of at its epochs line; one of ten million
    steps or fewer is not."""
    from cnnspec.ir.steps import MOST_STEPS

    most = MOST_STEPS // 41
    path = write(spec_text("  data digits").replace("epochs 1", f"epochs {most + 1}"))
    err = check_warnings(path, capsys)
    assert (f"{path}:7:3: warning: epochs {most + 1:,} make a run of {41 * (most + 1):,} "
            "steps (41 an epoch), more than the 10,000,000 any training takes (over 16 times "
            "ResNet's on ImageNet)") in err
    written = f"epochs {most + 1}"
    assert f"\n    {written}\n    {'^' * len(written)}\n" in err
    assert f"hint: write the epochs the run should take, at most {most:,} here" in err
    assert main(["check", "--strict", path]) == 2
    capsys.readouterr()
    assert "epochs" not in check_warnings(
        write(spec_text("  data digits").replace("epochs 1", f"epochs {most}")), capsys)


@pytest.mark.parametrize("data, warned", [("digits", True), ("mnist", True),
                                          ("fashion_mnist", False), ("cifar10", False)])
def test_flip_and_half_turns_are_warned_about_on_digits_only(data, warned):
    """The datasets of handwritten digits (the registry's ``digits``) get the warnings: a
    mirrored 2 is no digit, a 6 turned half way round is a 9; clothes and photos do not."""
    from cnnspec.check import check
    from cnnspec.ir.datasets import DATASETS, canonical_name
    from cnnspec.lang import parse

    shape = DATASETS[canonical_name(data)].image
    text = spec_text(f"  data {data}\n  augment [flip, rotate(180), rotate(10)]",
                     input="x".join(map(str, shape)))
    spec = parse(text)
    augment_line = text.splitlines()[6]
    warnings = [(w.message, augment_line[w.span.column - 1:w.span.end_column - 1])
                for w in check(spec).warnings if w.span.line == 7]
    if not warned:
        assert warnings == []
        return
    (flip, flip_at), (turn, turn_at) = warnings
    assert flip.startswith(f"flip mirrors the {data} images, but a mirrored 2")
    assert flip_at == "flip"
    assert turn.startswith(f"rotate turns the {data} images by up to 180 degrees")
    assert turn_at == "180"


@pytest.mark.parametrize("optimizer, lr, decay, warned", [
    ("sgd", 0.05, "1e6", True),  # 5e4 times each weight away each step
    ("sgd(momentum=0)", 0.5, "2", True),  # exactly the whole weight
    ("adamw", 0.1, "20", True),  # decoupled: the weights shrink by lr x weight_decay
    ("adam", 0.05, "1e6", False),  # divided by the gradients' running scale
    ("sgd", 0.1, "5e-4", False),
    ("adamw", 0.001, "0.01", False),
])
def test_check_warns_of_a_weight_decay_that_takes_every_weight_away(tmp_path, capsys, optimizer,
                                                                   lr, decay, warned):
    spec = tmp_path / "decay.cnn"
    spec.write_text("input 1x8x8\nconv 4 3x3\nflatten\nfc: dense 10\ntrain {\n"
                    f"  optimizer {optimizer}\n  lr {lr}\n  weight_decay {decay}\n}}\n")
    assert main(["check", str(spec)]) == 0
    err = capsys.readouterr().err
    assert (f"{spec}:8:3: warning: weight_decay" in err) == warned, err
    if warned:
        assert "lr x weight_decay should be well below 1" in err
        assert main(["check", "--strict", str(spec)]) == 2


def test_a_weight_decay_check_warns_of_diverges_in_training(tmp_path):
    """What check warns of, train meets: the weights blow up, and its message blames the
    weight decay."""
    from cnnspec import train
    from cnnspec.training.loop import Diverged

    spec = tmp_path / "decay.cnn"
    spec.write_text("input 1x8x8\nconv 4 3x3\nflatten\nfc: dense 10\ntrain {\n  optimizer sgd\n"
                    "  lr 0.05\n  weight_decay 1e6\n  epochs 1\n}\n")
    with pytest.raises(Diverged) as info:
        train(str(spec), run_dir=str(tmp_path / "run"), curves=False, progress="none")
    assert info.value.hint.startswith("lower weight_decay")


LR_SPEC = "input 1x8x8\nconv 4 3x3\nflatten\nfc: dense 10\ntrain {\n  lr %s\n  epochs 1\n}\n"


@pytest.mark.parametrize("lr, warned", [("1e10", True), ("99999999999", True), ("1.5", True),
                                        ("1", False), ("0.1", False)])
def test_check_warns_of_an_lr_far_above_those_that_train(write, capsys, lr, warned):
    spec = write(LR_SPEC % lr)
    err = check_warnings(spec, capsys)
    assert (f"{spec}:6:3: warning: lr " in err) == warned, err
    if warned:
        assert "far above the learning rates that train, usually 0.0001 to 0.1" in err
        assert "hint: write an lr of 0.1 or below, e.g. 0.01 (the default)" in err


def test_check_warns_of_an_lr_mult_that_takes_a_layers_rate_far_above(write, capsys):
    """An IR mutant with a bias lr_mult of 1e30 passed check; train diverged at step 2. (A
    rate beyond what float32 holds is an error: test_check_refuses_a_multiplier_...)"""
    spec = write("input 1x8x8\nc: conv 4 3x3 lr_mult [1, 1e30]\nd: conv 4 3x3 lr_mult 2\n"
                 "flatten\nfc: dense 10\ntrain {\n  lr 0.005\n}\n")
    err = check_warnings(spec, capsys)
    assert f"{spec}:2:15: warning: 'c' learns at lr x lr_mult = 0.005, 5e27 (weight, bias), " \
           "far above the learning rates that train" in err
    assert "hint: keep lr x lr_mult at 0.1 or below: an lr_mult of 20 or less at lr 0.005" in err
    assert "'d' learns" not in err


def test_check_does_not_warn_of_the_lr_mult_of_a_bias_a_layer_lacks(write, capsys):
    """The bias multiplier of a layer without a bias is never used: no divergence to fear."""
    spec = write("input 1x8x8\nc: conv 4 3x3 nobias lr_mult [1, 1e30]\nflatten\n"
                 "fc: dense 10\ntrain {\n  lr 0.005\n}\n")
    assert "learns at" not in check_warnings(spec, capsys)
    spec = write("input 1x8x8\nc: conv 4 3x3 nobias lr_mult [1e30, 1]\nflatten\n"
                 "fc: dense 10\ntrain {\n  lr 0.005\n}\n")
    assert "'c' learns at lr x lr_mult = 5e27 (weight), far above" in \
        check_warnings(spec, capsys)


MULT_NET = ("input 1x8x8\nc: conv 4 3x3 {mults}\nflatten\nfc: dense 10\ntrain {{\n  "
            "optimizer {optimizer}\n  lr 0.1\n  weight_decay 0.1\n}}\n")


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
@pytest.mark.parametrize("mults, mult, what, value", [
    ("decay_mult 1e308", "decay_mult", "weight_decay x decay_mult of its weight", "1e307"),
    ("lr_mult [1, 1e308]", "lr_mult", "lr x lr_mult of its bias", "1e307"),
    ("decay_mult [1, 1e40]", "decay_mult", "weight_decay x decay_mult of its bias", "1e39"),
])
def test_check_refuses_a_multiplier_whose_product_float32_cannot_hold(write, capsys, optimizer,
                                                                      mults, mult, what, value):
    """decay_mult 1e308 under weight_decay 0.1 (sgd, adam) passed check, with a warning under
    sgd and none under adam, and train's first steps made 'c''s weights NaN: the optimizer's
    weight_decay x decay_mult (or lr x lr_mult) is 1e307, infinity in float32."""
    spec = write(MULT_NET.format(mults=mults, optimizer=optimizer))
    err = check_error(spec, capsys)
    column = 15 + (mults.index(mult) if mult in mults else 0)
    assert f"{spec}:2:{column}: error: 'c' has {what} = {value}, beyond the 3.4e38 that " \
           "float32, the dtype training computes in, holds: its first steps make the " \
           "parameter infinite or NaN" in err
    assert f"hint: write a smaller {mult}: lr x lr_mult should be 0.1 or below" in err


@pytest.mark.parametrize("optimizer, refused", [("sgd", True), ("adamw", True),
                                                ("adam", False)])
def test_check_refuses_a_decay_whose_share_of_a_weight_float32_cannot_hold(
        write, capsys, optimizer, refused):
    """lr x lr_mult x weight_decay x decay_mult = 0.1 x 1e20 x 0.1 x 1e21 = 1e39: sgd's and
    adamw's first step multiplies each weight by about that, and the second overflows; adam
    divides the decay by the gradients' scale (check warns of its decay, not refuses)."""
    spec = write(MULT_NET.format(mults="lr_mult 1e20 decay_mult 1e21", optimizer=optimizer))
    if not refused:
        assert "1e39" not in check_warnings(spec, capsys)
        return
    err = check_error(spec, capsys)
    assert "'c' has lr x lr_mult x weight_decay x decay_mult of its weight = 1e39" in err
    assert f"{spec}:2:28: error" in err  # under decay_mult, which raises it


@pytest.mark.parametrize("mults, settings, options", [
    ("decay_mult [1, 1e308]", "  decay_bias false\n", []),  # the bias does not decay
    ("nobias decay_mult [1, 1e308]", "", []),  # a bias multiplier never used
    ("lr_mult [1, 0] decay_mult [1, 1e308]", "", []),  # a bias that does not train
    ("frozen decay_mult 1e308", "", []),
    ("decay_mult 1e308", "", ["--dtype", "float64"]),  # float64 holds 1e307
])
def test_check_leaves_a_multiplier_the_optimizer_never_overflows(write, capsys, mults,
                                                                 settings, options):
    spec = write(MULT_NET.format(mults=mults, optimizer="adam").replace(
        "  lr 0.1\n", "  lr 0.1\n" + settings))
    assert main(["check", spec, *options]) == 0, capsys.readouterr().err


def test_check_refuses_an_ir_multiplier_float32_cannot_hold_at_its_path(write, tmp_path,
                                                                        capsys):
    """The same error for a .json IR, at the multiplier's JSON path."""
    def edit(ir):
        next(layer for layer in ir["layers"] if layer["name"] == "c")["decay_mult"] = \
            [1e308, 1.0]

    path = as_json(write(MULT_NET.format(mults="", optimizer="adam")), tmp_path, edit, capsys)
    err = check_error(path, capsys)
    assert "'c' has weight_decay x decay_mult of its weight = 1e307" in err
    assert "decay_mult" in err.split("error:")[0]


def _diverged_hint(tmp_path, text: str) -> str:
    from cnnspec import train
    from cnnspec.training.loop import Diverged

    spec = tmp_path / "lr.cnn"
    spec.write_text(text)
    with pytest.raises(Diverged) as info:
        train(str(spec), run_dir=str(tmp_path / "run"), curves=False, progress="none")
    return info.value.hint


def test_a_divergence_at_an_lr_far_above_those_that_train_hints_to_lower_it(tmp_path):
    """A mutant spec with `lr 1e10` passed check without a word, and train diverged at its
    second step."""
    assert "lower the learning rate" in _diverged_hint(tmp_path, LR_SPEC % "1e10")


def test_a_divergence_from_a_layers_lr_mult_hints_to_lower_that_lr_mult(tmp_path):
    """The lr of 0.005 trains; the lr_mult of 1e30 on 'c''s bias is what diverges."""
    hint = _diverged_hint(tmp_path, "input 1x8x8\nc: conv 4 3x3 lr_mult [1, 1e30]\nflatten\n"
                                    "fc: dense 10\ntrain {\n  lr 0.005\n  epochs 1\n}\n")
    assert hint.startswith("lower the lr_mult of 'c': at lr 0.005"), hint
    assert "an lr_mult of 20 or less at lr 0.005" in hint
    assert "lower the learning rate" not in hint


@pytest.mark.parametrize("data, augment, warned", [
    ("shapes", "flip", ("flip mirrors the shapes images, and mirrored diag images are antidiag "
     "ones")),
    ("shapes(classes=[x, plus, diag])", "flip", None),  # diag alone: mirrored, still no class
    ("shapes", "rotate(30)", ("rotate turns the shapes images by up to 30 degrees, but x images "
     "turned by more than 22.5 degrees lie nearer plus ones (a 45-degree turn makes one the "
     "other)")),
    ("shapes", "rotate(20)", None),
    ("shapes(classes=[o, hbar, vbar])", "rotate(30)", None),
    ("shapes(classes=[o, hbar, vbar])", "rotate(50)", ("but hbar images turned by more than 45 "
     "degrees lie nearer vbar ones")),
    ("mnist", "rotate(30)", None),
])
def test_augmentation_that_makes_one_shapes_class_another_is_warned_about(data, augment,
                                                                           warned):
    from cnnspec.check import check
    from cnnspec.lang import parse

    classes = data.count(",") + 1 if "classes" in data else 10
    text = spec_text(f"  data {data}\n  augment [{augment}]", input="1x16x16"
                     if data.startswith("shapes") else "1x28x28", units=classes)
    found = [w for w in check(parse(text)).warnings if w.span.line == 7]
    if warned is None:
        assert found == []
        return
    (warning,) = found
    assert warned in warning.message and "mislabelled" in warning.message
    assert warning.hint.startswith("drop flip" if augment == "flip" else
                                   "keep the rotations below")


def test_augmentation_of_a_flat_input_is_no_warning():
    """A hand-built spec may take a flat input, (64,): augment_fit has no image side to
    measure a shift against there, and says nothing (it once failed on min() of nothing)."""
    from cnnspec.check.lints import augment_fit
    from cnnspec.lang import parse

    spec = parse(spec_text("  data digits\n  augment [flip, shift(4)]"))
    assert augment_fit(spec)  # as an image, both are said
    spec.ir["input"]["shape"] = [64]
    assert augment_fit(spec) == []


BATCH_NORMED = """\
input 1x8x8
conv 4 3x3 relu
{before}
batchnorm relu
flatten
out: dense 10
train {{
  batch {batch}
}}
"""


@pytest.mark.parametrize("before, shape", [("flatten\ndense 16", "16"),
                                           ("global_avgpool", "4"),
                                           ("maxpool 6", "4x1x1")])
def test_a_batch_of_one_where_a_batch_norm_sees_one_value_per_channel_is_refused(
        write, tmp_path, capsys, before, shape):
    path = write(BATCH_NORMED.format(before=before, batch=1))
    line = BATCH_NORMED.format(before=before, batch=1).splitlines().index("batchnorm relu") + 1
    err = check_error(path, capsys)
    assert f"net.cnn:{line}:1: error: a batch of 1 gives batchnorm 'batchnorm1' one value " \
           f"per channel (its input, {shape} per image, holds one per channel)" in err
    assert "\n  batchnorm relu\n  ^^^^^^^^^\n" in err
    assert "hint: a larger batch, e.g. `batch 32`, or no batchnorm here" in err
    assert main(["train", path, "--runs-dir", str(tmp_path / "runs")]) == 2
    assert not (tmp_path / "runs").exists()
    assert main(["check", write(BATCH_NORMED.format(before=before, batch=2))]) == 0


def test_a_batch_of_one_is_refused_as_the_run_was_given_it_and_only_warned_of_by_summary(
        write, tmp_path, capsys):
    path = write(BATCH_NORMED.format(before="global_avgpool", batch=32))
    assert main(["train", path, "--batch-size", "1", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "hint: a larger batch, e.g. `--batch-size 32`" in capsys.readouterr().err
    assert main(["summary", write(BATCH_NORMED.format(before="global_avgpool", batch=1))]) == 0
    assert "warning: a batch of 1 gives batchnorm 'batchnorm1'" in capsys.readouterr().err


def test_a_batch_of_one_on_maps_larger_than_one_pixel_is_no_error(write, capsys):
    assert main(["check", write(BATCH_NORMED.format(before="maxpool 3", batch=1))]) == 0


# One image trained on, a batch norm that sees one value per channel and a batch of 4: the
# epoch's one batch holds the image alone, which the norm cannot take, so it is left out.
NO_STEP = """\
input 1x8x8
conv 4 3x3 relu
global_avgpool
batchnorm relu
flatten
out: dense {units}
train {{
  data {data}
  val_split {val_split}
  batch 4
}}
"""
NO_STEP_HINT = "no batchnorm here (before `flatten`, on maps larger than 1x1"


def test_an_epoch_without_a_step_is_refused_at_the_batch_setting(write, tmp_path, capsys):
    """40 training images of shapes, 39 held out to validate: one left, and no step (train
    once reported a loss of 0 for it, and a batch norm warning divided by the 0 steps)."""
    text = NO_STEP.format(units=10, data="shapes(count=50, size=8)", val_split=0.99)
    path = write(text)
    err = check_error(path, capsys)
    line = text.splitlines().index("  batch 4") + 1
    assert f"net.cnn:{line}:3: error: an epoch has no step: the run trains on 1 image (40 " \
           "training images of shapes less the 39 val_split holds out), and batchnorm " \
           "'batchnorm1' cannot take a batch of one image" in err
    assert "\n    batch 4\n    ^^^^^^^\n" in err
    assert ("hint: hold fewer of them out to validate (below `val_split 0.99`), train on more "
            f"images, or {NO_STEP_HINT}") in err
    assert main(["train", path, "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "an epoch has no step" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    assert main(["summary", path]) == 0  # described, not trained: a warning
    assert "warning: an epoch has no step" in capsys.readouterr().err
    assert main(["check", write(text.replace("val_split 0.99", "val_split 0.9"))]) == 0


def test_an_epoch_without_a_step_over_a_data_file_is_refused_once_it_is_read(
        write, tmp_path, capsys, monkeypatch):
    """An npz file's number of images is known once read: check reads it, train too."""
    import numpy as np

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "one.npz", x=rng.random((1, 1, 8, 8), dtype=np.float32),
             y=np.array([0]), x_test=rng.random((3, 1, 8, 8), dtype=np.float32),
             y_test=np.arange(3))
    monkeypatch.chdir(tmp_path)
    path = write(NO_STEP.format(units=3, data='npz(path="one.npz")', val_split=0))
    err = check_error(path, capsys)
    assert ("error: an epoch has no step: the run trains on 1 image (1 training image of "
            "one.npz)") in err
    assert f"\n    batch 4\n    ^^^^^^^\nhint: train on more images, or {NO_STEP_HINT}" in err
    assert main(["train", path, "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "an epoch has no step" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def _fold_spec(write, tmp_path, images: int) -> str:
    """NO_STEP over an npz file of ``images`` training images, none held out by val_split."""
    import numpy as np

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "few.npz", x=rng.random((images, 1, 8, 8), dtype=np.float32),
             y=np.arange(images) % 3, x_test=rng.random((3, 1, 8, 8), dtype=np.float32),
             y_test=np.arange(3))
    return write(NO_STEP.format(units=3, data=f'npz("{tmp_path / "few.npz"}")', val_split=0))


def test_a_fold_without_a_step_is_refused_before_the_sweep_and_by_train(write, tmp_path,
                                                                        capsys):
    """3 images in 2 folds: fold 1 validates on 2 and trains on 1, which the batch norm
    cannot take; check's empty-epoch error counted val_split's split, not the fold's."""
    from cnnspec.training.api import train

    path = _fold_spec(write, tmp_path, 3)
    assert main(["check", path]) == 0  # trained on its 3 images: a step an epoch
    capsys.readouterr()
    assert main(["sweep", path, "--folds", "2", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    line = NO_STEP.splitlines().index("  batch 4") + 1
    said = ("error: an epoch of fold 1 of 2 has no step: the fold trains on 1 image (3 "
            f"training images of {tmp_path / 'few.npz'} less the 2 fold 1 validates on), and "
            "batchnorm "
            "'batchnorm1' cannot take a batch of one image")
    assert f"net.cnn:{line}:3: {said}" in err and "\n    batch 4\n    ^^^^^^^\n" in err
    assert ("hint: more folds, each validating on fewer images (--folds 3 rather than "
            f"--folds 2), train on more images, or {NO_STEP_HINT}") in err
    assert not (tmp_path / "s").exists()
    with pytest.raises(SpecErrors) as info:  # train agrees, before the run folder is made
        train(path, run_dir=tmp_path / "r", progress="none", fold=(0, 2))
    assert info.value.errors[0].message.startswith(said.removeprefix("error: "))
    assert (info.value.errors[0].span.line, info.value.errors[0].span.column) == (line, 3)
    assert not (tmp_path / "r").exists()
    train(path, run_dir=tmp_path / "r2", progress="none", fold=(1, 2))  # 2 images: a step


def test_more_folds_than_a_data_file_s_images_are_refused_before_the_sweep_and_by_train(
        write, tmp_path, capsys):
    """Counted from the file's labels whether or not a batch norm needs the count: the sweep
    once started (its cluster and all) and every cell failed, unlocated."""
    from cnnspec.training.api import train

    path = write(NO_STEP.format(units=3, data=f'npz("{tmp_path / "few.npz"}")', val_split=0)
                 .replace("batchnorm relu\n", ""))
    _fold_spec(write, tmp_path, 3)  # its data file; the spec above has no batch norm
    assert main(["sweep", path, "--folds", "5", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    line = NO_STEP.splitlines().index("  data {data}") + 1
    said = (f"error: 5 folds are more than the 3 training images of {tmp_path / 'few.npz'}: "
            "each fold validates on one image at least")
    assert f"net.cnn:{line}:3: {said}" in err and "hint: use at most --folds 3" in err
    assert not (tmp_path / "s").exists()
    with pytest.raises(SpecErrors) as info:  # train agrees, before the run folder is made
        train(path, run_dir=tmp_path / "r", progress="none", fold=(0, 5))
    assert info.value.errors[0].message == said.removeprefix("error: ")
    assert info.value.errors[0].hint == "use at most folds=3"
    assert not (tmp_path / "r").exists()


def test_folds_that_validate_on_one_image_each_are_not_offered_more(write, tmp_path, capsys):
    path = _fold_spec(write, tmp_path, 2)
    assert main(["sweep", path, "--folds", "2", "--out", str(tmp_path / "s")]) == 2
    assert ("hint: every fold of --folds 2 validates on one image already: train on more "
            f"images, or {NO_STEP_HINT}") in capsys.readouterr().err


MSE_SPEC = ("input 1x8x8\nc: conv 8 3x3 pad same relu\nflatten\nfc: dense 10 bias constant(%s)\n"
            "train {\n  data digits\n  loss mse\n  optimizer %s\n  lr %s\n  epochs 1\n}\n")


@pytest.mark.parametrize("bias, optimizer, lr, ratio", [
    ("1e5", "sgd", 0.01, "2.93e3"), ("100", "sgd", 0.01, "2.93"), ("1000", "sgd", 0.001, "2.93"),
    ("10", "sgd", 0.01, None), ("100", "sgd", 0.001, None), ("0", "sgd", 0.01, None),
    ("100", "adam", 0.001, None)])
def test_outputs_far_from_the_mse_targets_are_warned_where_the_first_step_overshoots(
        tmp_path, write, capsys, bias, optimizer, lr, ratio):
    """Under mse, a dense output layer whose biases start at 1e5 (float32) passed check
    without a word and diverged at step 4. The first step of its weights, lr x (2 / K) |m -
    1/K| sqrt(E[x^2]), against their root mean square (0.0625, He's for 512 inputs): 2.93
    at biases of 100 and lr 0.01, or 1000 and lr 0.001, which diverge within an epoch (a
    few steps); 0.293 at biases of 10 and lr 0.01, or 100 and lr 0.001, which train
    without a warning. Adam divides the step by the gradient's scale: not warned, and it
    trains."""
    from cnnspec import train
    from cnnspec.training.loop import Diverged

    spec = write(MSE_SPEC % (bias, optimizer, lr))
    err = check_warnings(spec, capsys)
    assert ("[far-outputs]" in err) == (ratio is not None), err
    if ratio is None:
        train(spec, run_dir=str(tmp_path / "run"), curves=False, progress="none")
        return
    said = {"100": "99.9", "1000": "1e3"}.get(bias, bias)  # less the targets, rounded
    assert (f"{spec}:4:14: warning: under mse, the outputs of dense 'fc' start about {said} "
            "(root mean square) from its one-hot targets, raised by its biases") in err
    assert f"moves them by {ratio} times their own size (N(0, 0.0625^2))" in err
    assert "\n               ^^^^" in err  # the caret at the bias init
    assert "hint: start the biases at 0 (zeros), near the targets' scale; or lower the " \
           "learning rate of the weights of 'fc' (lr x lr_mult) to " in err
    with pytest.raises(Diverged):
        train(spec, run_dir=str(tmp_path / "run"), curves=False, progress="none")


def test_clipped_gradients_bound_the_first_step_of_far_mse_outputs(write, capsys):
    """clip_norm bounds the first step whatever the gradient: nothing to warn."""
    spec = write((MSE_SPEC % ("100", "sgd", 0.01)).replace("epochs 1", "epochs 1\n  clip_norm 1"))
    assert "[far-outputs]" not in check_warnings(spec, capsys)
