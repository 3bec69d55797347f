"""The command line's ``--data`` argument (no NumPy needed here).

The datasets themselves, their names and the other spellings of them, are declared in
:mod:`cnnspec.ir.datasets`.
"""
from __future__ import annotations

from cnnspec.errors import SettingError, closest, literal
from cnnspec.ir.datasets import ALIASES, DATASETS, canonical_name

# name -> what it is, for messages and --help
DATASET_NAMES = {name: kind.description for name, kind in DATASETS.items()}
NPZ_PREFIX = "npz:"


def valid_forms() -> str:
    """The datasets as ``--data`` takes them: ``digits, shapes, ..., npz:PATH``."""
    return ", ".join(name if name != "npz" else "npz:PATH" for name in DATASET_NAMES)


def parse_data_arg(text: str) -> dict:
    """The IR ``training.data`` object for a ``--data`` value.

    ``digits``, ``shapes``, ``mnist``, ``fashion-mnist`` (or another spelling of one, such as
    ``fashion_mnist``) name a dataset (``shapes`` with its defaults); ``npz:PATH`` points at a
    ``.npz`` file of the user's own arrays.
    """
    text = text.strip()
    if text.startswith(NPZ_PREFIX):
        path = text[len(NPZ_PREFIX):]
        if not path:
            raise SettingError("{data} npz: needs a path", hint="write it as npz:PATH, "
                               "e.g. npz:my_images.npz", invalid=True)
        return {"name": "npz", "path": path}
    name = canonical_name(text)
    if name is not None and name != "npz":
        return {"name": name, **DATASETS[name].defaults}
    raise unknown_dataset(text)


def unknown_dataset(text: str) -> SettingError:
    """The error for a dataset named ``text`` that no dataset is (by ``--data``, or in an IR
    data object a library caller gives): the valid names, and the closest of them. A name
    mistyped is a mistake in what was asked (exit 2), as a bad shapes(...) argument is."""
    return SettingError(f"unknown dataset {literal(repr(text))}",
                        hint=literal(_unknown_hint(text)), invalid=True)


def _unknown_hint(text: str) -> str:
    if text == "npz" or text.endswith(".npz"):
        path = "PATH" if text == "npz" else text
        return f"for your own arrays write npz:{path}"
    hint = f"valid datasets: {valid_forms()}"
    names = [n for n in [*DATASET_NAMES, *ALIASES] if n != "npz"]
    close = closest(text.lower(), names)
    if close:
        hint = f"did you mean {canonical_name(close)!r}? " + hint
    return hint
