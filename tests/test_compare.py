"""``cnnspec compare``: init variants trained side by side on identical data."""
import json
import math
import re
from pathlib import Path

import pytest

from cnnspec.cli import OPTION_NAMES
from cnnspec.errors import RunError
from cnnspec.sweep.compare import (
    REACH_NOTE,
    JobResult,
    compare,
    describe_result,
    epochs_to_reach,
    format_table,
    plan_comparison,
    plot,
    summarize,
)
from cnnspec.sweep.results import LEFT_OUT_KEY, TEST_WEIGHTS_NOTE, percent


@pytest.fixture
def tiny(tiny_digits_spec):
    return tiny_digits_spec


def _epochs(*val_accs):
    return [{"epoch": i + 1, "val_acc": a, "train_loss": 1.0 / (i + 1)}
            for i, a in enumerate(val_accs)]


def test_epochs_to_reach_is_the_first_epoch_at_the_target():
    assert epochs_to_reach(_epochs(0.5, 0.91, 0.85, 0.95), 0.9) == 2
    assert epochs_to_reach(_epochs(0.5, 0.6), 0.9) is None
    assert epochs_to_reach(_epochs(0.9), 0.9) == 1


def test_summary_over_seeds():
    runs = [JobResult("he", 0, _epochs(0.8, 0.9), 0.88, False),
            JobResult("he", 1, _epochs(0.7, 0.7), 0.70, False),
            JobResult("he", 2, _epochs(0.3), None, True, "diverged")]
    row = summarize("he", runs, target=0.9)
    # Accuracies over the two seeds that finished; the diverged one is counted apart.
    assert row.val_acc_mean == pytest.approx(0.8) and row.val_acc_std == pytest.approx(0.1)
    assert row.test_acc_mean == pytest.approx(0.79) and row.test_acc_std == pytest.approx(0.09)
    assert (row.epochs_to_target, row.reached, row.diverged, row.seeds) == (2, 1, 1, 3)


def test_one_seed_has_no_spread_to_show_in_the_table_or_the_json():
    """One seed gave `"val_acc_std": 0.0`, which reads as seeds that agreed, where the table
    shows no +-: the std is None (JSON's null) where one run finished."""
    runs = [JobResult("he", 0, _epochs(0.8, 0.9), 0.88, False),
            JobResult("he", 1, _epochs(0.3), None, True, "diverged")]
    row = summarize("he", runs, target=0.9)
    assert (row.val_acc_mean, row.val_acc_std, row.test_acc_std) == (0.9, None, None)
    assert percent(row.val_acc_mean, row.val_acc_std) == " 90.0"
    assert percent(0.9, 0.05) == " 90.0 +-  5.0"


def test_a_runs_val_acc_is_that_of_the_epoch_its_test_acc_scores():
    """Both accuracy columns speak of the weights a run keeps: its val acc is the epoch's
    whose weights its test acc is of (test_epoch), the last one's for a run recorded before
    test_epoch was."""
    runs = [JobResult("he", 0, _epochs(0.8, 0.95, 0.9), 0.93, False, test_epoch=2),
            JobResult("he", 1, _epochs(0.7, 0.7), 0.70, False)]
    assert [r.val_acc for r in runs] == [0.95, 0.7]
    row = summarize("he", runs, target=0.9)
    assert row.val_acc_mean == pytest.approx(0.825) and row.val_acc_std == pytest.approx(0.125)
    assert runs[0].to_dict()["test_epoch"] == 2


def test_every_variant_and_seed_gets_its_own_cell_folder(tiny, tmp_path):
    """compare is the sweep over init: one cell folder per (variant, seed), named by the
    variant and seed and told apart by the hash of the cell's IR."""
    result = compare(str(tiny), [None, "normal(0, 0.01)"], epochs=1, seeds=2, jobs=1,
                     out=tmp_path / "cmp")
    runs = [r for v in result.variants for r in v.runs]
    own = "he_normal (spec)"  # the spec as written, by the init its layers start from
    assert [(r.label, r.seed) for r in runs] == [(own, 0), (own, 1),
                                                ("normal(0, 0.01)", 0), ("normal(0, 0.01)", 1)]
    folders = [Path(r.out).name for r in runs]
    assert len(set(folders)) == 4
    assert folders[2].startswith("init=normal_0_0.01_seed0-")
    for r in runs:
        assert {"spec.json", "metrics.jsonl", "summary.json"} <= {
            p.name for p in Path(r.out).iterdir()}


def test_a_rerun_into_the_same_folder_trains_nothing_and_gives_the_same_table(tiny, tmp_path):
    first = compare(str(tiny), ["he_normal"], epochs=1, jobs=1, out=tmp_path / "cmp")
    trained = []
    again = compare(str(tiny), ["he_normal"], epochs=1, jobs=1, out=tmp_path / "cmp",
                    on_done=trained.append)
    assert trained == []
    assert format_table(again) == format_table(first)


def test_the_table_reports_the_kept_weights_test_accuracy_and_reads_older_runs(tiny,
                                                                                 tmp_path):
    """A run's test acc is its summary's test_acc (the weights it keeps), not the last
    epoch's beside it; a run recorded before last_test_acc and test_epoch reads as before."""
    first = compare(str(tiny), ["he_normal"], epochs=1, jobs=1, out=tmp_path / "cmp")
    summary_file = Path(first.variants[0].runs[0].out) / "summary.json"
    summary = json.loads(summary_file.read_text())
    summary.update(test_acc=0.25, test_epoch=1, last_test_acc=0.75)
    summary_file.write_text(json.dumps(summary))
    again = compare(str(tiny), ["he_normal"], epochs=1, jobs=1, out=tmp_path / "cmp")
    assert again.variants[0].test_acc_mean == 0.25
    assert format_table(again).splitlines()[1].split()[2] == "25.0"
    # the val acc beside it is the same epoch's: an epoch that validated otherwise is not shown
    metrics_file = Path(first.variants[0].runs[0].out) / "metrics.jsonl"
    (row,) = [json.loads(line) for line in metrics_file.read_text().splitlines()]
    metrics_file.write_text("\n".join(json.dumps({**row, "epoch": epoch, "val_acc": acc})
                                      for epoch, acc in ((1, 0.5), (2, 0.125))) + "\n")
    summary.update(epochs_done=2)
    summary_file.write_text(json.dumps(summary))
    kept = compare(str(tiny), ["he_normal"], epochs=1, jobs=1, out=tmp_path / "cmp")
    assert format_table(kept).splitlines()[1].split()[1:3] == ["50.0", "25.0"]



