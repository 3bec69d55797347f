"""``cnnspec sweep --scheduler``: a real Dask scheduler and two worker processes on 127.0.0.1.

One worker is killed (SIGKILL) while it trains a cell; the scheduler reruns that task on the
other, and every cell is recorded exactly once, with the metrics a sequential run in this
process gives (each cell is determined by its seed). A rerun into the same folder trains
nothing; deleting one cell's folder retrains that cell alone.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from dask_cluster import START_TIMEOUT, one_thread_env, running_cluster, wait_for

from cnnspec.cli import main
from cnnspec.sweep.executor import DaskExecutor, LocalExecutor
from cnnspec.sweep.runner import sweep

distributed = pytest.importorskip("distributed")
# Each cell trained on the cluster must match the run in this process to the bit: the module
# runs in a pytest process of its own (`make test`), not beside others on the same cores.
pytestmark = pytest.mark.alone

SETS = ["init=he_normal,glorot_uniform", "lr=0.05,0.1"]
SEEDS = 2
CELLS = 2 * 2 * SEEDS
TIMELESS = ("seconds", "images_per_s")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers for this module's sweeps (one test kills a worker, so no
    other module shares them)."""
    with running_cluster(tmp_path_factory.mktemp("dask")) as started:
        yield started


def _cells(out: Path) -> dict[str, dict]:
    """Folder -> its metrics (without wall-clock figures) and test accuracy."""
    found = {}
    for folder in sorted(p for p in out.iterdir() if p.is_dir()):
        metrics = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        summary = json.loads((folder / "summary.json").read_text())
        found[folder.name] = {
            "metrics": [{k: v for k, v in row.items() if k not in TIMELESS} for row in metrics],
            "test_acc": summary["test_acc"], "settings": summary["cell"]["settings"]}
    return found


def _kill_a_busy_worker(address: str, out: Path, killed: list) -> None:
    """Once the first cell is recorded, SIGKILL a worker that is training a cell."""
    with distributed.Client(address, timeout=START_TIMEOUT) as client:
        pids = client.run(os.getpid)  # worker address -> its process id
        wait_for(lambda: out.is_dir() and any(
            p.is_dir() and not p.name.startswith(".") for p in out.iterdir()),
            "the first cell", poll=0.01)
        busy: dict = {}

        def some_worker_busy() -> bool:
            busy.update({w: keys for w, keys in client.processing().items() if keys})
            return bool(busy)

        wait_for(some_worker_busy, "a busy worker", poll=0.005)
        worker, keys = next(iter(busy.items()))
        os.kill(pids[worker], signal.SIGKILL)
        killed.append((pids[worker], list(keys)))


