"""Kill a training run with SIGKILL at random moments, resume it each time, and check that it
ends bitwise where an uninterrupted run ends.

    python tools/kill_test.py                  # 20 kills, seed 0
    python tools/kill_test.py --kills 5 --seed 3

A small network trains on the built-in digits for a few epochs (a checkpoint at the end of
each). First one uninterrupted run gives the reference and its duration T. Then, in a chain:
start the run (``train``, or ``train --resume`` once its folder exists), SIGKILL it, start it
again, and so on until every kill is spent; then let it finish. Most kills come at a moment
drawn uniformly from (0.1 s, T) with a seeded generator; every third one instead waits until
the run is writing a file (a hidden ``*.tmp`` beside its target: a checkpoint, the metrics or,
during setup, the whole folder) and kills it then, inside the write. If a run finishes before
its kill, a new chain starts in a new folder.

Every finished chain must match the reference: the same weights in ``checkpoint.npz`` and
``best.npz`` (bitwise), the same per-epoch metrics (times aside) and test accuracy, and no
temporary file left in the folder (nor a half set-up folder beside it). Exit status 0 when all
match, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SPEC = """\
model killed
input 1x8x8
conv1: conv 8 3x3 pad same relu
pool1: maxpool 2
flatten
drop: dropout 0.2
fc: dense 10
train {
  data digits
  optimizer adam
  schedule cosine
  lr 0.01
  batch 32
  epochs 4
  val_split 0.1
  seed 7
}
"""

# One process: train a fresh run into OUT, or resume it if it exists, unless it finished
# already (killed on its way out) (curves off: Matplotlib would only add a second per start).
RUNNER = """
import json, sys
from pathlib import Path
import cnnspec
spec, out = sys.argv[1], Path(sys.argv[2])
if not out.exists():
    cnnspec.train(spec, run_dir=out, progress="none", curves=False)
elif json.loads((out / "summary.json").read_text())["status"] != "finished":
    cnnspec.resume(out, progress="none", curves=False)
"""
WRITE_EVERY = 3  # every third kill waits for a write in progress
POLL_SECONDS = 0.0002


def start(spec: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", RUNNER, str(spec), str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def writing(out: Path) -> bool:
    """Whether a temporary file of a write in progress is in the run folder or beside it."""
    for folder in (out, out.parent):
        try:
            if any(name.endswith(".tmp") for name in os.listdir(folder)):
                return True
        except FileNotFoundError:
            pass
    return False


def kill_at_moment(process: subprocess.Popen, seconds: float) -> bool:
    """SIGKILL ``process`` after ``seconds``; False if it had finished by then."""
    try:
        process.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True


def kill_in_write(process: subprocess.Popen, out: Path) -> bool:
    """SIGKILL ``process`` as soon as it is seen writing a file; False if it finished first."""
    while process.poll() is None:
        if writing(out):
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(POLL_SECONDS)
    return False


def finish(process: subprocess.Popen) -> None:
    _, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"a run failed (exit {process.returncode}):\n{err}")


def weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as saved:
        return {key: saved[key] for key in saved.files if not key.startswith("_")}


def timeless(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")}
            for row in rows]


def differences(run: Path, reference: Path) -> list[str]:
    """What differs between a finished run and the reference (nothing: an empty list)."""
    problems = []
    for name in ("checkpoint.npz", "best.npz"):
        a, b = weights(run / name), weights(reference / name)
        if a.keys() != b.keys() or any(not np.array_equal(a[k], b[k]) for k in a):
            problems.append(f"{name} differs")
    if timeless(run) != timeless(reference):
        problems.append("metrics differ")
    summaries = [json.loads((p / "summary.json").read_text()) for p in (run, reference)]
    if [s.get("status") for s in summaries] != ["finished"] * 2 or \
            summaries[0]["test_acc"] != summaries[1]["test_acc"]:
        problems.append("summary differs")
    leftovers = [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    if leftovers:
        problems.append(f"temporary files left: {leftovers}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="folder for the runs (default: a temp one)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="cnnspec-kill-"))
    work.mkdir(parents=True, exist_ok=True)
    spec = work / "killed.cnn"
    spec.write_text(SPEC)
    rng = np.random.default_rng(args.seed)

    began = time.perf_counter()
    reference = work / "reference"
    finish(start(spec, reference))
    duration = time.perf_counter() - began
    print(f"uninterrupted run: {duration:.2f} s (process start included)")

    chains, kills, in_write, problems = 0, 0, 0, []
    out = work / f"chain{chains}"
    while kills < args.kills:
        process = start(spec, out)
        if (kills + 1) % WRITE_EVERY == 0:
            killed = kill_in_write(process, out)
            in_write += killed
        else:
            killed = kill_at_moment(process, float(rng.uniform(0.1, duration)))
        if killed:
            kills += 1
            continue
        finish(process)  # it finished before its kill: check it, start a new chain
        problems += [f"{out.name}: {p}" for p in differences(out, reference)]
        chains += 1
        out = work / f"chain{chains}"
    process = start(spec, out)
    finish(process)
    problems += [f"{out.name}: {p}" for p in differences(out, reference)]
    chains += 1
    staging = [p.name for p in work.iterdir() if p.name.endswith(".tmp")]
    if staging:
        problems.append(f"folders being set up left behind: {staging}")
    print(f"{kills} kills ({in_write} inside a file write) over {chains} chain(s) of "
          f"train/resume, seed {args.seed}, {time.perf_counter() - began:.1f} s in all")
    for problem in problems:
        print("MISMATCH", problem)
    print("every resumed run ended bitwise as the uninterrupted run" if not problems
          else f"{len(problems)} mismatches")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
