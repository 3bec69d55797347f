"""Dataset names and the command line's ``--data`` argument (no NumPy needed here)."""
from __future__ import annotations

import difflib

from cnnspec.errors import RunError

# name -> what it is, for messages and --help
DATASET_NAMES = {
    "digits": "UCI handwritten digits, 8x8 (built in)",
    "shapes": "synthetic shapes: x, plus, o, square, bars, diagonals (generated from the seed)",
    "mnist": "MNIST handwritten digits, 28x28 (downloaded on first use)",
    "fashion-mnist": "Fashion-MNIST clothing images, 28x28 (downloaded on first use)",
    "npz": "your own arrays: npz:PATH with x (N, C, H, W) or (N, H, W) and integer labels y",
}
NPZ_PREFIX = "npz:"


def _valid_forms() -> str:
    return ", ".join(name if name != "npz" else "npz:PATH" for name in DATASET_NAMES)


def parse_data_arg(text: str) -> dict:
    """The IR ``training.data`` object for a ``--data`` value.

    ``digits``, ``shapes``, ``mnist``, ``fashion-mnist`` name a dataset (``shapes`` with its
    defaults); ``npz:PATH`` points at a ``.npz`` file of the user's own arrays.
    """
    text = text.strip()
    if text.startswith(NPZ_PREFIX):
        path = text[len(NPZ_PREFIX):]
        if not path:
            raise RunError("--data npz: needs a path", hint="write it as npz:PATH, "
                           "e.g. npz:my_images.npz")
        return {"name": "npz", "path": path}
    if text in DATASET_NAMES and text != "npz":
        return {"name": text}
    raise RunError(f"unknown dataset {text!r}", hint=_unknown_hint(text))


def _unknown_hint(text: str) -> str:
    if text == "npz" or text.endswith(".npz"):
        path = "PATH" if text == "npz" else text
        return f"for your own arrays write npz:{path}"
    hint = f"valid datasets: {_valid_forms()}"
    close = difflib.get_close_matches(text.lower(), [n for n in DATASET_NAMES if n != "npz"],
                                      n=1, cutoff=0.6)
    if close:
        hint = f"did you mean {close[0]!r}? " + hint
    return hint
