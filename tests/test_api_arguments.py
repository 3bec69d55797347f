"""What a notebook hands the Python API: NumPy numbers and ``Path``s are taken as the values
they hold; values of the wrong kind are a SettingError naming the parameter, with a hint, said
before any work starts (never a TypeError, KeyError or ValueError from deep inside)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import cnnspec
from cnnspec.cli import OPTION_NAMES
from cnnspec.errors import InputError, SettingError
from cnnspec.exporters.onnx_graph import export_onnx
from cnnspec.exporters.torch_source import export_torch
from cnnspec.importers import import_file, write_spec
from cnnspec.lab.report import init_report
from cnnspec.sweep.compare import compare
from cnnspec.sweep.runner import plan, sweep
from cnnspec.training.evaluate import evaluate

SPEC = str(Path(__file__).parent.parent / "specs" / "digits.cnn")


def refused(call, *words: str) -> SettingError:
    """``call()`` raises a SettingError whose message holds each of ``words`` and that has
    a hint; returned for further checks."""
    with pytest.raises(SettingError) as info:
        call()
    for word in words:
        assert word in info.value.message
    assert info.value.hint
    return info.value


# ---- load, check, compile ----------------------------------------------------------------

def test_a_spec_text_given_as_a_path_is_told_to_be_saved_first():
    text = Path(SPEC).read_text()
    error = refused(lambda: cnnspec.load(text), "path", "not a spec's text")
    # the way to check a text, which runs:
    assert "cnnspec.check.check(cnnspec.parse(text))" in error.hint
    assert cnnspec.check.check(cnnspec.parse(text)).total_params == \
        cnnspec.load(SPEC).total_params
    refused(lambda: cnnspec.compile(text), "path", "not a spec's text")
    refused(lambda: cnnspec.train(text), "path", "not a spec's text")


def test_cnnspec_check_called_as_a_function_is_told_the_functions_that_check():
    """It said "'module' object is not callable" (or, before the package was imported,
    "module 'cnnspec' has no attribute 'check'")."""
    import subprocess
    import sys

    error = refused(lambda: cnnspec.check(SPEC), "cnnspec.check is the package")
    assert "cnnspec.load(path)" in error.hint and "cnnspec.check.check(" in error.hint
    code = ("import cnnspec\ntry:\n cnnspec.check('x')\n"
            "except cnnspec.errors.SettingError as e:\n print(e.hint)")
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True)
    assert fresh.stdout.startswith("cnnspec.load(path) reads"), fresh.stderr
    readme = (Path(SPEC).parent.parent / "README.md").read_text()
    assert "`cnnspec.load(path)` is what `cnnspec check` runs" in readme
    assert "cnnspec.check.check(" in cnnspec.__doc__


def test_check_names_what_it_takes_and_checks_a_checked_spec_again():
    from cnnspec.check import check

    for given, said in ((SPEC, "not a path"), (Path(SPEC), "not a path"), (3, "not 3")):
        error = refused(lambda given=given: check(given), "check() takes a parsed spec", said)
        assert error.hint.startswith("cnnspec.load(path) reads")
    checked = cnnspec.load(SPEC)
    assert check(checked, dtype="float64").dtype == "float64"


@pytest.mark.parametrize("call", [cnnspec.load, cnnspec.compile, cnnspec.summary,
                                  lambda path: cnnspec.train(path, progress="none")])
@pytest.mark.parametrize("line, message", [
    ("conv 8 3x3 padding='same'", "'=' is only used inside parentheses"),  # the parser's
    ("conv 8 9x9", "larger than its input"),  # the checker's
])
def test_every_mistake_in_a_spec_file_is_spec_errors_as_the_readme_says(tmp_path, call, line,
                                                                        message):
    """A syntax error was a bare SpecError, which `except SpecErrors` (the README's, the
    docstring's) let through as a traceback; only the checker's mistakes were SpecErrors."""
    from cnnspec.diagnostics import format_error
    from cnnspec.errors import SpecErrors

    path = tmp_path / "bad.cnn"
    path.write_text(f"model bad\ninput 1x8x8\nconv 8 3x3\n{line}\n")
    with pytest.raises(SpecErrors) as info:
        call(str(path))
    first = info.value.errors[0]
    assert message in first.message and first.span.line == 4 and first.hint
    assert format_error(first).startswith(f"{path}:4:")


def test_a_name_longer_than_the_file_system_takes_is_an_input_error():
    with pytest.raises(InputError, match="cannot read"):
        cnnspec.load("a" * 5000 + ".cnn")


@pytest.mark.parametrize("keywords, words", [
    ({"strict": "yes"}, ["strict", "True or False"]),
    ({"max_memory": -1}, ["max_memory", "number of bytes"]),
    ({"max_memory": float("nan")}, ["max_memory", "nan"]),
    ({"max_memory": "1GB"}, ["max_memory", "'1GB'"]),
    ({"dtype": "float16"}, ["dtype", "float32, float64", "'float16'"]),
])
def test_load_refuses_options_of_the_wrong_kind(keywords, words):
    refused(lambda: cnnspec.load(SPEC, **keywords), *words)


def test_numpy_values_are_taken_as_what_they_hold():
    assert cnnspec.load(SPEC, dtype=np.float64, strict=np.bool_(False),
                        max_memory=np.int64(2**40)).dtype == "float64"
    model = cnnspec.compile(SPEC, seed=np.int64(3), dtype=np.dtype("float64"))
    assert model.dtype == np.float64
    overrides = cnnspec.Settings(epochs=np.int64(2), lr=np.float32(0.5), batch_size=np.int32(8),
                                 seed=np.uint8(1), cores=np.int16(1)).overrides()
    assert overrides == {"epochs": 2, "lr": 0.5, "batch_size": 8, "seed": 1, "cores": 1}
    json.dumps(overrides)  # what a run's summary.json records
    assert all(type(value) in (int, float) for value in overrides.values())


def test_compile_names_a_wrong_dtype():
    error = refused(lambda: cnnspec.compile(SPEC, dtype="f16"), "dtype", "'f16'")
    # its example quoted once, as it is passed ("'float64'" was quoted again)
    assert error.hint == "e.g. dtype='float64'"
    assert error.worded(OPTION_NAMES)[1] == "e.g. --dtype float64"


# ---- train, resume, load_run -------------------------------------------------------------

@pytest.mark.parametrize("data, example", [
    # quoted once: the hint said data="'digits'"
    (3, "e.g. data='digits'"), (["digits"], "e.g. data='digits'"),
    (Path("x.npz"), "e.g. data='npz:x.npz'"),
    # an IR data object without a dataset's name: the form (the check said "unknown dataset
    # None", late and without a hint)
    ({}, "data={'name': 'shapes', 'size': 16}"), ({"size": 8}, "{'name': 'shapes'"),
    ({"name": 3}, "{'name': 'shapes'")])
def test_settings_name_data_of_the_wrong_kind(data, example):
    error = refused(lambda: cnnspec.Settings(data=data).overrides(), "data")
    assert example in error.hint


@pytest.mark.parametrize("data, hint", [
    ({"name": "nope"}, "^valid datasets: digits, shapes, "),
    ({"name": "digts", "size": 8}, "^did you mean 'digits'\\? valid datasets: digits, ")])
def test_an_unknown_dataset_in_an_ir_data_object_is_told_the_datasets(tmp_path, data, hint):
    """As --data is, before a run folder is made (the check refused it late, a SpecErrors
    whose errors' hint was worded for a spec's setting)."""
    error = refused(lambda: cnnspec.train(SPEC, cnnspec.Settings(data=data), tmp_path / "run"),
                    "unknown dataset", repr(data["name"]))
    assert re.search(hint, error.hint), error.hint
    assert error.invalid and not (tmp_path / "run").exists()


NAN = float("nan")


@pytest.mark.parametrize("data, words, hint", [
    # the check said "shapes size must be a whole number, not nan" late, with no hint
    ({"name": "shapes", "size": NAN}, ["data['size']", "nan"],
     "size takes a whole number, at least 4"),
    ({"name": "shapes", "size": 2}, ["data['size']", "at least 4, not 2"], "at least 4"),
    ({"name": "shapes", "size": 8.5}, ["data['size']", "whole number"], "at least 4"),
    ({"name": "shapes", "count": 0}, ["data['count']"], "count takes a whole number, at least 1"),
    ({"name": "shapes", "noise": float("inf")}, ["data['noise']", "finite"],
     "noise takes a finite number, at least 0"),
    ({"name": "shapes", "noise": -0.5}, ["data['noise']"], "at least 0"),
    ({"name": "shapes", "colour": "yes"}, ["data['colour']", "'yes'"], "a bool"),
    ({"name": "shapes", "classes": ["x"]}, ["data['classes']"], "at least 2 different"),
    ({"name": "shapes", "classes": "x"}, ["data['classes']"], "choose among x, plus"),
    ({"name": "shapes", "classes": ["x", "x"]}, ["data['classes']", "twice"], "different"),
    # fine one by one, not together: no range, what to change
    ({"name": "shapes", "count": 20}, ["data['count']", "at least 50"], "list fewer classes"),
    ({"name": "shapes", "sizes": 8}, ["data['sizes']", "no argument"], "shapes takes size, "),
    ({"name": "digits", "size": 8}, ["data['size']"], "digits takes no arguments"),
    ({"name": "npz"}, ["data['path']"], "path takes a file's path"),
    ({"name": "npz", "path": 3}, ["data['path']", "not 3"], "e.g. \"data/train.npz\""),
])
def test_a_bad_value_in_an_ir_data_object_is_named_with_what_it_takes(tmp_path, data, words,
                                                                         hint):
    error = refused(lambda: cnnspec.Settings(data=data).overrides(), *words)
    assert hint in error.hint and error.invalid
    error = refused(lambda: cnnspec.train(SPEC, cnnspec.Settings(data=data), tmp_path / "run"),
                    *words)
    assert not (tmp_path / "run").exists()


def test_an_ir_data_objects_classes_may_be_a_tuple_or_an_array():
    for classes in (("x", "o"), np.array(["x", "o"])):
        data = cnnspec.Settings(data={"name": "shapes", "classes": classes}).overrides()["data"]
        assert data["classes"] == ["x", "o"] and type(data["classes"][0]) is str


def test_an_ir_data_object_may_name_its_dataset_with_numpys_text():
    data = cnnspec.Settings(data={"name": np.str_("fashion_mnist")}).overrides()["data"]
    assert data == {"name": "fashion-mnist"} and type(data["name"]) is str


def test_an_ir_data_objects_numpy_numbers_are_the_values_they_hold(tmp_path):
    """`"size": np.int64(8)` was kept as NumPy's, which a run's JSON files cannot hold."""
    given = {"name": "shapes", "size": np.int64(8), "count": np.int32(60)}
    data = cnnspec.Settings(data=given).overrides()["data"]
    assert (data["size"], data["count"]) == (8, 60)
    assert type(data["size"]) is int and type(data["count"]) is int
    spec = tmp_path / "tiny.cnn"
    spec.write_text("input 1x8x8\nflatten\ndense 10\ntrain {\n  epochs 1\n  batch 16\n}\n")
    run = cnnspec.train(str(spec), cnnspec.Settings(data=given), tmp_path / "run",
                        progress="none")
    assert json.loads((run.path / "spec.json").read_text())["training"]["data"]["size"] == 8


@pytest.mark.parametrize("keywords, words", [
    ({"progress": "quiet"}, ["progress", "'quiet'"]),
    ({"runs_dir": 3}, ["runs_dir", "path"]),
    ({"data_dir": 3}, ["data_dir", "path"]),
    ({"on_step": 3}, ["on_step", "function of (step, model)"]),
    ({"on_warnings": 5}, ["on_warnings", "function"]),
    ({"curves": "no"}, ["curves", "True or False"]),
    ({"fold": (5, 2)}, ["fold", "(5, 2)"]),
    ({"fold": 3}, ["fold", "pair"]),
    ({"dtype": "half"}, ["dtype", "'half'"]),
])
def test_train_refuses_options_of_the_wrong_kind_before_a_run_folder(tmp_path, keywords, words):
    refused(lambda: cnnspec.train(SPEC, cnnspec.Settings(epochs=1), tmp_path / "run",
                                  **keywords), *words)
    assert not (tmp_path / "run").exists()


def test_train_names_a_run_folder_that_is_no_path():
    refused(lambda: cnnspec.train(SPEC, None, 3), "run_dir", "path")


def test_a_setting_given_to_train_as_a_keyword_is_pointed_to_settings():
    error = refused(lambda: cnnspec.train(SPEC, epochs=3), "cnnspec.train()", "'epochs'")
    assert "cnnspec.Settings(epochs=" in error.hint
    error = refused(lambda: cnnspec.train(SPEC, run_dirs="x"), "'run_dirs'")
    assert "runs_dir" in error.hint
    error = refused(lambda: cnnspec.resume("runs/x", runs_dir="x"), "cnnspec.resume()")
    assert error.hint.count("spec") == 1  # each keyword it takes, once


@pytest.mark.parametrize("keywords, hint", [
    ({"epoch": 3}, "did you mean epochs=3?"),  # Python's TypeError named no alternative
    ({"lrr": 0.1}, "did you mean lr=0.1?"),
    ({"learning_rate": 0.1}, "learning_rate is written lr here: lr=0.1"),
    ({"batch": np.int64(8)}, "batch is written batch_size here: batch_size=8"),
    # another library's names (FOREIGN_KEYS) are told ours, their values not copied (iterations)
    ({"base_lr": 0.1}, "Caffe's base_lr is lr here; give it as lr=..."),
    ({"max_iter": 1000}, "; give it as epochs=..."),
    ({"weight_decay": 5e-4}, "the spec's own setting, written in its train block"),
    ({"optimiser": "adam"}, "did you mean optimizer? optimizer is the spec's own setting"),
    ({"dtype": "float64"}, "it takes epochs, lr, batch_size, seed, data, cores"),
])
def test_settings_name_an_unknown_setting_with_what_is_meant(keywords, hint):
    key = next(iter(keywords))
    error = refused(lambda: cnnspec.Settings(**keywords), "cnnspec.Settings()", repr(key))
    assert hint in error.hint and error.invalid


@pytest.mark.parametrize("call, words, hint", [
    (lambda: cnnspec.train(SPEC, epoch=3), ["cnnspec.train()", "'epoch'"],
     "did you mean settings=cnnspec.Settings(epochs=3)?"),
    (lambda: cnnspec.train(SPEC, base_lr=0.1), ["'base_lr'"],
     "Caffe's base_lr is lr here; give it as settings=cnnspec.Settings(lr=...)"),
    (lambda: compare(SPEC, ["he_normal"], learning_rate=0.1), ["compare()", "'learning_rate'"],
     "learning_rate is written lr here: lr=0.1"),
    (lambda: compare(SPEC, ["he_normal"], epoch=1), ["compare()", "'epoch'"],
     "did you mean epochs=1?"),
    # the function's own argument a letter away first (sweep's seeds), then the setting
    (lambda: compare(SPEC, ["he_normal"], seed=1), ["'seed'"],
     ("did you mean seeds=? (seed is not given here: write it in the spec's train block "
      "(`seed ...`); of a run's settings this takes epochs, lr, batch_size, data)")),
    (lambda: sweep(SPEC, ["lr=0.1"], seed=1), ["sweep()", "'seed'"],
     "did you mean seeds=? (seed is a setting of the run: settings=cnnspec.Settings(seed=1))"),
    # a setting compare does not take is the spec's to write; dataset is its data misspelt
    (lambda: compare(SPEC, ["he_normal"], cores=2), ["'cores'"],
     "cores is not given here: write it in the spec's train block (`cores ...`)"),
    (lambda: compare(SPEC, ["he_normal"], dataset="mnist"), ["'dataset'"],
     "did you mean data='mnist'?"),
    (lambda: sweep(SPEC, ["lr=0.1"], data="mnist"), ["'data'"],
     "data is a setting of the run: settings=cnnspec.Settings(data='mnist')"),
    (lambda: sweep(SPEC, ["lr=0.1"], epochs=1), ["sweep()", "'epochs'"],
     "settings=cnnspec.Settings(epochs=1)"),
    (lambda: sweep(SPEC, set=["lr=0.1"]), ["sweep()", "'set'"], "did you mean sets=?"),
])
def test_functions_taking_settings_name_an_unknown_keyword(call, words, hint):
    """Before any work: compare and sweep ended in Python's TypeError."""
    assert hint in refused(call, *words).hint


def test_a_misspelt_argument_is_not_told_of_the_setting_it_is_as_close_to():
    """seedz is seed and seeds misspelt alike: the function's own argument is meant."""
    for call in (lambda: sweep(SPEC, ["lr=0.1"], seedz=1),
                 lambda: compare(SPEC, ["he_normal"], seedz=1)):
        assert refused(call, "'seedz'").hint == "did you mean seeds=?"


def test_keywords_checked_keeps_the_signature():
    import inspect

    assert "epochs" in inspect.signature(cnnspec.Settings).parameters
    assert "inits" in inspect.signature(compare).parameters


@pytest.mark.parametrize("call, words", [
    (lambda: cnnspec.resume(3), ["run_dir", "not 3"]),
    (lambda: cnnspec.resume(None), ["run_dir", "not None"]),
    (lambda: cnnspec.resume("runs/x", data_dir=1), ["data_dir"]),
    (lambda: cnnspec.load_run(3), ["path", "run folder"]),
    (lambda: cnnspec.load_run("runs/x", which="first"), ["which", "best, last"]),
    # an array's `in` compares item by item: NumPy's "truth value ... is ambiguous"
    (lambda: cnnspec.load_run("runs/x", which=np.array(["best", "last"])),
     ["which", "best, last", "array(["]),
])
def test_run_folders_of_the_wrong_kind_are_named(call, words):
    refused(call, *words)


# ---- a trained run: predict, evaluate, export --------------------------------------------

@pytest.fixture(scope="module")
def run(trained):
    return cnnspec.load_run(trained["run"])


def test_predict_names_a_path_given_for_images(run):
    for path in ("digit.png", Path("digit.png")):
        with pytest.raises(InputError, match="not a path") as info:
            run.predict(path)
        assert "load_image(path, run.spec.input_shape, dtype=run.input_dtype)" \
            in info.value.hint


def test_predict_takes_a_torch_tensor_that_requires_grad(run):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).random((2, *run.spec.input_shape))
    tensor = torch.tensor(x, requires_grad=True)
    np.testing.assert_array_equal(run.predict(tensor), run.predict(x))


