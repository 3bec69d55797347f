"""A few hundred mutated specs and IR files through ``check``, ``summary`` and ``export``: every
one ends in an exit code (0, 1 or 2), never a traceback or a hang. The same mutations as
``tools/fuzz.py`` (which runs 10,000+ of them), seeded, so a failure here replays exactly."""
from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "tools" / "fuzz.py"
SPEC_MUTANTS = 160
IR_MUTANTS = 90


@pytest.fixture(scope="module")
def fuzz():
    """tools/fuzz.py as a module (a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("cnnspec_fuzz_tool", FUZZ)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def assert_clean(tally, count: int, fuzz) -> None:
    assert tally.tracebacks == [], tally.tracebacks[0]
    assert tally.outcomes["abandoned"] == 0, tally.hangs
    assert sum(tally.outcomes.values()) == count * len(fuzz.COMMANDS)
    assert set(tally.outcomes) <= {"exit 0", "exit 1", "exit 2"}, tally.outcomes


def test_the_sources_include_every_example_and_doc_spec(fuzz):
    texts = fuzz.example_specs()
    assert len(texts) > len(list((FUZZ.parent.parent / "specs").glob("*.cnn")))
    assert len(fuzz.example_irs(texts)) >= 13


def test_mutated_specs_end_in_an_exit_code(fuzz, tmp_path):
    rng = random.Random("test_fuzz:specs")
    texts = fuzz.example_specs()
    tally = fuzz.Tally()
    for _ in range(SPEC_MUTANTS):
        fuzz.run_case(tmp_path / "fuzz.cnn", fuzz.mutate_spec(rng.choice(texts), texts, rng),
                      tally)
    assert_clean(tally, SPEC_MUTANTS, fuzz)
    assert tally.outcomes["exit 0"] and tally.outcomes["exit 2"]  # mutants that pass and fail


def test_mutated_ir_files_end_in_an_exit_code(fuzz, tmp_path):
    rng = random.Random("test_fuzz:irs")
    irs = fuzz.example_irs(fuzz.example_specs())
    tally = fuzz.Tally()
    for _ in range(IR_MUTANTS):
        fuzz.run_case(tmp_path / "fuzz.json", fuzz.mutate_ir(rng.choice(irs), rng), tally)
    assert_clean(tally, IR_MUTANTS, fuzz)
    assert tally.outcomes["exit 2"]


def test_a_traceback_is_counted(fuzz, tmp_path, monkeypatch):
    """The harness would see a bug: an exception out of a command is a traceback."""
    from cnnspec.cli import check

    def broken(args):
        raise ZeroDivisionError

    monkeypatch.setattr(check, "run", broken)
    tally = fuzz.Tally()
    fuzz.run_case(tmp_path / "x.cnn", "input 1x8x8\n", tally, commands=(["check"],))
    assert tally.outcomes == {"traceback": 1} and "ZeroDivisionError" in tally.tracebacks[0]
