"""JSON output of the lab's numbers.

A std can be NaN or infinite (a diverged run, an empty layer); JSON has no literal for those, and
Python's ``json`` would write the invalid ``NaN``. They are written as the strings ``"nan"``,
``"inf"`` and ``"-inf"`` instead, so every output parses with any JSON reader.
"""
from __future__ import annotations

import json
import math


def json_safe(value):
    """``value`` with every non-finite float replaced by its string form, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def dumps(value, indent: int | None = 2) -> str:
    return json.dumps(json_safe(value), indent=indent, default=str)
