"""The training catalogue is the one declaration of the training settings: the shipped schema
and docs table are generated from it, the language reads exactly what it declares, the checker
reports what it refuses, and the engine implements each name it lists with the arguments it
declares."""
import copy
import importlib
import inspect
import json
import re
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from cnnspec.check import check
from cnnspec.dtypes import DTYPES, FORMATS
from cnnspec.errors import SpecError, SpecErrors, float_text
from cnnspec.ir import training_catalogue as catalogue
from cnnspec.ir.io import validate
from cnnspec.ir.spec import Spec
from cnnspec.ir.steps import EPOCH_STEPS, steps_per_epoch
from cnnspec.ir.training_docs import ir_training_table, training_table
from cnnspec.ir.training_schema import training_schemas
from cnnspec.kinds.docs import begin_marker, between_markers, end_marker
from cnnspec.lang import parse
from cnnspec.training.batches import batch_slices
from cnnspec.training.progress import Display

ROOT = Path(__file__).resolve().parent.parent
NET = "input 1x8x8\nflatten\ndense 10\n"
ZERO_IN_FLOAT32 = ("{} must be greater than 0 in float32, the dtype training computes in, "
                   "which rounds {} to 0")


def test_the_shipped_schema_holds_the_catalogue_settings():
    shipped = json.loads((files("cnnspec.ir") / "schema.json").read_text(encoding="utf-8"))
    for name, schema in training_schemas().items():
        assert shipped["$defs"][name] == schema, "run python tools/generate.py"


@pytest.mark.parametrize("page, table, generate", [
    ("language.md", "training settings", training_table),
    ("ir.md", "IR training settings", ir_training_table)])
def test_the_references_hold_the_catalogue_tables(page, table, generate):
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    shipped = between_markers(text, begin_marker(table, "cnnspec/ir/training_catalogue.py"),
                              end_marker(table))
    assert shipped == generate(), "run python tools/generate.py"


def test_the_language_fills_in_the_catalogue_defaults():
    assert parse(NET).ir["training"] == catalogue.defaults()


