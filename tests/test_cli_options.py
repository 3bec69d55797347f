"""Hostile option values and the files options name: each is a clear error with the exit
code of its kind (2: a mistake in what was asked) before any work is done, never a traceback,
a hang, a silent wrong result or a file lost."""
from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from cnnspec.cli import main
from cnnspec.ir.limits import MAX_INT

TANH = """\
model t
input 1x8x8
conv1: conv 4 3x3 pad same tanh
conv2: conv 4 3x3 pad same tanh
flatten
dense 10
"""  # no train block: the digits, the default data set


def exit_code(argv: list[str]) -> int:
    """What `cnnspec ARGV` exits with (argparse's usage errors raise SystemExit)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def refused(capsys, argv: list[str], *words: str, code: int = 2) -> str:
    assert exit_code(argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


@pytest.fixture
def places(tmp_path, tiny_shapes_spec):
    """A spec, a folder standing in for a run (the options are read before the folder is),
    an input file and a tanh spec with a hidden chain for --phase."""
    np.save(tmp_path / "in.npy", np.zeros((1, 8, 8), np.float32))
    (tmp_path / "tanh.cnn").write_text(TANH)
    return {"spec": str(tiny_shapes_spec), "run": str(tmp_path), "input": str(tmp_path / "in.npy"),
            "tanh": str(tmp_path / "tanh.cnn"), "out": str(tmp_path)}


# ---- counts --------------------------------------------------------------------------------

COUNTS = [
    ["train", "{spec}", "--epochs"], ["train", "{spec}", "--batch-size"],
    ["train", "{spec}", "--seed"], ["train", "{spec}", "--stats"],
    ["init-report", "{spec}", "--batch-size"], ["init-report", "{spec}", "--seed"],
    ["init-report", "{spec}", "--jacobian", "--rows"],
    ["time", "{spec}", "--iterations"], ["time", "{spec}", "--batch-size"],
    ["sweep", "{spec}", "--seeds"], ["sweep", "{spec}", "--folds"], ["sweep", "{spec}", "--epochs"],
    ["sweep", "{spec}", "--workers"],
    ["compare", "{spec}", "--seeds"], ["compare", "{spec}", "--jobs"],
    ["compare", "{spec}", "--epochs"], ["compare", "{spec}", "--batch-size"],
    ["predict", "{run}", "{input}", "--top"], ["features", "{run}", "-o", "{out}/f.png", "--index"],
    ["data", "{spec}", "--per-class"], ["import", "{spec}", "--epoch-images"],
]


@pytest.mark.parametrize("argv", COUNTS, ids=lambda argv: f"{argv[0]} {argv[-1]}")
@pytest.mark.parametrize("value", [str(MAX_INT + 1), str(2**63), "9" * 400])
def test_a_count_beyond_the_largest_whole_number_is_a_usage_error(argv, value, places, capsys):
    """A count past the IR's limit (2^31 - 1) would overflow an index or run for ages: refused
    where the option is read, with the limit; the limit is the IR's, read from one place."""
    argv = [part.format(**places) for part in argv] + [value]
    refused(capsys, argv, f"{argv[-2]}: must be at most {MAX_INT:,}")


@pytest.mark.parametrize("value, words", [
    ("-99999999999999999999", "must be at least 1, got -99999999999999999999"),
    ("", "expected a whole number, got ''"),
    ("1e3", "expected a whole number, got '1e3'"),
    ("9" * 5000, "expected a whole number, got '9999"),
])
def test_other_bad_counts_are_usage_errors(value, words, places, capsys):
    err = refused(capsys, ["train", places["spec"], "--epochs", value], words)
    assert len(err) < 2000  # a 5,000-digit value is quoted shortened


# ---- sweeps and folds ----------------------------------------------------------------------

