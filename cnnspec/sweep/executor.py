"""Where the cells of a sweep train: one interface, three places.

- :class:`LocalExecutor` with one worker trains the cells one after the other in this process
  (no dependency; what ``cnnspec compare`` does by default, and the reference a distributed
  run must match); with more, in a pool of spawned local processes.
- :class:`DaskExecutor` hands each cell to Dask distributed as one task: a ``LocalCluster`` of
  worker processes on this machine, or an existing cluster by its scheduler's address. A
  worker that dies mid-task has its task rerun on another worker by the scheduler (up to its
  ``distributed.scheduler.allowed-failures``, 3 unless configured); the client receives each
  finished task's result once.

``results(tasks)`` yields ``(task, result)`` as the cells finish, in any order. Leaving the
executor (``with``) cancels what has not started and stops what it started, also on Ctrl-C;
before, ``finished()`` yields the results of the tasks that finished but were not yielded
(the sweep records them: their trainings are done).
"""
from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import multiprocessing.resource_tracker
import os
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from cnnspec.engine.splitting import usable_cores
from cnnspec.errors import RunError, SettingError, counted, literal, shortened
from cnnspec.sweep.concurrency import trainings_that_fit
from cnnspec.sweep.worker import dask_loggers, ignore_ctrl_c, quiet_dask
from cnnspec.training.interrupts import STOP_SIGNALS, interrupts_held

INSTALL_HINT = "install the sweep extra: pip install 'cnnspec[sweep]' (Dask distributed)"
# How often the scheduler of a LocalCluster retries a task whose worker died.
ALLOWED_FAILURES = 3
# Run in each worker of a LocalCluster as it starts: Ctrl-C is the sweep's to handle.
WORKER_SETUP = "cnnspec.sweep.worker"
# Seconds a scheduler's host has to accept a TCP connection before the client is started: a
# scheduler on a reachable host answers in milliseconds, while Dask's client retries a refused
# connection silently for its whole timeout (30 s), as if the command hung.
PROBE_SECONDS = 5.0


def _start_worker() -> None:
    """Worker initialiser: one BLAS thread per process, so worker processes share the cores
    instead of each starting a thread per core; Ctrl-C is the sweep's to handle."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    ignore_ctrl_c()


@contextmanager
def workers_start_deaf_to_ctrl_c():
    """Within the block, which starts worker processes, a Ctrl-C waits: in this process it is
    held and acts when the block ends, and the workers are born with it blocked, which they
    lift once they ignore it (:func:`cnnspec.sweep.worker.ignore_ctrl_c`, so one pending
    since birth is dropped). Ctrl-C reaches the whole process group: a worker still
    importing Python, before its start-up hook ignores it, died of it with a traceback, its
    nanny failed with another and the cluster's close at exit with a third. A blocked
    signal stays blocked across ``fork`` and ``exec`` (a handler does not), and the threads
    this process starts inside the block, which spawn the workers, inherit the block; CPython
    starts its multiprocessing resource tracker the same way
    (``multiprocessing.resource_tracker``). Main thread only, where signals arrive."""
    if (threading.current_thread() is not threading.main_thread()
            or not hasattr(signal, "pthread_sigmask")):
        yield
        return
    with interrupts_held():
        # Started by the first spawn otherwise, the resource tracker unblocks SIGINT (and
        # SIGTERM) in the spawning thread once it runs, and every later worker would be born
        # hearing Ctrl-C; started now, before the block, it leaves the block alone.
        multiprocessing.resource_tracker.ensure_running()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def default_workers(n_tasks: int, process: int = 0) -> int:
    """One worker per core, no more than there are tasks, nor than trainings of ``process``
    bytes each fit in this machine's memory at once (check counts one)."""
    return max(1, min(usable_cores(), n_tasks, trainings_that_fit(process)))


def local_cluster_description(workers: int) -> str:
    """Where a sweep on a local cluster of ``workers`` processes trains, for its first line."""
    return f"on a local Dask cluster of {counted(workers, 'worker process', 'worker processes')}"


