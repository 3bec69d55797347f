"""The quality bars of cnnspec's training, measured: each example spec trained with its own
settings, its test accuracy (and, for the default spec, the time) against the bar. The
accuracy is that of the weights the run keeps (its best epoch's by validation), which eval,
predict and export use: what a user of the trained network gets.

    python3 tools/quality.py            # both bars; exit status 1 if one is missed
    python3 tools/quality.py --keep     # keep the run folders (in runs/)

Each figure is printed with the command that reproduces it.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cnnspec
from cnnspec.engine.calibrate import cpu_model

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Bar:
    """A spec, the test accuracy it must reach and, if any, the time it must take at most."""

    spec: str
    min_test_acc: float
    max_seconds: float | None = None


BARS = [
    Bar("specs/digits.cnn", min_test_acc=0.98, max_seconds=60.0),
    Bar("specs/x_detector.cnn", min_test_acc=0.99),
]


def measure(bar: Bar, runs_dir: Path, keep: bool) -> bool:
    """Train ``bar.spec``, print its figures and whether they meet the bar."""
    started = time.perf_counter()
    run = cnnspec.train(ROOT / bar.spec, runs_dir=runs_dir, progress="none")
    seconds = time.perf_counter() - started
    acc = run.summary["test_acc"]
    ok = acc >= bar.min_test_acc
    line = (f"{run.spec.ir['name']}: test accuracy {100 * acc:.2f}% "
            f"(bar >= {100 * bar.min_test_acc:.0f}%) on {run.summary['test_examples']} test "
            f"images, weights of epoch {run.summary['test_epoch']}; "
            f"{run.summary['epochs_done']} epochs in {seconds:.1f} s")
    if bar.max_seconds is not None:
        ok = ok and seconds < bar.max_seconds
        line += f" (bar < {bar.max_seconds:.0f} s)"
    print(f"{'PASS' if ok else 'FAIL'}  {line}")
    where = f"   (run folder: {run.path})" if keep else ""
    print(f"      reproduce: cnnspec train {bar.spec}{where}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true",
                        help="keep the run folders in runs/ instead of a temporary folder")
    args = parser.parse_args(argv)
    print(f"cnnspec quality bars; CPU: {cpu_model()}, {os.cpu_count()} cores; load "
          f"average {os.getloadavg()[0]:.1f}")
    if args.keep:
        results = [measure(bar, ROOT / "runs", keep=True) for bar in BARS]
    else:
        with tempfile.TemporaryDirectory(prefix="cnnspec-quality-") as tmp:
            results = [measure(bar, Path(tmp), keep=False) for bar in BARS]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