def _old_form(summary_file: Path, **figures) -> dict:
    """Rewrite ``summary_file`` as cnnspec wrote it before a run's test figures were of the
    weights it keeps: no test_epoch or last_test_*, its test_acc the last epoch's; with
    ``figures`` changed."""
    summary = json.loads(summary_file.read_text())
    for key in ("test_epoch", "last_test_acc", "last_test_loss"):
        del summary[key]
    summary.update(figures)
    summary_file.write_text(json.dumps(summary))
    return summary


def test_an_older_run_whose_kept_weights_are_its_last_is_read_as_it_is(tiny, tmp_path):
    """A run recorded before test_epoch was, whose best epoch is its last, scored the
    weights it keeps: its test acc is the measure of the runs recorded since."""
    first = compare(str(tiny), ["he_normal"], epochs=1, jobs=1, out=tmp_path / "cmp")
    run = first.variants[0].runs[0]
    _old_form(Path(run.out) / "summary.json", test_acc=0.25, best_epoch=1)
    older = compare(str(tiny), ["he_normal"], epochs=1, jobs=1, out=tmp_path / "cmp")
    assert (older.ran, older.retested, older.variants[0].test_acc_mean) == (0, 0, 0.25)
    assert older.variants[0].runs[0].test_epoch == 1


def test_an_older_run_that_tested_other_weights_than_it_keeps_trains_again(tiny, tmp_path,
                                                                           capsys):
    """A run recorded before test_epoch was, whose best epoch came before its last, holds
    the last epoch's test acc: averaged with the kept weights' of the other runs, the table
    mixed two measures. Its comparison run again trains it again, and says so."""
    from cnnspec.cli import main

    out = tmp_path / "cmp"
    first = compare(str(tiny), ["he_normal"], epochs=2, seeds=2, jobs=1, out=out)
    runs = first.variants[0].runs
    summary_file = Path(runs[0].out) / "summary.json"
    _old_form(summary_file, test_acc=0.25, best_epoch=1)
    assert main(["compare", str(tiny), "--init", "he_normal", "--epochs", "2", "--seeds", "2",
                 "--jobs", "1", "--out", str(out)]) == 0
    assert capsys.readouterr().err.splitlines()[-3:-1] == [
        f"1 run was recorded in {out} already; trained 1",
        (f"trained again 1 run recorded in {out} with the last epoch's test acc, not the kept "
        "weights' (recorded by an earlier cnnspec)")]
    again = json.loads(summary_file.read_text())
    assert again["test_epoch"] in (1, 2) and again["test_acc"] == runs[0].test_acc
    same = compare(str(tiny), ["he_normal"], epochs=2, seeds=2, jobs=1, out=out)
    assert (same.ran, same.retested, same.left_out) == (0, 0, [])


