"""Run in each worker process of a sweep's local cluster as it starts (a Dask preload module),
and of a local pool (:class:`cnnspec.sweep.executor.LocalExecutor`).

Ctrl-C at the terminal reaches every process of the foreground group, the workers of a
``LocalCluster`` included. The sweep, not each worker, decides what stopping means (cancel the
tasks, then close the cluster), so its workers ignore SIGINT rather than each printing a
traceback, and do not warn of the tasks the sweep cancels.
"""
from __future__ import annotations

import logging
import signal
import threading


def dask_setup(worker) -> None:
    """Dask's preload hook: ``worker`` is starting in this process."""
    ignore_ctrl_c()
    # Its warnings are of tasks "ended with CancelledError": what a stopped sweep does.
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)


def ignore_ctrl_c() -> None:
    """Leave Ctrl-C to the sweep, in a worker process of a local cluster or pool. A cell's
    training still stops at Ctrl-C as it would anywhere (its loop takes SIGINT while it runs,
    finishes the step and saves); an idle worker, without this, would die of it mid-way
    through taking its next task from the pool's queue, holding the queue's lock that the
    other workers then wait for."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