class LocalExecutor:
    """Tasks in this process (``workers == 1``) or in spawned local processes."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self.description = ("in this process" if workers <= 1
                            else f"in {workers} local processes")
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict = {}
        self._yielded: set = set()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def results(self, fn: Callable, tasks: list) -> Iterator[tuple[object, object]]:
        if self.workers <= 1 or len(tasks) <= 1:
            for task in tasks:
                yield task, fn(task)
            return
        context = multiprocessing.get_context("spawn")  # no forked BLAS thread pool
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                         initializer=_start_worker)
        with workers_start_deaf_to_ctrl_c():  # the pool starts its processes on a submit
            self._futures = {self._pool.submit(fn, task): task for task in tasks}
        for future in as_completed(self._futures):
            self._yielded.add(future)
            yield self._futures[future], future.result()

    def finished(self) -> Iterator[tuple[object, object]]:
        """The tasks that finished (or finish now: a worker process not stopped by the
        Ctrl-C, sent to this process alone, ends its task first) but were not yielded, with
        their results; those that did not start are cancelled."""
        if self._pool is None:
            return
        self._pool.shutdown(wait=True, cancel_futures=True)
        for future, task in self._futures.items():
            if (future not in self._yielded and not future.cancelled()
                    and future.exception() is None):
                yield task, future.result()


def dask_available() -> bool:
    return importlib.util.find_spec("distributed") is not None


@contextmanager
def dask_logs_at(level: int):
    """Within the block, every logger Dask configured says only what is at least ``level``."""
    loggers = dask_loggers()
    saved = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(level, logger.getEffectiveLevel()))
    try:
        yield
    finally:
        for logger, before in saved:
            logger.setLevel(before)


class CancelRaceFilter(logging.Filter):
    """Drops the tracebacks of Dask's own that a stop leaves however late it comes, and only
    them (distributed 2026.8):

    - when a Ctrl-C interrupts a wait that distributed's ``utils.sync`` serves, the ``cancel``
      callback it leaves on the event loop reads a variable the interrupted wait never set,
      and tornado logs the NameError as "Exception in callback";
    - when the client closes while it gathers results, its gather task ends in
      ``distributed.client.AllExit`` (its word for "every future is gone"), which nothing
      awaits any more, and asyncio logs "Task exception was never retrieved".

    Either can come after the cluster is closed and :func:`_quiet_on_stop` has given Dask's
    loggers their levels back; the sweep has lost nothing by then. Every other record
    passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None or error.__traceback__ is None:
            return True
        last = traceback.extract_tb(error.__traceback__)[-1]
        place = Path(last.filename).parts[-2:]
        if isinstance(error, NameError):
            return not (last.name == "cancel" and place == ("distributed", "utils.py"))
        return not (type(error).__name__ == "AllExit" and place == ("distributed", "client.py"))


# The loggers the stop's own tracebacks come through: tornado's of callbacks, asyncio's of
# tasks whose exception nobody retrieved.
RACE_LOGGERS = ("tornado.application", "asyncio")


