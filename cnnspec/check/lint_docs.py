"""The table of check's warnings in docs/warnings.md, generated from the lints' catalogue
(:mod:`cnnspec.check.lint_catalogue`). ``python tools/generate.py`` writes it between its
marker lines; a test fails when the shipped page differs from what the catalogue gives.
"""
from __future__ import annotations

from cnnspec.check.lint_catalogue import LINTS
from cnnspec.kinds.docs import begin_marker, end_marker
from cnnspec.markdown import cell

LINT_TABLE = ("lints", "cnnspec/check/lint_catalogue.py")
LINT_MARKERS = (begin_marker(*LINT_TABLE), end_marker(LINT_TABLE[0]))


def lint_table() -> str:
    """The markdown table: each lint's name, what it warns of, and why it matters."""
    rows = ["| lint | warns of | why |", "|---|---|---|"]
    rows += [f"| `{lint.name}` | {cell(lint.summary)} | {cell(lint.explanation)} |"
             for lint in LINTS]
    return "\n".join(rows)
