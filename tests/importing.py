"""Helpers shared by the importer tests (tests/test_import_*.py)."""
from __future__ import annotations

import math
import random
from pathlib import Path

from cnnspec.importers import import_file
from cnnspec.init.catalogue import canonical

DATA = Path(__file__).parent / "data" / "import"


def same_init(found: dict, expected: dict) -> bool:
    """``found`` is ``expected`` in canonical form, numbers to 1e-12."""
    expected = canonical(expected)
    return found.keys() == expected.keys() and all(
        math.isclose(found[k], expected[k], rel_tol=1e-12) if isinstance(found[k], float)
        else found[k] == expected[k] for k in found)


def mutations(text: str, rng: random.Random, count: int, pieces: list[str]):
    """``count`` mutations of ``text``: one to four spans of up to 12 characters each
    replaced by one of ``pieces`` (the format's own punctuation and words) or nothing."""
    for _ in range(count):
        out = text
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(out) + 1)
            j = min(len(out), i + rng.randint(0, 12))
            out = out[:i] + rng.choice(pieces + [""]) + out[j:]
        yield out


def imported_layers(path: Path):
    """The checked spec imported from ``path``, its IR layers by name and their kinds."""
    checked = import_file(path).checked
    layers = {layer["name"]: layer for layer in checked.spec.ir["layers"]}
    return checked, layers, {name: layer["kind"] for name, layer in layers.items()}