class LostResultsFilter(logging.Filter):
    """Drops the scheduler's note that a worker it removed held results to compute again
    ("Removing worker ... caused the cluster to lose already computed task(s)", distributed
    2026.8), and only it, from a sweep's own local cluster, whose scheduler runs in this
    process. SIGTERM to the process group ends the workers at once, and the scheduler's loop
    thread logs the note before this process's main thread has run the handler that quiets
    Dask (:func:`_quiet_on_stop`): printed before the sweep's own "stopped", under load. A
    worker lost otherwise (killed for lack of memory) is the sweep's to say, as the cell
    whose task failed (Dask's KilledWorker); the results Dask computes again add nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "caused the cluster to lose already computed task" not in record.getMessage()


# The logger of a local cluster's scheduler, in the sweep's process.
SCHEDULER_LOGGER = "distributed.scheduler"


def filter_cancel_race() -> None:
    """Put :class:`CancelRaceFilter` on the loggers of :data:`RACE_LOGGERS`, once a process."""
    for name in RACE_LOGGERS:
        _filtered(logging.getLogger(name), CancelRaceFilter)


def _filtered(logger: logging.Logger, kind: type[logging.Filter]) -> None:
    """Put a filter of class ``kind`` on ``logger``, unless it has one."""
    if not any(isinstance(each, kind) for each in logger.filters):
        logger.addFilter(kind())


@contextmanager
def _quiet_on_stop(stopping: ExitStack):
    """Within the block, a Ctrl-C or SIGTERM first quiets Dask's loggers (until ``stopping``
    is closed), then goes on to the handler it had (which raises KeyboardInterrupt). From
    the moment the sweep is asked to stop, what Dask logs is of the stopping, printed after
    the sweep's own "stopped": workers "restarting" as the signal to the process group ends
    them, results "forgotten" as their tasks are cancelled, and a callback of Dask's own
    failing with a NameError as the wait it served is interrupted (distributed's
    ``utils.sync``). Its errors while the sweep runs stay visible. Only for handlers that
    are Python functions (a signal left to its default action ends the process anyway), and
    in the main thread, where signals arrive."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    wrapped = {number: handler for number, handler in previous.items() if callable(handler)}

    def stop(signum, frame):
        stopping.enter_context(dask_logs_at(logging.CRITICAL))
        wrapped[signum](signum, frame)

    for number in wrapped:
        signal.signal(number, stop)
    try:
        yield
    finally:
        for number, handler in wrapped.items():
            signal.signal(number, handler)


def _probe(scheduler: str, seconds: float) -> None:
    """Raise OSError (refused, no such host, no answer in ``seconds``) when nothing accepts a
    TCP connection at a ``tcp://HOST:PORT`` address, and ValueError when it is no address;
    other protocols are left to Dask."""
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port

    protocol, location = parse_address(scheduler)
    if protocol == "tcp":
        socket.create_connection(parse_host_port(location), timeout=seconds).close()


def _local_cluster(workers: int | None):
    """A ``LocalCluster`` of ``workers`` single-threaded worker processes (by default one a
    core), or a RunError where a worker does not start (Dask's "Nanny failed to start.")."""
    from distributed import LocalCluster

    try:
        return LocalCluster(n_workers=workers or default_workers(usable_cores()),
                             threads_per_worker=1, processes=True,
                             # any free port, never a fixed one, on this machine only
                             dashboard_address="127.0.0.1:0")
    except RuntimeError as exc:
        raise RunError(f"the local Dask cluster did not start: {exc}",
                       hint="a worker process failed as it started; its own messages above "
                       "say why") from None


def _quiet_workers(client) -> None:
    """Quiet the Dask loggers of every worker of ``client``'s cluster; a worker gone, or a
    scheduler that cannot be reached, is left as it is: the close goes on."""
    with suppress(OSError):
        client.run(quiet_dask, on_error="ignore")