@pytest.mark.parametrize("keywords, words", [
    ({"data": 3}, ["data", "not 3"]),
    ({"data": Path("x.npz")}, ["data"]),
    ({"data_dir": 5}, ["data_dir", "path"]),
])
def test_evaluate_refuses_options_of_the_wrong_kind(run, keywords, words):
    refused(lambda: evaluate(run, **keywords), *words)


def test_evaluate_of_a_path_says_to_open_the_run(trained):
    error = refused(lambda: evaluate(trained["run"]), "run", "takes a Run")
    assert "load_run" in error.hint


@pytest.mark.parametrize("call, words", [
    (lambda out: export_torch(3, out / "m.py"), ["source", "not 3"]),
    (lambda out: export_torch(Path(SPEC).read_text(), out / "m.py"), ["source", "text"]),
    (lambda out: export_torch(SPEC, 5), ["path", ".py"]),
    (lambda out: export_torch(SPEC, out / "m.py", force="no"), ["force", "True or False"]),
    (lambda out: export_onnx(SPEC, 3), ["path", ".onnx"]),
])
def test_exports_name_arguments_of_the_wrong_kind(tmp_path, call, words):
    if "onnx" in words[1]:
        pytest.importorskip("onnx")
    refused(lambda: call(tmp_path), *words)
    assert not list(tmp_path.iterdir())


