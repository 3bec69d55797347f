"""Helpers shared by the importer tests (tests/test_import_*.py)."""
from __future__ import annotations

import math
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


def imported_layers(path: Path):
    """The checked spec imported from ``path``, its IR layers by name and their kinds."""
    checked = import_file(path).checked
    layers = {layer["name"]: layer for layer in checked.spec.ir["layers"]}
    return checked, layers, {name: layer["kind"] for name, layer in layers.items()}
