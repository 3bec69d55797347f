"""Text for the markdown tables the docs generate from the registries (layer kinds, inits,
training settings, lints)."""
from __future__ import annotations


def cell(text: str) -> str:
    """``text`` in a cell of a markdown table: its ``|`` escaped, which would end the cell."""
    return text.replace("|", "\\|")
