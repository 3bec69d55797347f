"""What `cnnspec check` imports and does: only what checking needs, so that check-on-save
starts fast. (The times themselves are measured by tools/bench.py, never asserted here.)"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

SPECS = Path(__file__).resolve().parent.parent / "specs"

# Imported only by the commands that need them: the engine's arrays and its modules (the
# registry imports the engine's package, a docstring, to find them when a layer is built),
# the IR's schema validation, drawing, the data sets. Lark is needed by none: specs are read by
# the parser generated from the grammar (cnnspec/lang/grammar.py), whose logger and pickle are
# made only when something logs or saves a parser. Nor the standard library's modules for what
# a check does not do: hashing and naming a machine (hashlib, platform: the engine's
# calibration file), JSON (a JSON IR, a calibration file when there is one), suggesting a name
# (difflib: a misspelt one), quoting a word for a shell or reading a message's template
# (shlex, string: each compiles a pattern as it loads). Nor the other libraries' names a spec
# written in their words is answered with (cnnspec.lang.foreign).
NOT_FOR_CHECK = ("numpy", "jsonschema", "matplotlib", "torch", "cnnspec.data", "cnnspec.render",
                 "lark", "logging", "pickle", "hashlib", "platform", "json", "difflib",
                 "shlex", "string", "cnnspec.lang.foreign")

# Engine modules of plain numbers (no NumPy) that check reads: when a batch is split in threads,
# what each layer allocates, and how a conv chunks a batch.
ENGINE_FACTS = ("cnnspec.engine.splitting", "cnnspec.engine.footprint", "cnnspec.engine.chunking")

PROBE = """
import sys
from cnnspec.cli import main
code = main(["check", *sys.argv[1:]])
print("CODE", code)
print("LOADED", " ".join(sorted(sys.modules)))
"""


def _check_modules(tmp_path, *specs) -> set[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", PROBE, *map(str, specs)], env=env,
                            capture_output=True, text=True, check=True, timeout=120)
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines()
                 if line.startswith(("CODE", "LOADED")))
    assert lines["CODE"] == "0", result.stdout + result.stderr
    return set(lines["LOADED"].split())


def test_check_imports_nothing_it_does_not_need(tmp_path):
    spec = tmp_path / "adam.cnn"
    spec.write_text("input 1x28x28\nconv 8 3x3 relu\nmaxpool 2\nflatten\ndense 10\n"
                    "train {\n  data mnist\n  optimizer adam(amsgrad=true)\n"
                    "  weight_decay 1e-4\n  clip_norm 1\n}\n")
    loaded = _check_modules(tmp_path, SPECS / "lenet5.cnn", SPECS / "resnet_near_identity.cnn",
                            spec)
    heavy = sorted(name for name in loaded
                   if name.startswith("cnnspec.engine.") and name not in ENGINE_FACTS
                   or any(name == m or name.startswith(m + ".") for m in NOT_FOR_CHECK))
    assert heavy == []


HELP_PROBE = """
import sys
from cnnspec.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    print("CODE", exit.code)
print("LOADED", " ".join(sorted(sys.modules)))
"""

# What `cnnspec --help` (and `cnnspec CMD --help`) lists comes from the commands' modules: none
# of the stages that check, parse or run a spec, and no module that check leaves out but the
# data sets' names (cnnspec.data.names, which the help of --data lists).
NOT_FOR_HELP = (*(name for name in NOT_FOR_CHECK if name != "cnnspec.data"),
                "cnnspec.data.load", "cnnspec.data.dataset", "cnnspec.lang", "cnnspec.check",
                "cnnspec.kinds", "cnnspec.engine", "cnnspec.compiler", "cnnspec.lab.lsuv",
                "cnnspec.exporters", "cnnspec.importers", "cnnspec.sweep")


@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"], ["train", "--help"]])
def test_help_imports_nothing_it_does_not_need(tmp_path, argv):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", HELP_PROBE, *argv], env=env,
                            capture_output=True, text=True, check=True, timeout=120)
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines()
                 if line.startswith(("CODE", "LOADED")))
    assert lines["CODE"] == "0", result.stdout + result.stderr
    loaded = set(lines["LOADED"].split())
    heavy = sorted(name for name in loaded
                   if any(name == m or name.startswith(m + ".") for m in NOT_FOR_HELP))
    assert heavy == []


def _subcommand_help(parser, name: str) -> str:
    (group,) = [action for action in parser._actions if action.dest == "command"]
    return group.choices[name].format_help()


def test_a_command_parses_with_its_own_options_alone():
    """`cnnspec check ...` builds the parser of check only: the same options and help as in
    the parser of every command, and no other command's module imported."""
    from cnnspec.cli import COMMANDS, build_parser

    everything = build_parser()
    for name in COMMANDS:
        alone = build_parser(name)
        (group,) = [action for action in alone._actions if action.dest == "command"]
        assert list(group.choices) == [name]
        assert _subcommand_help(alone, name) == _subcommand_help(everything, name)


def test_check_imports_no_other_commands_module(tmp_path):
    loaded = _check_modules(tmp_path, SPECS / "lenet5.cnn")
    assert sorted(name for name in loaded if name.startswith("cnnspec.cli.")) == [
        "cnnspec.cli.arguments", "cnnspec.cli.check"]