def test_a_sweep_of_more_cells_than_one_run_plans_is_refused(places, capsys):
    from cnnspec.sweep.cells import MAX_CELLS

    seeds = MAX_CELLS // 2 + 1
    refused(capsys, ["sweep", places["spec"], "--set", "lr=0.1,0.2", "--seeds", str(seeds)],
            f"2 x {seeds:,} = {2 * seeds:,} trainings", f"more than the {MAX_CELLS:,}")
    refused(capsys, ["compare", places["spec"], "--init", "he_normal", "--seeds", str(MAX_INT)],
            f"more than the {MAX_CELLS:,}")


def test_more_folds_than_the_data_has_images_is_refused_before_training(places, capsys):
    refused(capsys, ["sweep", places["spec"], "--set", "lr=0.1", "--folds", "1000"],
            "1,000 folds are more than the 192 training images of shapes",
            "hint: use at most --folds 192")
    # more than the training split, fewer than all the images: every cell would fail later
    refused(capsys, ["sweep", places["spec"], "--set", "lr=0.1", "--folds", "200"],
            "200 folds are more than the 192 training images of shapes")


def test_the_training_split_of_each_data_set_is_known_before_loading():
    from cnnspec.data import load_dataset
    from cnnspec.ir.datasets import training_count

    for data in ({"name": "digits"}, {"name": "shapes", "count": 240, "size": 8}):
        loaded = load_dataset(data, seed=0)
        assert training_count(loaded_ir(data)) == len(loaded.y_train)
    assert training_count({"name": "mnist"}) == 60_000
    assert training_count({"name": "cifar10"}) == 50_000
    assert training_count({"name": "npz", "path": "x.npz"}) is None


def loaded_ir(data: dict) -> dict:
    from cnnspec.ir.datasets import with_defaults

    return with_defaults(data)


def test_more_folds_than_training_images_is_refused_when_the_data_is_loaded(tiny_shapes_spec):
    """Between the training part's size and the data set's (known only once loaded), the
    trainer refuses the fold count itself, at the data setting."""
    from cnnspec.errors import SpecErrors
    from cnnspec.training.api import train

    with pytest.raises(SpecErrors) as info:
        train(tiny_shapes_spec, run_dir=tiny_shapes_spec.parent / "run", progress="none",
              fold=(0, 200))
    assert "200 folds are more than the 192 training images" in info.value.errors[0].message
    assert not (tiny_shapes_spec.parent / "run").exists()


# ---- init-report's modes -------------------------------------------------------------------

@pytest.mark.parametrize("option, mode", [(["--grid", "8x5"], "--phase"),
                                          (["--rows", "5"], "--jacobian"),
                                          (["--layer", "conv1"], "--jacobian")])
def test_an_option_of_a_mode_without_the_mode_is_refused(option, mode, places, capsys):
    refused(capsys, ["init-report", places["tanh"], *option],
            f"{option[0]} goes with {mode}, which was not given", f"add {mode}")


def test_a_phase_grid_finer_than_the_diagram_is_refused(places, capsys):
    from cnnspec.lab.phase import THEORY_GRID

    w, b = THEORY_GRID
    for grid in (f"{w + 1}x{b}", f"{w}x{b + 1}", "1000x1000"):
        refused(capsys, ["init-report", places["tanh"], "--phase", "--grid", grid],
                f"--grid {grid} measures more points", f"at most {w}x{b}")
    from cnnspec.errors import InputError
    from cnnspec.lab.phase import refuse_beyond_theory

    with pytest.raises(InputError) as info:
        refuse_beyond_theory((w + 1, b), THEORY_GRID)
    # phase_report's grid, a pair: the library was told of init-report's --grid
    assert info.value.message.startswith(f"grid=({w + 1}, {b}) measures more points")
    assert info.value.hint == f"e.g. grid=(8, 5) (the default) or up to grid=({w}, {b})"


