"""Run folders are created for one writer only: processes or threads asking for the same
folder at the same moment never share it (an explicit --out goes to exactly one of them; an
automatic name gets a -N suffix for the others)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from cnnspec.errors import RunError, SettingError
from cnnspec.training import rundir

TRIALS = 25
RACERS = 4


def mark(run: rundir.RunDir) -> None:
    """What a racer writes into the folder it is building: its own name."""
    (run / "who").write_text(threading.current_thread().name)


def race(target, n: int = RACERS) -> list:
    """Run ``target()`` in ``n`` threads released at once; their results (or exceptions)."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def racer(i):
        barrier.wait()
        try:
            results[i] = target()
        except (RunError, OSError) as exc:
            results[i] = exc

    threads = [threading.Thread(target=racer, args=(i,), name=f"racer{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_one_explicit_out_goes_to_exactly_one_racer(tmp_path):
    for trial in range(TRIALS):
        out = tmp_path / f"out{trial}"
        if trial % 2:
            out.mkdir()  # an existing empty folder is taken too, by one only
        results = race(lambda out=out: rundir.create_run_dir("spec", out, tmp_path, mark))
        won = [r for r in results if isinstance(r, rundir.RunDir)]
        lost = [r for r in results if isinstance(r, SettingError)]
        assert len(won) == 1 and len(lost) == RACERS - 1, results
        assert all("already exists and is not empty" in str(r) for r in lost)
        assert sorted(p.name for p in out.iterdir()) == ["who"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_automatic_names_taken_at_once_get_suffixes(tmp_path, monkeypatch):
    monkeypatch.setattr(rundir, "default_run_path",
                        lambda name, runs_dir: runs_dir / f"{name}-20260101-000000")
    for trial in range(TRIALS):
        runs = tmp_path / f"runs{trial}"
        results = race(lambda runs=runs: rundir.create_run_dir("spec", None, runs, mark))
        names = sorted(r.path.name for r in results)
        assert names == sorted(["spec-20260101-000000"] +
                               [f"spec-20260101-000000-{n}" for n in range(2, RACERS + 1)])
        whose = {(r.path / "who").read_text() for r in results}
        assert len(whose) == RACERS  # each folder holds its own racer's files only


def test_new_folder_gives_each_name_to_one_racer(tmp_path):
    for trial in range(TRIALS):
        base = tmp_path / f"compare{trial}"
        numbered = race(lambda base=base: rundir.new_folder(base))
        assert len({str(p) for p in numbered}) == RACERS


RACER = """
import json, os, sys, time
from pathlib import Path
from cnnspec.errors import RunError
from cnnspec.training.rundir import create_run_dir
root, start, trials = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
won = []
for i in range(trials):
    time.sleep(max(0.0, start + 0.05 * i - time.time()))
    def mark(run):
        (run / "who").write_text(str(os.getpid()))
    try:
        create_run_dir("spec", root / f"out{i}", root, mark)
        won.append(i)
    except RunError:
        pass
print(json.dumps(won))
"""


def test_two_processes_creating_the_same_out_never_share_it(tmp_path):
    start = time.time() + 1.5  # both have started Python by then
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(tmp_path), str(start),
                                str(TRIALS)], stdout=subprocess.PIPE, text=True)
              for _ in range(2)]
    won = []
    for racer in racers:
        out, _ = racer.communicate(timeout=60)
        assert racer.returncode == 0
        won.append((racer.pid, set(json.loads(out))))
    (pid_a, a), (pid_b, b) = won
    assert a.isdisjoint(b) and a | b == set(range(TRIALS))
    for i in range(TRIALS):
        owner = pid_a if i in a else pid_b
        assert (tmp_path / f"out{i}" / "who").read_text() == str(owner)
    assert os.listdir(tmp_path / "out0") == ["who"]


def test_a_name_too_long_for_the_file_system_is_a_clear_error(tiny_shapes_spec, tmp_path,
                                                               capsys):
    from cnnspec import train
    from cnnspec.cli import main
    from cnnspec.errors import RunError

    too_long = tmp_path / ("a" * 300)
    # The command line refuses the name before anything runs; the library, where it is made.
    with pytest.raises(SystemExit) as exited:
        main(["train", str(tiny_shapes_spec), "--out", str(too_long)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "a file or folder name holds at most 255" in err
    assert "Traceback" not in err and "a" * 100 not in err  # the name is shortened
    with pytest.raises(RunError, match="File name too long") as refused:
        train(tiny_shapes_spec, run_dir=too_long, progress="none")
    assert "cannot use run folder" in str(refused.value) and "a" * 100 not in str(refused.value)
    # 250 characters fit, and so does the hidden folder the run is set up in
    assert main(["train", str(tiny_shapes_spec), "--out", str(tmp_path / ("b" * 250)),
                 "--quiet"]) == 0
