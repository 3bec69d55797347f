"""``cnnspec sweep``: --set values read as the language reads them, cells and their identity,
k-fold splits, the sweep folder and its results, resuming, Ctrl-C and the error paths. The
cells train in this process here; tests/test_sweep_dask.py runs them on a Dask cluster."""
import csv
import dataclasses
import json
import logging
import math
import os
import re
import sys
import types

import numpy as np
import pytest

from cnnspec.cli import OPTION_NAMES, main
from cnnspec.errors import InputError, Option, RunError, SettingError, SpecError
from cnnspec.lang import parse
from cnnspec.sweep import executor as executors
from cnnspec.sweep.cells import make_cells
from cnnspec.sweep.executor import LocalExecutor
from cnnspec.sweep.grid import apply, parse_set, split_values
from cnnspec.sweep.results import (
    LEFT_OUT_KEY,
    TEST_WEIGHTS_NOTE,
    filled_alone,
    format_table,
    prepare_folder,
    record_cell,
)
from cnnspec.sweep.runner import describe, plan, sweep, write_outputs
from cnnspec.sweep.worker import dask_loggers
from cnnspec.training.batches import kfold_split
from cnnspec.training.settings import Settings

NAMED = """\
model named
input 1x8x8
conv1: conv 4 3x3 relu
flatten
fc1: dense 10 weight glorot_uniform
train {
  data digits
  epochs 1
  batch 64
  lr 0.05
}
"""

PNG = b"\x89PNG\r\n\x1a\n"


def timeless(metrics: list[dict]) -> list[dict]:
    """Per-epoch metrics without the wall-clock figures (the rest is determined by the seed)."""
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")}
            for row in metrics]


def in_process(n):
    return LocalExecutor(1)


@pytest.fixture
def named(tmp_path):
    path = tmp_path / "named.cnn"
    path.write_text(NAMED)
    return path


@pytest.fixture
def spec():
    return parse(NAMED, "named.cnn")


# ---- --set ---------------------------------------------------------------------------------

def test_values_split_on_commas_outside_parentheses_and_brackets():
    assert split_values("he_normal,normal(0, 0.01), uniform(-1, 1)") == [
        "he_normal", "normal(0, 0.01)", "uniform(-1, 1)"]
    assert split_values("[crop(pad=2), flip],flip") == ["[crop(pad=2), flip]", "flip"]


def test_each_kind_of_key_reads_its_values_as_the_language_does(spec):
    he, small = parse_set("init=he_normal,normal(0, 0.01)", spec).values
    assert he["name"] == "he_normal" and he["mode"] == "fan_in"
    assert small == {"name": "normal", "mean": 0.0, "std": 0.01}
    assert parse_set("lr=0.1,1e-3", spec).values == (0.1, 0.001)
    batch = parse_set("batch=32,128", spec)  # the language's alias of batch_size
    assert apply(spec.ir, batch.key, batch.values[0])["training"]["batch_size"] == 32
    optimizer = parse_set("optimizer=sgd(momentum=0.5),adam", spec).values
    assert optimizer[0] == {"name": "sgd", "momentum": 0.5, "nesterov": False}
    assert optimizer[1]["name"] == "adam"
    assert parse_set("conv1.filters=2,8", spec).values == (2, 8)
    assert parse_set("conv1.kernel=3x3,5", spec).values == ([3, 3], [5, 5])
    assert parse_set("conv1.stride=2", spec).values == ([2, 2],)


def test_init_replaces_only_the_inits_taken_from_the_default(spec):
    axis = parse_set("init=zeros", spec)
    layers = {layer["name"]: layer for layer in apply(spec.ir, "init", axis.values[0])["layers"]}
    assert layers["conv1"]["weight_init"] == {"name": "zeros"}
    assert layers["fc1"]["weight_init"]["name"] == "glorot_uniform"  # named its own
    bias = apply(spec.ir, "bias", parse_set("bias=constant(0.1)", spec).values[0])
    assert bias["layers"][0]["bias_init"] == {"name": "constant", "value": 0.1}
    assert spec.ir["layers"][0]["weight_init"]["name"] == "he_normal"  # the spec unchanged


def test_a_layers_own_init_set_by_hand_is_kept_by_a_swept_default(spec):
    own = apply(spec.ir, "conv1.weight", parse_set("conv1.weight=lecun_normal", spec).values[0])
    assert "weight_init" not in own["layers"][0]["default_inits"]
    both = apply(own, "init", {"name": "zeros"})
    assert both["layers"][0]["weight_init"]["name"] == "lecun_normal"


@pytest.mark.parametrize("option, message, hint", [
    ("lr=0.1,-1", "lr=-1: training setting 'lr' must be", None),
    ("lrr=0.1", "unknown setting 'lrr'", "lr"),
    # another library's name is told ours (it was 'did you mean bias?', monitor for max_iter)
    ("base_lr=0.1", "unknown setting 'base_lr'", "Caffe's base_lr is lr here"),
    ("MAX_ITER=100", "unknown setting 'MAX_ITER'", "Caffe's max_iter is epochs here; Caffe"),
    ("conv9.filters=2", "the spec has no layer 'conv9'", "conv1"),
    ("conv1.filter=2", "a conv layer has no option 'filter'", "filters"),
    # a value of several is named in the message; one given alone the option already shows
    ("init=he_normal,he_nromal", "init=he_nromal: unknown initializer 'he_nromal'", "he_normal"),
    ("optimizer=sgd,sgd(momentum=2)", "optimizer=sgd(momentum=2): ", None),
    ("conv1.filters=2,0", "conv1.filters=0: ", None),
])
def test_a_bad_set_is_reported_against_its_option(spec, option, message, hint):
    with pytest.raises(SpecError) as info:
        parse_set(option, spec)
    assert message in info.value.message
    assert info.value.file == f'--set "{option}"'
    assert info.value.span is None  # a column inside the option text would point nowhere
    if hint:
        assert hint in info.value.hint


def test_a_set_holding_a_null_character_is_reported_not_read_as_a_file(named, capsys):
    """The error of a --set value is filed under the option (``--set "Lr=..."``), which the
    command line's error printer tried to read as a file to show its line: a NUL in it (which
    main() can be given where a shell cannot) ended in ValueError, embedded null byte."""
    assert main(["sweep", str(named), "--set", "Lr=\x00,1"]) == 2
    err = capsys.readouterr().err
    assert "error: unknown setting 'Lr'" in err and "Traceback" not in err


@pytest.mark.parametrize("option, message", [
    ("init=he_nromal", "unknown initializer 'he_nromal'"),
    ("conv1.filters=0", "conv1.filters must be"),
])
def test_a_bad_value_given_alone_is_not_named_twice(spec, option, message):
    """``--set "init=he": error: unknown initializer 'he'``, as ``--init "he"`` says it: the
    option the error is filed under already shows the value."""
    with pytest.raises(SpecError) as info:
        parse_set(option, spec)
    assert info.value.message.startswith(message)
    assert info.value.file == f'--set "{option}"'


@pytest.mark.parametrize("option, message, hint, command_line", [
    ("seed=1,2", "seed cannot be swept with sets", "0..K-1 with seeds=K",
     ("error: seed cannot be swept with --set\nhint: the seeds of a sweep are 0..K-1 with "
      "--seeds K")),
    # the dtypes are train's --dtype's, named by the --set that gave another
    ("dtype=float32,float16",
     "sets=['dtype=float32,float16']: dtype must be one of float32, float64, not 'float16'",
     "e.g. sets=['dtype=float32,float64']",
     ("error: --set dtype=float32,float16: dtype must be one of float32, float64, not "
      "'float16'\nhint: e.g. --set dtype=float32,float64")),
    ("lr", "sets=['lr'] is not KEY=VALUE[,VALUE...]", "e.g. sets=['lr=0.1,0.01']",
     "error: --set lr is not KEY=VALUE[,VALUE...]\nhint: e.g. --set lr=0.1,0.01"),
    ("lr=0.1,,0.2", "sets=['lr=0.1,,0.2'] has an empty value", "single commas",
     "error: --set lr=0.1,,0.2 has an empty value"),
    ("lr=0.1,0.1", "sets=['lr=0.1,0.1'] gives 0.1 more than once", "use seeds=K",
     "use --seeds K for repeated runs"),
])
def test_a_set_of_the_wrong_form_is_worded_as_the_caller_gave_it(named, spec, option, message,
                                                                  hint, command_line, capsys):
    """The library names its parameters (it said '--set takes KEY=VALUE' to a Python
    caller), the command line its options."""
    with pytest.raises(SettingError) as info:
        parse_set(option, spec)
    assert info.value.message == message and hint in info.value.hint and info.value.invalid
    assert main(["sweep", str(named), "--set", option]) == 2
    assert command_line in capsys.readouterr().err


@pytest.mark.parametrize("option, command_line", [
    ("optimizer=adam(lr=0.01)", ("hint: give it as a setting of its own: --set lr=0.01, and "
                                 "the optimizer as --set optimizer=adam\n")),
    ("optimizer=sgd(learning_rate=0.1, weight_decay=1e-4, momentum=0.9)",
     # learning_rate as written: a --set takes it
     ("hint: give each as a setting of its own: --set learning_rate=0.1 and --set "
      "weight_decay=1e-4, and the optimizer as --set 'optimizer=sgd(momentum=0.9)'\n")),
])
def test_a_setting_written_as_an_argument_of_a_set_is_told_its_own_set(named, option,
                                                                      command_line, capsys):
    """A sweep has no train block: ``--set "optimizer=adam(lr=0.01)"`` was told to write `lr
    0.01` on its own line in the train block, where the sweep writes ``--set lr=0.01``."""
    with pytest.raises(SpecError) as info:
        parse_set(option, spec=parse(NAMED, "named.cnn"))
    assert "sets=['l" in info.value.hint and "train block" not in info.value.hint
    assert main(["sweep", str(named), "--set", option]) == 2
    assert capsys.readouterr().err.endswith(command_line)


@pytest.mark.parametrize("sets, spec_lines, hint", [
    (["loss=bce"], "", ("hint: use `--set loss=cross_entropy` (one score per class) for more "
                       "classes\n")),
    (["loss=nll"], "", "or use `--set loss=cross_entropy` on the raw scores\n"),
    (["loss=nll"], "  label_smoothing 0.1\n",
     "hint: drop label_smoothing, or use `--set loss=cross_entropy`\n"),
    (["schedule=plateau", "val_split=0"], "",
     ("hint: hold out data to validate on, e.g. `--set val_split=0.1`, or choose another "
     "schedule\n")),
])
def test_a_swept_settings_hint_names_it_as_its_set(tmp_path, sets, spec_lines, hint, capsys):
    """``--set loss=bce`` was told "use `loss cross_entropy`", a line of the spec, which sets
    nothing the sweep does: a swept training setting is the run's, named as its ``--set``
    (where the spec's own setting is the one to change, as label_smoothing, its line)."""
    path = tmp_path / "named.cnn"
    text = NAMED.replace("  lr 0.05\n", "  lr 0.05\n" + spec_lines)
    if "label_smoothing" in spec_lines:  # an output that nll takes
        text = text.replace("dense 10 weight", "dense 10 log_softmax weight")
    path.write_text(text)
    assert main(["sweep", str(path), *[word for s in sets for word in ("--set", s)]]) == 2
    assert capsys.readouterr().err.endswith(hint)


@pytest.mark.parametrize("sets, said", [
    # a setting taken out of a call is told as the user spelt it: a --set takes each spelling
    (["data=digits(batch=8)"], ("hint: give it as a setting of its own: --set batch=8, and the "
                               "dataset as --set data=digits\n")),
    (["data=digits(batch_size=8)"], "its own: --set batch_size=8, and the dataset as"),
    # the checker names the key its own way: the alias written is said to be it
    (["learning_rate=1e-50"], ("error: learning_rate=1e-50 (learning_rate is lr): lr must be "
                              "greater than 0 in float32")),
    # one setting by two spellings: each as written
    (["batch=8", "batch_size=16"], ("error: --set batch_size=16: batch_size is given more than "
                                   "once (batch is batch_size too)\n")),
])
def test_a_setting_spelt_by_an_alias_is_told_as_spelt(named, sets, said, capsys):
    """``--set "data=digits(batch=8)"`` was told ``--set batch_size=8``, a spelling the user
    did not write, and ``--set learning_rate=1e-50`` that lr must be above 0, a key it did not
    name: what the user spelt is echoed as spelt, and the catalogue's name said to be it."""
    assert main(["sweep", str(named), *[word for s in sets for word in ("--set", s)]]) == 2
    assert said in capsys.readouterr().err


def test_one_text_is_one_setting_and_other_values_are_refused_by_name(named, tmp_path):
    """A text was taken for a list of its characters ('--set takes KEY=VALUE' of 'l')."""
    planned = plan(str(named), "lr=0.1,0.01")
    axes, cells = planned.axes, planned.cells
    assert [(a.key, a.texts) for a in axes] == [("lr", ("0.1", "0.01"))] and len(cells) == 2
    for sets, shown in ([0.1], "0.1"), (5, "5"), (["lr=0.1", None], "None"):
        with pytest.raises(SettingError) as info:
            sweep(str(named), sets, out=tmp_path / "s", executor=in_process)
        assert info.value.message == f"sets takes KEY=VALUE[,VALUE...] texts, not {shown}"
        assert info.value.hint == "e.g. sets=['lr=0.1,0.01']" and info.value.invalid
    assert not (tmp_path / "s").exists()


def test_an_executor_is_taken_itself_or_from_a_factory_and_anything_else_refused(named,
                                                                                  tmp_path):
    """The README's `executor=LocalExecutor(1)` raised "'LocalExecutor' object is not
    callable"; only a factory of one worked."""
    settings = Settings(epochs=1)
    itself = sweep(str(named), [], out=tmp_path / "a", executor=LocalExecutor(1),
                   settings=settings)
    made = sweep(str(named), [], out=tmp_path / "b", executor=in_process, settings=settings)
    assert itself.ran == made.ran == 1
    assert timeless(itself.done[0][1].metrics) == timeless(made.done[0][1].metrics)
    with pytest.raises(SettingError) as info:
        sweep(str(named), [], out=tmp_path / "c", executor="local")
    assert info.value.message == ("executor takes an executor or a callable from the number of "
                                  "cells to one, not 'local'")
    assert "LocalExecutor(1)" in info.value.hint and info.value.invalid
    assert not (tmp_path / "c").exists()