@pytest.mark.parametrize("init", ["lsuv", "identity"])
def test_an_init_without_a_variance_has_no_place_on_the_phase_diagram(init, places, capsys):
    refused(capsys, ["init-report", places["tanh"], "--phase", "--init", init],
            f"--init {init}: {init} (", "is not drawn with mean 0 and a variance of its own")
    from cnnspec.errors import InputError
    from cnnspec.lab.phase import phase_report

    with pytest.raises(InputError) as info:  # phase_report's inits: it was told of --init
        phase_report(places["tanh"], [init], grid=(2, 2))
    assert info.value.message.startswith(f"inits=['{init}']: {init} (")
    assert info.value.hint.startswith("the phase diagram places inits drawn with mean 0")


def test_a_spec_whose_own_init_has_no_variance_still_draws_its_phase_diagram(tmp_path, capsys):
    spec = tmp_path / "lsuv.cnn"
    spec.write_text(TANH.replace("model t\n", "model t\ndefault weight lsuv\n"))
    assert main(["init-report", str(spec), "--phase", "--grid", "2x2", "--format", "json"]) == 0
    placed = [p["init"] for p in json.loads(capsys.readouterr().out)["inits"]]
    assert placed and not any("lsuv" in name for name in placed)


def test_jacobian_rows_beyond_memory_are_refused_before_allocating(places, capsys,
                                                                     monkeypatch):
    from cnnspec.lab import jacobian

    monkeypatch.setattr(jacobian, "machine_memory", lambda: 64 << 20)
    # 4x8x8 = 256 outputs from conv2 and 64 inputs: 2^20 rows would take an identity of 256^2
    # and rows of 64 -- small -- so the refusal is for the directions the rows ask for.
    need = jacobian.directions_bytes(256, 64, 256)
    assert need < (32 << 20)
    assert exit_code(["init-report", places["tanh"], "--jacobian", "--layer", "conv2",
                      "--rows", "300", "--input", "gaussian", "--format", "json"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(jacobian, "machine_memory", lambda: need)
    refused(capsys, ["init-report", places["tanh"], "--jacobian", "--layer", "conv2",
                     "--rows", "300", "--input", "gaussian"],
            "--rows 300: the Jacobian's 256 rows of 64 inputs", "more than half of this machine's",
            "use fewer --rows")


# ---- files named by options ----------------------------------------------------------------

def test_a_spec_file_beyond_the_size_limit_is_refused_before_reading(tmp_path, capsys):
    from cnnspec.sourcefile import MAX_SPEC_BYTES

    huge = tmp_path / "huge.cnn"
    with open(huge, "wb") as handle:
        handle.truncate(MAX_SPEC_BYTES + 1)  # sparse: no disk or memory taken
    for command in ("check", "fmt", "summary"):
        refused(capsys, [command, str(huge)], f"{huge} is {MAX_SPEC_BYTES + 1:,} bytes",
                f"more than the {MAX_SPEC_BYTES >> 20} MiB a spec file may be")


@pytest.mark.parametrize("command", ["check", "fmt", "import", "train"])
def test_a_device_or_a_pipe_given_as_a_spec_is_refused_without_reading(command, tmp_path,
                                                                        capsys):
    pipe = tmp_path / "pipe.cnn"
    os.mkfifo(pipe)  # opened, it would wait for a writer forever
    refused(capsys, [command, str(pipe)], f"{pipe} is not a regular file")
    # read whole, it never ends (check and train refuse it by its name first)
    refused(capsys, [command, "/dev/zero"], "/dev/zero")


def test_an_output_that_is_a_device_or_a_pipe_is_refused_and_left_alone(tmp_path, places,
                                                                         capsys):
    """Written by rename, an output would replace what the name points at: a device (or a
    link to one) or a pipe is refused, and stays what it was."""
    pipe, link = tmp_path / "pipe.json", tmp_path / "null.json"
    os.mkfifo(pipe)
    link.symlink_to(os.devnull)
    for out in (pipe, link):
        refused(capsys, ["export", places["spec"], "-o", str(out)],
                f"{out} is not a regular file")
    assert stat.S_ISFIFO(pipe.stat().st_mode) and link.is_symlink()
    fifo_png = tmp_path / "pipe.png"
    os.mkfifo(fifo_png)
    refused(capsys, ["init-report", places["spec"], "-o", str(fifo_png)], "not a regular file")


def test_the_atomic_writer_never_replaces_a_pipe(tmp_path):
    from cnnspec.atomic import write_text
    from cnnspec.errors import InputError

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    with pytest.raises(InputError, match="is not a regular file"):
        write_text(pipe, "x")
    assert stat.S_ISFIFO(pipe.stat().st_mode)


@pytest.mark.parametrize("argv", [
    ["compare", "{spec}", "--init", "he_normal", "--out", "{spec}/runs"],
    ["sweep", "{spec}", "--set", "lr=0.1", "--out", "{spec}/sweep"],
    ["train", "{spec}", "--out", "{spec}/run/deeper"],
    ["train", "{spec}", "--runs-dir", "{spec}"],
])
def test_a_folder_under_an_existing_file_is_a_usage_error(argv, places, capsys):
    argv = [part.format(**places) for part in argv]
    refused(capsys, argv, "a file, not a folder; name a folder")
    assert os.path.isfile(places["spec"])


# ---- predictions -----------------------------------------------------------------------------

def test_predict_refuses_scores_that_are_not_finite(trained, monkeypatch, capsys):
    """Finite weights can still overflow (a damaged preprocessing record, weights near
    float32's limit): NaN probabilities are not a prediction."""
    from cnnspec.training.run import Run

    monkeypatch.setattr(Run, "predict", lambda self, images: np.full((len(images), 2), np.nan))
    refused(capsys, ["predict", trained["run"], trained["input"]],
            f"gives NaN or infinite scores for {trained['input']}", code=1)


def test_predict_refuses_a_run_whose_classes_do_not_name_its_outputs(tmp_path, capsys,
                                                                    tiny_shapes_spec):
    """A summary naming a class twice, or too few, would list probabilities under the wrong
    names or drop one: the run is damaged, and the file is named."""
    run = tmp_path / "run"
    assert main(["train", str(tiny_shapes_spec), "--out", str(run), "--quiet"]) == 0
    np.save(tmp_path / "x.npy", np.zeros((1, 8, 8), np.float32))
    summary = json.loads((run / "summary.json").read_text())
    capsys.readouterr()
    for classes in (["x", "x"], ["x"], ["x", "plus", "o"]):
        (run / "summary.json").write_text(json.dumps({**summary, "classes": classes}))
        refused(capsys, ["predict", str(run), str(tmp_path / "x.npy")],
                f"{run / 'summary.json'}: 'classes' names {len(classes)} classes",
                "the model gives 2 scores for them", code=1)


@pytest.mark.parametrize("argv", [
    ["predict", "{run}", "/dev/zero"],
    ["features", "{run}", "/dev/zero", "-o", "{out}/f.png"],
    ["eval", "{run}", "--data", "npz:/dev/zero"],
])
def test_a_device_given_as_an_input_is_refused_by_what_it_is(argv, trained, tmp_path, capsys):
    refused(capsys, [part.format(**trained, out=tmp_path) for part in argv],
            "/dev/zero is not a regular file")


@pytest.mark.parametrize("layers", ["", " , "])
def test_layers_naming_no_layer_is_refused_not_taken_as_none(layers, trained, tmp_path, capsys):
    refused(capsys, ["train", trained["spec"], "--weights-from", trained["run"], "--layers",
                     layers, "--out", str(tmp_path / "r"), "--quiet"], "names no layer")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("argv", [
    ["init-report", "{tanh}", "--phase", "--grid", f"{MAX_INT + 1}x2"],
    ["import", "{spec}", "--input", f"1x{MAX_INT + 1}x8"],
])
def test_a_size_beyond_the_largest_whole_number_is_a_usage_error(argv, places, capsys):
    refused(capsys, [part.format(**places) for part in argv], f"must be at most {MAX_INT:,}")


@pytest.mark.parametrize("option", [["--dtype", "float64"], ["--dtype", "float32"],
                                    ["--runs-dir", "elsewhere"], ["--freeze"],
                                    ["--weights-from", "{run}"], ["--layers", "conv1"]])
def test_options_of_a_new_run_are_refused_with_resume(option, trained, capsys):
    """A resumed run keeps its weights, dtype and folder: these would be ignored."""
    refused(capsys, ["train", "--resume", trained["run"],
                     *[part.format(**trained) for part in option]],
            f"{option[0]} applies to a new run", f"drop {option[0]}")


def test_ignore_is_refused_with_resume_which_says_no_warnings(trained, capsys):
    refused(capsys, ["train", "--resume", trained["run"], "--ignore", "stacked-linear"],
            "--ignore applies to a new run: --resume says no warnings of check", "drop --ignore")


@pytest.mark.parametrize("command", ["check", "summary", "train", "fmt"])
def test_an_empty_spec_path_is_a_usage_error(command, capsys):
    """Not the working folder "." that an empty path would be taken for."""
    refused(capsys, [command, ""], "the path is empty")


def test_a_size_written_with_other_digits_is_a_usage_error(places, capsys):
    """'²' is a digit to str.isdigit but not to int: the option's words, not argparse's
    "invalid read value"."""
    refused(capsys, ["init-report", places["tanh"], "--phase", "--grid", "²x2"],
            "--grid: expected two whole numbers >= 2 as WxB")


def test_the_atomic_writer_gives_the_usual_permissions_and_writes_through_links(tmp_path):
    """A new file gets what open() would give it (0666 less the umask), a replaced one keeps
    its own, and a symbolic link stays a link to the file that now holds the new text."""
    from cnnspec.atomic import write_text

    umask = os.umask(0o022)  # read (by setting it) and put back
    os.umask(umask)
    write_text(tmp_path / "new.json", "{}")
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o666 & ~umask
    kept = tmp_path / "kept.cnn"
    kept.write_text("old")
    kept.chmod(0o604)
    write_text(kept, "new")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o604 and kept.read_text() == "new"
    (tmp_path / "real").mkdir()
    target, link = tmp_path / "real" / "spec.cnn", tmp_path / "link.cnn"
    target.write_text("old")
    link.symlink_to(target)
    write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"


def test_a_run_folder_and_its_files_get_the_usual_permissions(tmp_path, tiny_shapes_spec):
    from cnnspec import train

    umask = os.umask(0o022)  # read (by setting it) and put back
    os.umask(umask)
    run = train(tiny_shapes_spec, run_dir=tmp_path / "run", progress="none", curves=False)
    assert stat.S_IMODE(run.path.stat().st_mode) == 0o777 & ~umask
    for file in run.path.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o666 & ~umask, file.name


# ---- the init options ----------------------------------------------------------------------

@pytest.mark.parametrize("argv, place", [
    (["init-report", "{spec}", "--init", "he"], '--init "he"'),
    (["compare", "{spec}", "--init", "he", "--epochs", "1", "--out", "{out}/cmp"], '--init "he"'),
    (["sweep", "{spec}", "--set", "init=he", "--epochs", "1", "--out", "{out}/sw"],
     '--set "init=he"'),
])
def test_an_unknown_init_is_refused_in_one_form_by_every_command(argv, place, places, capsys):
    """The option that gave the init is the error's place, and the message says what is wrong
    once, whichever command read it."""
    err = refused(capsys, [word.format(**places) for word in argv])
    assert err.startswith(f"{place}: error: unknown initializer 'he'\n"), err
    assert "did you mean he_normal or he_uniform?" in err
