"""Run in each worker process of a sweep's local cluster as it starts (a Dask preload module),
and of a local pool (:class:`cnnspec.sweep.executor.LocalExecutor`).

Ctrl-C at the terminal reaches every process of the foreground group, the workers of a
``LocalCluster`` included. The sweep, not each worker, decides what stopping means (cancel the
tasks, then close the cluster), so its workers ignore SIGINT rather than each printing a
traceback (a Dask worker's logs go quiet at it instead), and do not warn of the tasks the
sweep cancels. They are born with SIGINT blocked
(:func:`cnnspec.sweep.executor.workers_start_deaf_to_ctrl_c`) until they have done so.
"""
from __future__ import annotations

import logging
import signal
import threading

# The loggers Dask configures, each with its own handler on stderr: its own, and those of
# tornado, whose event loop it runs.
DASK_LOGGERS = ("distributed", "tornado")


def dask_loggers() -> list[logging.Logger]:
    """Every logger of :data:`DASK_LOGGERS` and below that exists in this process."""
    names = [name for name, logger in list(logging.root.manager.loggerDict.items())
             if isinstance(logger, logging.Logger) and name.split(".")[0] in DASK_LOGGERS]
    return [logging.getLogger(name) for name in dict.fromkeys([*DASK_LOGGERS, *names])]


def dask_setup(worker) -> None:
    """Dask's preload hook: ``worker`` is starting in this process."""
    ignore_ctrl_c(_quiet_dask)
    # Its warnings are of tasks "ended with CancelledError": what a stopped sweep does.
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)


def _quiet_dask(signum, frame) -> None:
    """A worker's Ctrl-C: the sweep is stopping and closes the cluster."""
    quiet_dask()


def quiet_dask() -> None:
    """This worker's cluster is being closed (the sweep is done, or stopping): what its Dask
    says from now on is of that (a heartbeat to the closed scheduler failing, with its
    traceback); its errors before stay visible. Run by a Ctrl-C, and by the sweep on every
    worker of its local cluster before it closes it."""
    for logger in dask_loggers():
        logger.setLevel(logging.CRITICAL)


def ignore_ctrl_c(handler=signal.SIG_IGN) -> None:
    """Leave Ctrl-C to the sweep, in a worker process of a local cluster or pool: ignore it,
    or give it to ``handler``, which must not stop the process. A cell's training still stops
    at Ctrl-C as it would anywhere (its loop takes SIGINT while it runs, finishes the step
    and saves); an idle worker, without this, would die of it mid-way through taking its next
    task from the pool's queue, holding the queue's lock that the other workers then wait
    for."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)
        # Born with Ctrl-C blocked (cnnspec.sweep.executor.workers_start_deaf_to_ctrl_c):
        # one pending since the process started goes to ``handler`` now (or is dropped).
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