def test_a_planned_sweep_is_the_plans_whatever_else_is_given(named, tmp_path):
    """With planned=, the arguments a plan is made of are the plan's: sweep's own seeds and
    folds (unchecked) and spec were written into sweep.json and the result, beside the
    plan's cells."""
    from cnnspec.training.rundir import SWEEP_JSON

    planned = plan(str(named), ["lr=0.1"], seeds=2, settings=Settings(epochs=1))
    assert (planned.seeds, planned.folds, len(planned.cells)) == (2, None, 2)
    result = sweep("other.cnn", ["lr=0.5"], seeds=0, folds=1, out=tmp_path / "s",
                   executor=in_process, settings=Settings(epochs=1), planned=planned)
    assert sorted(cell.seed for cell, _ in result.done) == [0, 1]
    described = json.loads((result.out / SWEEP_JSON).read_text())
    assert (result.spec, described["spec"]) == (str(named), str(named))
    assert (result.seeds, described["seeds"], described.get("folds")) == (2, 2, None)


def test_a_swept_init_says_which_layers_it_sets_as_compare_does(named, tmp_path):
    """``--set init=...`` replaces the default weight init: fc1, which names its own, kept
    it while the table's init column read as if every layer took it. The sweep says which
    layers it sets under its table, as compare does; a sweep of no init says nothing."""
    settings = Settings(epochs=1)
    swept = sweep(str(named), ["init=he_normal,zeros"], out=tmp_path / "i",
                  executor=in_process, settings=settings)
    assert swept.reach == "each init sets the weights of conv1; fc1 names its own"
    assert sweep(str(named), ["lr=0.1"], out=tmp_path / "l", executor=in_process,
                 settings=settings).reach == ""
    every = tmp_path / "every.cnn"  # every layer takes the default: nothing to say
    every.write_text(NAMED.replace(" weight glorot_uniform", ""))
    assert sweep(str(every), ["init=he_normal"], out=tmp_path / "e", executor=in_process,
                 settings=settings).reach == ""


@pytest.mark.parametrize("seeds, folds, message", [
    ("2", None, "seeds must be an integer >= 1, not '2'"),
    (0, None, "seeds must be an integer >= 1, not 0"),
    (1, 1, "folds must be an integer >= 2, not 1"),
    (1, 2.5, "folds must be an integer >= 2, not 2.5"),
])
def test_seeds_and_folds_that_are_no_counts_are_refused_by_name(named, tmp_path, seeds, folds,
                                                                message):
    """seeds='2' gave "'<' not supported between instances of 'str' and 'int'"."""
    with pytest.raises(SettingError) as info:
        sweep(str(named), [], seeds=seeds, folds=folds, out=tmp_path / "s",
              executor=in_process)
    assert info.value.message == message and info.value.invalid
    assert info.value.worded({"seeds": Option("--seeds"), "folds": Option("--folds")})[0] \
        .startswith(("--seeds", "--folds"))
    assert not (tmp_path / "s").exists()


def test_a_value_the_checker_refuses_names_its_set_not_the_spec_line(named, tmp_path, capsys):
    with pytest.raises(SpecError) as info:  # 16x16 shapes do not fit the 8x8 input
        sweep(str(named), ["data=digits,shapes(size=16)"], out=tmp_path / "s",
              executor=in_process)
    assert info.value.message.startswith("data=shapes(size=16): the input is 1x8x8")
    # the data that fits is said as the sweep gives it: a value of sets=, not train's data=
    with pytest.raises(SpecError) as info:
        sweep(str(named), ["data=mnist"], out=tmp_path / "s", executor=in_process)
    assert info.value.hint.endswith("`data digits` in the train block, or train with "
                                    "sets=['data=digits']")
    from cnnspec.cli import OPTION_NAMES

    assert info.value.worded_hint(OPTION_NAMES).endswith("or train with --set data=digits")
    assert main(["sweep", str(named), "--set", "data=mnist", "--out", str(tmp_path / "s")]) == 2
    assert "`data digits` in the train block, or train with --set data=digits\n" \
        in capsys.readouterr().err
    with pytest.raises(SpecError) as info:
        sweep(str(named), ["lr=0.1", "conv1.kernel=3x3,9x9"], out=tmp_path / "s",
              executor=in_process)
    assert info.value.message.startswith("conv1.kernel=9x9: ")
    assert info.value.file == "--set conv1.kernel=3x3,9x9"
    assert not (tmp_path / "s").exists()  # checked before anything trains


