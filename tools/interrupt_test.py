"""Press Ctrl-C at random moments of cnnspec commands and check that none prints a traceback.

    python tools/interrupt_test.py                       # 20 interrupts of each command, seed 0
    python tools/interrupt_test.py --interrupts 5 --commands check train

Each command first runs once uninterrupted, which gives its duration T (process start
included). Then it is started again and again, and each time sent SIGINT, to its whole process
group as a terminal's Ctrl-C is, at a moment drawn uniformly from (0, T) with a seeded
generator. An interrupted command must end with exit code 130 and say so in one line
(``cnnspec: interrupted``, or a run's or a sweep's own words); one that finished before its
Ctrl-C, or that finished its work as it came, ends as it would have without it. Neither may
print a traceback.

A Ctrl-C in the first hundredth of a second or so, before the command's entry point
(``cnnspec.__main__.run``) runs, is Python's own: the interpreter starting (a "Fatal Python
error"), ``python -m`` importing the package, or the script pip writes for ``cnnspec``
importing the entry point end with a traceback that no code of cnnspec can catch. Those are
counted apart, as "before the command started", and are no failure.

Exit status 0 when no command printed a traceback of its own, 1 otherwise.
"""
from __future__ import annotations

import argparse
import collections
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPEC = """\
model interrupted
input 1x8x8
conv1: conv 8 3x3 pad same relu
pool1: maxpool 2
flatten
fc: dense 10
train {
  data digits
  batch 32
  epochs 2
  seed 7
}
"""
# Each command's arguments, with {spec}, {prototxt} and {work} filled in.
COMMANDS = {
    "check": ["check", "{spec}"],
    "export": ["export", "{spec}", "-o", "{work}/net.json", "--force"],
    "import": ["import", "{prototxt}", "--input", "1x28x28", "-o", "-"],
    "diagram": ["diagram", "{spec}", "-o", "{work}/net.svg"],
    "train": ["train", "{spec}", "--runs-dir", "{work}/runs", "--quiet"],
}
# How a command may end: done, interrupted, or (a Ctrl-C before Python has set up its own
# handling, in its first milliseconds) killed by SIGINT, which a shell reports as 130 too.
CLEAN_CODES = (0, 130, -signal.SIGINT)
# The frame of the entry point: a traceback without it came before the command started.
ENTRY_FRAME = f'{os.sep}cnnspec{os.sep}__main__.py", line '


def command_line(name: str, work: Path) -> list[str]:
    values = {"spec": str(work / "net.cnn"), "work": str(work),
              "prototxt": str(ROOT / "tests" / "data" / "import" / "lenet.prototxt")}
    return [sys.executable, "-m", "cnnspec",
            *(word.format(**values) for word in COMMANDS[name])]


def ending(stderr: str) -> str:
    """How a command ended, by what it printed: "clean", "before start" (a traceback of
    Python's own, before the entry point ran) or "traceback"."""
    if "Traceback" not in stderr and "Fatal Python error" not in stderr:
        return "clean"
    if "Fatal Python error" in stderr or not any(
            ENTRY_FRAME in line and line.rstrip().endswith("in run")
            for line in stderr.splitlines()):
        return "before start"
    return "traceback"


def interrupted_run(command: list[str], seconds: float) -> tuple[int, str]:
    """Run ``command`` and send its process group SIGINT after ``seconds`` (unless it ended);
    its exit code and standard error."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate()
    return process.returncode, err


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interrupts", type=int, default=20, help="per command")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--commands", nargs="+", choices=COMMANDS, default=list(COMMANDS))
    parser.add_argument("--work", type=Path, help="folder for the files (default: a temp one)")
    args = parser.parse_args(argv)
    # A command hears Ctrl-C only where SIGINT is not ignored: a shell's background job starts
    # with it ignored, and a child inherits that; a handler of Python's is reset at exec.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    work = args.work or Path(tempfile.mkdtemp(prefix="cnnspec-interrupt-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "net.cnn").write_text(SPEC)
    rng = np.random.default_rng(args.seed)
    failures = []
    for name in args.commands:
        command = command_line(name, work)
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        duration = time.perf_counter() - began
        if done.returncode != 0:
            raise SystemExit(f"{name} failed uninterrupted (exit {done.returncode}):\n"
                             f"{done.stderr}")
        endings, codes = collections.Counter(), collections.Counter()
        for _ in range(args.interrupts):
            seconds = float(rng.uniform(0, duration))
            code, err = interrupted_run(command, seconds)
            codes[code] += 1
            endings[how := ending(err)] += 1
            if how == "traceback" or (how == "clean" and code not in CLEAN_CODES):
                failures.append(f"{name}, Ctrl-C at {seconds:.3f} s: exit {code}\n{err}")
        print(f"{name}: {duration:.2f} s uninterrupted; exit codes {dict(sorted(codes.items()))};"
              f" {dict(endings)}", flush=True)
    for failure in failures:
        print("FAILED", failure)
    print("no traceback from a command" if not failures else f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