class DaskExecutor:
    """Tasks on Dask distributed: an existing cluster at ``scheduler`` (``tcp://HOST:PORT``),
    or a ``LocalCluster`` of ``workers`` single-threaded worker processes."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None,
                 timeout: float = 30.0) -> None:
        if not dask_available():
            raise RunError("sweeps run on Dask distributed, which is not installed",
                           hint=INSTALL_HINT)
        import dask
        from distributed import Client

        filter_cancel_race()
        self._cluster = None
        self._futures: list = []
        self._tasks: dict = {}  # future key -> task
        self._yielded: set = set()  # the keys of the futures results() yielded
        self._stopping = ExitStack()  # Dask's loggers quieted from a stop signal to close()
        try:
            if scheduler is None:
                with (dask.config.set({"distributed.scheduler.allowed-failures":
                                       ALLOWED_FAILURES,
                                       "distributed.worker.preload": [WORKER_SETUP]}),
                      workers_start_deaf_to_ctrl_c()):
                    self._cluster = _local_cluster(workers)
                _filtered(logging.getLogger(SCHEDULER_LOGGER), LostResultsFilter)
                self.client = Client(self._cluster, timeout=timeout)
                self.description = local_cluster_description(len(self._cluster.workers))
            else:
                try:
                    _probe(scheduler, min(timeout, PROBE_SECONDS))
                except ValueError as exc:  # no address at all: a mistake in what was asked
                    shown = literal(repr(shortened(scheduler, 80)))
                    raise SettingError(f"{{scheduler}} {shown} is not a Dask scheduler's "
                                       f"address: {literal(str(exc))}", invalid=True,
                                       hint="write it as the scheduler prints it, "
                                       "tcp://HOST:PORT (e.g. tcp://127.0.0.1:8786)") from None
                self.client = Client(scheduler, timeout=timeout)
                self.description = f"on the Dask cluster at {scheduler}"
        except KeyboardInterrupt:  # a Ctrl-C held while the cluster started
            with dask_logs_at(logging.CRITICAL):
                self.close()
            raise
        except (OSError, ValueError) as exc:  # not there; an address Dask's client refuses
            self.close()
            raise RunError(f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                           hint="start it with `dask scheduler` and pass the address it "
                           "prints (tcp://HOST:8786)") from None

    @property
    def dashboard(self) -> str | None:
        """The dashboard's address, when the scheduler serves one (it needs Bokeh where the
        scheduler runs; without it the address answers with an apology)."""
        services = self.client.scheduler_info().get("services", {})
        # A lambda travels by value: the scheduler need not have cnnspec installed.
        has_bokeh = self.client.run_on_scheduler(
            lambda: importlib.util.find_spec("bokeh") is not None)
        if "dashboard" not in services or not has_bokeh:
            return None
        return self.client.dashboard_link

    def __enter__(self):
        self._signals = _quiet_on_stop(self._stopping)
        self._signals.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.close()
        finally:
            self._signals.__exit__(None, None, None)

    def close(self) -> None:
        """Cancel the tasks and close the client and the local cluster; Dask's loggers, quiet
        from a stop signal on (:func:`_quiet_on_stop`), speak again once all is closed.

        A local cluster's workers are quieted first, as a Ctrl-C at the terminal quiets them
        (:func:`cnnspec.sweep.worker.quiet_dask`): a worker still training a cell when the
        cluster closes (after a Ctrl-C or SIGTERM to this process alone, which its workers do
        not hear) stays up a while, heartbeating, and a heartbeat caught as the scheduler
        closed logged an error with a traceback (a CommClosedError)."""
        try:
            client = getattr(self, "client", None)
            if client is not None:
                if self._cluster is not None:
                    _quiet_workers(client)
                if self._futures:
                    client.cancel(self._futures)
                client.close()
            if self._cluster is not None:
                # Its workers are ours to stop: Dask's warnings about stopping them are noise.
                with dask_logs_at(logging.ERROR):
                    self._cluster.close()
        finally:
            self._stopping.close()

    def results(self, fn: Callable, tasks: list) -> Iterator[tuple[object, object]]:
        from distributed import KilledWorker
        from distributed import as_completed as dask_completed

        sweep = uuid.uuid4().hex[:8]
        # A key per task and sweep: a retried task keeps its key, so its result arrives once.
        self._futures = [self.client.submit(fn, task, key=f"cnnspec-cell-{sweep}-{i}",
                                            pure=False)
                         for i, task in enumerate(tasks)]
        self._tasks = {future.key: task for future, task in zip(self._futures, tasks)}
        for future in dask_completed(self._futures):
            try:
                result = future.result()
            except KilledWorker as exc:  # it lost every worker it was retried on
                raise RunError(f"a sweep task failed on the cluster: {exc}",
                               hint="look at the workers' logs; the cells finished so far "
                               "are recorded, run the same sweep again to finish the rest"
                               ) from None
            self._yielded.add(future.key)
            yield self._tasks[future.key], result

    def finished(self) -> Iterator[tuple[object, object]]:
        """The tasks the cluster has finished but :meth:`results` did not yield, with their
        results, as far as they arrive within :data:`PROBE_SECONDS` in all (a stopping sweep
        does not wait on a cluster that does not answer, or on a worker that died)."""
        deadline = time.monotonic() + PROBE_SECONDS
        for future in self._futures:
            left = deadline - time.monotonic()
            if future.key in self._yielded or future.status != "finished" or left <= 0:
                continue
            result = None
            with suppress(Exception):  # gone or late: its cell trains again next time
                result = future.result(timeout=left)
            if result is not None:
                yield self._tasks[future.key], result