def test_a_sweep_survives_a_killed_worker_and_matches_a_sequential_run(
        cluster, tiny_digits_spec, tmp_path, capsys):
    address, workers = cluster
    spec = str(tiny_digits_spec)
    sequential = tmp_path / "sequential"
    sweep(spec, SETS, seeds=SEEDS, out=sequential, executor=lambda n: LocalExecutor(1))

    out = tmp_path / "distributed"
    killed: list = []
    killer = threading.Thread(target=_kill_a_busy_worker, args=(address, out, killed),
                              daemon=True)
    killer.start()
    args = ["sweep", spec, "--set", SETS[0], "--set", SETS[1], "--seeds", str(SEEDS),
            "--scheduler", address, "--out", str(out)]
    assert main(args) == 0
    killer.join(timeout=START_TIMEOUT)
    err = capsys.readouterr().err
    assert f"training {CELLS} cells on the Dask cluster at {address}" in err

    # A worker died with a task in hand, and it was one of ours.
    assert killed and killed[0][1] and killed[0][0] in [w.pid for w in workers]
    assert sum(w.poll() is not None for w in workers) == 1
    # Every cell once, nothing half-written, and each as the sequential run trained it.
    assert sorted(p.name for p in out.iterdir() if not p.is_dir()) == [
        "accuracy.png", "curves.png", "results.csv", "results.json", "sweep.json"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert _cells(out) == _cells(sequential)
    assert len(_cells(out)) == CELLS
    assert err.count(": val acc") == CELLS  # each result reported once

    # A rerun trains nothing (and starts nothing); without one cell's folder, it trains that
    # cell alone. (Through the Python API: the command would draw the same pictures again.)
    def on_cluster(n):
        return DaskExecutor(address)

    again = sweep(spec, SETS, seeds=SEEDS, out=out, executor=on_cluster)
    assert (again.ran, again.skipped) == (0, CELLS)
    gone = sorted(p for p in out.iterdir() if p.is_dir())[3]
    before = _cells(out)[gone.name]
    shutil.rmtree(gone)
    trained = []
    third = sweep(spec, SETS, seeds=SEEDS, out=out, executor=on_cluster,
                  on_done=lambda cell, result: trained.append(cell.folder))
    assert trained == [gone.name] and third.ran == 1
    assert _cells(out)[gone.name] == before


def test_each_cell_trains_in_its_dtype_on_the_workers(cluster, tiny_digits_spec, tmp_path,
                                                     capsys):
    """The dtype travels with its cell: a worker trains the float64 cell in float64, its data
    loaded in it, as this process does; the float32 cell as before."""
    address, _ = cluster
    spec = str(tiny_digits_spec)
    sets = ["dtype=float32,float64"]
    sweep(spec, sets, out=tmp_path / "here", executor=lambda n: LocalExecutor(1))
    out = tmp_path / "there"
    assert main(["sweep", spec, "--set", sets[0], "--scheduler", address, "--out",
                 str(out)]) == 0
    assert "training 2 cells on the Dask cluster at" in capsys.readouterr().err
    assert _cells(out) == _cells(tmp_path / "here")
    dtypes = [json.loads((folder / "summary.json").read_text())
              for folder in sorted(out.iterdir()) if folder.is_dir()]
    assert [(d["dtype"], d["data_dtype"]) for d in dtypes] == [("float32", "float32"),
                                                               ("float64", "float64")]


def test_a_sweep_over_other_settings_on_the_cluster_adds_its_cells_to_the_folders_table(
        cluster, tiny_digits_spec, tmp_path, capsys):
    """Run again into its --out with other settings, a sweep rewrote the table with its own
    cells alone: it trains only its cells the folder lacks and shows every one it holds."""
    address, _ = cluster
    spec, out = str(tiny_digits_spec), tmp_path / "grown"
    assert main(["sweep", spec, "--set", "lr=0.05,0.1", "--scheduler", address,
                 "--out", str(out)]) == 0
    first = _cells(out)
    capsys.readouterr()
    assert main(["sweep", spec, "--set", "lr=0.1,0.3", "--epochs", "1", "--scheduler", address,
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "training 1 cell on the Dask cluster at" in captured.err
    assert f"1 cell was recorded in {out} already; trained 1" in captured.err
    assert "the table also shows 1 cell recorded there before with other settings" in \
        captured.err
    rows = sorted(line.split()[0] for line in captured.out.splitlines()[1:-1])
    assert captured.out.splitlines()[0].split()[0] == "lr" and rows == ["0.05", "0.1", "0.3"]
    cells = _cells(out)
    assert len(cells) == 3 and {k: cells[k] for k in first} == first  # none lost or retrained
    assert len(json.loads((out / "results.json").read_text())["cells"]) == 3


def test_a_cell_another_sweep_gave_no_init_shows_the_init_it_trained_with(
        cluster, tmp_path, capsys):
    """Swept over init, then over lr into the same folder: the lr cells, which took the
    spec's default init, were shown "as written" in the init column; they show the init
    their recorded IR holds, marked as the spec's in the table, the init alone in
    results.json, whose values are what each cell trained with."""
    address, _ = cluster
    spec = tmp_path / "defaults.cnn"
    spec.write_text("model defaults\ninput 1x8x8\ndefault weight lecun_normal\n"
                    "conv 4 3x3 relu\nflatten\ndense 10\n"
                    "train {\n  data digits\n  epochs 1\n  batch 64\n  lr 0.05\n}\n")
    out = tmp_path / "mixed"
    for sets in ("init=he_normal", "lr=0.1"):
        capsys.readouterr()
        assert main(["sweep", str(spec), "--set", sets, "--scheduler", address,
                     "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()  # the second sweep's table
    assert lines[0].split()[:2] == ["lr", "init"]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[1:-1]}
    assert rows["0.05"][0] == "he_normal" and rows["0.1"] == ["lecun_normal", "(spec)"]
    cells = json.loads((out / "results.json").read_text())["cells"]
    assert sorted((c["lr"], c["init"]) for c in cells) == [(0.05, "he_normal"),
                                                           (0.1, "lecun_normal")]


def test_ctrl_c_cancels_the_sweeps_tasks_and_says_where_its_cells_are(
        cluster, tiny_digits_spec, tmp_path):
    address, _ = cluster
    out = tmp_path / "stopped"
    # 120 cells: more than the cluster trains before a loaded machine sends the signal
    command = [sys.executable, "-m", "cnnspec", "sweep", str(tiny_digits_spec), "--set",
               "lr=0.01,0.02,0.03,0.04,0.05,0.06", "--seeds", "20", "--scheduler", address,
               "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=one_thread_env())
    try:
        for line in process.stderr:  # stop once the first cell is in
            if ": val acc" in line:
                process.send_signal(signal.SIGINT)
                break
        err = process.stderr.read()
        assert process.wait(timeout=START_TIMEOUT) == 130
    finally:
        process.kill()
    said = re.search(rf"(\d+) of its 120 cells (is|are) recorded in {re.escape(str(out))}, "
                     r"(\d+) (is|are) left to train: lr=", err)
    assert said and "run the same command again" in err, err
    assert "Traceback" not in err
    recorded = [p for p in out.iterdir() if p.is_dir()]
    assert 1 <= len(recorded) < 120
    assert (int(said[1]), int(said[3])) == (len(recorded), 120 - len(recorded))
    with distributed.Client(address, timeout=START_TIMEOUT) as client:
        # (A lambda travels by value; the scheduler cannot import this test module.)
        tasks = lambda: client.run_on_scheduler(
            lambda dask_scheduler: len(dask_scheduler.tasks))
        wait_for(lambda: tasks() == 0, "the cancelling of the sweep's tasks")


class _StoppedOnceAllFinish(DaskExecutor):
    """A Ctrl-C once the first cell is in, by when the cluster has finished every cell: the
    results of the others wait in the cluster, not yet handed over."""

    def results(self, fn, tasks):
        each = super().results(fn, tasks)
        yield next(each)
        distributed.wait(self._futures, timeout=START_TIMEOUT)
        raise KeyboardInterrupt


def test_cells_the_cluster_finished_as_the_sweep_stops_are_recorded(cluster, tiny_digits_spec,
                                                                     tmp_path):
    """Cancelled with the rest as the sweep stopped, their trainings were lost and done
    again by the next run."""
    from cnnspec.sweep.results import SweepStopped

    address, _ = cluster
    out = tmp_path / "stopped"
    with pytest.raises(SweepStopped) as info:
        sweep(str(tiny_digits_spec), ["lr=0.01,0.02,0.03,0.04"], out=out,
              executor=lambda n: _StoppedOnceAllFinish(address))
    assert info.value.left == [] and info.value.cells == 4
    assert len([p for p in out.iterdir() if p.is_dir()]) == 4
    again = sweep(str(tiny_digits_spec), ["lr=0.01,0.02,0.03,0.04"], out=out,
                  executor=lambda n: LocalExecutor(1))
    assert (again.ran, again.skipped) == (0, 4)


@pytest.mark.parametrize("address, why", [("tcp://127.0.0.1:9", "Connection refused"),
                                          ("tcp://no-such-host.invalid:8786", "Errno")])
def test_a_scheduler_that_is_not_there_is_a_clear_error(address, why):
    """With the client's own timeout (30 s): a refused connection is reported as refused at
    once, not retried silently by Dask's client until it times out."""
    from cnnspec.errors import RunError

    with pytest.raises(RunError) as info:
        DaskExecutor(address)
    assert f"cannot reach the Dask scheduler at {address}: " in info.value.message
    assert why in info.value.message and "dask scheduler" in info.value.hint


@pytest.mark.parametrize("address, why", [("127.0.0.1", "missing port"),
                                          ("nota:::address", "invalid address")])
def test_a_scheduler_address_that_is_no_address_is_a_mistake_in_what_was_asked(address, why,
                                                                                 capsys):
    """An address Dask cannot even read is the user's mistake (exit 2, the form to write),
    not a scheduler that could not be reached (exit 1); nothing is tried."""
    from cnnspec.cli import OPTION_NAMES
    from cnnspec.errors import SettingError

    with pytest.raises(SettingError) as info:  # named as the library's parameter
        DaskExecutor(address)
    assert info.value.message.startswith(f"scheduler {address!r} is not a Dask scheduler's "
                                         "address: ")
    assert why in info.value.message and "tcp://HOST:PORT" in info.value.hint
    assert info.value.invalid
    assert info.value.worded(OPTION_NAMES)[0].startswith(f"--scheduler {address!r} is not")


@pytest.mark.parametrize("stop, to", [(signal.SIGTERM, "group"), (signal.SIGTERM, "command"),
                                      (signal.SIGINT, "command")])
def test_a_stop_signal_ends_a_local_cluster_sweep_with_its_own_words_only(stop, to,
                                                                          tiny_digits_spec,
                                                                          tmp_path):
    """SIGTERM to the process group (as a batch scheduler sends it: the cluster's workers get
    it too, and their nanny would report each "Restarting worker") or to the command alone
    (Dask's interrupted wait logged a NameError from a callback of its own), or SIGINT to the
    command alone (`kill -INT`: its workers, still training, do not hear it, and a heartbeat
    of theirs as the cluster closed logged a CommClosedError traceback): the sweep says it
    stopped and where its cells are, and Dask's shutdown says nothing after it."""
    from test_compare import _ended_within

    out = tmp_path / "stopped"
    # 120 cells, far more than the cluster trains in the time a loaded machine may take to
    # read the first cell's line and send the signal (with 24, the sweep once ended first)
    command = [sys.executable, "-m", "cnnspec", "sweep", str(tiny_digits_spec), "--set",
               "lr=0.01,0.02,0.03,0.04,0.05,0.06", "--seeds", "20", "--workers", "2",
               "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=one_thread_env(), start_new_session=True)
    try:
        for line in process.stderr:  # stop once the first cell is in
            if ": val acc" in line:
                if to == "group":
                    os.killpg(process.pid, stop)
                else:
                    process.send_signal(stop)
                break
        err = process.stderr.read()
        assert process.wait(timeout=START_TIMEOUT) == 130, err
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    lines = [line for line in err.splitlines() if ": val acc" not in line]  # cells done
    assert len(lines) == 2 and lines[0].startswith("cnnspec: sweep stopped; "), err
    assert lines[1] == "hint: run the same command again to train the rest", err
    assert _ended_within(30, process.pid)  # the cluster's workers too


def test_ctrl_c_after_the_last_cell_writes_the_results(tiny_digits_spec, tmp_path):
    """Ctrl-C at the terminal (the whole process group) as the last cell's line is printed,
    while the local cluster closes: the sweep said it stopped, that its 4 cells were recorded
    and to run it again "to train the rest", and wrote no results. Now every cell having
    trained, it writes them and says so, and ends as it would have."""
    from test_compare import _ended_within

    out = tmp_path / "done"
    command = [sys.executable, "-m", "cnnspec", "sweep", str(tiny_digits_spec), "--set",
               "lr=0.01,0.02,0.03,0.04", "--workers", "2", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=one_thread_env(), start_new_session=True)
    try:
        cells = 0
        for line in process.stderr:
            cells += ": val acc" in line
            if cells == 4:
                os.killpg(process.pid, signal.SIGINT)
                break
        err = process.stderr.read()
        table = process.stdout.read()
        assert process.wait(timeout=START_TIMEOUT) == 0, err
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert err.splitlines()[-1] == ("cnnspec: stopped after every cell of the sweep had "
                                    f"trained: its results are written in {out}"), err
    assert "Traceback" not in err and "hint" not in err
    assert sorted(line.split()[0] for line in table.splitlines()[1:5]) == [
        "0.01", "0.02", "0.03", "0.04"]
    assert len(json.loads((out / "results.json").read_text())["cells"]) == 4
    assert (out / "accuracy.png").is_file() and (out / "curves.png").is_file()
    assert _ended_within(30, process.pid)  # the cluster's workers too


def test_dask_logs_are_quiet_from_a_stop_signal_until_the_cluster_is_closed():
    """Before the signal Dask's warnings and errors are heard (a worker lost while the sweep
    runs); from it until close, nothing below critical; afterwards as before."""
    import logging
    from contextlib import ExitStack

    from cnnspec.sweep.executor import _quiet_on_stop

    nanny = logging.getLogger("distributed.nanny")
    tornado = logging.getLogger("tornado.application")
    before = (nanny.getEffectiveLevel(), tornado.getEffectiveLevel())
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        stopping = ExitStack()
        with _quiet_on_stop(stopping):
            assert (nanny.getEffectiveLevel(), tornado.getEffectiveLevel()) == before
            with pytest.raises(KeyboardInterrupt):  # the handler it had still acts
                signal.raise_signal(signal.SIGTERM)
            assert nanny.getEffectiveLevel() == tornado.getEffectiveLevel() == logging.CRITICAL
            stopping.close()
            assert (nanny.getEffectiveLevel(), tornado.getEffectiveLevel()) == before
        assert signal.getsignal(signal.SIGTERM) is signal.default_int_handler
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with _quiet_on_stop(ExitStack()):  # a default action is left alone: it ends the process
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, previous)


def _dask_log_level() -> int:
    """The level of the logger of a worker's heartbeat, in the process it runs in."""
    import logging

    return logging.getLogger("distributed.worker").getEffectiveLevel()


def test_a_local_clusters_workers_are_quiet_before_it_closes(monkeypatch):
    """A worker still training a cell as the sweep closes its local cluster (after a Ctrl-C
    or SIGTERM to the command alone, which the workers do not hear; after the last cell)
    stays up a while, heartbeating, and a heartbeat caught as the scheduler closed logged an
    error with a traceback ('Failed to communicate with scheduler during heartbeat', a
    CommClosedError), 2 sweeps in 20 stopped so. By the time the cluster is closed, every
    worker says only what is critical; before, its errors are heard."""
    import logging
    import time

    executor = DaskExecutor(workers=2)
    cluster = executor._cluster
    closing = cluster.close
    levels = {}
    # the scheduler, in this process, keeps its note of results lost with a worker to itself
    from cnnspec.sweep.executor import SCHEDULER_LOGGER, LostResultsFilter
    assert sum(isinstance(each, LostResultsFilter)
               for each in logging.getLogger(SCHEDULER_LOGGER).filters) == 1

    def close_seen_from_the_workers(*args, **kwargs):
        with distributed.Client(cluster, timeout=START_TIMEOUT) as client:
            levels.update(client.run(_dask_log_level))
        return closing(*args, **kwargs)

    try:
        assert set(executor.client.run(_dask_log_level).values()) <= {
            logging.DEBUG, logging.INFO, logging.WARNING}
        executor._futures = [executor.client.submit(time.sleep, 1, pure=False)]
        monkeypatch.setattr(cluster, "close", close_seen_from_the_workers)
    finally:
        executor.close()
    assert len(levels) == 2 and set(levels.values()) == {logging.CRITICAL}, levels
    assert all(address.startswith("tcp://127.0.0.1:") for address in levels)

