"""``cnnspec eval RUN``: loss, accuracy and confusion matrix of a trained run."""
from __future__ import annotations

import argparse
import json

HELP = ("evaluate a trained run: test loss, accuracy (top-k too), per-class precision and "
        "recall, confusion matrix")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="a run folder written by `cnnspec train`")
    parser.add_argument("--data", metavar="DATA",
                        help="evaluate on the test split of this dataset instead of the run's, "
                        "written as a spec's data setting (digits, shapes(size=8), mnist, "
                        "fashion-mnist) or npz:PATH")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="where downloaded datasets are cached (default ~/.cache/cnnspec)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="output format (default text)")


def run(args: argparse.Namespace) -> int:
    # deferred: training (NumPy) loads when the command runs (`cnnspec --help` stays fast)
    from cnnspec.training.evaluate import evaluate, format_confusion, format_per_class
    from cnnspec.training.run import load_run

    loaded = load_run(args.run)
    result = evaluate(loaded, data=args.data, data_dir=args.data_dir)
    if args.format == "json":
        print(json.dumps(result, indent=2))
        return 0
    note = unfinished_note(loaded.summary, args.run)
    if note:
        print(note)
    print(f"data: {result['data'].get('name')} (test split, {result['examples']} images)")
    top = "".join(f"  top-{k} {100 * acc:.2f}%" for k, acc in result["top_k_accuracy"].items())
    print(f"loss {result['loss']:.4f}  accuracy {100 * result['accuracy']:.2f}%{top}")
    print(format_per_class(result["per_class"]))
    print("confusion matrix (rows: true class, columns: predicted):")
    print(format_confusion(result["confusion"], result["classes"]))
    return 0


def unfinished_note(summary: dict, run: str) -> str | None:
    """A line saying what the figures are of when the run in ``run`` did not finish: it is
    evaluated with its last checkpoint, which for a diverged run can be its initial weights."""
    status, steps = summary.get("status"), summary.get("steps", 0)
    if status == "diverged":
        return (f"note: this run diverged after {steps} steps; the figures are of its last "
                "checkpoint, saved before that")
    if status == "interrupted":
        return (f"note: this run was interrupted after {steps} steps; the figures are of that "
                f"checkpoint (continue it with `cnnspec train --resume {run}`)")
    return None
