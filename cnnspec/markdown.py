"""Text for the markdown tables the docs generate from the registries (layer kinds, inits,
training settings, lints)."""
from __future__ import annotations


def cell(text: str) -> str:
    """``text`` in a cell of a markdown table: its ``|`` escaped, which would end the cell."""
    return text.replace("|", "\\|")


def row(*cells: str) -> str:
    """A row of a markdown table of the cells given (written as they are: escape each with
    :func:`cell` where it may hold a ``|``); an empty cell is one space."""
    return "|" + "|".join(f" {text} " if text else " " for text in cells) + "|"