def test_import_names_paths_of_the_wrong_kind(tmp_path):
    refused(lambda: import_file(3), "path", "Caffe")
    refused(lambda: import_file(tmp_path / "m.prototxt", solver=4), "solver")
    refused(lambda: write_spec(None, 3), "out", ".cnn")


# ---- the lab and sweeps ------------------------------------------------------------------

@pytest.mark.parametrize("keywords, words", [
    ({"input_kind": "noise"}, ["input_kind", "data, gaussian", "'noise'"]),
    ({"input_kind": np.array(["data", "data"])}, ["input_kind", "data, gaussian", "array("]),
    ({"batch_size": 0}, ["batch_size", "not 0"]),
    ({"batch_size": 8.0}, ["batch_size", "8.0"]),
    ({"seed": -1}, ["seed", "not -1"]),
    ({"inits": [3]}, ["inits", "list of texts"]),
])
def test_init_report_refuses_arguments_of_the_wrong_kind(keywords, words):
    refused(lambda: init_report(SPEC, **{"batch_size": 8, **keywords}), *words)


def test_init_report_takes_numpy_counts_and_one_init_alone():
    report = init_report(SPEC, "he_normal", input_kind="gaussian", batch_size=np.int64(4),
                         seed=np.int64(1))
    assert [v.label for v in report.variants] == ["he_normal"]
    assert type(report.seed) is int


