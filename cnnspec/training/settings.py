"""The training settings of one run: the spec's ``training`` block with command-line overrides.

The overrides (``--epochs``, ``--lr``, ``--batch-size``, ``--seed``, ``--data``) are checked
here, recorded in ``summary.json`` and written into the run's ``spec.json``, so that the run
folder alone says exactly how it was trained.
"""
from __future__ import annotations

import copy
from pathlib import Path

from cnnspec.data import parse_data_arg
from cnnspec.errors import SpecError
from cnnspec.ir.training_catalogue import KEYS

OVERRIDABLE = ("epochs", "lr", "batch_size", "seed", "data")


def _bad(option: str, message: str, hint: str) -> SpecError:
    return SpecError(f"{option} {message}", hint=hint)


def check_overrides(overrides: dict) -> dict:
    """The overrides that were given (not None), each checked; raises :class:`SpecError`."""
    given = {key: value for key, value in overrides.items() if value is not None}
    for key in ("epochs", "batch_size", "seed"):
        arg = KEYS[key].arg  # the ranges are the spec's own (cnnspec/ir/training_catalogue.py)
        if key in given and arg.problem(given[key]):
            raise _bad(f"--{key.replace('_', '-')}", f"must be an integer >= {arg.low:g}, "
                       f"not {given[key]!r}", "e.g. --epochs 10 --batch-size 64 --seed 0")
    if "lr" in given:
        if KEYS["lr"].arg.problem(given["lr"]):
            raise _bad("--lr", f"must be a positive number, not {given['lr']!r}",
                       "e.g. --lr 0.01")
        given["lr"] = float(given["lr"])
    if "data" in given and isinstance(given["data"], str):
        given["data"] = parse_data_arg(given["data"])
    return given


def effective_ir(ir: dict, overrides: dict) -> dict:
    """A copy of the IR whose ``training`` block has the overrides applied.

    A relative ``npz`` data path becomes absolute, so that ``eval`` and ``--resume`` find the
    arrays from any working directory.
    """
    ir = copy.deepcopy(ir)
    ir["training"].update(copy.deepcopy(overrides))
    data = ir["training"].get("data")
    if isinstance(data, dict) and data.get("name") == "npz" and isinstance(data.get("path"), str):
        data["path"] = str(Path(data["path"]).expanduser().absolute())
    return ir
