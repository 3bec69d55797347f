"""How a sweep scales on Dask: 16 cells on a local cluster of 1 and of 2 worker processes, and
what Dask costs per task against training the same cells one after the other in this process.

The sweep is ``specs/digits.cnn`` with ``init`` x ``lr`` (2 x 2) x 4 seeds, ``--epochs`` each
(16 cells). Each configuration trains the same 16 cells into a fresh folder; the rounds
alternate the three (in-process, 1 worker, 2 workers) so that the machine's drift falls on all
alike, and the medians are reported. A cluster's start-up (workers importing NumPy and
cnnspec) is timed apart from the sweep on it; the per-task overhead is
``(time on 1 worker - time in process) / 16``, and the same outside the cells' training loops
(their summaries' ``wall_seconds`` subtracted), which the machine's load disturbs less. Each cell
trains with the engine's two threads (batch halves), in a worker as in this process, so 2 workers on
2 cores run 4 threads.

Usage: ``python3 tools/sweep_scaling.py [--rounds 3] [--epochs 2] [--seeds 4]``
(needs the ``sweep`` extra: ``pip install 'cnnspec[sweep]'``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from cnnspec.engine.calibrate import cpu_model
from cnnspec.sweep.executor import DaskExecutor, LocalExecutor
from cnnspec.sweep.results import prepare_folder
from cnnspec.sweep.runner import plan, run_cells
from cnnspec.training.settings import Settings

SPEC = Path(__file__).resolve().parent.parent / "specs" / "digits.cnn"
SETS = ["init=he_normal,glorot_uniform", "lr=0.05,0.1"]


def timed_sweep(cells, make_executor) -> tuple[float, float, float]:
    """(seconds to start the executor, seconds to train every cell on it, seconds the cells'
    training loops took in all, by their summaries' ``wall_seconds``)."""
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        with make_executor() as running:
            ready = time.perf_counter()
            trained = run_cells(cells, prepare_folder(Path(out) / "sweep"),
                                lambda n: _Started(running))
            finished = time.perf_counter()
    assert trained.ran == len(cells) and len(trained.done) == len(cells)
    training = sum(result.summary["wall_seconds"] for _, result in trained.done)
    return ready - started, finished - ready, training


class _Started:
    """An executor already started, handed to run_cells without stopping it twice."""

    def __init__(self, running) -> None:
        self.running = running

    def __enter__(self):
        return self.running

    def __exit__(self, *exc) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    cells = plan(str(SPEC), SETS, seeds=args.seeds, settings=Settings(epochs=args.epochs)).cells
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    print(f"{len(cells)} cells: {SPEC.name}, {' '.join('--set ' + s for s in SETS)}, "
          f"--seeds {args.seeds}, --epochs {args.epochs}; {args.rounds} rounds")
    configs = {
        "in this process": lambda: LocalExecutor(1),
        "Dask, 1 worker": lambda: DaskExecutor(workers=1),
        "Dask, 2 workers": lambda: DaskExecutor(workers=2),
    }
    times: dict[str, list[tuple[float, float, float]]] = {name: [] for name in configs}
    for round_ in range(args.rounds):
        for name, make in configs.items():
            times[name].append(timed_sweep(cells, make))
            start, run, training = times[name][-1]
            print(f"  round {round_ + 1}: {name:16s} start {start:5.1f} s, sweep {run:6.1f} s "
                  f"(training loops {training:6.1f} s)", flush=True)
    median = {name: tuple(statistics.median(row[i] for row in t) for i in range(3))
              for name, t in times.items()}
    one, two = median["Dask, 1 worker"], median["Dask, 2 workers"]
    local = median["in this process"]
    print("medians:")
    for name, (start, run, training) in median.items():
        print(f"  {name:16s} start {start:5.1f} s, sweep {run:6.1f} s "
              f"({run / len(cells):.2f} s per cell, {(run - training) / len(cells):.2f} s of "
              "it outside the training loop)")
    print(f"speed-up of 2 workers over 1: {one[1] / two[1]:.2f}x")
    print(f"Dask's overhead per task (1 worker against this process): "
          f"{(one[1] - local[1]) / len(cells) * 1000:+.0f} ms in all, "
          f"{((one[1] - one[2]) - (local[1] - local[2])) / len(cells) * 1000:+.0f} ms "
          "outside the training loop")


if __name__ == "__main__":
    main()
