"""Run in each worker process of a sweep's local cluster as it starts (a Dask preload module).

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
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Its warnings are of tasks "ended with CancelledError": what a stopped sweep does.
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)