def test_a_spec_that_does_not_fit_its_own_data_names_the_data_that_fits_as_a_set(
        tmp_path, capsys):
    """A sweep takes the data by --set data= (the library's sets=), not train's --data."""
    from cnnspec.errors import SpecErrors

    path = tmp_path / "s4.cnn"
    path.write_text(NAMED.replace("data digits", "data mnist"))
    with pytest.raises(SpecErrors) as info:
        sweep(str(path), ["lr=0.1"], out=tmp_path / "s", executor=in_process)
    (error,) = info.value.errors
    assert error.span.line == 2  # at the spec's input line, as check locates it
    assert error.hint.endswith("`data digits` in the train block, or train with "
                               "sets=['data=digits']")
    assert main(["sweep", str(path), "--set", "lr=0.1", "--out", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err.endswith("`data digits` in the train block, or train with "
                                            "--set data=digits\n")
    # the settings the sweep was given otherwise keep their names (the library's settings=)
    given = Settings(data="mnist")
    with pytest.raises(SpecErrors) as info:
        sweep(str(tmp_path / "s4.cnn"), ["lr=0.1"], settings=given, out=tmp_path / "s",
              executor=in_process)
    assert info.value.errors[0].hint.endswith("or train with data='digits'")
    assert not (tmp_path / "s").exists()


def test_a_value_float32_cannot_hold_is_told_the_dtype_as_the_sweep_takes_it(named, tmp_path,
                                                                             capsys):
    """A sweep in float32 is told to train in float64 with its own --dtype (the library's
    dtype=), and one that sweeps the dtype by its --set; a warning the same, its other advice
    kept. It was told a smaller value alone: a sweep trained in float32 only."""
    with pytest.raises(SpecError) as info:
        sweep(str(named), ["lr=1e40"], out=tmp_path / "s", executor=in_process)
    said = "float32 holds numbers up to about 3.4e38 in size: write a smaller one, or train in " \
           "float64 ({}), which holds it"
    assert info.value.hint == said.format("`dtype='float64'`")
    assert main(["sweep", str(named), "--set", "lr=1e40", "--out", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err.endswith(f"hint: {said.format('`--dtype float64`')}\n")
    with pytest.raises(SpecError) as info:  # float64 alone holds it: said of the float32 cells
        sweep(str(named), ["lr=1e40", "dtype=float32,float64"], out=tmp_path / "s",
              executor=in_process)
    assert info.value.message.startswith("lr=1e40, dtype=float32: ")
    assert info.value.worded_hint(OPTION_NAMES) == said.format("`--set dtype=float64`")
    heard = []
    plan(str(named), ["init=normal(1000, 1e-5)"], on_warnings=heard.extend)
    hints = {warning.worded_hint(OPTION_NAMES) for warning in heard
             if "spreads its weights" in warning.message}
    assert hints == {("make the spread (std) at least 0.00018 (3 steps of float32 there), or "
                      "train in float64 (`--dtype float64`), whose numbers near 1000 are "
                      "1.1e-13 apart; for one value everywhere write constant(1000)")}
    assert not (tmp_path / "s").exists()


def test_the_command_line_reports_a_bad_set_and_exits_2(named, tmp_path, capsys):
    code = main(["sweep", str(named), "--set", "lr=0.1,-1", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2
    assert '--set "lr=0.1,-1"' in err and "lr=-1" in err and "Traceback" not in err


def test_a_setting_given_twice_is_a_mistake(named, tmp_path):
    """Named at the second --set, as the other mistakes in a --set are: it was named at the
    spec file, which holds no mistake."""
    with pytest.raises(SettingError) as caught:
        sweep(str(named), ["lr=0.1", "batch=8", "lr=0.2"], out=tmp_path / "s",
              executor=in_process)
    assert caught.value.message == "sets=['lr=0.2']: lr is given more than once"
    assert caught.value.worded({"sets": Option("--set")})[0] == \
        "--set lr=0.2: lr is given more than once"


def test_a_setting_spelt_two_ways_is_one_setting(named, tmp_path):
    """`batch=32` in one sweep and `batch_size=64` in the next, into one folder, were two
    columns of one setting; in one sweep they were not told given twice."""
    out = tmp_path / "s"
    sweep(str(named), ["batch=32"], out=out, executor=in_process)
    second = sweep(str(named), ["batch_size=64"], out=out, executor=in_process)
    assert second.columns == ["batch_size"]
    assert {g.label for g in second.groups} == {"batch_size=32", "batch_size=64"}
    assert parse_set("learning_rate=0.1", parse(NAMED)).key == "lr"
    with pytest.raises(SettingError) as caught:
        sweep(str(named), ["batch=8", "batch_size=16"], out=tmp_path / "t",
              executor=in_process)
    assert caught.value.message == \
        "sets=['batch_size=16']: batch_size is given more than once (batch is batch_size too)"


def test_a_value_of_an_alias_is_named_as_the_set_spelt_it(named, tmp_path, capsys):
    code = main(["sweep", str(named), "--set", "batch=0", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2 and '--set "batch=0"' in err and "batch_size=0" not in err, err


# ---- cells ---------------------------------------------------------------------------------

def test_cells_are_the_grid_times_seeds_times_folds_each_with_its_own_identity(spec):
    axes = [parse_set("init=he_normal,zeros", spec), parse_set("lr=0.1,0.01,0.001", spec)]
    cells = make_cells(spec, axes, seeds=2, folds=3)
    assert len(cells) == 2 * 3 * 2 * 3
    assert len({c.key for c in cells}) == len(cells)
    assert len({c.folder for c in cells}) == len(cells)
    first = cells[0]
    assert first.settings == (("init", "he_normal"), ("lr", "0.1"))
    assert first.folder == f"init=he_normal_lr=0.1_seed0_fold1of3-{first.key}"
    assert first.ir["training"]["seed"] == 0 and first.fold == (0, 3)
    # The identity is the resolved IR (and fold): the same cell made again has the same key.
    again = make_cells(spec, axes, seeds=2, folds=3)
    assert [c.key for c in again] == [c.key for c in cells]
    overridden = make_cells(spec, axes, seeds=2, folds=3, overrides={"epochs": 2})
    assert overridden[0].key != first.key


def test_the_plan_tells_the_warnings_a_setting_brings_each_once_and_whose(spec):
    """As train prints the warnings of the spec it trains, a sweep hears its cells': the
    spec's own once, then those a value adds (identical filters under init=zeros), and those
    only a combination gets (lr x weight_decay of 1 takes every weight away), each said to be
    the setting's (the combination's by the settings they share) and located in the spec."""
    axes = [parse_set("init=he_normal,zeros", spec), parse_set("lr=0.05,0.5", spec),
            parse_set("weight_decay=0,2", spec)]
    heard = []
    make_cells(spec, axes, on_warnings=heard.append)
    assert len(heard) == 1  # once, before anything trains
    messages = [w.message for w in heard[0]]
    zeros = [m for m in messages if m.startswith("with init=zeros: ")]
    assert len(zeros) == 2 and "all 4 filters of conv1 start identical" in zeros[0]
    assert zeros[1].endswith("only fc1.bias learns")  # the layers the zeros hold still
    decay = [m for m in messages if "weight_decay" in m]
    assert len(decay) == 1 and decay[0].startswith("with lr=0.5, weight_decay=2: ")
    assert all(w.file == "named.cnn" for w in heard[0])
    conv1 = next(w for w in heard[0] if w.message in zeros)
    assert (conv1.span.line, conv1.span.column) == (3, 1)  # the layer the init set
    # None heard where no cell gets a warning.
    quiet = []
    make_cells(spec, [parse_set("lr=0.05,0.1", spec)], on_warnings=quiet.append)
    assert quiet == []


def test_the_plan_tells_no_warning_that_no_cell_gets(spec):
    """A swept lr whose every value differs from the spec's leaves the spec's lr to no cell:
    the warnings of the spec alone and of a value alone at the spec's lr (weight_decay 2 at
    lr 0.5 is lr x weight_decay 1, the cells' 0.05 is 0.1) were said, beside the cells'."""
    axes = [parse_set("weight_decay=0,2", spec), parse_set("lr=0.05", spec)]
    heard = []
    make_cells(spec, axes, overrides={"lr": 0.5}, on_warnings=heard.extend)
    assert not [w.message for w in heard if "weight_decay" in w.message]
    axes = [parse_set("weight_decay=0,2", spec), parse_set("lr=0.5", spec)]
    make_cells(spec, axes, overrides={"lr": 0.05}, on_warnings=heard.extend)
    decay = [w.message for w in heard if "weight_decay" in w.message]
    # every cell has lr=0.5: the setting that brings the warning is weight_decay=2
    assert len(decay) == 1 and decay[0].startswith("with weight_decay=2: "), decay


def test_a_values_warning_that_needs_another_setting_too_is_said_with_both(spec):
    """weight_decay=2 alone, at the spec's lr 0.5, warns; in the sweep only its cells at
    lr=0.5 do, not those at lr=0.05: it was said "with weight_decay=2", as if it held for
    every cell with that value. It is said with exactly the settings the cells that get it
    share and the others do not."""
    axes = [parse_set("weight_decay=0,2", spec), parse_set("lr=0.05,0.5", spec)]
    heard = []
    make_cells(spec, axes, overrides={"lr": 0.5}, on_warnings=heard.extend)
    decay = [w.message for w in heard if "weight_decay" in w.message]
    assert len(decay) == 1 and decay[0].startswith("with weight_decay=2, lr=0.5: "), decay


def test_a_warning_whose_combinations_share_no_setting_names_each_combination():
    """(a=1, b=1) and (a=2, b=2) warn, (a=1, b=2) and (a=2, b=1) do not: no setting tells
    them apart, so each warned combination is named, not the spec's own line."""
    from cnnspec.sweep.cells import _warned_label

    warning = object()
    cells = [((("a", "1"), ("b", "1")), [warning]), ((("a", "1"), ("b", "2")), []),
             ((("a", "2"), ("b", "1")), []), ((("a", "2"), ("b", "2")), [warning])]
    assert _warned_label(warning, cells) == "a=1, b=1 or a=2, b=2"
    assert _warned_label(warning, cells[:2]) == "b=1"
    assert _warned_label(warning, [cells[0], cells[3]]) == "spec"  # every cell warns


# ---- dtype ---------------------------------------------------------------------------------

def _arrays(path) -> dict:
    """Every array of an npz file by name."""
    with np.load(path) as held:
        return {name: held[name] for name in held.files}


def _same_run(cell_folder, run_folder) -> None:
    """Assert that a cell trained as a run did, to the last bit: its weights and optimizer
    state (checkpoint.npz), its best epoch's weights and its metrics but for their clock (the
    checkpoint's texts, its position in the run, hold the clock too)."""
    for name in ("checkpoint.npz", "best.npz"):
        cell, run = _arrays(cell_folder / name), _arrays(run_folder / name)
        assert cell.keys() == run.keys()
        numbers = [key for key, value in cell.items() if value.dtype.kind != "U"]
        assert "fc1.weight" in numbers
        for key in numbers:
            assert cell[key].dtype == run[key].dtype and np.array_equal(cell[key], run[key]), key
    def read(folder):
        return timeless([json.loads(line) for line in (folder / "metrics.jsonl").open()])

    assert read(cell_folder) == read(run_folder)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_cell_trains_as_train_of_its_settings_in_its_dtype_bitwise(named, tmp_path, dtype):
    """Every cell trained in float32: a float64 cell is now the run `cnnspec train --dtype
    float64` of its settings makes, its data loaded in float64; a float32 cell is the run it
    was, under the key it had (a float32 sweep's folder of before is found again). Each is
    recorded with its dtype and the command that trains it again."""
    import hashlib
    import shlex

    result = sweep(str(named), ["lr=0.05,0.1"], dtype=dtype, out=tmp_path / "s",
                   executor=in_process, keep_weights=True)
    cell, _ = result.done[1]
    assert cell.dtype == dtype and cell.settings == (("lr", "0.1"),)
    folder = tmp_path / "s" / cell.folder
    summary = json.loads((folder / "summary.json").read_text())
    assert (summary["dtype"], summary["data_dtype"]) == (dtype, dtype)
    option = ["--dtype", "float64"] if dtype == "float64" else []
    assert shlex.split(summary["command"]) == ["cnnspec", "train", *option,
                                               str(folder / "spec.json")]
    assert main(["train", str(named), "--lr", "0.1", *option, "--out", str(tmp_path / "t"),
                 "--quiet"]) == 0
    _same_run(folder, tmp_path / "t")
    before = json.dumps({"ir": cell.ir, "fold": None}, sort_keys=True)  # the key of old
    assert (cell.key == hashlib.sha256(before.encode()).hexdigest()[:10]) == (dtype == "float32")
    # the folder's name and the table say a float64 sweep's dtype; a float32 one's, as before
    assert cell.folder.startswith("lr=0.1_float64_seed0-" if dtype == "float64"
                                  else "lr=0.1_seed0-")
    note = format_table(result.groups, ["lr"], tmp_path, "1 seed", result.dtypes).splitlines()[-1]
    assert note == ("(1 seed per group; trained in float64; " if dtype == "float64" else
                    "(1 seed per group; ") + f"{TEST_WEIGHTS_NOTE}; cells in {tmp_path})"


def test_a_swept_dtype_trains_each_cell_in_its_own_counting_its_memory_in_it(named,
                                                                            tmp_path):
    """--set dtype=float32,float64 is an axis as any setting's: each cell is checked, its
    memory counted, in its dtype, and recorded with it; the float32 cells are the cells of a
    float32 sweep, found again in its folder."""
    from cnnspec.check import check

    cells = plan(str(named), ["dtype=float32,float64", "lr=0.05"]).cells
    assert [(cell.settings, cell.dtype) for cell in cells] == [
        ((("dtype", "float32"), ("lr", "0.05")), "float32"),
        ((("dtype", "float64"), ("lr", "0.05")), "float64")]
    for cell in cells:
        assert cell.process == check(parse(NAMED, "named.cnn"),
                                     dtype=cell.dtype).step_memory.process
    assert cells[1].process > cells[0].process  # float64 values take twice the bytes
    out = tmp_path / "s"
    assert sweep(str(named), [], out=out, executor=in_process).ran == 1  # float32 as written
    swept = sweep(str(named), ["dtype=float32,float64"], out=out, executor=in_process)
    assert (swept.ran, swept.skipped) == (1, 1)  # the float32 cell was recorded already
    write_outputs(swept)
    assert json.loads((out / "sweep.json").read_text())["dtypes"] == ["float32", "float64"]
    rows = (out / "results.csv").read_text().splitlines()
    assert rows[0].startswith("dtype,seed,fold,") and rows[2].startswith("float64,0,,")
    header = rows[0].split(",")  # each cell's kept epoch, as compare's JSON has it
    assert all(row.split(",")[header.index("test_epoch")].isdigit() for row in rows[1:])
    dtypes = {json.loads((out / res.folder / "summary.json").read_text())["dtype"]
              for _, res in swept.done}
    assert dtypes == {"float32", "float64"}


def test_a_dtype_that_is_none_or_given_twice_is_refused_by_name(named, tmp_path, capsys):
    """A dtype no model computes in is refused by the setting that gave it, before anything
    trains; so is one given by --dtype and swept by --set, one of which would be ignored."""
    with pytest.raises(SettingError) as info:
        sweep(str(named), [], dtype="float16", out=tmp_path / "s", executor=in_process)
    assert info.value.message == "dtype must be one of float32, float64, not 'float16'"
    assert info.value.hint == "e.g. dtype='float64'" and info.value.invalid
    with pytest.raises(SettingError) as info:
        sweep(str(named), ["dtype=float32,float64"], dtype="float64", out=tmp_path / "s",
              executor=in_process)
    assert info.value.message == ("dtype='float64' and sets=['dtype=float32,float64'] both "
                                  "give the cells' dtype")
    assert info.value.invalid
    assert not (tmp_path / "s").exists()
    assert main(["sweep", str(named), "--dtype", "float64", "--set", "dtype=float32,float64",
                 "--out", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err == (
        "cnnspec: error: --dtype float64 and --set dtype=float32,float64 both give the cells' "
        "dtype\nhint: give one of them: --set dtype=float32,float64 trains a cell with each\n")
    with pytest.raises(SystemExit) as exited:
        main(["sweep", str(named), "--dtype", "float16"])
    assert exited.value.code == 2
    assert "--dtype: invalid choice: 'float16'" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


# ---- k-fold --------------------------------------------------------------------------------

@pytest.mark.parametrize("n, k", [(17, 5), (10, 2), (1797, 10)])
def test_every_example_validates_in_exactly_one_fold(n, k):
    splits = [kfold_split(n, k, i, np.random.default_rng(7)) for i in range(k)]
    vals = np.concatenate([val for _, val in splits])
    assert sorted(vals.tolist()) == list(range(n))
    sizes = [len(val) for _, val in splits]
    assert max(sizes) - min(sizes) <= 1
    for train, val in splits:
        assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == n
    # Seeded: another seed, another assignment; the same seed, the same one.
    assert np.array_equal(kfold_split(n, k, 0, np.random.default_rng(7))[1], splits[0][1])
    assert not np.array_equal(kfold_split(n, k, 0, np.random.default_rng(8))[1], splits[0][1])


@pytest.mark.parametrize("n, k", [(3, 2), (17, 5), (10, 3), (7, 7)])
def test_the_folds_check_counts_are_the_folds_kfold_split_cuts(n, k):
    """check counts a fold's images by validation_count and trained_count; train cuts them
    with kfold_split: one count for both."""
    from cnnspec.ir.steps import trained_count, validation_count

    for i in range(k):
        train, val = kfold_split(n, k, i, np.random.default_rng(3))
        assert (len(train), len(val)) == (trained_count(n, 0.5, (i, k)),
                                          validation_count(n, 0.5, (i, k)))


@pytest.mark.parametrize("folds, fold, message", [
    (1, 0, "folds must be between 2 and the 10 examples, not 1"),
    (20, 0, "folds must be between 2 and the 10 examples, not 20"),
    (3, 3, r"fold must be in 0\.\.2, not 3"),
])
def test_impossible_folds_are_refused(folds, fold, message):
    with pytest.raises(ValueError, match=message):
        kfold_split(10, folds, fold, np.random.default_rng(0))


def test_a_sweep_with_folds_trains_on_the_other_folds_and_reports_their_spread(named, tmp_path):
    from cnnspec.data import load_dataset

    result = sweep(str(named), [], folds=2, out=tmp_path / "cv", executor=in_process)
    assert result.ran == 2 and result.spread == "1 seed x 2 folds"
    n = len(load_dataset({"name": "digits"}, 0).y_train)
    for cell, res in result.done:
        train, _ = kfold_split(n, 2, cell.fold[0], np.random.default_rng(0))
        assert res.summary["steps"] == math.ceil(len(train) / 64)  # half the data trains
        assert res.summary["cell"]["fold"] == cell.fold[0] + 1
    (group,) = result.groups
    accs = [res.val_acc for _, res in result.done]
    assert group.val_acc == pytest.approx((np.mean(accs), np.std(accs)))
    assert "mean +- std over 1 seed x 2 folds" in format_table(result.groups, [], result.out,
                                                                 result.spread)


def test_a_cells_summary_names_the_command_that_trains_it_again_not_its_scratch_folder(
        named, tmp_path, capsys):
    """summary.json said "cnnspec train SPEC --out /tmp/cnnspec-<key>-.../run", the worker's
    scratch folder, deleted once the cell trained."""
    import shlex

    result = sweep(str(named), ["lr=0.05"], out=tmp_path / "s", executor=in_process)
    ((cell, res),) = result.done
    folder = tmp_path / "s" / cell.folder
    command = json.loads((folder / "summary.json").read_text())["command"]
    assert shlex.split(command) == ["cnnspec", "train", str(folder / "spec.json")]
    assert main([*shlex.split(command)[1:], "--out", str(tmp_path / "again"), "--quiet"]) == 0
    again = [json.loads(line) for line in (tmp_path / "again" / "metrics.jsonl").open()]
    assert timeless(again) == timeless(res.metrics)  # the same training
    folds = sweep(str(named), [], folds=2, out=tmp_path / "cv", executor=in_process)
    for cell, _ in folds.done:  # train splits no folds: no command trains a fold alone
        assert "command" not in json.loads((tmp_path / "cv" / cell.folder /
                                            "summary.json").read_text())


def test_a_table_of_one_run_a_group_claims_no_spread(tmp_path):
    """A sweep of one seed printed "(accuracies: mean +- std over 1 seed; ...)" under rows
    that show no +-; it says one seed per group, as compare says one seed per variant."""
    from types import SimpleNamespace

    from cnnspec.sweep.results import Group

    def group(lr, acc):
        result = SimpleNamespace(val_acc=acc, test_acc=acc, diverged=False)
        return Group(f"lr={lr}", {"lr": lr}, [(None, result)])

    table = format_table([group("0.1", 0.9), group("0.01", 0.5)], ["lr"], tmp_path, "1 seed")
    assert "+-" not in table and table.endswith(
        f"(1 seed per group; {TEST_WEIGHTS_NOTE}; cells in {tmp_path})")


def test_a_cells_val_acc_is_its_kept_epochs_and_the_table_is_sorted_by_it(spec, tmp_path):
    """A cell's val acc is that of the epoch whose weights its test acc scores (test_epoch,
    its best by validation), so both columns speak of one set of weights, and the groups
    are sorted by it; a summary from before test_epoch gives the last epoch's."""
    from cnnspec.sweep.cells import CellResult
    from cnnspec.sweep.results import tabulate

    rows = [{"epoch": 1, "val_acc": 0.6}, {"epoch": 2, "val_acc": 0.9},
            {"epoch": 3, "val_acc": 0.7}]
    kept = CellResult("a", rows, {"test_acc": 0.88, "test_epoch": 2})
    older = CellResult("b", rows, {"test_acc": 0.7})
    assert (kept.val_acc, older.val_acc) == (0.9, 0.7)
    assert CellResult("c", rows, {"test_epoch": 2}, diverged=True).val_acc is None
    assert CellResult("d", [{"epoch": 1}], {"test_epoch": 1}).val_acc is None  # no val split
    cells = make_cells(spec, [parse_set("lr=0.1,0.01", spec)])
    table = tabulate([(cells[0], older), (cells[1], kept)])
    assert [g.label for g in table.groups] == ["lr=0.01", "lr=0.1"]
    text = format_table(table.groups, ["lr"], tmp_path, "1 seed")
    assert [line.split()[:3] for line in text.splitlines()[1:3]] == [
        ["0.01", "90.0", "88.0"], ["0.1", "70.0", "70.0"]]


# ---- the sweep folder ----------------------------------------------------------------------

def test_a_sweep_records_every_cell_and_writes_results_and_pictures(named, tmp_path):
    result = sweep(str(named), ["init=he_normal,zeros", "lr=0.05"], seeds=2,
                   out=tmp_path / "s", executor=in_process)
    assert (result.ran, result.skipped) == (4, 0)
    for cell, res in result.done:
        folder = tmp_path / "s" / cell.folder
        assert json.loads((folder / "spec.json").read_text()) == cell.ir
        assert len((folder / "metrics.jsonl").read_text().splitlines()) == 1
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["cell"]["settings"] == {"init": cell.settings[0][1], "lr": 0.05}
        assert summary["cell"]["given"] == {"init": cell.settings[0][1], "lr": "0.05"}
        assert summary["test_acc"] == res.test_acc
    he, zeros = result.groups  # best validation accuracy first
    assert he.label == "init=he_normal, lr=0.05" and zeros.val_acc[0] < 0.3
    paths = write_outputs(result)
    assert [p.name for p in paths] == ["results.json", "results.csv", "accuracy.png",
                                      "curves.png"]
    saved = json.loads(paths[0].read_text())
    assert saved["settings"] == {"init": ["he_normal", "zeros"], "lr": [0.05]}
    assert [g["label"] for g in saved["groups"]] == [he.label, zeros.label]
    assert saved["groups"][0]["val_acc_mean"] == pytest.approx(he.val_acc[0])
    lines = paths[1].read_text().splitlines()
    assert lines[0].startswith("init,lr,seed,fold,dtype,val_acc,test_acc") and len(lines) == 5
    assert all(p.read_bytes()[:8] == PNG for p in paths[2:])
    table = format_table(result.groups, ["init", "lr"], result.out, result.spread)
    assert table.splitlines()[1].startswith("he_normal") and "+-" in table


# Settings of every JSON type a sweep sweeps: numbers (lr, batch given with its alias), a
# boolean (decay_bias), an init, an optimizer (written as text) and a layer's kernel (a list).
TYPED_SETS = ["lr=0.05,1e-1", "batch=32", "decay_bias=true,false", "init=he_normal",
              "optimizer=sgd(momentum=0.9)", "conv1.kernel=3"]
TYPED = {"lr": [0.05, 0.1], "batch_size": [32], "decay_bias": [True, False],
         "init": ["he_normal"], "optimizer": ["sgd(momentum=0.9, nesterov=false)"],
         "conv1.kernel": [[3, 3]]}


def typed(value):
    """``value`` (read from JSON) with the type of each number, boolean and text beside it,
    so that comparing tells 32.0 from 32 and True from 1, which == does not."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return type(value).__name__, value


def csv_value(text: str):
    """A value of results.csv as a JSON reader takes it: empty is null, JSON's words and
    numbers (and lists) are theirs, anything else is text."""
    if text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def test_results_json_carries_each_setting_as_its_json_type_and_the_csv_reads_back(
        named, tmp_path):
    """results.json gave every setting as the text given (lr "0.05", decay_bias "true"): a
    JSON reader got strings where it expects numbers and booleans. They are typed as the
    cell's IR holds them, an init or optimizer as the language writes it, in the sweep's
    description, its groups and its cells; results.csv reads back to the same values."""
    result = sweep(str(named), TYPED_SETS, out=tmp_path / "s", executor=in_process)
    write_outputs(result)
    saved = json.loads((tmp_path / "s" / "results.json").read_text())
    assert typed(saved["settings"]) == typed(TYPED)
    assert typed(json.loads((tmp_path / "s" / "sweep.json").read_text())["settings"]) == \
        typed(TYPED)
    for line in saved["groups"] + saved["cells"]:
        settings = line.get("settings", line)
        for key, values in TYPED.items():
            assert typed(settings[key]) in typed(values), (key, settings[key])
    combinations = {(g["settings"]["lr"], g["settings"]["decay_bias"]) for g in saved["groups"]}
    assert combinations == {(0.05, True), (0.05, False), (0.1, True), (0.1, False)}
    for line in saved["groups"] + saved["cells"]:
        settings = line.get("settings", line)
        assert {key: [settings[key]] for key in ("batch_size", "init", "optimizer",
                                                 "conv1.kernel")} == {
            key: TYPED[key] for key in ("batch_size", "init", "optimizer", "conv1.kernel")}
    assert {type(cell["decay_bias"]) for cell in saved["cells"]} == {bool}
    assert {(cell["fold"], cell["diverged"]) for cell in saved["cells"]} == {(None, False)}
    with open(tmp_path / "s" / "results.csv", newline="") as file:
        rows = [{key: csv_value(text) for key, text in row.items()}
                for row in csv.DictReader(file)]
    assert rows == saved["cells"]
    # the description is of the planned spec, whatever cells the sweep holds
    assert dataclasses.replace(result, done=[]).description() == result.description()


def test_a_description_for_an_ir_without_the_swept_layer_gives_its_values_as_they_are(spec):
    """typed() unpacked the layer of a layer option that the IR lacks: a TypeError."""
    axis = parse_set("conv1.kernel=3,5", spec)
    ir = dict(spec.ir, layers=[layer for layer in spec.ir["layers"]
                               if layer["name"] != "conv1"])
    described = describe(spec.path, [axis], 1, None, ("float32",), "", ir)
    assert described["settings"] == {"conv1.kernel": [[3, 3], [5, 5]]}
    assert describe(spec.path, [axis], 1, None, ("float32",), "", spec.ir)["settings"] == {
        "conv1.kernel": [[3, 3], [5, 5]]}


def test_a_sweep_run_again_over_older_string_results_reads_its_cells_back_typed(named,
                                                                                 tmp_path):
    """A folder whose sweep.json and results.json an earlier cnnspec wrote with the settings
    as texts: the same sweep run again trains nothing, reads its cells back and writes
    results.json typed, as a first run does."""
    out = tmp_path / "s"
    first = sweep(str(named), TYPED_SETS, out=out, executor=in_process)
    write_outputs(first)
    written = (out / "results.json").read_text()
    for name in ("sweep.json", "results.json"):  # as an earlier cnnspec wrote them
        older = json.loads((out / name).read_text())
        older["settings"] = {key: [str(value) for value in values]
                             for key, values in older["settings"].items()}
        (out / name).write_text(json.dumps(older))
    again = sweep(str(named), TYPED_SETS, out=out, executor=in_process)
    assert (again.ran, again.skipped) == (0, 4)
    write_outputs(again)
    assert (out / "results.json").read_text() == written


def test_a_cells_summary_gives_its_settings_typed_and_as_given(named, tmp_path):
    """A cell's summary.json gave its settings as texts; they are typed as results.json's,
    and as its sweep gave them under "given" (lr=1e-1 stays the label it was given)."""
    result = sweep(str(named), ["lr=1e-1", "decay_bias=false", "dtype=float64"],
                   out=tmp_path / "s", executor=in_process)
    (cell, _), = result.done
    summary = json.loads((tmp_path / "s" / cell.folder / "summary.json").read_text())
    assert summary["cell"]["settings"] == {"lr": 0.1, "decay_bias": False, "dtype": "float64"}
    assert summary["cell"]["given"] == {"lr": "1e-1", "decay_bias": "false",
                                        "dtype": "float64"}
    other = sweep(str(named), ["lr=0.05"], out=tmp_path / "s", executor=in_process)
    assert other.earlier == 1
    assert {g.label for g in other.groups} == {
        "lr=0.05, decay_bias=true, dtype=float32", "lr=1e-1, decay_bias=false, dtype=float64"}


def _as_written_earlier(folder) -> None:
    """The cell's summary.json as a cnnspec before typed settings wrote it: its settings as
    given, under "settings"."""
    summary = json.loads((folder / "summary.json").read_text())
    summary["cell"]["settings"] = summary["cell"].pop("given")
    (folder / "summary.json").write_text(json.dumps(summary))


def test_a_cell_whose_summary_gives_its_settings_as_texts_is_read_back(named, tmp_path):
    """A cell recorded by a cnnspec that wrote its settings as texts (no "given") is read back
    by another sweep into its folder, under its label, its settings typed in results.json."""
    out = tmp_path / "s"
    first = sweep(str(named), ["lr=1e-1", "batch=32"], out=out, executor=in_process)
    _as_written_earlier(out / first.done[0][0].folder)
    second = sweep(str(named), ["lr=0.05"], out=out, executor=in_process)
    assert second.earlier == 1 and first.groups[0].label in {g.label for g in second.groups}
    write_outputs(second)
    cells = json.loads((out / "results.json").read_text())["cells"]
    assert sorted((c["lr"], c["batch_size"]) for c in cells) == [(0.05, 64), (0.1, 32)]


@pytest.mark.parametrize("given", [["0.1"], {"lr": 0.1}, None])
@pytest.mark.parametrize("key", ["given", "settings"])
def test_a_cell_whose_given_settings_are_no_texts_is_named_with_its_folder(named, tmp_path,
                                                                          key, given):
    """The texts a cell's label is made of, under "given" (or "settings", as an earlier
    cnnspec wrote them), that are no texts: the folder is named as damaged."""
    out = tmp_path / "s"
    folder = out / sweep(str(named), ["lr=0.1"], out=out, executor=in_process).done[0][0].folder
    if key == "settings":
        _as_written_earlier(folder)
    summary = json.loads((folder / "summary.json").read_text())
    summary["cell"][key] = given
    (folder / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(RunError) as info:
        sweep(str(named), ["lr=0.05"], out=out, executor=in_process)
    assert info.value.message == (f"cell folder {folder} is damaged: its summary's cell "
                                  "settings are no texts")


def test_the_accuracy_picture_is_titled_and_says_what_its_dots_and_line_are(named, tmp_path,
                                                                           monkeypatch):
    """accuracy.png had no title, and its one legend ("mean", inside each panel) left the
    dots unexplained and could cover them: one legend under the panels names both."""
    from cnnspec.render import figure

    result = sweep(str(named), ["init=he_normal,zeros", "lr=0.05,0.1"], seeds=1,
                   out=tmp_path / "s", executor=in_process)
    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    write_outputs(result)
    accuracy = drawn[0]
    assert accuracy._suptitle.get_text() == "named: sweep, validation accuracy by setting"
    # two settings swept: each panel's lines are the other's values, in a legend of its own
    assert len(accuracy.axes) == 2 and not accuracy.legends
    legends = [ax.get_legend() for ax in accuracy.axes]
    assert [[t.get_text() for t in legend.get_texts()] for legend in legends] == [
        ["lr=0.05", "lr=0.1"], ["init=he_normal", "init=zeros"]]
    assert all(legend.get_title().get_text() == "mean of the runs (dots) with"
               for legend in legends)
    renderer = accuracy.canvas.get_renderer()
    accuracy.draw(renderer)
    for ax, legend in zip(accuracy.axes, legends):
        assert legend.get_window_extent(renderer).y1 <= ax.xaxis.get_tightbbox(renderer).y0
    result = sweep(str(named), ["lr=0.05,0.1"], seeds=1, out=tmp_path / "one",
                   executor=in_process)
    write_outputs(result)
    (legend,) = drawn[2].legends  # one setting: one legend under the panel
    assert [t.get_text() for t in legend.get_texts()] == ["a run", "mean of the runs"]


def test_a_settings_one_run_is_drawn_above_its_mean(named, tmp_path, monkeypatch):
    """With one run a value, each dot lay under the mean's marker, the same point: the legend
    named "a run" that the picture did not show."""
    from cnnspec.render import figure

    result = sweep(str(named), ["init=he_normal,zeros"], seeds=1, out=tmp_path / "s",
                   executor=in_process)
    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    write_outputs(result)
    ax = drawn[0].axes[0]
    runs = ax.collections  # a scatter of each value's runs (the first one in the legend)
    (mean,) = [line for line in ax.get_lines() if line.get_label() == "mean of the runs"]
    assert [xy for c in runs for xy in c.get_offsets().tolist()] == mean.get_xydata().tolist()
    assert all(c.get_zorder() > mean.get_zorder() for c in runs)
    # inits are names: their means are markers, with no line that would read as values
    # between them; swept numbers keep theirs
    assert mean.get_linestyle() == "None"
    result = sweep(str(named), ["lr=0.05,0.1"], seeds=1, out=tmp_path / "n", executor=in_process)
    write_outputs(result)
    (numbers,) = [line for fig in drawn[2:] for line in fig.axes[0].get_lines()
                  if line.get_label() == "mean of the runs"]
    assert numbers.get_linestyle() == "-"


def test_a_rerun_trains_only_the_cells_the_folder_lacks(named, tmp_path):
    out = tmp_path / "s"
    first = sweep(str(named), ["lr=0.05,0.1"], out=out, executor=in_process)
    again = sweep(str(named), ["lr=0.05,0.1"], out=out, executor=in_process)
    assert (again.ran, again.skipped) == (0, 2)
    gone = first.done[1][0]
    import shutil

    shutil.rmtree(out / gone.folder)
    trained = []
    third = sweep(str(named), ["lr=0.05,0.1"], out=out, executor=in_process,
                  on_done=lambda cell, res: trained.append(cell.key))
    assert trained == [gone.key] and third.ran == 1
    assert [timeless(r.metrics) for _, r in third.done] == [
        timeless(r.metrics) for _, r in first.done]


def test_a_sweeps_report_works_out_its_columns_once(named, tmp_path, monkeypatch):
    """The table, results.json and .csv and the pictures read one tabulation of the cells
    (Sweep.table): the columns and the groups are not worked out again for each."""
    from cnnspec.sweep import results

    result = sweep(str(named), ["lr=0.05,0.1"], out=tmp_path / "s", executor=in_process)
    worked_out = []
    columns = results.columns
    monkeypatch.setattr(results, "columns", lambda done: worked_out.append(done) or columns(done))
    write_outputs(result)
    format_table(result.groups, result.columns, result.out, result.spread, result.trained_in)
    assert worked_out == [result.done]


def test_a_sweep_lists_its_folder_as_often_however_many_cells_it_records(named, tmp_path,
                                                                         monkeypatch):
    """The cell folders are listed once a step (what is left to train, the cells of other
    sweeps), not again for every cell recorded."""
    import pathlib

    listed = []
    iterdir = pathlib.Path.iterdir

    def listing(self):
        listed.append(self)
        return iterdir(self)

    monkeypatch.setattr(pathlib.Path, "iterdir", listing)

    def listings(values: str, out: pathlib.Path) -> int:
        listed.clear()
        sweep(str(named), [f"lr={values}"], out=out, executor=in_process)
        return listed.count(out)

    assert listings("0.05", tmp_path / "one") == listings("0.05,0.1,0.2", tmp_path / "three")


def test_a_cell_recorded_into_a_listing_of_its_folder_is_noted_there(named, tmp_path):
    """record_cell(folders=...): the listing a sweep made knows the folder recorded into it, so
    the same result arriving twice is recorded once without listing the folder again."""
    import shutil

    from cnnspec.sweep.results import CellFolders

    out = tmp_path / "s"
    cell, res = sweep(str(named), [], out=out, executor=in_process).done[0]
    shutil.rmtree(out / cell.folder)
    folders = CellFolders(out)
    assert folders.left_to_train([cell]) == [cell]
    assert record_cell(out, cell, res, folders) is True
    assert folders.recorded(cell.key) == out / cell.folder
    assert folders.left_to_train([cell]) == []
    assert record_cell(out, cell, res, folders) is False
    assert sorted(p.name for p in out.iterdir()) == [cell.folder, "sweep.json"]


def test_one_value_written_two_ways_is_one_training_and_none_was_recorded_before(named,
                                                                                 tmp_path):
    """lr=0.1 and lr=1e-1 are one cell, trained once: a fresh folder was said to have held
    "1 cell ... already", the second spelling counted as found in the folder."""
    out = tmp_path / "s"
    first = sweep(str(named), ["lr=0.1,1e-1"], out=out, executor=in_process)
    assert (first.ran, first.skipped) == (1, 0)
    assert sorted(g.label for g in first.groups) == ["lr=0.1", "lr=1e-1"]
    again = sweep(str(named), ["lr=0.1,1e-1"], out=out, executor=in_process)
    assert (again.ran, again.skipped) == (0, 1)


def test_a_sweep_folder_another_sweep_is_filling_is_refused(named, tmp_path):
    """Two sweeps into one --out at once each trained every cell neither had recorded: the
    second is refused before it trains (here the first is this block, holding the folder as
    a running sweep does), and the folder is free again when the first ends."""
    from cnnspec.training import rundir

    out = tmp_path / "s"
    sweep(str(named), [], out=out, executor=in_process)
    before = sorted(p.name for p in out.iterdir())
    described = (out / "sweep.json").read_text()
    with rundir.held_alone(out, "held", hint=""), pytest.raises(RunError) as info:
        sweep(str(named), ["lr=0.05"], out=out, executor=in_process)
    assert str(info.value) == f"sweep folder {out} is being filled by another sweep"
    assert "trains only the cells it has not recorded" in info.value.hint
    assert sorted(p.name for p in out.iterdir()) == before
    assert (out / "sweep.json").read_text() == described  # the first's, not the refused one's
    again = sweep(str(named), [], out=out, executor=in_process)
    assert (again.ran, again.skipped) == (0, 1)


def test_a_result_that_arrives_twice_is_recorded_once(named, tmp_path):
    result = sweep(str(named), [], out=tmp_path / "s", executor=in_process)
    cell, res = result.done[0]
    assert record_cell(tmp_path / "s", cell, res) is False
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [cell.folder, "sweep.json"]


def test_ctrl_c_while_a_cell_is_recorded_leaves_no_half_written_folder(named, tmp_path,
                                                                          monkeypatch):
    from cnnspec.sweep import results

    result = sweep(str(named), [], out=tmp_path / "s", executor=in_process)
    cell, res = result.done[0]
    (tmp_path / "s" / cell.folder).rename(tmp_path / "moved")

    def ctrl_c(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(results, "write_jsonl", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        record_cell(tmp_path / "s", cell, res)
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["sweep.json"]


def test_ctrl_c_while_a_cell_is_recorded_waits_for_its_folder(named, tmp_path, monkeypatch):
    """A real Ctrl-C as the cell's files are written: the cell had trained, and its folder,
    cut short and removed, lost the training; now the folder is finished first."""
    import signal

    from cnnspec.sweep import results

    result = sweep(str(named), [], out=tmp_path / "s", executor=in_process)
    cell, res = result.done[0]
    (tmp_path / "s" / cell.folder).rename(tmp_path / "moved")
    writing = results.write_jsonl

    def ctrl_c(*args):
        signal.raise_signal(signal.SIGINT)
        return writing(*args)

    monkeypatch.setattr(results, "write_jsonl", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        record_cell(tmp_path / "s", cell, res)
    assert {p.name for p in (tmp_path / "s" / cell.folder).iterdir()} == {
        "spec.json", "metrics.jsonl", "summary.json"}
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [cell.folder, "sweep.json"]


def test_a_cell_that_cannot_be_recorded_is_named_as_its_folder(named, tmp_path, monkeypatch):
    """A full disk while a cell is recorded: the error names the cell and its folder (not
    the hidden one it was written into, which is removed) and says how to go on."""
    import errno
    import os

    result = sweep(str(named), [], out=tmp_path / "s", executor=in_process)
    cell, res = result.done[0]
    (tmp_path / "s" / cell.folder).rename(tmp_path / "moved")

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(RunError) as info:
        record_cell(tmp_path / "s", cell, res)
    assert info.value.message == (f"cannot record cell {cell.label} in "
                                  f"{tmp_path / 's' / cell.folder}: No space left on device")
    assert "run the same sweep again" in info.value.hint
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["sweep.json"]


def test_another_specs_sweep_into_a_sweep_folder_is_refused_before_it_changes_it(named,
                                                                               tmp_path):
    """A folder holds one spec's sweeps: another spec's would rewrite its results and
    pictures (its cells kept beside the first's)."""
    out = tmp_path / "s"
    sweep(str(named), ["lr=0.05"], out=out, executor=in_process)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    other = tmp_path / "other.cnn"
    other.write_text(NAMED.replace("lr 0.05", "lr 0.1"))
    with pytest.raises(RunError) as info:
        sweep(str(other), ["batch=32"], out=out, executor=in_process)
    assert info.value.message == f"{out} holds a sweep of named.cnn, not of other.cnn"
    assert info.value.hint == (f"give this sweep another folder as out, or delete {out} to "
                               "start afresh (a sweep of named.cnn goes on in it)")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert len([p for p in out.iterdir() if p.is_dir()]) == 1  # nothing trained


def test_the_same_specs_sweep_goes_on_over_other_settings_wherever_the_spec_is(named,
                                                                              tmp_path):
    """The same spec file (by its name: the folder may be given from elsewhere), swept over
    other settings, goes on in its folder: the cells it holds are not trained again."""
    out = tmp_path / "s"
    sweep(str(named), ["lr=0.05"], out=out, executor=in_process)
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / named.name).write_text(named.read_text())
    more = sweep(str(moved / named.name), ["lr=0.05,0.1"], out=out, executor=in_process)
    assert (more.ran, more.skipped) == (1, 1)
    assert json.loads((out / "sweep.json").read_text())["settings"] == {"lr": [0.05, 0.1]}


def test_a_sweep_over_no_setting_into_a_swept_folder_takes_away_its_accuracy_picture(named,
                                                                                    tmp_path):
    """accuracy.png plots the settings the folder's cells differ in: a sweep into the folder
    whose cells then differ in none (lr=0.05 is the spec's: one cell) draws no such picture,
    and leaves none of the earlier sweep's beside its own results."""
    out = tmp_path / "s"
    write_outputs(sweep(str(named), ["lr=0.05"], out=out, executor=in_process))
    assert (out / "accuracy.png").is_file()
    paths = write_outputs(sweep(str(named), [], out=out, executor=in_process))
    assert not (out / "accuracy.png").exists()
    assert [p.name for p in paths] == ["results.json", "results.csv", "curves.png"]


def test_a_description_written_before_it_named_its_command_is_taken_as_this_ones(named,
                                                                                tmp_path):
    out = tmp_path / "s"
    sweep(str(named), [], out=out, executor=in_process)
    description = json.loads((out / "sweep.json").read_text())
    assert description.pop("command") == "sweep"
    (out / "sweep.json").write_text(json.dumps(description))
    again = sweep(str(named), [], out=out, executor=in_process)
    assert (again.ran, again.skipped) == (0, 1)
    assert json.loads((out / "sweep.json").read_text())["command"] == "sweep"


@pytest.mark.parametrize("text, problem", [
    ("{damaged", "cannot be read: Expecting property name enclosed in double quotes"),
    ("[1]", "is damaged: it holds list, not an object"),
    ('{"spec": 3}', "is damaged: its 'spec' is no file name"),
    ('{"spec": "named.cnn", "command": "train"}',
     "is damaged: its 'command' is none of sweep, compare"),
    ('{"spec": "named.cnn", "spec_key": 1}', "is damaged: its 'spec_key' is no text"),
])
def test_a_damaged_sweep_description_is_said_so_and_changes_nothing(named, tmp_path, capsys,
                                                                    text, problem):
    """Taken as no description, as it was, another spec's sweep went on in the folder and
    its table dropped the cells recorded there."""
    out = tmp_path / "s"
    sweep(str(named), ["lr=0.05"], out=out, executor=in_process)
    (out / "sweep.json").write_text(text)
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(RunError) as info:
        sweep(str(named), ["lr=0.1"], out=out, executor=in_process)
    assert info.value.message.startswith(f"sweep description {out / 'sweep.json'} {problem}")
    assert info.value.hint == (f"repair or delete {out / 'sweep.json'}: a sweep (or "
                               f"comparison) of the spec of the cells in {out} then goes on "
                               "there and writes it again; every cell recorded there is kept")
    assert sorted(p.name for p in out.iterdir()) == before
    assert (out / "sweep.json").read_text() == text
    assert main(["compare", str(named), "--init", "he_normal", "--jobs", "1", "--out",
                 str(out)]) == 1
    err = capsys.readouterr().err
    assert "error: sweep description" in err and "Traceback" not in err


def test_a_sweep_over_other_settings_shows_every_cell_of_the_folder(named, tmp_path):
    """Swept again over other settings (lr, then batch, then lr with more seeds, epochs and
    a dtype), a folder's table held only the last sweep's cells: it shows them all, each
    setting in which they differ a column, and a cell of identical settings is reused."""
    out = tmp_path / "s"
    first = sweep(str(named), ["lr=0.01,0.1"], out=out, executor=in_process)
    second = sweep(str(named), ["batch=32,64"], out=out, executor=in_process)
    assert (second.ran, second.skipped, second.earlier) == (2, 0, 2)
    assert second.columns == ["batch_size", "lr"]  # as the catalogue names it
    assert {g.label: len(g.cells) for g in second.groups} == {
        "batch_size=32, lr=0.05": 1, "batch_size=64, lr=0.05": 1,
        "batch_size=64, lr=0.01": 1, "batch_size=64, lr=0.1": 1}
    earlier = {cell.key: timeless(r.metrics) for cell, r in first.done}
    assert {cell.key: timeless(r.metrics) for cell, r in second.done
            if cell.key in earlier} == earlier  # read back as they trained
    # lr=0.05 is the spec's: the cell batch=64 trained, reused under its new label
    third = sweep(str(named), ["lr=0.05,0.1"], seeds=2, out=out, executor=in_process)
    assert (third.ran, third.skipped, third.earlier) == (2, 2, 2)
    assert {g.label: len(g.cells) for g in third.groups} == {
        "lr=0.05, batch_size=32": 1, "lr=0.05, batch_size=64": 2,
        "lr=0.1, batch_size=64": 2, "lr=0.01, batch_size=64": 1}
    fourth = sweep(str(named), ["lr=0.1"], out=out, executor=in_process,
                   settings=Settings(epochs=2), dtype="float64")
    assert fourth.columns == ["lr", "batch_size", "epochs", "dtype"]
    table = format_table(fourth.groups, fourth.columns, out, fourth.spread, fourth.trained_in)
    lines = table.splitlines()
    assert lines[0].split() == ["lr", "batch_size", "epochs", "dtype", "val", "acc", "%",
                                "(best", "epoch)", "test", "acc", "%", "(best", "epoch)",
                                "diverged", "runs"]
    assert sorted(line.split()[:4] for line in lines[1:-1]) == [
        ["0.01", "64", "1", "float32"], ["0.05", "32", "1", "float32"],
        ["0.05", "64", "1", "float32"], ["0.1", "64", "1", "float32"],
        ["0.1", "64", "2", "float64"]]
    assert lines[-1] == (f"(accuracies: mean +- std over each row's runs (1 seed, or 2 "
                         "seeds: the runs column counts them); "
                         f"{TEST_WEIGHTS_NOTE}; cells in {out})")
    write_outputs(fourth)
    results = json.loads((out / "results.json").read_text())
    assert len(results["cells"]) == 7 and results["settings"] == {"lr": [0.1]}
    assert {c["epochs"] for c in results["cells"]} == {1, 2}
    assert (out / "accuracy.png").is_file()


def test_a_sweep_of_the_spec_changed_since_is_refused_before_it_changes_the_folder(
        named, tmp_path):
    """The same file with other layers (or another train block) into the folder of its
    sweeps: its cells would have shown as the same groups as the spec's of before."""
    out = tmp_path / "s"
    sweep(str(named), ["lr=0.05,0.1"], out=out, executor=in_process)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    named.write_text(NAMED.replace("conv 4 3x3", "conv 6 3x3"))
    with pytest.raises(RunError) as info:
        sweep(str(named), ["lr=0.3"], out=out, executor=in_process)
    assert info.value.message == (f"{out} holds sweeps of named.cnn as it was written before: "
                                  "the spec has changed since")
    assert info.value.worded(OPTION_NAMES)[1] == (
        f"give this sweep another folder as --out, or undo the change to go on in {out}; a "
        "setting to try goes in as --set KEY=V1,V2, a layer's option too (--set "
        "conv1.filters=8,16)")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert len([p for p in out.iterdir() if p.is_dir()]) == 2  # nothing trained
    named.write_text(NAMED)  # undone: it goes on
    assert sweep(str(named), ["lr=0.3"], out=out, executor=in_process).earlier == 2


def test_a_damaged_cell_of_another_sweep_is_named_with_its_folder(named, tmp_path):
    out = tmp_path / "s"
    first = sweep(str(named), ["lr=0.05"], out=out, executor=in_process)
    folder = out / first.done[0][0].folder
    summary = json.loads((folder / "summary.json").read_text())
    summary["cell"]["seed"] = "zero"
    (folder / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(RunError) as info:
        sweep(str(named), ["lr=0.1"], out=out, executor=in_process)
    assert info.value.message == (f"cell folder {folder} is damaged: its summary's cell seed "
                                  "is no count")
    assert info.value.hint.startswith(f"delete the folder {folder}: the sweep")


@pytest.mark.parametrize("damage, words", [
    (("spec.json", "{bad"), "cell spec {folder}/spec.json cannot be read: "),
    (("summary.json", "{bad"), "cell summary {folder}/summary.json cannot be read: "),
    (("metrics.jsonl", None), "cell folder {folder} is damaged: it has no metrics.jsonl"),
    (("spec.json", None), "cell folder {folder} is damaged: it has no spec.json"),
])
def test_an_unreadable_or_incomplete_cell_of_another_sweep_is_named_with_its_folder(
        named, tmp_path, damage, words):
    """Its unreadable spec or summary was hinted "the file is damaged; train again", which
    the sweep run cannot do, and a cell of it without its metrics (or spec, or summary) was
    left out of the table unsaid. Stray folders beside the cells are no cells."""
    out = tmp_path / "s"
    first = sweep(str(named), ["lr=0.05"], out=out, executor=in_process)
    (out / "notes").mkdir()
    folder = out / first.done[0][0].folder
    name, text = damage
    if text is None:
        (folder / name).unlink()
    else:
        (folder / name).write_text(text)
    with pytest.raises(RunError) as info:
        sweep(str(named), ["lr=0.1"], out=out, executor=in_process)
    assert info.value.message.startswith(words.format(folder=folder))
    assert info.value.hint.startswith(f"delete the folder {folder}: the sweep")
    if text is None:  # the sweep it was trains it again, and then the other goes on
        assert sweep(str(named), ["lr=0.05"], out=out, executor=in_process).ran == 1
        assert sweep(str(named), ["lr=0.1"], out=out, executor=in_process).earlier == 1
    else:  # ... and says the same
        with pytest.raises(RunError) as info:
            sweep(str(named), ["lr=0.05"], out=out, executor=in_process)
        assert info.value.message.startswith(words.format(folder=folder))


def test_a_comparison_into_a_sweeps_folder_is_exit_1_with_the_hint(named, tmp_path, capsys):
    """On the command line (compare: no Dask needed), the refusal is a run's (exit 1), as a
    folder another sweep is filling is."""
    out = tmp_path / "s"
    sweep(str(named), [], out=out, executor=in_process)
    assert main(["compare", str(named), "--init", "he_normal", "--epochs", "1", "--jobs", "1",
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"error: {out} holds a sweep of named.cnn, not a comparison" in err
    assert "hint: give this compare another folder as --out," in err


def test_a_plan_too_large_names_the_folds_and_the_folder_as_the_caller_gives_them(named):
    """The library's folds= and out=, the command line's --folds and --out."""
    from cnnspec.errors import SpecErrors
    from cnnspec.sweep.cells import MAX_CELLS

    with pytest.raises(InputError) as info:
        plan(str(named), [], seeds=MAX_CELLS + 1)
    assert info.value.hint.endswith("several sweeps into the same out")
    assert info.value.worded(OPTION_NAMES)[1].endswith("several sweeps into the same --out")
    with pytest.raises(SpecErrors) as info:
        plan(str(named), [], folds=2000)
    error = info.value.errors[0]
    assert error.message.endswith("2,000 folds are more than the 1,437 training images of "
                                  "digits: each fold validates on one image at least")
    assert error.hint == "use at most folds=1437"
    assert error.worded_hint(OPTION_NAMES) == "use at most --folds 1437"


def test_a_folder_of_something_else_is_refused(named, tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="already exists and is not empty"):
        sweep(str(named), [], out=tmp_path / "s", executor=in_process)


# A diverging cell overflows on its way to NaN; NumPy says so, and that is expected here.
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_a_diverged_cell_names_what_its_folder_keeps_and_its_hint_as_a_set(named, tmp_path,
                                                                          capsys, monkeypatch):
    """A diverged cell's summary.json said "the weights and the batch are in
    /tmp/cnnspec-<key>-.../run/diverged.npz", the scratch folder deleted once it trained, and
    its hint ("try --lr 0.1", an option sweep has not) reached no output."""
    kept = sweep(str(named), ["lr=1e5"], out=tmp_path / "k", executor=in_process,
                 keep_weights=True)
    cell, result = kept.done[0]
    saved = tmp_path / "k" / cell.folder / "diverged.npz"
    assert saved.is_file()
    summary = json.loads((tmp_path / "k" / cell.folder / "summary.json").read_text())
    assert summary["message"].endswith(f"; the weights and the batch are in {saved}")
    assert result.error == summary["message"]
    assert "try sets=['lr=0.1']" in result.worded_hint()
    again = sweep(str(named), ["lr=1e5"], out=tmp_path / "k", executor=in_process)
    assert again.ran == 0 and again.done[0][1].worded_hint() == result.worded_hint()
    alone = sweep(str(named), ["lr=1e5"], out=tmp_path / "a", executor=in_process)
    cell, result = alone.done[0]
    summary = json.loads((tmp_path / "a" / cell.folder / "summary.json").read_text())
    assert summary["message"].endswith("; the weights and the batch were not kept")
    assert not (tmp_path / "a" / cell.folder / "diverged.npz").exists()
    monkeypatch.setattr(executors, "DaskExecutor", Quiet)
    monkeypatch.setattr(executors, "dask_available", lambda: True)  # cells run here
    assert main(["sweep", str(named), "--set", "lr=1e5", "--out", str(tmp_path / "c")]) == 0
    err = capsys.readouterr().err
    assert "lr=1e5, seed 0: training diverged in epoch 1" in err
    assert "\nhint: lower the learning rate (it was 100000; try --set lr=0.1: " in err
    assert "--lr" not in err and "/tmp/cnnspec-" not in err


@pytest.mark.parametrize("text, words", [
    ("[1, 2]", "it holds no object of the cell's figures"),
    ('{"diverged": true, "hint_template": "try {lr"}', "'hint_template' is no hint"),
    ('{"diverged": true, "hint_template": 5}', "'hint_template' is no hint"),
    ('{"test_acc": "abc"}', "its 'test_acc' is no accuracy"),
    ('{"test_acc": NaN}', "its 'test_acc' is no accuracy"),
    ('{"test_acc": 1e999}', "its 'test_acc' is no accuracy"),
    ('{"test_acc": 1.5}', "its 'test_acc' is no accuracy"),
    ('{"test_acc": 1%s}' % ("0" * 400), "its 'test_acc' is no accuracy"),
    ('{"best_value": NaN}', "'best_value' is NaN, not a finite number"),
    ('{"wall_seconds": Infinity}', "'wall_seconds' is Infinity, not a finite number"),
    ('{"epochs_done": "1"}', "'epochs_done' is '1', not an integer"),
    ('{"classes": [0]}', "'classes' must be a list of names"),
    ('{"diverged": "maybe"}', "its 'diverged' is neither true nor false"),
    ('{"diverged": true, "message": 3}', "its 'message' is no text"),
])
def test_a_recorded_cell_with_a_damaged_summary_is_said_so(named, tmp_path, text, words):
    """Read back by the same sweep run again, it ended in an AttributeError or ValueError
    (a test_acc of "abc": a TypeError in the table's mean)."""
    first = sweep(str(named), [], out=tmp_path / "s", executor=in_process)
    folder = tmp_path / "s" / first.done[0][0].folder
    (folder / "summary.json").write_text(text)
    with pytest.raises(RunError, match="is damaged: " + re.escape(words)) as info:
        sweep(str(named), [], out=tmp_path / "s", executor=in_process)
    assert info.value.hint.startswith(f"delete the folder {folder}:")


@pytest.mark.parametrize("text, words", [
    ('{"epoch": 1, "val_acc": "y"}\n',
     "cell metrics {metrics} is damaged: row 1's 'val_acc' is no accuracy"),
    ('{"epoch": 1}\n[1]\n', "{metrics}:2: not a JSON object but list"),
    ('{"epoch": 1, "val_loss": NaN}\n', ("cell metrics {metrics} is damaged: row 1's 'val_loss' "
                                       "is no number")),
    ('{"epoch": 1, "train_loss": -Infinity}\n', ("cell metrics {metrics} is damaged: row 1's "
                                               "'train_loss' is no number")),
    ('{"epoch": 1, "val_acc": 2}\n', ("cell metrics {metrics} is damaged: row 1's 'val_acc' is "
                                    "no accuracy")),
    # a whole number past a float's range: an OverflowError where it was held to be finite
    ('{"epoch": 1, "train_loss": 1%s}\n' % ("0" * 400), ("cell metrics {metrics} is damaged: "
                                                       "row 1's 'train_loss' is no number")),
    ("", "cell metrics {metrics} is damaged: it holds 0 epochs, its summary says 1"),
    ('{"epoch": 1}\n{"epoch": 2}\n', ("cell metrics {metrics} is damaged: it holds 2 epochs, "
                                     "its summary says 1")),
    ("{bad\n", "{metrics}:1: not a JSON object"),
])
def test_a_recorded_cell_with_damaged_metrics_is_said_so(named, tmp_path, text, words):
    """A value that is no number ended in a ValueError where the curves were drawn, and a
    line that is no object was told that metrics.csv holds the same rows, which a cell's
    folder has not. A figure that is not finite, an accuracy beyond 1, or rows that are not
    the epochs the summary says the cell trained (an emptied file showed "-" for its
    accuracy) are damage too."""
    first = sweep(str(named), [], out=tmp_path / "s", executor=in_process)
    folder = tmp_path / "s" / first.done[0][0].folder
    (folder / "metrics.jsonl").write_text(text)
    with pytest.raises(RunError) as info:
        sweep(str(named), [], out=tmp_path / "s", executor=in_process)
    assert info.value.message.startswith(words.format(metrics=folder / "metrics.jsonl"))
    assert info.value.hint.startswith(f"delete the folder {folder}:")


@pytest.mark.parametrize("text, words", [
    ("[1]", "is damaged: it is not the IR of the cell its folder records"),
    ("{}", "is damaged: it is not the IR of the cell its folder records"),
    ("{bad", "cannot be read: "),
])
def test_a_recorded_cell_whose_spec_is_not_its_ir_is_said_so(named, tmp_path, text, words):
    """Its sweep run again did not read it, and took the cell as recorded; a sweep of other
    settings into the folder then refused it as another sweep's damaged cell."""
    first = sweep(str(named), [], out=tmp_path / "s", executor=in_process)
    folder = tmp_path / "s" / first.done[0][0].folder
    (folder / "spec.json").write_text(text)
    with pytest.raises(RunError) as info:
        sweep(str(named), [], out=tmp_path / "s", executor=in_process)
    assert info.value.message.startswith(f"cell spec {folder / 'spec.json'} {words}")
    assert info.value.hint.startswith(f"delete the folder {folder}:")


@pytest.mark.parametrize("left", [[], ["spec.json", "metrics.jsonl"],
                                  ["spec.json", "summary.json"],
                                  ["metrics.jsonl", "summary.json"]])
def test_a_cell_folder_without_its_summary_is_trained_again_and_recorded(named, tmp_path,
                                                                        left):
    """A cell folder emptied or without its summary.json (half copied, its summary deleted)
    was trained again by every run into the folder and never recorded: the folder of its
    name stood in the way. One without its metrics.jsonl (or spec.json) is no record either:
    its accuracy was shown as "-", as if it had no validation split."""
    out = tmp_path / "s"
    first = sweep(str(named), [], out=out, executor=in_process)
    folder = out / first.done[0][0].folder
    for path in folder.iterdir():
        if path.name not in left:
            path.unlink()
    again = sweep(str(named), [], out=out, executor=in_process)
    assert (again.ran, again.skipped) == (1, 0)
    assert (folder / "summary.json").is_file()
    third = sweep(str(named), [], out=out, executor=in_process)
    assert (third.ran, third.skipped) == (0, 1)
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    assert {p.name for p in folder.iterdir()} == {"spec.json", "metrics.jsonl", "summary.json"}
    assert timeless(third.done[0][1].metrics) == timeless(first.done[0][1].metrics)


def _tested_last_epoch(folder) -> None:
    """Make ``folder``'s cell as cnnspec recorded it before a run's test figures were of the
    weights it keeps, where they are not: its summary without test_epoch or last_test_*, its
    test_acc the last of 2 epochs' while best.npz holds the first's."""
    summary = json.loads((folder / "summary.json").read_text())
    for key in ("test_epoch", "last_test_acc", "last_test_loss"):
        del summary[key]
    summary.update(test_acc=0.125, epochs_done=2, best_epoch=1)
    (folder / "summary.json").write_text(json.dumps(summary))
    (row,) = [json.loads(line) for line in (folder / "metrics.jsonl").open()]
    (folder / "metrics.jsonl").write_text("".join(json.dumps({**row, "epoch": epoch}) + "\n"
                                                  for epoch in (1, 2)))


def test_a_cell_that_tested_other_weights_than_it_keeps_is_not_averaged_with_new_ones(
        named, tmp_path):
    """A cell recorded before test_acc was of the weights it keeps held the last epoch's: the
    table averaged it with the kept weights' of cells recorded since. The sweep that trained
    it trains it again; another sweep into the folder leaves it out of its table, results
    and pictures, and names it with what to do."""
    from cnnspec.sweep.results import recorded_message

    out = tmp_path / "s"
    first = sweep(str(named), ["lr=0.05,0.1"], out=out, executor=in_process)
    (cell, result), (other, _) = first.done
    _tested_last_epoch(out / cell.folder)
    again = sweep(str(named), ["lr=0.05,0.1"], out=out, executor=in_process)
    assert (again.ran, again.skipped, again.retested, again.left_out) == (1, 1, 1, [])
    assert again.done[0][1].test_acc == result.test_acc
    assert recorded_message(again, "sweep", "cell").splitlines() == [
        f"1 cell was recorded in {out} already; trained 1",
        (f"trained again 1 cell recorded in {out} with the last epoch's test acc, not the kept "
        "weights' (recorded by an earlier cnnspec)")]
    _tested_last_epoch(out / cell.folder)
    alone = sweep(str(named), ["lr=0.1"], out=out, executor=in_process)
    assert (alone.ran, alone.earlier, alone.left_out) == (0, 0, [out / cell.folder])
    assert [g.label for g in alone.groups] == ["lr=0.1"]
    write_outputs(alone)
    results = json.loads((out / "results.json").read_text())
    assert [c["folder"] for c in results["cells"]] == [other.folder]
    assert results[LEFT_OUT_KEY] == [cell.folder]
    assert recorded_message(alone, "sweep", "cell").splitlines()[1:] == [
        (f"left out of the table: 1 cell of another sweep recorded in {out} with the last "
        f"epoch's test acc, not the kept weights' (recorded by an earlier cnnspec): "
        f"{cell.folder}"),
        f"hint: run that sweep again into {out} to train them again, or delete their folders"]


def test_an_incomplete_cell_folder_of_another_name_gives_way_to_the_cell_trained_again(
        named, tmp_path):
    """The same cell under another label (its value written another way), its metrics
    deleted: trained again into the cell's own folder, the incomplete one is not left
    beside it for every later run to step over."""
    out = tmp_path / "s"
    first = sweep(str(named), ["lr=0.1"], out=out, executor=in_process)
    folder = out / first.done[0][0].folder
    other = out / f"lr=1e-1_seed0-{first.done[0][0].key}"
    folder.rename(other)
    (other / "metrics.jsonl").unlink()
    again = sweep(str(named), ["lr=0.1"], out=out, executor=in_process)
    assert again.ran == 1
    assert sorted(p.name for p in out.iterdir()) == [folder.name, "sweep.json"]


def test_kept_weights_make_a_cell_a_run_that_loads(named, tmp_path):
    from cnnspec.training.run import load_run

    result = sweep(str(named), [], out=tmp_path / "s", executor=in_process, keep_weights=True)
    cell, res = result.done[0]
    run = load_run(tmp_path / "s" / cell.folder)
    assert run.weights == "best" and run.summary["test_acc"] == res.test_acc


def test_keep_weights_on_a_sweep_recorded_without_them_trains_its_cells_again(named,
                                                                              tmp_path):
    """A sweep run again with --keep-weights trained nothing, the cells being recorded, and
    kept no weights; eval of a cell hinted at a run folder of `cnnspec train`."""
    from cnnspec.training.run import load_run

    first = sweep(str(named), ["lr=0.05,0.1"], out=tmp_path / "s", executor=in_process)
    folder = tmp_path / "s" / first.done[0][0].folder
    with pytest.raises(RunError, match="checkpoint.npz is missing") as info:
        load_run(folder)
    # sweep's keep_weights, as the library gives it (it was told of the option)
    assert info.value.hint == ("a sweep's cell keeps its weights only with keep_weights=True: "
                               "run the same sweep again with keep_weights=True, and it trains "
                               "the cells again to keep them")
    assert info.value.worded(OPTION_NAMES)[1] == (
        "a sweep's cell keeps its weights only with --keep-weights: run the same sweep again "
        "with --keep-weights, and it trains the cells again to keep them")
    # the sweep's folder itself: no cell offered, whose weights are not there either
    with pytest.raises(RunError, match="spec.json is missing") as info:
        load_run(tmp_path / "s")
    assert info.value.worded(OPTION_NAMES)[1] == (
        "it is a sweep's folder, whose cells kept no weights (only --keep-weights keeps them): "
        "run the same sweep again with --keep-weights, and it trains the cells again to keep "
        "them")
    assert "(only keep_weights=True keeps them)" in info.value.hint
    again = sweep(str(named), ["lr=0.05,0.1"], out=tmp_path / "s", executor=in_process,
                  keep_weights=True)
    assert again.ran == 2
    assert sorted(p.name for p in (tmp_path / "s").iterdir() if p.is_dir()) == \
        sorted(cell.folder for cell, _ in first.done)  # replaced in place, nothing aside
    for (cell, before), (_, after) in zip(first.done, again.done):
        assert timeless(after.metrics) == timeless(before.metrics)  # the same trainings
        assert load_run(tmp_path / "s" / cell.folder).summary["test_acc"] == before.test_acc
    assert sweep(str(named), ["lr=0.05,0.1"], out=tmp_path / "s", executor=in_process,
                 keep_weights=True).ran == 0  # kept now


def fitting_arrays(width: int = 8) -> dict:
    """Arrays of an npz file the network of NAMED trains on (8x8 images of 10 classes), or
    with images ``width`` pixels square."""
    return {"x": np.zeros((20, 1, width, width), np.float32), "y": np.arange(20) % 10}


def changed_once_planned(*changes):
    """An executor class of one in-process worker, made once the sweep is planned (its data
    files read as check reads them), that first changes them: each (path, arrays) written
    again, or removed where arrays is None, as a file moved or rewritten meanwhile is, which
    only the cells then meet."""

    class Changed(Quiet):
        def __init__(self, *args, **kwargs):
            for path, arrays in changes:
                if arrays is None:
                    path.unlink()
                else:
                    np.savez(path, **arrays)
            super().__init__()

    return Changed


def test_a_data_file_train_would_refuse_is_refused_before_any_cell_trains(named, tmp_path,
                                                                           capsys):
    """A missing npz file, the spec's own or a --set value's, and one whose images do not fit
    the network were found by each cell on its worker, once a cluster had started and the
    sweep's folder was written ("the cell could not train: npz file not found", no place);
    they are refused as check refuses them, at the spec's data line or against the --set, and
    nothing is written."""
    missing, wide = tmp_path / "missing.npz", tmp_path / "wide.npz"
    np.savez(wide, **fitting_arrays(9))
    spec = tmp_path / "own.cnn"
    spec.write_text(NAMED.replace("data digits", f'data npz("{missing}")'))
    for path, sets, said in [
            (spec, ["lr=0.1"], f"{spec}:7:3: error: npz file not found: {missing}"),
            (named, [f'data=digits,npz("{missing}")'],
             (f'--set data=digits,npz("{missing}"): error: data=npz("{missing}"): npz file '
              f"not found: {missing}")),
            (named, [f'data=npz("{wide}")'],
             "the input is 1x8x8, but the npz images are 1x9x9")]:
        args = [a for s in sets for a in ("--set", s)]
        assert main(["sweep", str(path), *args, "--out", str(tmp_path / "s")]) == 2
        err = capsys.readouterr().err
        assert said in err and "could not train" not in err, err
        assert not (tmp_path / "s").exists()
    assert main(["compare", str(spec), "--init", "he_normal", "--init", "zeros", "--out",
                 str(tmp_path / "c")]) == 2
    assert f"{spec}:7:3: error: npz file not found: {missing}" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_a_cell_that_cannot_train_is_named_and_the_others_are_kept(named, tmp_path):
    # A file that is gone by the time its cell trains is found when the data loads, on the
    # worker.
    missing = tmp_path / "missing.npz"
    np.savez(missing, **fitting_arrays())
    with pytest.raises(RunError) as info:
        sweep(str(named), [f'data=digits,npz(path="{missing}")'], out=tmp_path / "s",
              executor=lambda n: changed_once_planned((missing, None))())
    assert "1 of 2 cells could not train" in info.value.message
    assert f"npz file not found: {missing}" in info.value.message
    assert "run the same sweep again" in info.value.hint
    assert len([p for p in (tmp_path / "s").iterdir() if p.is_dir()]) == 1



def test_cells_that_all_fail_for_one_cause_say_it_once_with_its_hint(named, tmp_path, capsys,
                                                                      monkeypatch):
    """It said '2 of 2 cells could not train', that the other cells were recorded and to run
    the same sweep again, which fails the same way."""
    missing = tmp_path / "missing.npz"
    np.savez(missing, **fitting_arrays())
    with pytest.raises(RunError) as info:
        sweep(str(named), ["lr=0.05,0.1", f'data=npz(path="{missing}")'], out=tmp_path / "s",
              executor=lambda n: changed_once_planned((missing, None))())
    assert info.value.message == f"all 2 cells could not train: npz file not found: {missing}"
    assert info.value.hint and "again" not in info.value.hint
    assert "recorded" not in info.value.hint
    # a mistake in what was asked, as the missing file is to train: exit 2
    assert isinstance(info.value, InputError)
    np.savez(missing, **fitting_arrays())
    monkeypatch.setattr(executors, "DaskExecutor", changed_once_planned((missing, None)))
    monkeypatch.setattr(executors, "dask_available", lambda: True)  # cells run here
    sets = ["--set", "lr=0.05,0.1", "--set", f'data=npz(path="{missing}")']
    assert main(["sweep", str(named), *sets, "--out", str(tmp_path / "s")]) == 2
    assert "error: all 2 cells could not train: npz file not found" in capsys.readouterr().err


def test_the_hint_of_cells_that_could_not_train_names_settings_as_the_sweep_is_given_them(
        named, tmp_path, capsys, monkeypatch):
    """A cell's failure on its worker kept its hint in the library's words: the command line
    was told to "train with data='digits'"."""
    wide = tmp_path / "wide.npz"
    np.savez(wide, **fitting_arrays())
    sets = [f'data=npz(path="{wide}")']
    with pytest.raises(InputError) as info:  # its images 9x9 once the sweep is planned
        sweep(str(named), sets, out=tmp_path / "s",
              executor=lambda n: changed_once_planned((wide, fitting_arrays(9)))())
    assert info.value.hint.endswith("or train with sets=['data=digits']")
    np.savez(wide, **fitting_arrays())
    monkeypatch.setattr(executors, "DaskExecutor",
                        changed_once_planned((wide, fitting_arrays(9))))
    monkeypatch.setattr(executors, "dask_available", lambda: True)  # cells run here
    assert main(["sweep", str(named), "--set", sets[0], "--out", str(tmp_path / "t")]) == 2
    assert capsys.readouterr().err.endswith("or train with --set data=digits\n")


def test_cells_that_all_fail_their_own_ways_name_the_first_and_its_hint(named, tmp_path):
    missing = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for path in missing:
        np.savez(path, **fitting_arrays())
    with pytest.raises(RunError) as info:
        sweep(str(named), ["data=" + ",".join(f'npz(path="{m}")' for m in missing)],
              out=tmp_path / "s",
              executor=lambda n: changed_once_planned(*((m, None) for m in missing))())
    assert not isinstance(info.value, InputError)  # each its own: no one mistake to name
    assert info.value.message.startswith("2 of 2 cells could not train; ")
    assert info.value.message.endswith(f"npz file not found: {missing[0]}")
    assert "no cell trained, each failed its own way (this is the first)" in info.value.hint
    assert "recorded" not in info.value.hint



def test_a_failure_names_the_command_to_run_again_and_a_lone_cell_as_the_cell(named, tmp_path):
    from cnnspec.sweep.cells import CellResult
    from cnnspec.sweep.runner import cells_failed

    cells = plan(str(named), ["lr=0.05,0.1"], 1, None, None).cells
    failed = [(cells[0], CellResult(cells[0].key, [], {}, failed="no data", failed_hint="fix"))]
    partly = cells_failed(failed, 2, tmp_path, "compare")
    assert partly.message == f"1 of 2 cells could not train; {cells[0].label}: no data"
    assert partly.hint == (f"the other cells are recorded in {tmp_path}; run the same compare "
                           "again to retry the rest")
    alone = cells_failed(failed, 1, tmp_path, "compare")
    assert (alone.message, alone.hint) == ("the cell could not train: no data", "fix")


# ---- the command line ----------------------------------------------------------------------

class Interrupting(LocalExecutor):
    """A local executor whose second cell is interrupted by Ctrl-C."""

    def __init__(self, *args, **kwargs):
        super().__init__(1)
        self.description = "in this process"
        self.dashboard = None

    def results(self, fn, tasks):
        for i, pair in enumerate(super().results(fn, tasks)):
            if i == 1:
                raise KeyboardInterrupt
            yield pair


def test_the_command_prints_the_table_and_writes_the_results(named, tmp_path, capsys,
                                                            monkeypatch):
    monkeypatch.setattr(executors, "DaskExecutor", Quiet)
    monkeypatch.setattr(executors, "dask_available", lambda: True)  # cells run here
    out = tmp_path / "s"
    code = main(["sweep", str(named), "--set", "lr=0.05,0.1", "--epochs", "1", "--out",
                 str(out), "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out == (out / "results.json").read_text()  # what it wrote, byte for byte
    saved = json.loads(captured.out)
    assert len(saved["cells"]) == 2
    assert "training 2 cells in this process" in captured.err
    assert "lr=0.1, seed 0: val acc" in captured.err
    assert main(["sweep", str(named), "--set", "lr=0.05,0.1", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "2 cells were recorded" in captured.err and "trained 0" in captured.err
    assert captured.out.splitlines()[0].split()[:3] == ["lr", "val", "acc"]


class Quiet(LocalExecutor):
    def __init__(self, *args, **kwargs):
        super().__init__(1)
        self.dashboard = None


def test_ctrl_c_stops_the_sweep_says_where_its_results_are_and_a_rerun_finishes(
        named, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(executors, "DaskExecutor", Interrupting)
    monkeypatch.setattr(executors, "dask_available", lambda: True)  # cells run here
    out = tmp_path / "s"
    args = ["sweep", str(named), "--set", "lr=0.05,0.1,0.2", "--out", str(out)]
    assert main(args) == 130
    err = capsys.readouterr().err
    assert err.splitlines()[-2:] == [
        (f"cnnspec: sweep stopped; 1 of its 3 cells is recorded in {out}, 2 are left to train: "
        "lr=0.1, seed 0; lr=0.2, seed 0"),
        "hint: run the same command again to train the rest"]
    monkeypatch.setattr(executors, "DaskExecutor", Quiet)
    assert main(args) == 0
    assert "1 cell was recorded" in capsys.readouterr().err
    assert len([p for p in out.iterdir() if p.is_dir()]) == 3


def test_without_dask_the_command_says_how_to_install_it(named, tmp_path, capsys,
                                                         monkeypatch):
    monkeypatch.setattr(executors, "dask_available", lambda: False)
    assert main(["sweep", str(named), "--set", "lr=0.1", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "cnnspec[sweep]" in err and "Traceback" not in err
    with pytest.raises(RunError, match="not installed"):
        executors.DaskExecutor()


def test_folds_below_two_are_refused_by_the_command(named, capsys):
    with pytest.raises(SystemExit):
        main(["sweep", str(named), "--folds", "1"])
    assert "at least 2 folds" in capsys.readouterr().err


def test_the_settings_apply_to_every_cell(named, tmp_path):
    result = sweep(str(named), ["lr=0.05"], settings=Settings(epochs=2), out=tmp_path / "s",
                   executor=in_process)
    assert len(result.done[0][1].metrics) == 2


def test_a_local_clusters_workers_leave_ctrl_c_to_the_sweep():
    """A worker's Ctrl-C does not stop it: it quiets its Dask loggers (a heartbeat to the
    scheduler the stopping sweep closed logged an error with its traceback), and the
    SIGINT it was born blocking is unblocked."""
    import logging
    import signal

    from cnnspec.sweep.executor import WORKER_SETUP
    from cnnspec.sweep.worker import dask_setup

    assert WORKER_SETUP == dask_setup.__module__
    previous = signal.getsignal(signal.SIGINT)
    heartbeat = logging.getLogger("distributed.worker")
    level = heartbeat.level
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        dask_setup(worker=None)
        assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        assert heartbeat.isEnabledFor(logging.ERROR)
        signal.raise_signal(signal.SIGINT)  # neither KeyboardInterrupt nor the end
        assert not heartbeat.isEnabledFor(logging.ERROR)
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        for logger in dask_loggers():
            logger.setLevel(logging.NOTSET)
        heartbeat.setLevel(level)


def test_workers_are_born_deaf_to_a_ctrl_c_that_the_sweep_gets_after_they_started():
    """Ctrl-C while a local cluster started its workers reached them mid-import: each died
    with a traceback, its nanny failed with another ("Nanny failed to start") and so did the
    command. A process started inside the block is born with SIGINT blocked (here one
    spawned by multiprocessing, as Dask's nannies and the local pool start theirs, the
    first such spawn in this process starting the resource tracker), and a Ctrl-C that
    arrives inside the block acts once the block ends."""
    import multiprocessing
    import os
    import signal

    reached = False
    context = multiprocessing.get_context("spawn")
    with pytest.raises(KeyboardInterrupt), executors.workers_start_deaf_to_ctrl_c():
        with context.Pool(1) as pool:
            born_blocked = pool.apply(_sigint_blocked)
        os.kill(os.getpid(), signal.SIGINT)
        reached = True
    assert reached and born_blocked
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


def _sigint_blocked() -> bool:
    import signal

    return signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])


def test_a_local_cluster_whose_workers_do_not_start_is_a_run_error(monkeypatch):
    distributed = pytest.importorskip("distributed")

    def failing(**kwargs):
        raise RuntimeError("Nanny failed to start.")

    monkeypatch.setattr(distributed, "LocalCluster", failing)
    with pytest.raises(RunError, match="the local Dask cluster did not start: Nanny failed"):
        executors.DaskExecutor(workers=1)


def test_workers_are_for_the_local_cluster_only(named, capsys):
    assert main(["sweep", str(named), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--workers sizes the local cluster" in capsys.readouterr().err


def test_a_scheduler_address_that_is_no_address_exits_2(named, tmp_path, capsys):
    pytest.importorskip("distributed")
    assert main(["sweep", str(named), "--scheduler", "nota:::address", "--set", "lr=0.1",
                 "--out", str(tmp_path / "sw")]) == 2
    err = capsys.readouterr().err
    assert "--scheduler 'nota:::address' is not a Dask scheduler's address" in err
    assert "hint: write it as the scheduler prints it, tcp://HOST:PORT" in err


def test_a_local_cluster_has_no_more_workers_than_trainings_fit_in_memory(
        named, tmp_path, monkeypatch, capsys):
    """check holds each cell's training alone against the whole machine; a local cluster's
    workers train at once: --workers beyond what fits is refused before a folder is made,
    and the default number of workers is capped by it."""
    import os

    import cnnspec
    from cnnspec.check import memory

    pytest.importorskip("distributed")  # the sweep command needs Dask installed
    process = cnnspec.load(named).step_memory.process
    monkeypatch.setattr(memory, "machine_memory", lambda: process * 3 // 2)
    out = tmp_path / "sweep"
    assert main(["sweep", str(named), "--set", "lr=0.1,0.01", "--workers", "2",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "2 trainings at once would need" in err and "--workers 1" in err
    assert not out.exists()
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert executors.default_workers(2, process) == 1
    monkeypatch.setattr(memory, "machine_memory", lambda: process * 2)  # room for two
    assert executors.default_workers(2, process) == 2


def test_an_out_that_is_a_file_is_refused(named, tmp_path):
    (tmp_path / "s").write_text("a file")
    with pytest.raises(RunError, match="exists and is not a folder") as info:
        sweep(str(named), [], out=tmp_path / "s", executor=in_process)
    assert info.value.hint == "give another folder as out"
    assert info.value.worded(OPTION_NAMES)[1] == "give another folder as --out"


def test_two_sweeps_named_in_the_same_second_get_two_folders_and_an_explicit_one_is_reused(
        tmp_path):
    name = tmp_path / "runs" / "sweep-digits-20260101-120000"
    first = prepare_folder(name, automatic=True)
    second = prepare_folder(name, automatic=True)
    assert first == name and second == name.with_name(name.name + "-2")
    with filled_alone(first, {"spec": "a"}, "sweep"):
        pass
    # A folder the user names is a sweep's own to take up again (a resumed sweep).
    assert prepare_folder(first) == first
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="not empty"):
        prepare_folder(tmp_path / "other")


def test_the_local_cluster_is_described_in_the_workers_number():
    """`training 4 cells on a local Dask cluster of 1 worker process` (it said "processes")."""
    assert executors.local_cluster_description(1) == "on a local Dask cluster of 1 worker process"
    assert executors.local_cluster_description(2).endswith("of 2 worker processes")


def test_a_kept_fold_cell_resumed_validates_on_its_fold(named, tmp_path):
    """`train --resume` of a k-fold cell (kept with --keep-weights) to more epochs trained on
    the spec's val_split instead of the fold: its fold's validation images joined training and
    its best epoch was picked on others. Extended, it now matches the fold trained that long."""
    from cnnspec.training.api import resume, train

    result = sweep(str(named), [], folds=2, out=tmp_path / "cv", executor=in_process,
                   keep_weights=True)
    cell, _ = next((c, r) for c, r in result.done if c.fold[0] == 1)
    extended = resume(tmp_path / "cv" / cell.folder, Settings(epochs=2), progress="none")
    direct = train(str(named), Settings(epochs=2), run_dir=tmp_path / "direct", fold=cell.fold,
                   progress="none")
    assert extended.summary["steps"] == direct.summary["steps"]  # half the data trains
    assert extended.summary["final_val_acc"] == direct.summary["final_val_acc"]


@pytest.mark.parametrize("cell", ["fold 1", {"fold": 3, "folds": 2}, {"fold": 1, "folds": 1}])
def test_a_damaged_cell_fold_is_named_when_resumed(named, tmp_path, cell):
    from cnnspec.training.api import resume

    result = sweep(str(named), [], out=tmp_path / "s", executor=in_process, keep_weights=True)
    folder = tmp_path / "s" / result.done[0][0].folder
    summary = json.loads((folder / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps({**summary, "cell": cell}))
    with pytest.raises(RunError, match="not a sweep cell's fold"):
        resume(folder, Settings(epochs=2), progress="none")


def test_a_sweep_and_a_comparison_are_named_after_the_model_as_train_names_a_run(tmp_path,
                                                                                monkeypatch):
    """A spec a1.cnn holding `model named`: train's run folder is runs/named-..., and so are
    a sweep's and a comparison's folders and titles (they took the file's name)."""
    from cnnspec.sweep.compare import compare, plot

    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "a1.cnn"
    spec.write_text(NAMED)
    result = sweep(str(spec), ["lr=0.05"], seeds=1, executor=in_process)
    assert result.out.parent.name == "runs" and result.out.name.startswith("sweep-named-")
    assert result.name == "named"
    comparison = compare(str(spec), ["he_normal"], seeds=1, epochs=1, executor=in_process)
    assert comparison.out.name.startswith("compare-named-") and comparison.name == "named"
    drawn = []
    from cnnspec.render import figure
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    plot(comparison)
    from cnnspec.sweep.results import REPORTED_DOTS

    assert drawn[0]._suptitle.get_text() == ("named: inits compared (each init sets the "
                                             "weights of conv1; fc1 names its own)\n"
                                             + REPORTED_DOTS)


def test_a_layer_option_or_default_another_sweep_gave_shows_the_specs_own(named, tmp_path):
    """A cell that took a swept layer option or default bias from the spec shows the value
    its IR holds, written as the language writes it and marked as the spec's."""
    out = tmp_path / "s"
    sweep(str(named), ["conv1.kernel=5x5"], out=out, executor=in_process)
    second = sweep(str(named), ["bias=constant(0.1)"], out=out, executor=in_process)
    assert second.columns == ["bias", "conv1.kernel"]
    assert sorted(tuple(g.settings.values()) for g in second.groups) == [
        ("constant(0.1)", "3x3 (spec)"), ("zeros (spec)", "5x5")]


class ClosedByCtrlC(Quiet):
    """A local executor that a Ctrl-C stops as it closes, once every cell has trained (as a
    Dask cluster's close takes a while after the last cell)."""

    def __exit__(self, *exc):
        super().__exit__(*exc)
        raise KeyboardInterrupt


@pytest.mark.parametrize("format", ["table", "json"])
def test_ctrl_c_after_the_last_cell_writes_the_results(named, tmp_path, capsys, monkeypatch,
                                                      format):
    """It said the sweep stopped and to run it again "to train the rest", though none was
    left, and wrote no results.json until it was run again."""
    monkeypatch.setattr(executors, "DaskExecutor", ClosedByCtrlC)
    monkeypatch.setattr(executors, "dask_available", lambda: True)  # cells run here
    out = tmp_path / "s"
    assert main(["sweep", str(named), "--set", "lr=0.05,0.1", "--out", str(out),
                 "--format", format]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1] == (
        f"cnnspec: stopped after every cell of the sweep had trained: its results are written "
        f"in {out}")
    assert "recorded in" not in captured.err and "hint" not in captured.err
    for name in ("results.json", "results.csv", "accuracy.png", "curves.png"):
        assert (out / name).is_file()
    cells = json.loads((out / "results.json").read_text())["cells"]
    assert sorted(cell["lr"] for cell in cells) == [0.05, 0.1]
    if format == "json":
        assert json.loads(captured.out)["cells"] == cells
    else:
        assert captured.out.splitlines()[0].split()[:3] == ["lr", "val", "acc"]


def test_ctrl_c_while_the_results_are_written_lets_them_be_written(named, tmp_path, capsys,
                                                                   monkeypatch):
    """A real Ctrl-C as the pictures are drawn: the results were cut short (results.json
    written, the pictures not), and the command said it was interrupted."""
    import signal

    from cnnspec.sweep import runner

    monkeypatch.setattr(executors, "DaskExecutor", Quiet)
    monkeypatch.setattr(executors, "dask_available", lambda: True)  # cells run here
    drawing = runner.plot_group_curves

    def ctrl_c(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)
        return drawing(*args, **kwargs)

    monkeypatch.setattr(runner, "plot_group_curves", ctrl_c)
    out = tmp_path / "s"
    assert main(["sweep", str(named), "--set", "lr=0.05,0.1", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert (out / "curves.png").is_file() and "0.05" in captured.out
    assert captured.err.splitlines()[-1].startswith("cnnspec: stopped after every cell of the "
                                                    "sweep had trained: ")


def test_a_stopped_sweep_names_the_cells_left_and_how_many_more(named, tmp_path):
    """The library hears a SweepStopped, a KeyboardInterrupt that says which cells are left;
    the message names a few of them and counts the rest."""
    from cnnspec.sweep.results import SweepStopped, stopped_message

    out = tmp_path / "s"
    with pytest.raises(SweepStopped) as info:
        sweep(str(named), ["lr=0.01,0.02,0.03,0.04,0.05,0.06,0.07"], out=out,
              executor=Interrupting())
    stop = info.value
    assert isinstance(stop, KeyboardInterrupt)
    assert (stop.out, stop.cells, len(stop.left)) == (out, 7, 6)
    assert [p.name for p in out.iterdir() if p.is_dir()] == ["lr=0.01_seed0-" + next(
        cell.key for cell in plan(str(named), ["lr=0.01"]).cells)]
    assert stopped_message("sweep", "cell", stop, named=False).splitlines() == [
        (f"cnnspec: sweep stopped; 1 of its 7 cells is recorded in {out}, 6 are left to train: "
        "lr=0.02, seed 0; lr=0.03, seed 0; lr=0.04, seed 0; lr=0.05, seed 0; and 2 more"),
        f"hint: run the same command again with --out {out} to train the rest"]
    again = sweep(str(named), ["lr=0.01,0.02,0.03,0.04,0.05,0.06,0.07"], out=out,
                  executor=in_process)
    assert (again.ran, again.skipped) == (6, 1)


class StoppedAfterOne(LocalExecutor):
    """Two local processes; a Ctrl-C to this process alone (the pool's processes, which do
    not hear it, go on with their cells) once the first cell is in."""

    def __init__(self, *args, **kwargs):
        super().__init__(2)

    def results(self, fn, tasks):
        each = super().results(fn, tasks)
        yield next(each)
        raise KeyboardInterrupt


def test_cells_that_finish_as_the_sweep_stops_are_recorded(named, tmp_path):
    """The pool waited for the cells its processes were training to finish, then dropped
    them: each was trained again by the next run."""
    out = tmp_path / "s"
    sets = ["lr=0.05,0.1,0.2"]
    with pytest.raises(KeyboardInterrupt) as info:
        sweep(str(named), sets, out=out, executor=StoppedAfterOne())
    recorded = [p for p in out.iterdir() if p.is_dir()]
    assert len(recorded) >= 2  # the first, and the one training beside it
    assert len(info.value.left) == 3 - len(recorded)
    again = sweep(str(named), sets, out=out, executor=in_process)
    assert (again.ran, again.skipped) == (3 - len(recorded), len(recorded))
    alone = sweep(str(named), sets, out=tmp_path / "alone", executor=in_process)
    assert [timeless(r.metrics) for _, r in again.done] == [timeless(r.metrics)
                                                           for _, r in alone.done]


def _error_record(filename: str, function: str, error: str) -> logging.LogRecord:
    """tornado's "Exception in callback" record of ``error`` raised in ``function`` of a file
    named ``filename``."""
    module = compile(f"def {function}():\n    {error}\n", filename, "exec")
    body = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    try:
        types.FunctionType(body, {})()
    except (NameError, ValueError):  # the record carries it, as tornado's exc_info=True does
        info = sys.exc_info()
    return logging.LogRecord("tornado.application", logging.ERROR, __file__, 1,
                             "Exception in callback %r", ("cb",), info)


def test_only_distributeds_cancel_race_is_dropped_from_tornados_log():
    """A Ctrl-C as a sweep's cluster closed printed distributed's NameError from its sync
    helper's cancel callback, logged by tornado after the sweep had said it stopped."""
    race = executors.CancelRaceFilter()
    place = f"{os.sep}site-packages{os.sep}distributed{os.sep}utils.py"
    assert not race.filter(_error_record(place, "cancel", "if future: pass"))
    assert race.filter(_error_record(place, "cancel", "raise ValueError('a real error')"))
    assert race.filter(_error_record(place, "sync", "if future: pass"))
    assert race.filter(_error_record(f"{os.sep}mine{os.sep}utils.py", "cancel",
                                     "if future: pass"))
    assert race.filter(logging.LogRecord("tornado.application", logging.ERROR, __file__, 1,
                                         "no error", (), None))
    executors.filter_cancel_race()
    executors.filter_cancel_race()
    for name in ("tornado.application", "asyncio"):
        kept = logging.getLogger(name).filters
        assert sum(isinstance(each, executors.CancelRaceFilter) for each in kept) == 1


def test_only_the_schedulers_note_of_results_to_compute_again_is_dropped():
    """SIGTERM to a local cluster sweep's process group, under load, printed the scheduler's
    warnings that the workers it removed held results to compute again, before the sweep's
    own "stopped" (its loop thread logged them before the main thread quieted Dask)."""
    lost = executors.LostResultsFilter()

    def record(message, *args):
        return logging.LogRecord(executors.SCHEDULER_LOGGER, logging.WARNING, __file__, 1,
                                 message, args, None)

    assert not lost.filter(record(
        "Removing worker %r caused the cluster to lose already computed task(s), which will "
        "be recomputed elsewhere: %s (stimulus_id=%r)", "tcp://127.0.0.1:1", {"cell-0"}, "s"))
    assert lost.filter(record("Removing worker %r (stimulus_id=%r)", "tcp://127.0.0.1:1", "s"))
    assert lost.filter(record("Unexpected worker completed task"))


def _task_record(filename: str, error: str) -> logging.LogRecord:
    """asyncio's "Task exception was never retrieved" record of ``error`` raised in a
    coroutine's ``wait`` in a file named ``filename``."""
    module = compile(f"class AllExit(Exception):\n    pass\ndef wait():\n    raise {error}\n",
                     filename, "exec")
    names: dict = {}
    exec(module, names)  # noqa: S102 - the test's own two lines, compiled under that name
    try:
        names["wait"]()
    except (names["AllExit"], ValueError):  # the record carries it, as asyncio's exc_info does
        info = sys.exc_info()
    return logging.LogRecord("asyncio", logging.ERROR, __file__, 1,
                             "Task exception was never retrieved", (), info)


def test_only_distributeds_gather_ending_at_a_stop_is_dropped_from_asyncios_log():
    """SIGTERM to a local cluster sweep's process group, under load, printed "Task exception
    was never retrieved ... distributed.client.AllExit" after the sweep had said it stopped:
    the client's gather task ended as the client closed. That record alone is dropped."""
    race = executors.CancelRaceFilter()
    client = f"{os.sep}site-packages{os.sep}distributed{os.sep}client.py"
    assert not race.filter(_task_record(client, "AllExit()"))
    assert race.filter(_task_record(client, "ValueError('a real error')"))
    assert race.filter(_task_record(f"{os.sep}mine{os.sep}client.py", "AllExit()"))


@pytest.mark.parametrize("option", ["--batch-size", "--batch"])
def test_the_batch_size_given_to_sweep_reaches_every_cells_run(option, named, tmp_path,
                                                              monkeypatch, capsys):
    """sweep took the batch only as --set batch=..., where train, compare and time take
    --batch-size (and --batch)."""
    monkeypatch.setattr(executors, "DaskExecutor", Quiet)
    monkeypatch.setattr(executors, "dask_available", lambda: True)  # cells run here
    out = tmp_path / "s"
    assert main(["sweep", str(named), "--set", "lr=0.05,0.1", option, "24", "--out",
                 str(out), "--format", "json"]) == 0
    cells = sorted(path for path in out.iterdir() if (path / "spec.json").is_file())
    assert len(cells) == 2
    assert {json.loads((cell / "spec.json").read_text())["training"]["batch_size"]
            for cell in cells} == {24}


def test_a_batch_size_given_and_swept_is_refused_not_one_of_them_ignored(named, tmp_path,
                                                                        capsys):
    assert main(["sweep", str(named), "--set", "batch=16,32", "--batch-size", "8", "--out",
                 str(tmp_path / "s")]) == 2
    assert ("error: --batch-size 8 and --set batch=16,32 both give the cells' batch\n"
            "hint: give one of them: --set batch=16,32 trains a cell with each"
            in capsys.readouterr().err)
    # echoed as typed: the once-taken --batch, not the --batch-size the help lists
    assert main(["sweep", str(named), "--set", "batch=16,32", "--batch", "8", "--out",
                 str(tmp_path / "s")]) == 2
    assert ("error: --batch 8 and --set batch=16,32 both give the cells' batch\n"
            in capsys.readouterr().err)
    assert not (tmp_path / "s").exists()
    with pytest.raises(SettingError) as info:
        plan(str(named), ["epochs=1,2"], settings=Settings(epochs=3))
    assert info.value.message == "epochs=3 and sets=['epochs=1,2'] both give the cells' epochs"