@pytest.mark.parametrize("enabled", [True, False])
def test_check_leaves_the_cycle_collector_as_it_found_it(enabled, capsys):
    """A check runs with the collector off (its start-up objects stay alive anyway), and
    gives it back as it was, also after an invalid spec."""
    import gc

    from cnnspec.cli import collector_paused, main

    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        assert main(["check", str(SPECS / "lenet5.cnn"), str(SPECS / "missing.cnn")]) == 2
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_the_deep_spec_bench_times_is_one_check_passes(tmp_path, monkeypatch, capsys):
    """tools/bench.py times `cnnspec check` of a 202-layer spec: one that passes (a spec naming
    an npz file that is not there failed, and the bench with it)."""
    from cnnspec.cli import main

    monkeypatch.syspath_prepend(str(SPECS.parent / "tools"))
    import bench

    spec = tmp_path / "deep.cnn"
    spec.write_text(bench.deep_spec_text())
    assert main(["check", str(spec)]) == 0
    assert "ok (202 layers" in capsys.readouterr().out


FREEZE_PROBE = """
import atexit, gc, runpy, sys
atexit.register(lambda: print("FROZEN", gc.get_freeze_count()))
sys.argv = ["cnnspec", "check", sys.argv[1]]
runpy.run_module("cnnspec", run_name="__main__")
"""


def test_a_finished_command_leaves_its_objects_out_of_the_last_collection(tmp_path):
    """Python's cycle collection at exit walks every object the command made; `cnnspec`
    freezes them once the command is over (cnnspec/__main__.py), exit handlers still run."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", FREEZE_PROBE, str(SPECS / "lenet5.cnn")],
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "ok (12 layers" in result.stdout
    frozen = int(result.stdout.split("FROZEN ")[1].split()[0])
    assert frozen > 10_000  # the modules, classes and tables a check loads


ENTRY_PROBE = """
import gc, sys
starts = []
gc.callbacks.append(lambda phase, info: phase == "start" and starts.append(info["generation"]))
from cnnspec.__main__ import run  # the package, imported before the entry point runs
del starts[:]
sys.argv = ["cnnspec", *sys.argv[1:]]
try:
    run()
except SystemExit:
    pass
print("ENTRY", gc.isenabled(), gc.get_freeze_count(), len(starts))
"""


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_the_entry_point_loads_the_command_line_without_a_collection(tmp_path, argv):
    """`cnnspec` imports the command line's modules and builds its parser with the cycle
    collector paused (cnnspec/collector.py), whose objects then count as old: no collection
    walks them, not even the one their allocation would have set off once the collector was
    back on; after argparse's exit (--help, --version) they are frozen, out of the final
    collection's sight, as after a command."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", ENTRY_PROBE, *argv], env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    enabled, frozen, collections = result.stdout.split("ENTRY ")[1].split()
    assert enabled == "True"
    assert int(frozen) > 10_000  # the modules, classes and functions of the command line
    assert collections == "0"


def test_a_paused_collector_leaves_what_was_allocated_as_old():
    """What the block allocated is no young garbage candidate once the collector is back on:
    the young generation's count starts again, the objects are in the oldest generation."""
    import gc

    from cnnspec.collector import collector_paused

    was = gc.isenabled()
    gc.enable()
    try:
        with collector_paused():
            made = [[index] for index in range(5_000)]
        assert gc.isenabled()
        assert gc.get_count()[0] < gc.get_threshold()[0]
        assert any(item is made for item in gc.get_objects(generation=2))
    finally:
        (gc.enable if was else gc.disable)()


def test_a_paused_collector_leaves_what_another_froze_frozen():
    """Objects frozen before the pause (``gc.freeze``, as a server does before it forks) stay
    frozen: handing the block's objects back as old would hand those back too."""
    import gc

    from cnnspec.collector import collector_paused

    was = gc.isenabled()
    gc.enable()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused():
            [[index] for index in range(100)]
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
        (gc.enable if was else gc.disable)()


RULE_PROBE = """
import sys
from cnnspec.cli import main
from cnnspec.init.gains import _normal_rule
code = main(["check", *sys.argv[1:]])
print("RULE", code, _normal_rule.cache_info().currsize)
"""


@pytest.mark.parametrize(("lines", "made"), [
    ("default weight glorot_uniform\n", 0),  # gain 1, chosen for no activation
    ("default weight he_normal(gain=linear)\n", 0),  # tanh's critical gain, said without it
    ("", 1),  # the default he_normal: relu's gain before tanh, against tanh's own
])
def test_check_integrates_a_gain_only_where_one_is_compared(tmp_path, lines, made):
    """The Gauss-Hermite rule (cnnspec/init/gains.py, 151 points in pure Python) is worked out
    only where a check compares a chosen gain with the one an activation keeps its second
    moment by: not for LeNet-5's glorot_uniform, nor a gain tanh's critical one fits."""
    spec = tmp_path / "tanh.cnn"
    spec.write_text(f"input 1x8x8\n{lines}conv 4 3x3 tanh\nconv 4 3x3 tanh\nflatten\n"
                    "dense 10\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", RULE_PROBE, str(spec)], env=env,
                            capture_output=True, text=True, check=True, timeout=120)
    assert f"RULE 0 {made}" in result.stdout, result.stdout + result.stderr
