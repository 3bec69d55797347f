"""``cnnspec eval RUN``: loss, accuracy and confusion matrix of a trained run."""
from __future__ import annotations

import argparse

from cnnspec.cli import print_note, typed
from cnnspec.cli.arguments import (
    add_data_dir,
    add_run,
    add_weights_and_format,
    weights_chosen,
    weights_line,
)
from cnnspec.data.names import valid_forms
from cnnspec.errors import counted
from cnnspec.metrics import loss_text

LOADS_NUMPY = True
HELP = ("evaluate a trained run: test loss, accuracy (top-k too), per-class precision and "
        "recall, confusion matrix")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run(parser)
    parser.add_argument("--data", metavar="DATA",
                        help="evaluate on the test split of this dataset instead of the run's, "
                        f"written as a spec's data setting: {valid_forms()}, with arguments as "
                        "in a spec: \"shapes(size=8)\"")
    add_data_dir(parser, "the folder the run was trained with")
    add_weights_and_format(parser)


def run(args: argparse.Namespace) -> int:
    # deferred: training (NumPy) loads when the command runs (`cnnspec --help` stays fast)
    from cnnspec.training.evaluate import (
        absent_note,
        evaluate,
        format_confusion,
        format_per_class,
    )
    from cnnspec.training.run import load_run

    loaded = load_run(args.run, weights_chosen(args))
    print_note(loaded.metrics_note)
    result = evaluate(loaded, data=args.data, data_dir=args.data_dir)
    if args.format == "json":
        import json  # for --format json alone: `cnnspec --help` imports this module

        print(json.dumps({**result, **weights_record(loaded)}, indent=2))
        return 0
    note = unfinished_note(loaded.summary, args.run, loaded.weights)
    if note:
        print(note)
    print(weights_line(loaded))
    print(f"data: {result['data'].get('name')} "
          f"(test split, {counted(result['examples'], 'image')})")
    print_note(absent_note(result))
    top = "".join(f"  top-{k} {100 * acc:.2f}%" for k, acc in result["top_k_accuracy"].items())
    print(f"loss {loss_text(result['loss'])}  accuracy {100 * result['accuracy']:.2f}%{top}")
    print(format_per_class(result["per_class"]))
    print("confusion matrix (rows: true class, columns: predicted):")
    print(format_confusion(result["confusion"], result["classes"]))
    return 0


def weights_record(loaded) -> dict:
    """The weights evaluated, for the JSON output: ``{"weights": "best", "weights_epoch": 7}``."""
    return {"weights": loaded.weights, "weights_epoch": loaded.weights_epoch}


def unfinished_note(summary: dict, run: str, weights: str = "last") -> str | None:
    """A line saying what the figures are of when the run in ``run`` did not finish: it is
    evaluated with its best epoch so far (``weights`` "best") or its last checkpoint, which
    for a diverged run can be its initial weights."""
    status, steps = summary.get("status"), summary.get("steps", 0)
    which = "best epoch so far" if weights == "best" else "last checkpoint"
    if status == "diverged":
        return (f"note: this run diverged after {counted(steps, 'step')}; the figures are of "
                f"its {which}, saved before that")
    if status == "interrupted":
        return (f"note: this run was interrupted after {counted(steps, 'step')}; the figures "
                f"are of its {which} (continue it with "
                f"`{typed('train --resume', run)}`)")
    return None