def _engine_object(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _keywords(function, leading: int = 0) -> list[str]:
    names = list(inspect.signature(function).parameters)[leading:]
    return [n for n in names if n != "weight_decay"]


def test_each_optimizer_is_the_engine_class_it_names_with_the_declared_arguments_and_rule():
    from cnnspec.engine.optim import OPTIMIZERS

    assert list(OPTIMIZERS) == list(catalogue.OPTIMIZERS)
    for name, entry in catalogue.OPTIMIZERS.items():
        assert _engine_object(entry.engine) is OPTIMIZERS[name]
        assert _keywords(OPTIMIZERS[name]) == [a.name for a in entry.args]
        assert OPTIMIZERS[name].RULE is entry.rule  # one record of the rule, named by both


def test_each_schedule_is_the_engine_function_it_names_with_the_declared_arguments():
    from cnnspec.engine.schedules import SCHEDULES

    assert list(SCHEDULES) == list(catalogue.SCHEDULES)
    for name, entry in catalogue.SCHEDULES.items():
        assert _engine_object(entry.engine) is SCHEDULES[name]
        assert _keywords(SCHEDULES[name], leading=2) == [a.name for a in entry.args]


def test_each_loss_and_preprocessing_has_its_implementation():
    from cnnspec.data.preprocess import PREPROCESS_MODES, Preprocessor
    from cnnspec.engine.losses import LOSSES

    assert list(LOSSES) == list(catalogue.LOSSES)
    for name, entry in catalogue.LOSSES.items():
        assert _engine_object(entry.engine) is LOSSES[name]
        # (output, labels, then the settings that apply to it, which the compiler passes;
        # then the engine's own: a split batch's parts divide by the whole batch's divisor)
        assert _keywords(LOSSES[name], leading=2) == list(entry.settings) + ["divisor"]
    assert PREPROCESS_MODES == tuple(catalogue.PREPROCESSORS)
    assert all(_engine_object(e.engine) is Preprocessor
               for e in catalogue.PREPROCESSORS.values())


def test_each_transform_is_the_function_it_names_with_the_declared_arguments():
    from cnnspec.data.augment import TRANSFORMS

    assert list(TRANSFORMS) == list(catalogue.TRANSFORMS)
    for name, entry in catalogue.TRANSFORMS.items():
        assert _engine_object(entry.engine) is TRANSFORMS[name]
        # (x, rng, fill, scale, then the declared arguments)
        assert _keywords(TRANSFORMS[name], leading=4) == [a.name for a in entry.args]


def _values():
    """Every declared value with a range: (key, argument or None, arg)."""
    for key in catalogue.KEYS.values():
        if key.arg is not None:
            yield key.name, None, key.arg
        elif key.objects:
            for entry in key.catalogue.values():
                for arg in entry.args:
                    yield key.name, entry, arg


def _edges(arg):
    """(value, accepted) pairs at each end of the declared range."""
    if arg.type in catalogue.LISTS:  # a list of one element at each end of its range
        for value, ok in _edges(arg.each()):
            yield [value], ok
        return
    step = 1 if arg.type == "int" else 1e-3
    if arg.low is not None:
        yield arg.low, not arg.low_open
        yield arg.low - step, False
    if arg.high is not None:
        yield arg.high, not arg.high_open
        yield arg.high + step, False


CASES = [(key, entry, arg, value, ok) for key, entry, arg in _values()
         for value, ok in _edges(arg)]


def _ids(case):
    key, entry, arg, value, _ = case
    written = catalogue.value_text(value) if isinstance(value, list) else f"{value:g}"
    return f"{key}-{entry.name + '.' if entry else ''}{arg.name}={written}"


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_language_schema_and_checker_agree_on_each_range(case):
    key, entry, arg, value, ok = case
    written = repr(value) if isinstance(value, float) else str(value)
    if entry is None:
        setting = f"{key} {written}"
    else:
        setting = f"{key} {entry.name}({arg.name}={written})"
    if ok:
        ir = parse(NET + f"train {{\n  {setting}\n}}\n").ir
        validate(ir)
    else:
        with pytest.raises((SpecError, SpecErrors)) as info:
            parse(NET + f"train {{\n  {setting}\n}}\n")
        assert getattr(info.value, "errors", [info.value])[0].span.line == 5
        ir = parse(NET).ir
    training = ir["training"]
    many = catalogue.KEYS[key].many  # a list of objects (augment): the first one's argument
    if entry is None:
        training[key] = value
    else:
        training[key] = {"name": entry.name, **entry.defaults, arg.name: value}
        training[key] = [training[key]] if many else training[key]
    assert (arg.problem(value) is None) == ok
    where = f"$.training.{key}" + ("[0]" if many else "") + (f".{arg.name}" if entry else "")
    where += "[0]" if isinstance(value, list) else ""  # the list's element out of range
    if ok:
        validate(ir)
    else:
        with pytest.raises(SpecErrors) as info:
            validate(copy.deepcopy(ir))
        assert [e.json_path for e in info.value.errors] == [where]


def _check(ir):
    from cnnspec.check.checker import check

    return check(Spec(ir=ir))


@pytest.mark.parametrize("key, value, where, message", [
    ("optimizer", {"name": "sgd", "momentum": 1.5, "nesterov": False}, "optimizer.momentum",
     "sgd momentum must be in [0, 1), not 1.5"),
    ("optimizer", {"name": "adam", "beta1": 0.9, "beta2": 0.999, "amsgrad": True},
     "optimizer.eps",
     "adam needs a value for 'eps'"),
    ("schedule", {"name": "step", "step_size": 0, "gamma": 0.1}, "schedule.step_size",
     "step step_size must be at least 1, not 0"),
    ("schedule", {"name": "cyclic"}, "schedule.name", "unknown schedule 'cyclic'"),
    ("loss", "hinge", "loss", "unknown loss 'hinge'"),
    ("epochs", 0, "epochs", "epochs must be at least 1, not 0"),
    ("val_split", 1.0, "val_split", "val_split must be in [0, 1), not 1"),
    ("lr", 0.0, "lr", "lr must be greater than 0, not 0"),
    # above 0, but 0 in float32: the zero gradients of a parameter divided by an eps of 0 were
    # NaN, and a batch of class weights 0 had no weight to divide by (train diverged)
    ("optimizer", {"name": "adam", "beta1": 0.9, "beta2": 0.999, "eps": 1e-50,
                   "amsgrad": False}, "optimizer.eps",
     ZERO_IN_FLOAT32.format("adam eps", "1e-50")),
    ("class_weights", [1e-50] * 10, "class_weights",
     ZERO_IN_FLOAT32.format("class_weights", "1e-50").replace("must", "must each")),
    ("lr", 1e-320, "lr", ZERO_IN_FLOAT32.format("lr", "1e-320")),
    ("augment", [{"name": "flip", "p": 0.5}, {"name": "crop", "pad": 0}], "augment[1].pad",
     "crop pad must be at least 1, not 0"),
    ("augment", [{"name": "blur"}], "augment[0].name", "unknown transform 'blur'"),
    ("augment", [{"name": "rotate"}], "augment[0].degrees",
     "rotate needs a value for 'degrees'"),
])
def test_the_checker_refuses_what_train_would_in_an_ir_built_in_python(key, value, where,
                                                                      message):
    """An IR handed to ``check`` without the JSON Schema (built in Python) is held to the
    catalogue too: the engine would otherwise assert at start-up."""
    ir = parse(NET).ir
    ir["training"][key] = value
    with pytest.raises(SpecErrors) as info:
        _check(ir)
    errors = info.value.errors
    assert [(e.json_path, e.message) for e in errors] == [(f"$.training.{where}", message)]
    assert errors[0].hint


def test_nesterov_without_momentum_is_refused_at_the_argument_in_both_forms():
    with pytest.raises(SpecErrors) as info:
        _check(parse(NET + "train {\n  optimizer sgd(momentum=0, nesterov=true)\n}\n").ir)
    assert info.value.errors[0].json_path == "$.training.optimizer.nesterov"
    spec = parse(NET + "train {\n  optimizer sgd(momentum=0, nesterov=true)\n}\n")
    from cnnspec.check.checker import check

    with pytest.raises(SpecErrors) as info:
        check(spec)
    span = info.value.errors[0].span
    assert (span.line, span.column) == (5, 38)  # at the `true` of nesterov=true


@pytest.mark.parametrize("key, value, where", [
    ("optimizer", {"name": "sgd", "momentum": 1.5, "nesterov": False}, ["optimizer", "momentum"]),
    ("schedule", {"name": "step", "step_size": 4, "gamma": 0}, ["schedule", "gamma"]),
    ("val_split", 1.0, ["val_split"]),
    ("augment", [{"name": "noise", "std": 2.0}], ["augment", 0, "std"]),
])
def test_an_ir_value_out_of_range_has_the_hint_the_language_gives(key, value, where):
    ir = parse(NET).ir
    ir["training"][key] = value
    with pytest.raises(SpecErrors) as info:
        validate(ir)
    arg = catalogue.declared_arg(ir, ["training", *where])
    assert [e.hint for e in info.value.errors] == [arg.hint]
    if isinstance(value, list):  # augment [noise(std=2.0)]
        value, where = value[0], [where[0], where[2]]
    written = f"{value['name']}({where[1]}={value[where[1]]})" if len(where) == 2 else value
    with pytest.raises(SpecError) as info:
        parse(NET + f"train {{\n  {key} {written}\n}}\n")
    assert info.value.hint == arg.hint


@pytest.mark.parametrize("settings, where, message", [
    ("loss mse\n  label_smoothing 0.1", "label_smoothing",
     "label_smoothing applies to the cross_entropy loss, but the loss is mse"),
    ("loss mse\n  class_weights [1, 1, 1, 1, 1, 1, 1, 1, 1, 2]", "class_weights",
     "class_weights applies to the cross_entropy, nll and bce loss, but the loss is mse"),
    ("class_weights [1, 2]", "class_weights",
     "class_weights gives 2 weights, but digits has 10 classes"),
])
def test_the_loss_settings_fit_the_loss_and_the_classes(settings, where, message):
    from cnnspec.check.checker import check

    spec = parse(NET + f"train {{\n  {settings}\n}}\n")
    with pytest.raises(SpecErrors) as info:
        check(spec)
    (error,) = info.value.errors
    assert error.message.startswith(message) and error.hint
    lines = settings.split("\n")
    assert error.span.line == 5 + next(i for i, line in enumerate(lines) if where in line)


def test_the_compiled_model_uses_the_loss_settings():
    from cnnspec.check.checker import check
    from cnnspec.compiler import compile_spec

    spec = parse(NET + "train {\n  label_smoothing 0.1\n  class_weights "
                 "[1, 2, 1, 1, 1, 1, 1, 1, 1, 3]\n}\n")
    model = compile_spec(check(spec))
    assert model.loss_args == {"label_smoothing": 0.1,
                               "class_weights": [1.0, 2.0] + [1.0] * 7 + [3.0]}
    assert compile_spec(check(parse(NET))).loss_args == {}


@pytest.mark.parametrize("weights", [None, [1.0, 2.0, 0.5, 1.0]])
def test_nll_is_pytorchs_nll_loss_on_log_softmax_outputs(weights):
    torch = pytest.importorskip("torch")
    from cnnspec.engine import losses
    from cnnspec.engine.activations import log_softmax_forward

    rng = np.random.default_rng(4)
    logits, y = rng.standard_normal((6, 4)) * 3, rng.integers(0, 4, 6)
    logp, _ = log_softmax_forward(logits)
    value, dout = losses.nll(logp, y, class_weights=weights)
    t_logp = torch.tensor(logp, requires_grad=True)
    t_weights = None if weights is None else torch.tensor(weights, dtype=torch.float64)
    t_loss = torch.nn.functional.nll_loss(t_logp, torch.tensor(y), weight=t_weights)
    t_loss.backward()
    assert value == pytest.approx(t_loss.item(), rel=1e-12)
    np.testing.assert_allclose(dout, t_logp.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_nll_needs_a_log_softmax_output_and_trains_with_one(tmp_path):
    from cnnspec import Settings, train

    bad = "input 1x8x8\nflatten\nfc: dense 10\ntrain {\n  data digits\n  loss nll\n}\n"
    with pytest.raises(SpecErrors, match="nll loss takes log-probabilities, but the output "
                                         "layer 'fc' is a dense") as info:
        check(parse(bad, "s.cnn"))
    assert info.value.errors[0].span.line == 3
    good = tmp_path / "nll.cnn"
    good.write_text(bad.replace("fc: dense 10", "fc: dense 10 log_softmax"))
    run = train(good, Settings(epochs=2, lr=0.1), run_dir=tmp_path / "r", progress="none",
                curves=False)
    assert run.summary["test_acc"] > 0.5
    probabilities = run.predict(np.zeros((2, 1, 8, 8), np.float32))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


@pytest.mark.parametrize("weights", [None, [1.0, 3.0]])
def test_bce_is_pytorchs_bce_with_logits(weights):
    torch = pytest.importorskip("torch")
    from cnnspec.engine import losses

    rng = np.random.default_rng(5)
    logits, y = rng.standard_normal((7, 1)) * 4, rng.integers(0, 2, 7)
    value, dout = losses.bce(logits, y, class_weights=weights)
    t_logits = torch.tensor(logits, requires_grad=True)
    t_weight = None if weights is None else torch.tensor(np.asarray(weights)[y][:, None])
    t_loss = torch.nn.functional.binary_cross_entropy_with_logits(
        t_logits, torch.tensor(y[:, None], dtype=torch.float64), weight=t_weight)
    t_loss.backward()
    assert value == pytest.approx(t_loss.item(), rel=1e-12)
    np.testing.assert_allclose(dout, t_logits.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_bce_takes_one_logit_for_two_classes_and_trains(tmp_path, capsys):
    from cnnspec import Settings, train
    from cnnspec.cli import main

    text = ("input 1x8x8\nconv 4 3x3 pad same relu\nflatten\nfc: dense {units}\n"
            "train {{\n  data shapes(size=8, classes=[{classes}], count=240)\n  loss bce\n}}\n")
    with pytest.raises(SpecErrors, match="the loss needs one score, a logit") as info:
        check(parse(text.format(units=2, classes="x, plus"), "s.cnn"))
    assert "give 'fc' 1 units" in info.value.errors[0].hint
    with pytest.raises(SpecErrors, match="the bce loss is for 2 classes, but shapes has 3"):
        check(parse(text.format(units=1, classes="x, plus, o"), "s.cnn"))
    spec = tmp_path / "bce.cnn"
    spec.write_text(text.format(units=1, classes="x, plus"))
    run = train(spec, Settings(epochs=3, lr=0.05), run_dir=tmp_path / "r", progress="none",
                curves=False)
    assert run.summary["test_acc"] > 0.8
    probabilities = run.predict(np.zeros((3, 1, 8, 8), np.float32))
    assert probabilities.shape == (3, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert main(["eval", str(tmp_path / "r"), "--format", "json"]) == 0, capsys.readouterr()


def test_a_setting_above_0_that_float32_rounds_to_0_is_located_in_the_spec():
    spec = parse(NET + "train {\n  optimizer rmsprop(eps=7e-46)\n}\n")
    with pytest.raises(SpecErrors) as info:
        check(spec)
    error = info.value.errors[0]
    assert "rmsprop eps must be greater than 0 in float32" in error.message
    assert (error.span.line, error.span.column) == (5, 25) and error.hint  # at the 7e-46


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_zero_bound_of_a_setting_is_where_the_training_dtype_rounds_to_0(dtype):
    bound = FORMATS[dtype].rounds_to_zero
    assert np.dtype(dtype).type(bound) == 0
    above = float(np.nextafter(np.float64(bound), 1.0))
    assert np.dtype(dtype).type(above) > 0
    eps = next(a for a in catalogue.OPTIMIZERS["adam"].args if a.name == "eps")
    # refused at the bound (in float64 that is 0 itself), accepted just above it
    assert eps.problem(bound, dtype) and eps.problem(above, dtype) is None


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_layers_setting_is_held_to_the_runs_dtype_as_a_training_setting_is(dtype):
    """One bound (cnnspec.ir.limits.unheld) for a norm's eps and an optimizer's, with one
    hint: refused at the bound, accepted just above it."""
    bound = FORMATS[dtype].rounds_to_zero
    above = float(np.nextafter(np.float64(bound), 1.0))
    eps = next(a for a in catalogue.OPTIMIZERS["adam"].args if a.name == "eps")
    for value in (bound, above) if bound > 0 else (above,):  # float64's bound is 0 itself
        text = f"input 1x8x8\nbatchnorm eps {float_text(value)}\nflatten\ndense 10\n"
        if eps.problem(value, dtype) is None:
            check(parse(text), dtype=dtype)
            continue
        with pytest.raises(SpecErrors) as info:
            check(parse(text), dtype=dtype)
        (err,) = info.value.errors
        assert err.message.endswith(eps.problem(value, dtype).replace("training", "the network"))
        # the advice is a hint template, naming the dtype as the caller gives it
        assert err.hint_template == eps.advice(value, dtype)


# The settings float32 rounds to 0 (refused above in a float32 run), in a float64 run.
FLOAT32_ZEROS = [
    ("optimizer", {"name": "adam", "beta1": 0.9, "beta2": 0.999, "eps": 1e-50,
                   "amsgrad": False}),
    ("class_weights", [1e-50] * 10),
    ("lr", 1e-320),
]


@pytest.mark.parametrize(("key", "value"), FLOAT32_ZEROS, ids=[k for k, _ in FLOAT32_ZEROS])
def test_a_setting_float32_rounds_to_0_is_accepted_for_a_float64_run(key, value):
    ir = parse(NET).ir
    ir["training"][key] = value
    with pytest.raises(SpecErrors, match="must each be greater than 0 in float32|must be "
                       "greater than 0 in float32"):
        check(Spec(ir=ir), dtype="float32")
    assert check(Spec(ir=ir), dtype="float64").ir["training"][key] == value


def test_an_lr_override_that_float32_rounds_to_0_is_refused_in_the_words_of_the_spec():
    from cnnspec import Settings
    from cnnspec.errors import SettingError

    with pytest.raises(SettingError) as info:
        Settings(lr=1e-60).overrides()
    assert info.value.message == ZERO_IN_FLOAT32.format("lr", "1e-60")
    assert Settings(lr=1e-60).overrides("float64") == {"lr": 1e-60}


# torchvision's Normalize(mean, std), the name a PyTorch user reaches for, is standardize here
NORMALIZE_HINT = "^torchvision's Normalize.* is standardize here: write standardize$"


@pytest.mark.parametrize("word", ["normalize", "Normalize"])
def test_another_librarys_name_for_a_preprocessing_gets_ours_in_a_spec(word):
    with pytest.raises(SpecError) as info:
        parse(NET + f"train {{\n  preprocess {word}\n}}\n", path="net.cnn")
    err = info.value
    assert err.message == f"unknown preprocessing '{word}'"
    assert (err.span.line, err.span.column) == (NET.count("\n") + 2, 14)
    assert re.search(NORMALIZE_HINT, err.hint)


def test_another_librarys_name_for_a_preprocessing_gets_ours_in_an_ir():
    ir = parse(NET).ir
    ir["training"]["preprocess"] = "normalize"
    with pytest.raises(SpecErrors) as info:
        validate(ir)
    assert re.search(NORMALIZE_HINT, info.value.errors[0].hint)
    with pytest.raises(SpecErrors) as info:  # built in Python: the checker, not the schema
        _check(ir)
    assert [(e.json_path, e.message) for e in info.value.errors] == [
        ("$.training.preprocess", "unknown preprocessing 'normalize'")]
    assert re.search(NORMALIZE_HINT, info.value.errors[0].hint)


def test_another_librarys_name_for_a_transform_gets_ours_in_an_ir():
    ir = parse(NET).ir
    ir["training"]["augment"] = [{"name": "RandomHorizontalFlip", "p": 0.5}]
    hint = "torchvision's RandomHorizontalFlip(p) is flip here: write flip"
    with pytest.raises(SpecErrors) as info:  # read from a file: the schema
        validate(ir)
    assert info.value.errors[0].hint == hint
    with pytest.raises(SpecErrors) as info:  # built in Python: the checker
        _check(ir)
    assert [e.message for e in info.value.errors] == ["unknown transform 'RandomHorizontalFlip'"]
    assert info.value.errors[0].hint == hint


def test_each_foreign_argument_names_arguments_of_its_entry():
    """Another library's argument (PyTorch's betas) is answered with ours: they must exist."""
    for key in catalogue.KEYS.values():
        for entry in (key.catalogue or {}).values():
            for foreign in entry.foreign_args:
                assert foreign.name not in entry.defaults
                assert set(foreign.here) <= set(entry.defaults), (entry.name, foreign.name)


def _placeholders_filled(line: str) -> str:
    """A hint's line with its placeholders (E, E1, E2: epochs to work out) as numbers."""
    return re.sub(r"\bE(\d?)\b", lambda m: str(int(m[1] or 1) * 10), line)


@pytest.mark.parametrize("foreign", catalogue.FOREIGN_KEYS,
                         ids=lambda f: f"{f.there} {f.name}")
def test_each_foreign_setting_names_a_setting_of_ours_and_a_line_that_sets_it(foreign):
    """Another library's setting is answered with ours: a name we do not have ourselves (it
    would never be asked about), and a line that parses and sets the key it names."""
    assert foreign.name not in catalogue.KEYS and foreign.name not in catalogue.KEY_ALIASES
    if foreign.key is None:  # no counterpart: the hint says why, and what to do
        assert foreign.note and not foreign.write and not foreign.values
        return
    arg = catalogue.KEYS[foreign.key].arg
    written = [v for v, _ in foreign.values] or ["0.5" if arg and arg.type == "number" else "3"]
    for value in written:
        line = foreign.line(value)
        assert line is not None and line.startswith(f"{foreign.key} "), line
        spec = parse(NET + f"train {{\n  {_placeholders_filled(line)}\n}}\n")
        assert ("training", foreign.key) in spec.spans, line


def test_a_foreign_settings_value_outside_its_words_gets_no_line():
    """Darknet's sig policy has no schedule here: the hint names the key, not a wrong line."""
    hint = catalogue.foreign_key_hint("policy", "sig")
    assert hint.startswith("Darknet's policy is schedule here; ") and "write" not in hint


def test_another_librarys_setting_gets_ours_in_an_ir():
    ir = parse(NET).ir
    ir["training"]["max_iter"] = 1000
    hint = ("Caffe's max_iter is epochs here; Caffe counts iterations, a batch each; a spec "
            "counts epochs, passes over the training images (each of ceil(images / batch_size) "
            "steps, one fewer where a batchnorm sees one value per channel and the last batch "
            "would hold one image): max_iter iterations are E = max_iter · batch_size / "
            "training images epochs")
    with pytest.raises(SpecErrors) as info:  # read from a file: the schema
        validate(ir)
    assert info.value.errors[0].message == "unknown field 'max_iter'"
    assert info.value.errors[0].hint == hint
    assert [(where, p.hint) for where, p in catalogue.problems(ir["training"])] == [
        ("max_iter", hint)]  # built in Python: the checker


@pytest.mark.parametrize("key, word, ours", [
    ("schedule", "StepLR(step_size=30)", "step"), ("schedule", "fixed", "constant"),
    ("schedule", "ReduceLROnPlateau", "plateau"), ("loss", "CrossEntropyLoss", "cross_entropy"),
    ("loss", "categorical_crossentropy", "cross_entropy"), ("loss", "BCEWithLogitsLoss", "bce")])
def test_another_librarys_schedule_or_loss_gets_ours_in_a_spec(key, word, ours):
    with pytest.raises(SpecError) as info:
        parse(NET + f"train {{\n  {key} {word}\n}}\n")
    assert re.search(f" is {ours} here: write {ours}(; with its arguments, `.*`)?$",
                     info.value.hint)


@pytest.mark.parametrize("key, written, hint", [
    ("schedule", "StepLR(step_size=5, gamma=0.5)",
     ("PyTorch's StepLR(step_size, gamma) is step here: write step; with its arguments, "
      "`step(step_size=5, gamma=0.5)`")),
    ("optimizer", "SGD(momentum=0.9, nesterov=true)",
     ("did you mean sgd? (valid optimizers: adagrad, adam, adamw, rmsprop, sgd); with its "
      "arguments, `sgd(momentum=0.9, nesterov=true)`")),
    # values by position are the other library's order: RandomCrop(2) is its size
    ("augment", "RandomCrop(2)",
     "torchvision's RandomCrop(size, padding=pad) is crop here: write crop"),
    # an argument that is no parameter here: the name alone, the next check tells the rest
    ("optimizer", "Adam(learning_rate=0.001)",
     "did you mean adam? (valid optimizers: adagrad, adam, adamw, rmsprop, sgd)"),
    ("schedule", "StepLR", "PyTorch's StepLR(step_size, gamma) is step here: write step"),
])
def test_another_librarys_call_is_written_with_its_arguments_where_ours_takes_them(
        key, written, hint):
    with pytest.raises(SpecError) as info:
        parse(NET + f"train {{\n  {key} {written}\n}}\n")
    assert info.value.hint == hint


@pytest.mark.parametrize("images, batch, drop_lone, steps", [
    (10, 4, False, 3), (10, 4, True, 3), (9, 4, False, 3), (9, 4, True, 2),
    (8, 4, True, 2), (1, 4, True, 0), (5, 1, True, 5), (64, 64, True, 1), (65, 64, True, 1),
])
def test_an_epoch_has_the_steps_its_batches_are(images, batch, drop_lone, steps):
    """One count of an epoch's steps (ceil, one fewer for a lone last image a batch norm of
    one value per channel cannot take), which train's batches are cut by, and the text says."""
    assert steps_per_epoch(images, batch, drop_lone) == steps
    slices = batch_slices(images, batch, drop_lone)
    assert len(slices) == steps
    assert [s.stop - s.start for s in slices] == \
        [min(batch, images - start) for start in range(0, steps * batch, batch)]
    assert "one fewer where a batchnorm sees one value per channel" in EPOCH_STEPS


class StepCount(Display):
    """Counts the steps train announces for each epoch and the steps it takes."""

    def __init__(self) -> None:
        self.announced: list[int] = []
        self.taken = 0

    def start_epoch(self, epoch: int, epochs: int, steps: int, done: int) -> None:
        self.announced.append(steps)

    def step(self, loss: float, acc: float) -> None:
        self.taken += 1


def test_train_takes_and_announces_the_steps_an_epoch_has(tmp_path):
    """9 images at batch 4 under a batch norm of one value per channel: 2 steps an epoch, as
    steps_per_epoch says, the lone last image left out."""
    from cnnspec import train

    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(data, x=rng.random((9, 1, 4, 4), dtype=np.float32), y=np.arange(9) % 2)
    spec = tmp_path / "m.cnn"
    spec.write_text(f'input 1x4x4\nflatten\ndense 4\nbatchnorm relu\ndense 2\ntrain {{\n'
                    f'  data npz(path="{data}")\n  val_split 0\n  batch 4\n  epochs 2\n}}\n')
    counted = StepCount()
    train(str(spec), run_dir=str(tmp_path / "run"), curves=False, progress=counted)
    assert counted.announced == [steps_per_epoch(9, 4, drop_lone=True)] * 2 == [2, 2]
    assert counted.taken == 4


@pytest.mark.parametrize("layer, weight, bias", [
    ({"kind": "conv", "trainable": True, "lr_mult": [1.0, 2.0]}, True, True),
    ({"kind": "conv", "trainable": False, "lr_mult": [1.0, 2.0]}, False, False),
    ({"kind": "conv", "trainable": True, "lr_mult": [0.0, 0.0]}, False, False),
    ({"kind": "conv", "trainable": True, "lr_mult": [0.0, 1.0]}, False, True),
    ({"kind": "batchnorm", "trainable": True}, True, True),  # no lr_mult: trained
])
def test_a_parameter_is_trained_unless_frozen_or_at_lr_mult_0(layer, weight, bias):
    from cnnspec.ir.training_catalogue import is_trained

    assert (is_trained(layer, "weight"), is_trained(layer, "bias")) == (weight, bias)
    assert is_trained(layer) == weight


@pytest.mark.parametrize("key", [key for key in catalogue.KEYS.values() if key.spelled])
def test_the_spelling_messages_show_is_the_one_the_specs_write(key):
    """A key's ``written`` spelling is what the shipped specs write (``batch 64``), so a
    message telling where to write it shows the word a reader sees in every example."""
    assert key.spelled in key.aliases
    words = re.compile(rf"^\s*({'|'.join([key.name, *key.aliases])})\b", re.MULTILINE)
    seen = {word for spec in (ROOT / "specs").glob("*.cnn")
            for word in words.findall(spec.read_text(encoding="utf-8"))}
    assert seen == {key.written}