@pytest.mark.parametrize("keywords, words", [
    ({"target": float("nan")}, ["target", "nan"]),
    ({"target": 90}, ["target", "at most 1"]),
    ({"jobs": 0}, ["jobs", "not 0"]),
    ({"out": 3}, ["out", "path"]),
    ({"inits": [None, 3]}, ["inits"]),
])
def test_compare_refuses_arguments_of_the_wrong_kind(keywords, words):
    refused(lambda: compare(SPEC, **{"inits": ["he_normal"], "epochs": 1, **keywords}), *words)


def test_sweep_names_an_out_that_is_no_path():
    refused(lambda: sweep(SPEC, ["lr=0.1"], out=3, settings=cnnspec.Settings(epochs=1)),
            "out", "path")


@pytest.mark.parametrize("planned", [False, True])
def test_sweep_refuses_settings_other_than_a_settings_planned_or_not(tmp_path, planned):
    """Checked once, by sweep itself: a caller's plan() does not check them for it."""
    made = plan(SPEC, ["lr=0.1"]) if planned else None
    refused(lambda: sweep(SPEC, ["lr=0.1"], settings={"epochs": 1}, planned=made,
                          out=tmp_path / "s"), "settings takes a Settings, not {'epochs': 1}")
    assert not (tmp_path / "s").exists()


def test_a_setting_written_as_an_argument_of_data_is_told_as_the_librarys_keywords():
    """``Settings(data="digits(lr=0.1)")`` is told ``lr=0.1`` and ``data='digits'``, the
    library's keywords, not a train block's lines."""
    from cnnspec.training.settings import data_setting

    with pytest.raises(SettingError) as info:
        data_setting("digits(lr=0.1)")
    assert info.value.message == ("data 'digits(lr=0.1)': 'lr' is a training setting of its "
                                  "own, not an argument of dataset digits")
    assert info.value.hint == ("give it as a setting of its own: lr=0.1, and the dataset as "
                               "data='digits'")