def test_another_comparisons_older_run_is_left_out_of_the_table_and_named(tiny, tmp_path,
                                                                          capsys):
    """A run of another comparison in the folder, recorded with the last epoch's test acc
    where an earlier epoch's weights are kept, cannot be trained by this one: it is left out
    of the table, named with its folder and what to do, in one message."""
    from cnnspec.cli import main

    out = tmp_path / "cmp"
    earlier = compare(str(tiny), ["glorot_uniform"], epochs=1, jobs=1, out=out)
    folder = Path(earlier.variants[0].runs[0].out)
    _old_form(folder / "summary.json", epochs_done=2, best_epoch=1)
    metrics = (folder / "metrics.jsonl").read_text()
    (folder / "metrics.jsonl").write_text(metrics + metrics.replace('"epoch": 1', '"epoch": 2'))
    result = compare(str(tiny), ["he_normal"], epochs=1, jobs=1, out=out)
    assert [v.label for v in result.variants] == ["he_normal"]
    assert (result.earlier, result.left_out) == (0, [folder])
    assert main(["compare", str(tiny), "--init", "he_normal", "--epochs", "1", "--jobs", "1",
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "glorot" not in captured.out
    assert main(["compare", str(tiny), "--init", "he_normal", "--epochs", "1", "--jobs", "1",
                 "--out", str(out), "--format", "json"]) == 0
    # relative to --out, as a sweep's results.json names them, and as each run's `out` is
    said = json.loads(capsys.readouterr().out)
    assert said[LEFT_OUT_KEY] == [folder.name]
    assert folder.parent == out
    (run,) = said["variants"][0]["runs"]
    assert run["out"] == Path(result.variants[0].runs[0].out).name
    assert (out / run["out"] / "summary.json").is_file()
    assert (f"left out of the table: 1 run of another comparison recorded in {out} with the "
            "last epoch's test acc, not the kept weights' (recorded by an earlier cnnspec): "
            f"{folder.name}\nhint: run that comparison again into {out} to train them again, "
            "or delete their folders\n") in captured.err
    again = compare(str(tiny), ["glorot_uniform", "he_normal"], epochs=1, jobs=1, out=out)
    assert (again.ran, again.retested, again.left_out) == (1, 1, [])
    assert [v.label for v in again.variants] == ["glorot_uniform", "he_normal"]


def test_a_planned_comparison_trains_its_plan_and_checks_the_spec_no_more(tiny, tmp_path):
    """compare(planned=...) trains what plan_comparison made, as compare alone trains it (in
    the plan's dtype): the spec is not read again, nor its warnings said again (a comparison
    finished after a Ctrl-C said them twice)."""
    said = []
    planned = plan_comparison(str(tiny), ["he_normal", "zeros"], epochs=1, dtype="float64",
                              on_warnings=said.append)
    assert len(said) == 1  # the zeros conv's
    alone = compare(str(tiny), ["he_normal", "zeros"], epochs=1, jobs=1, dtype="float64",
                    out=tmp_path / "alone")
    tiny.unlink()
    result = compare(str(tiny), ["he_normal", "zeros"], epochs=1, jobs=1,
                     out=tmp_path / "planned", on_warnings=said.append, planned=planned)
    assert len(said) == 1
    assert (result.ran, result.dtype) == (2, "float64")
    assert format_table(result).splitlines()[:-1] == format_table(alone).splitlines()[:-1]
    assert "trained in float64" in format_table(result).splitlines()[-1]


def test_a_planned_comparison_is_the_plans_whatever_else_is_given(tiny, tmp_path):
    """With planned=, the arguments a plan is made of are the plan's: compare's own seeds
    (unchecked) and spec were written into sweep.json and the result, beside the plan's
    runs."""
    from cnnspec.training.rundir import SWEEP_JSON

    planned = plan_comparison(str(tiny), ["he_normal"], epochs=1, seeds=2)
    result = compare("other.cnn", ["zeros"], epochs=3, seeds=0, jobs=1, out=tmp_path / "cmp",
                     planned=planned)
    assert [(r.label, r.seed) for v in result.variants for r in v.runs] == [
        ("he_normal", 0), ("he_normal", 1)]
    described = json.loads((result.out / SWEEP_JSON).read_text())
    assert (result.spec, described["spec"], described["seeds"]) == (str(tiny), str(tiny), 2)


def test_a_comparison_over_other_inits_and_epochs_shows_every_run_of_its_folder(tiny,
                                                                               tmp_path):
    """A comparison into the folder of an earlier one showed its own variants alone: the
    earlier runs are shown too, the settings they differ in named, and the spec changed
    since is refused."""
    out = tmp_path / "cmp"
    first = compare(str(tiny), ["he_normal"], epochs=1, jobs=1, out=out)
    again = compare(str(tiny), ["glorot_uniform", "he_normal"], epochs=2, jobs=1, out=out)
    assert (again.ran, again.skipped, again.earlier) == (2, 0, 1)
    assert [v.label for v in again.variants] == [
        "glorot_uniform, epochs=2", "he_normal, epochs=2", "he_normal, epochs=1"]
    assert again.variants[2].runs[0].metrics == first.variants[0].runs[0].metrics
    # the settings the variants differ in, typed in the JSON (the label is text)
    assert [v["settings"] for v in again.to_dict()["variants"]] == [
        {"init": "glorot_uniform", "epochs": 2}, {"init": "he_normal", "epochs": 2},
        {"init": "he_normal", "epochs": 1}]
    assert first.to_dict()["variants"][0]["settings"] == {"init": "he_normal"}
    same = compare(str(tiny), ["he_normal"], epochs=1, jobs=1, out=out)
    assert (same.ran, same.skipped, same.earlier) == (0, 1, 2)
    said = same.to_dict()  # its seconds trained nothing: the JSON says the runs were reused
    assert (said["trained"], said["reused"]) == (0, 3)
    assert (again.to_dict()["trained"], again.to_dict()["reused"]) == (2, 1)
    tiny.write_text(tiny.read_text().replace("conv 4", "conv 6"))
    with pytest.raises(RunError, match="the spec has changed since"):
        compare(str(tiny), ["he_normal"], epochs=1, jobs=1, out=out)


def test_a_variants_run_kept_with_keep_weights_opens_for_filters_and_eval(tiny, tmp_path,
                                                                          capsys):
    """A compare's runs kept no weights and the hint said to run "the same sweep" again with
    --keep-weights, an option compare did not take: the filters of the zeros variant could
    not be drawn. Now compare takes it, and the hint names compare."""
    from cnnspec.cli import main
    from cnnspec.training.run import load_run

    out = tmp_path / "cmp"
    first = compare(str(tiny), ["zeros"], epochs=1, jobs=1, out=out)
    run = Path(first.variants[0].runs[0].out)
    with pytest.raises(RunError, match="checkpoint.npz is missing") as info:
        load_run(run)
    assert info.value.worded(OPTION_NAMES)[1] == (
        "a compare's run keeps its weights only with --keep-weights: run the same compare "
        "again with --keep-weights, and it trains the runs again to keep them")
    with pytest.raises(RunError, match="spec.json is missing") as info:
        load_run(out)
    assert info.value.worded(OPTION_NAMES)[1].startswith(
        "it is a compare's folder, whose runs kept no weights (only --keep-weights keeps them)")
    assert main(["compare", str(tiny), "--init", "zeros", "--epochs", "1", "--jobs", "1",
                 "--out", str(out), "--keep-weights"]) == 0
    assert load_run(run).summary["test_acc"] == first.variants[0].runs[0].test_acc
    capsys.readouterr()
    assert main(["filters", str(run), "-o", str(tmp_path / "zeros.png")]) == 0
    assert (tmp_path / "zeros.png").is_file()
    # its initial weights are kept too: the filters at init beside the learned ones
    assert main(["filters", str(run), "--compare-init", "-o", str(tmp_path / "both.png")]) == 0
    assert (tmp_path / "both.png").is_file()


def test_a_float64_comparison_trains_every_run_as_train_dtype_float64_does(tiny, tmp_path,
                                                                            capsys):
    """compare trained in float32 only; --dtype float64 trains every run in it, as train's
    does (its data loaded in float64, the same figures), and says so. A rerun into its folder
    trains nothing; a float32 comparison there trains its own runs beside them."""
    from cnnspec.cli import main

    out = tmp_path / "cmp"
    assert main(["compare", str(tiny), "--init", "he_normal", "--epochs", "1", "--jobs", "1",
                 "--dtype", "float64", "--out", str(out), "--format", "json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["dtype"] == "float64"
    run = out / said["variants"][0]["runs"][0]["out"]
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["dtype"], summary["data_dtype"]) == ("float64", "float64")
    assert main(["train", str(run / "spec.json"), "--dtype", "float64", "--out",
                 str(tmp_path / "t"), "--quiet"]) == 0
    def timeless(folder):
        return [{k: v for k, v in json.loads(line).items() if k not in ("seconds", "images_per_s")}
                for line in (folder / "metrics.jsonl").open()]

    assert timeless(run) == timeless(tmp_path / "t")
    trained = []
    again = compare(str(tiny), ["he_normal"], epochs=1, jobs=1, out=out, dtype="float64",
                    on_done=trained.append)
    assert trained == [] and (again.ran, again.skipped) == (0, 1)
    # the command line says so, as a sweep run again does
    assert main(["compare", str(tiny), "--init", "he_normal", "--epochs", "1", "--jobs", "1",
                 "--dtype", "float64", "--out", str(out)]) == 0
    assert f"1 run was recorded in {out} already; trained 0\n" in capsys.readouterr().err
    compare(str(tiny), ["he_normal"], epochs=1, jobs=1, out=out, on_done=trained.append)
    assert len(trained) == 1 and Path(trained[0].out) != run
    # the folder's runs differ in their dtype: a column of the table says it
    assert main(["compare", str(tiny), "--init", "he_normal", "--epochs", "1", "--jobs", "1",
                 "--dtype", "float64", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split("  ")[0] for line in lines[1:3]) == [
        "he_normal, dtype=float32", "he_normal, dtype=float64"]
    notes = f"{TEST_WEIGHTS_NOTE}; epochs to 90%: {REACH_NOTE}"
    assert lines[-1] == f"(1 seed per variant; {notes}; runs in {out})"
    # alone, the table says it under the runs' folder; a float32 one says nothing of it
    alone = tmp_path / "alone"
    assert main(["compare", str(tiny), "--init", "he_normal", "--epochs", "1", "--jobs", "1",
                 "--dtype", "float64", "--out", str(alone)]) == 0
    assert capsys.readouterr().out.endswith(f"(1 seed per variant; {notes}; "
                                            f"trained in float64; runs in {alone})\n")
    assert main(["compare", str(tiny), "--init", "he_normal", "--epochs", "1", "--jobs", "1",
                 "--out", str(out)]) == 0
    assert capsys.readouterr().out.endswith(
        f"(1 seed per variant; {notes}; runs in {out})\n")


def test_a_dtype_no_model_computes_in_is_refused_by_name(tiny, tmp_path):
    from cnnspec.errors import SettingError

    with pytest.raises(SettingError) as info:
        compare(str(tiny), ["he_normal"], dtype="half", out=tmp_path / "cmp")
    assert info.value.message == "dtype must be one of float32, float64, not 'half'"
    assert info.value.worded(OPTION_NAMES) == (
        "--dtype must be one of float32, float64, not 'half'", "e.g. --dtype float64")
    assert info.value.invalid and not (tmp_path / "cmp").exists()


def test_an_occupied_out_folder_is_refused_before_training(tiny, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "curves.png").write_bytes(b"a training run's own picture")
    with pytest.raises(RunError, match="already exists and is not empty") as info:
        compare(str(tiny), ["he_normal"], epochs=1, jobs=1, out=run)
    # named as compare's parameter; the command line words it --out
    assert info.value.hint == "give another folder as out, or delete the folder first"
    assert info.value.worded(OPTION_NAMES)[1].startswith("give another folder as --out,")
    assert (run / "curves.png").read_bytes() == b"a training run's own picture"
    assert sorted(p.name for p in run.iterdir()) == ["curves.png"]


def test_a_comparison_and_a_sweep_do_not_share_a_folder(tiny, tmp_path):
    """A comparison's results and pictures are not a sweep's: each refuses the other's
    folder, before it trains or writes anything there."""
    from cnnspec.sweep.executor import LocalExecutor
    from cnnspec.sweep.runner import sweep

    def in_process(n):
        return LocalExecutor(1)

    out = tmp_path / "cmp"
    compare(str(tiny), ["he_normal"], epochs=1, jobs=1, out=out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(RunError) as info:
        sweep(str(tiny), ["lr=0.1"], out=out, executor=in_process)
    assert info.value.message == f"{out} holds a comparison of {tiny.name}, not a sweep"
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    swept = tmp_path / "swept"
    sweep(str(tiny), [], out=swept, executor=in_process)
    with pytest.raises(RunError) as info:
        compare(str(tiny), ["he_normal"], epochs=1, jobs=1, out=swept)
    assert info.value.message == f"{swept} holds a sweep of {tiny.name}, not a comparison"
    assert "give this compare another folder as out," in info.value.hint


def test_a_repeated_variant_is_a_user_mistake_named_as_the_caller_gave_it(tiny, tmp_path,
                                                                         capsys):
    """Named as the caller gave it (not at the spec file, which holds no mistake): the library
    was told "--init he_normal is given more than once" and to "use --seeds K"."""
    from cnnspec.cli import main
    from cnnspec.errors import SettingError

    with pytest.raises(SettingError) as info:
        compare(str(tiny), ["he_normal", "he_normal"], out=tmp_path / "cmp")
    assert (info.value.message, info.value.hint) == (
        "inits=['he_normal'] is given more than once",
        "name each init variant once; use seeds=K for repeated runs")
    assert info.value.invalid and not (tmp_path / "cmp").exists()
    assert main(["compare", str(tiny), "--init", "he_normal", "--init", "he_normal"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "cnnspec: error: --init he_normal is given more than once",
        "hint: name each init variant once; use --seeds K for repeated runs"]


def test_the_spec_as_written_twice_is_a_repeated_variant(tiny, tmp_path):
    """None (the spec as written, the library's alone) given twice raised a TypeError: its
    None was quoted as a text."""
    from cnnspec.errors import SettingError

    with pytest.raises(SettingError) as info:
        compare(str(tiny), [None, "zeros", None], out=tmp_path / "cmp")
    assert info.value.message == "inits gives None, the spec as written, more than once"
    assert info.value.invalid and not (tmp_path / "cmp").exists()


def test_a_spec_that_does_not_fit_its_data_is_told_to_give_compare_other_data(
        tiny, tmp_path, capsys):
    """compare takes train's --data (the library's data=): the hint offers it, as train's."""
    from cnnspec.cli import main
    from cnnspec.errors import SpecErrors

    tiny.write_text(tiny.read_text().replace("data digits", "data mnist"))
    said = ("write `input 1x28x28`, or train on data of shape 1x8x8: `data digits` in the train "
            "block, or train with {}")
    with pytest.raises(SpecErrors) as info:
        compare(str(tiny), ["he_normal", "glorot_normal"], out=tmp_path / "cmp")
    assert info.value.errors[0].hint == said.format("data='digits'")
    assert main(["compare", str(tiny), "--init", "he_normal", "--init", "glorot_normal",
                 "--out", str(tmp_path / "cmp")]) == 2
    assert capsys.readouterr().err.endswith(f"hint: {said.format('--data digits')}\n")


def test_compare_trains_every_variant_on_the_data_given_as_train_takes_it(
        tiny, tmp_path, capsys):
    """An imported spec names mnist, which cannot load offline: --data (train's option, one
    definition) gives every variant other data; a bad one is refused as train refuses it."""
    from cnnspec.cli import main

    tiny.write_text(tiny.read_text().replace("data digits", "data mnist"))
    out = tmp_path / "cmp"
    assert main(["compare", str(tiny), "--init", "he_normal", "--init", "zeros", "--data",
                 "digits", "--jobs", "1", "--out", str(out), "--format", "json"]) == 0
    runs = [json.loads(path.read_text()) for path in sorted(out.rglob("spec.json"))]
    assert [run["training"]["data"] for run in runs] == [{"name": "digits"}] * 2
    capsys.readouterr()
    assert main(["compare", str(tiny), "--init", "he_normal", "--data", "digitz",
                 "--out", str(tmp_path / "bad")]) == 2
    refused = capsys.readouterr().err
    assert main(["train", str(tiny), "--data", "digitz", "--out", str(tmp_path / "run")]) == 2
    assert refused == capsys.readouterr().err  # train's words, the dataset's closest name
    assert "unknown dataset 'digitz'\nhint: did you mean 'digits'?" in refused
    assert not (tmp_path / "bad").exists()


def test_two_variants_train_and_give_a_table_and_a_plot(tiny, tmp_path):
    result = compare(str(tiny), ["he_normal", "zeros"], epochs=2, seeds=1, jobs=1,
                     out=tmp_path / "cmp", target=0.5)
    he, zeros = result.variants
    assert (he.label, zeros.label) == ("he_normal", "zeros")
    for row in (he, zeros):
        assert len(row.runs[0].metrics) == 2
        assert 0.0 <= row.test_acc_mean <= 1.0 and row.test_acc_std is None
    # The tiny digits net learns under He init; all-zero weights get zero gradients (only the
    # output bias learns the class frequencies), so it stays at chance.
    assert he.val_acc_mean > 0.5 and he.reached == 1
    assert zeros.val_acc_mean < 0.3 and zeros.epochs_to_target is None
    table = format_table(result)
    assert "he_normal" in table and "zeros" in table and "epochs to 50%" in table
    assert "never (0/1)" in table
    # the bracket of the column is said under the table, with what the number is
    assert ("epochs to 50%: the first epoch whose validation accuracy reaches it, the mean "
            "over the runs that do, and in brackets how many of the variant's runs do (2/3: "
            "two of three); ") in table.splitlines()[-1]
    png = plot(result, tmp_path / "curves.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # without a file named, the library puts the curves beside the comparison's runs
    default = plot(result)
    assert default == Path(result.out) / "curves.png" and default.is_file()


def test_variants_see_the_same_data_in_the_same_order(tiny, tmp_path):
    """Variants differ in their init alone: the same init written two ways is the same IR,
    so the same cell (one training, one folder), and the cells of two inits differ in the
    weight inits of their IR and nothing else."""
    result = compare(str(tiny), ["he_normal", "he_normal(mode=fan_in, gain=relu)", "zeros"],
                     epochs=1, jobs=1, out=tmp_path / "cmp")
    a, b, zeros = (v.runs[0] for v in result.variants)
    assert a.out == b.out and a.metrics == b.metrics
    spec_a, spec_z = (json.loads((Path(r.out) / "spec.json").read_text()) for r in (a, zeros))
    for layer in spec_a["layers"] + spec_z["layers"]:
        layer.pop("weight_init", None)
    assert spec_a == spec_z


def test_parallel_jobs_give_the_sequential_results(tiny, tmp_path):
    inits = ["he_normal", "glorot_uniform"]
    serial = compare(str(tiny), inits, epochs=1, jobs=1, out=tmp_path / "one")
    parallel = compare(str(tiny), inits, epochs=1, jobs=2, out=tmp_path / "two")
    for s, p in zip(serial.variants, parallel.variants):
        assert s.test_acc_mean == p.test_acc_mean
        assert not math.isnan(s.val_acc_mean)


def test_a_wrong_init_fails_before_any_training(tiny, tmp_path):
    from cnnspec.errors import SpecError, SpecErrors

    with pytest.raises((SpecError, SpecErrors)):
        compare(str(tiny), ["he_normal", "he_nromal"], epochs=1, out=tmp_path / "cmp")
    assert not (tmp_path / "cmp").exists()


# A diverging run overflows on its way to NaN; NumPy says so, and that is expected here.
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_a_diverging_variant_is_reported_not_raised(tiny, tmp_path):
    result = compare(str(tiny), ["normal(0, 1)", "zeros"], epochs=1, jobs=1, lr=100.0,
                     out=tmp_path / "cmp")
    blown, calm = result.variants
    assert blown.diverged == 1 and "diverged" in blown.runs[0].error
    assert math.isnan(blown.test_acc_mean)
    assert calm.diverged == 0
    table = format_table(result)
    assert "yes (1/1)" in table
    assert "normal(0, 1) (1/1 diverged)" in result.curves()
    assert plot(result, tmp_path / "curves.png").exists()
    line, hint = describe_result(blown.runs[0]).split("\n")
    assert line.startswith("normal(0, 1), seed 0: training diverged in epoch 1")
    # the loss blows up while finite, or a layer overflows first (numbers of the machine's
    # convolution)
    assert ("the loss reached" in line or "layer" in line) and "diverged.npz" not in line
    # what to try, as a sweep's diverged cell says it (compare said nothing)
    assert hint.startswith("hint: ") and "lower the learning rate (it was 100; try lr=0.1" in hint
    assert blown.runs[0].worded_hint() == hint.removeprefix("hint: ")
    assert calm.runs[0].worded_hint() is None and "\n" not in describe_result(calm.runs[0])
    runs = [run for v in result.to_dict()["variants"] for run in v["runs"]]
    assert [run["hint"] for run in runs] == [blown.runs[0].worded_hint(), None]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_the_command_line_gives_a_diverged_runs_hint_with_its_options(tiny, tmp_path, capsys):
    from cnnspec.cli import main

    out = tmp_path / "cmp"
    command = ["compare", str(tiny), "--init", "normal(0, 1)", "--epochs", "1", "--lr", "100",
               "--jobs", "1", "--out", str(out), "--format", "json"]
    assert main(command) == 0
    captured = capsys.readouterr()
    hint = "lower the learning rate (it was 100; try --lr 0.1"
    assert re.search(r"\nhint: .*" + re.escape(hint), captured.err)
    (run,) = json.loads(captured.out)["variants"][0]["runs"]
    assert hint in run["hint"] and "{" not in run["hint"]
    # the fields a run had before the hint, as they were, and the epoch its test_acc is of
    assert list(run) == ["label", "seed", "metrics", "test_acc", "diverged", "error", "out",
                         "test_epoch", "hint"]
    # run again into the folder, the recorded run comes back with its hint ("hint": null)
    assert main(command) == 0
    assert json.loads(capsys.readouterr().out)["variants"][0]["runs"] == [run]


def test_a_variant_that_never_finished_an_epoch_stays_in_the_legend(tmp_path, monkeypatch):
    from cnnspec.lab import plots
    from cnnspec.render import figure

    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    finished = [{"epoch": 1, "val_acc": 0.5, "train_loss": 1.0}]
    plots.plot_learning_curves({"he_normal": [finished], "normal(std=3) (1/1 diverged)": [[]]},
                               tmp_path / "c.png")
    (legend,) = drawn[0].legends
    assert [text.get_text() for text in legend.get_texts()] == [
        "he_normal", "normal(std=3) (1/1 diverged): no epoch finished"]
    assert legend.legend_handles[1].get_marker() == "x"


def test_the_legend_of_the_curves_lies_under_the_panels_and_hides_no_line(tmp_path,
                                                                           monkeypatch):
    """Inside the accuracy panel the legend covered its middle, where a variant stuck between
    chance and the best runs (a sweep's he_normal at lr 0.1) draws its line; under the panels
    it hides nothing, and one legend serves both panels (they draw the same variants)."""
    from cnnspec.lab import plots
    from cnnspec.render import figure

    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    curves = {f"init=v{i}, lr=0.1": [[{"epoch": e, "val_acc": 0.1 * i + 0.02 * e,
                                       "train_loss": 2.0 / (e + i)} for e in range(1, 6)]]
              for i in range(6)}
    plots.plot_learning_curves(curves, tmp_path / "c.png", title="digits: sweep")
    plots.plot_curve_panels({"22 layers": curves, "30 layers": curves}, tmp_path / "p.png")
    for fig in drawn:
        assert all(ax.get_legend() is None for ax in fig.axes)
        (legend,) = fig.legends
        assert [t.get_text() for t in legend.get_texts()] == list(curves)
        renderer = fig.canvas.get_renderer()
        fig.draw(renderer)
        box = legend.get_window_extent(renderer)
        assert all(box.y1 <= ax.get_tightbbox(renderer).y0 for ax in fig.axes)


def test_the_title_says_what_the_lines_and_bands_are(tmp_path, monkeypatch):
    """The lines are means over the seeds and the shading spans them: a reader of the picture
    alone must be told, and a single seed has no band to explain."""
    from cnnspec.lab import plots
    from cnnspec.render import figure

    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    run = [{"epoch": 1, "val_acc": 0.5, "train_loss": 1.0}]
    plots.plot_learning_curves({"a": [run, run], "b": [run]}, tmp_path / "c.png", title="t")
    plots.plot_learning_curves({"a": [run]}, tmp_path / "d.png", title="t")
    two, one = (fig._suptitle.get_text() for fig in drawn)
    assert two == "t\nlines: the mean of 2 runs each (one per seed or fold); shaded: from the " \
                  "lowest run to the highest"
    assert one == "t"


def test_curves_are_drawn_when_no_variant_finished_an_epoch(tmp_path):
    """Every variant diverged in its first epoch (`compare --lr 1e38`): the loss axis has no
    point to put on a log scale, and the picture is still written, naming each variant."""
    from cnnspec.lab import plots

    out = plots.plot_learning_curves({"he_normal (1/1 diverged)": [[]]}, tmp_path / "c.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_dots_of_identical_curves_stay_apart_and_the_legend_names_their_epochs(
        tmp_path, monkeypatch):
    """Two variants of the same curves (zeros and constant(0)) drew one dot over the other, of
    one size and shape: the first's was lost. Each variant's dot has its marker's shape, each
    later one is smaller (the earlier shows as a ring around it), and the legend says each
    variant's best epochs."""
    from cnnspec.lab import plots
    from cnnspec.render import figure

    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    falls = [{"epoch": e, "val_acc": a, "train_loss": 1.0 / e}
             for e, a in enumerate([0.5, 0.9, 0.6], start=1)]
    plots.plot_learning_curves({"zeros": [falls], "constant(0)": [falls, falls]},
                               tmp_path / "c.png",
                               marked=("dots: x", "best epoch", {"zeros": [2],
                                                                 "constant(0)": [2, 3]}))
    (fig,) = drawn
    accuracy_dots = [line for line in fig.axes[0].get_lines()
                     if line.get_linestyle() == "None" and line.get_markeredgecolor() == "black"]
    first, second = accuracy_dots
    assert first.get_marker() != second.get_marker()
    assert first.get_markersize() > second.get_markersize()
    assert first.get_color() != second.get_color()
    assert [text.get_text() for text in fig.legends[0].get_texts()] == [
        "zeros (best epoch 2)", "constant(0) (same curves as zeros; best epochs 2, 3)"]


def _dots(fig) -> list[tuple[list, list]]:
    """The dots of ``fig``'s panels (lines of markers alone, edged in black): their epochs and
    values, panel by panel."""
    return [(list(line.get_xdata()), list(line.get_ydata())) for ax in fig.axes
            for line in ax.get_lines()
            if line.get_linestyle() == "None" and line.get_markeredgecolor() == "black"]


def test_the_curves_mark_the_epoch_the_table_reports(tiny, tmp_path, monkeypatch):
    """The table reports each run's best epoch while the curves run on to the last: a row
    ranked last could look best in the picture. A dot on each variant's lines marks the
    epoch its row is of, the title says what the dots are, the table's header which epoch
    it shows."""
    from cnnspec.lab import plots
    from cnnspec.render import figure
    from cnnspec.sweep.results import REPORTED_DOTS

    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    falls = [{"epoch": e, "val_acc": a, "train_loss": 1.0 / e}
             for e, a in enumerate([0.5, 0.9, 0.6], start=1)]
    plots.plot_learning_curves({"a": [falls], "b": [falls]}, tmp_path / "c.png",
                               marked=("dots: x", "best epoch", {"a": [2], "b": []}))
    plots.plot_learning_curves({"a": [falls]}, tmp_path / "d.png")
    marked, unmarked = drawn
    assert _dots(marked) == [([2], [0.9]), ([2], [0.5])]  # accuracy, then loss panel
    assert marked._suptitle.get_text() == "dots: x"
    assert _dots(unmarked) == [] and unmarked._suptitle is None
    result = compare(str(tiny), ["he_normal", "zeros"], epochs=2, jobs=1, out=tmp_path / "cmp")
    assert result.reported() == {v.label: [v.runs[0].test_epoch] for v in result.variants}
    plot(result, tmp_path / "curves.png")
    assert REPORTED_DOTS in drawn[-1]._suptitle.get_text()
    assert len(_dots(drawn[-1])) == 4  # two variants, two panels
    header = format_table(result).splitlines()[0]
    assert "val acc % (best epoch)" in header and "test acc % (best epoch)" in header


@pytest.mark.parametrize("epochs", [1, 2, 7])
def test_the_epoch_axis_shows_whole_epochs_only(epochs):
    from cnnspec.lab.plots import _epoch_axes
    from cnnspec.render import figure

    fig = figure.new_figure(4.0, 3.0)
    ax = fig.subplots(1, 1)
    ax.plot(range(1, epochs + 1), [0.5] * epochs, marker="o")
    _epoch_axes(ax, "val_acc", "accuracy")
    low, high = ax.get_xlim()
    shown = [t for t in ax.get_xticks() if low <= t <= high]
    assert shown and all(float(t).is_integer() for t in shown)
    assert low <= 1 and high >= epochs


def test_trainings_at_once_share_the_machines_memory(tiny, tmp_path, monkeypatch):
    """check holds each training alone against the whole machine; two at once need twice
    its figure: with room for one only, compare trains one at a time by default and
    refuses --jobs 2 before it makes its folder."""
    import os

    import cnnspec
    from cnnspec.check import memory
    from cnnspec.errors import SpecError
    from cnnspec.sweep.compare import default_jobs

    process = cnnspec.load(tiny).step_memory.process
    monkeypatch.setattr(memory, "machine_memory", lambda: process * 3 // 2)
    with pytest.raises(SpecError, match="2 trainings at once would need") as info:
        compare(str(tiny), ["he_normal", "zeros"], epochs=1, jobs=2, out=tmp_path / "cmp")
    assert info.value.hint.startswith("use jobs=1: ") and not (tmp_path / "cmp").exists()
    assert info.value.worded_hint(OPTION_NAMES).startswith("use --jobs 1: ")
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert default_jobs(2, process) == 1
    monkeypatch.setattr(memory, "machine_memory", lambda: process * 2)  # room for two
    assert default_jobs(2, process) == 2
    # ... of float32 trainings: float64 ones take more, each counted in its dtype
    with pytest.raises(SpecError, match="2 trainings at once would need"):
        compare(str(tiny), ["he_normal", "zeros"], epochs=1, jobs=2, out=tmp_path / "cmp",
                dtype="float64")
    assert not (tmp_path / "cmp").exists()


@pytest.mark.parametrize("sent", ["SIGINT", "SIGTERM"])
def test_ctrl_c_stops_parallel_trainings_says_where_their_runs_are_and_a_rerun_ends_them(
        sent, tiny_shapes_spec, tmp_path):
    """A real Ctrl-C (SIGINT to the whole process group, as a terminal sends it), or SIGTERM
    as `kill` or a scheduler sends it, while two trainings run in pool processes, each with a
    worker process for its batch's second part (the spec's batch of 16 splits): the command
    ends at once, leaves no process behind, and the same command again trains the rest."""
    import os
    import signal
    import subprocess
    import sys

    from cnnspec.cli import main

    out = tmp_path / "cmp"
    arguments = ["compare", str(tiny_shapes_spec), "--init", "he_normal", "--init",
                 "glorot_uniform", "--init", "normal(std=0.1)", "--seeds", "2", "--epochs",
                 "40", "--jobs", "2", "--out", str(out)]
    process = subprocess.Popen([sys.executable, "-m", "cnnspec", *arguments],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        for line in process.stderr:
            if ": val acc" in line:  # one run is in, others are training
                os.killpg(process.pid, getattr(signal, sent))
                break
        err = process.stderr.read()
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert "Traceback" not in err
    # On a loaded machine the signal may land after the last run: then the comparison is
    # whole, and it is written and said so (exit 0) rather than stopped.
    if code == 0:
        assert err.endswith("cnnspec: stopped after every run of the comparison had trained: "
                            f"its results are written in {out}\n"), err
    else:
        assert code == 130, err
        assert re.search(rf"\d+ of its 6 runs (is|are) recorded in {re.escape(str(out))}, \d+ "
                         r"(is|are) left to train: init=.*\nhint: run the same command again",
                         err)
    assert _ended_within(10, process.pid)  # no worker of any kind is left
    assert main(arguments) == 0
    assert len([p for p in out.iterdir() if p.is_dir()]) == 6  # and no half-written one


def _ended_within(seconds: float, group: int) -> bool:
    """Whether every process of process group ``group`` ends within ``seconds`` (a helper of
    multiprocessing's sees its pipe close only once the command has ended)."""
    import time

    deadline = time.monotonic() + seconds
    while _running_in_group(group):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _running_in_group(group: int) -> list[int]:
    """The processes of process group ``group`` that are running (not zombies waiting for
    their reparented parent to collect them), from /proc."""
    running = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            running.append(int(stat.parent.name))
    return running



def test_a_compare_folder_another_compare_is_filling_is_refused_before_it_changes_it(
        tiny, tmp_path):
    """As a sweep's: two comparisons into one --out at once would each train every variant
    neither had recorded (here the first is this block, holding the folder as a running
    comparison does); the second is refused without writing its sweep.json over the first's,
    and the folder is free again when the first ends."""
    from cnnspec.training import rundir

    out = tmp_path / "cmp"
    out.mkdir()
    with rundir.held_alone(out, "held", hint=""), pytest.raises(RunError) as refused:
        compare(str(tiny), [None], epochs=1, jobs=1, out=out)
    assert (refused.value.message, refused.value.hint) == (
        f"compare folder {out} is being filled by another compare",
        ("wait for it to end: the same compare run again then trains only the cells it has "
         "not recorded"))
    assert list(out.iterdir()) == []
    assert compare(str(tiny), [None], epochs=1, jobs=1, out=out).variants[0].runs


def test_the_hint_of_runs_that_could_not_train_names_data_as_compare_takes_it(
        tmp_path, capsys):
    """A run's failure on its worker kept its hint in the library's words: compare was told
    to "train with data='digits'", not its --data."""
    import numpy as np

    from cnnspec.cli import main

    np.savez(tmp_path / "wide.npz", x=np.zeros((20, 1, 9, 9), np.float32),
             y=np.arange(20) % 10)
    spec = tmp_path / "wide.cnn"
    spec.write_text(f'input 1x8x8\nflatten\nfc1: dense 10\n'
                    f'train {{\n  data npz(path="{tmp_path / "wide.npz"}")\n  epochs 1\n}}\n')
    args = [str(spec), "--init", "he_normal", "--jobs", "1", "--out", str(tmp_path / "c")]
    assert main(["compare", *args]) == 2
    err = capsys.readouterr().err
    assert err.endswith("hint: write `input 1x9x9`, or train on data of shape 1x8x8: "
                        "`data digits` in the train block, or train with --data digits\n")


class _StoppedAt:
    """A local executor in this process that a Ctrl-C stops: as it hands over the run
    ``at`` (counted from 0), or as it closes, once every run has trained (``at`` None)."""

    def __init__(self, at):
        from cnnspec.sweep.executor import LocalExecutor

        self.executor, self.at = LocalExecutor(1), at

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.at is None and exc == (None, None, None):
            raise KeyboardInterrupt

    def results(self, fn, tasks):
        for i, pair in enumerate(self.executor.results(fn, tasks)):
            if i == self.at:
                raise KeyboardInterrupt
            yield pair


def test_ctrl_c_after_the_last_run_writes_the_comparison(tiny, tmp_path, capsys, monkeypatch):
    """As a sweep's: said to be stopped, "run the same command again to train the rest",
    with no run left and no table or curves written; now they are, and a comparison stopped
    with runs left names them. The checks' warnings are said once."""
    from cnnspec.cli import main
    from cnnspec.sweep import compare as comparing

    out = tmp_path / "cmp"
    arguments = ["compare", str(tiny), "--init", "he_normal", "--init", "zeros", "--epochs",
                 "1", "--out", str(out)]
    monkeypatch.setattr(comparing, "LocalExecutor", lambda jobs: _StoppedAt(1))
    assert main(arguments) == 130
    assert capsys.readouterr().err.splitlines()[-2:] == [
        (f"cnnspec: comparison stopped; 1 of its 2 runs is recorded in {out}, 1 is left to "
        "train: init=zeros, seed 0"),
        "hint: run the same command again to train the rest"]
    monkeypatch.setattr(comparing, "LocalExecutor", lambda jobs: _StoppedAt(None))
    assert main(arguments) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1] == (
        f"cnnspec: stopped after every run of the comparison had trained: its results are "
        f"written in {out}")
    # its warnings said once, and its run trained and reported once
    assert captured.err.count('with --init "zeros": all 4 filters') == 1
    assert captured.err.count("zeros, seed 0:") == 1
    assert "recorded in" not in captured.err
    assert [line.split()[0] for line in captured.out.splitlines()[1:3]] == ["he_normal",
                                                                           "zeros"]
    assert (out / "curves.png").is_file()
