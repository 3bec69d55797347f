"""A real Dask scheduler and single-threaded worker processes on 127.0.0.1, for the tests that
sweep on a cluster: started once per test module, every process killed at the end."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

START_TIMEOUT = 60.0  # seconds for the scheduler and the workers to come up


def one_thread_env() -> dict:
    """The environment of a child process whose BLAS uses one thread, as a worker's does."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    return env


def wait_for(condition, what: str, timeout: float = START_TIMEOUT, poll: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(poll)


@contextlib.contextmanager
def running_cluster(folder: Path, workers: int = 2):
    """A scheduler and WORKERS single-threaded workers (no nanny: killing the process kills
    the worker), each a separate process bound to 127.0.0.1 without a dashboard, logging into
    FOLDER; yields (address, worker processes)."""
    import distributed

    scheduler_file = folder / "scheduler.json"
    logs = []
    processes = []

    def start(args, name):
        log = open(folder / f"{name}.log", "wb")  # noqa: SIM115 - closed at the end
        logs.append(log)
        processes.append(subprocess.Popen([sys.executable, "-m", *args], stdout=log,
                                          stderr=subprocess.STDOUT, env=one_thread_env(),
                                          cwd=folder))
        return processes[-1]

    try:
        start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
               "--no-dashboard", "--scheduler-file", str(scheduler_file)], "scheduler")
        wait_for(scheduler_file.is_file, "the scheduler's start")
        address = json.loads(scheduler_file.read_text())["address"]
        started = [start(["distributed.cli.dask_worker", address, "--host", "127.0.0.1",
                          "--nthreads", "1", "--no-nanny", "--no-dashboard",
                          "--death-timeout", "60"], f"worker{i}") for i in range(workers)]
        with distributed.Client(address, timeout=START_TIMEOUT) as client:
            client.wait_for_workers(workers, timeout=START_TIMEOUT)
        yield address, started
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait(timeout=30)
        for log in logs:
            log.close()
