"""A value of the AST written back as source: what ``cnnspec fmt`` lays out, and what a hint
writes when it rewrites a line (``write `fc: dense 10 weight normal(0, 0.01)```).

It reads the AST alone, so the resolver's hints and the formatter (which parses through the
resolver) both use it without importing each other.
"""
from __future__ import annotations

from cnnspec.lang.ast import Call, Dims, ListLit, Num, Str, Value, Word


def source_text(value: Value, column: int = 0, line_ends: list[int] | None = None) -> str:
    """``value`` as canonical source; a multi-row matrix continues on lines indented to sit
    under its first row (``column`` is where the value starts). For each line break it writes,
    the source line of what ends the line before it is appended to ``line_ends``, in the
    order of the output: where a comment that followed a row goes."""
    line_ends = [] if line_ends is None else line_ends
    if isinstance(value, (Num, Dims)):
        return value.text
    if isinstance(value, Word):
        return value.name
    if isinstance(value, Str):
        return f'"{value.value}"'
    if isinstance(value, Call):
        return _call_text(value, column, line_ends)
    return _list_text(value, column, line_ends)


def one_line(value: Value) -> str:
    """``value`` as canonical source on one line, as a hint quotes it: a matrix's rows side
    by side (``[[1, 0], [0, 1]]``)."""
    if isinstance(value, ListLit) and _is_matrix(value):
        return "[" + ", ".join("[" + ", ".join(x.text for x in row.items) + "]"
                               for row in value.items) + "]"
    if isinstance(value, ListLit):
        return "[" + ", ".join(one_line(item) for item in value.items) + "]"
    if isinstance(value, Call):
        return value.name + "(" + ", ".join(
            [one_line(arg) for arg in value.args]
            + [f"{kwarg.name}={one_line(kwarg.value)}" for kwarg in value.kwargs]) + ")"
    return source_text(value)


def line_text(values: list[Value]) -> str:
    """``values`` as a line writes them, one after another, each on one line
    (:func:`one_line`)."""
    return " ".join(one_line(value) for value in values)


def _call_text(call: Call, column: int, line_ends: list[int]) -> str:
    out = call.name + "("
    parts = []
    for arg in call.args:
        parts.append(source_text(arg, column + len(out) + len(", ".join(parts)), line_ends))
    for kwarg in call.kwargs:
        prefix = kwarg.name + "="
        start = column + len(out) + len(", ".join(parts)) + (2 if parts else 0) + len(prefix)
        parts.append(prefix + source_text(kwarg.value, start, line_ends))
    return out + ", ".join(parts) + ")"


def _list_text(lst: ListLit, column: int, line_ends: list[int]) -> str:
    if lst.items and all(isinstance(item, ListLit) for item in lst.items):
        if _is_matrix(lst):
            line_ends += [row.span.end_line for row in lst.items[:-1]]
            return _matrix_text(lst, column)
        if len(lst.items) > 1:
            rows = []
            for item in lst.items:  # an item's own line breaks come before the one after it
                rows.append(source_text(item, column + 1, line_ends))
                line_ends.append(item.span.end_line)
            line_ends.pop()  # none after the last item
            return "[" + (",\n" + " " * (column + 1)).join(rows) + "]"
    inner = ", ".join(source_text(item, column + 1, line_ends) for item in lst.items)
    return f"[{inner}]"


def _is_matrix(lst: ListLit) -> bool:
    """Rows of numbers, more than one: written one row a line."""
    return len(lst.items) > 1 and all(_is_number_row(item) for item in lst.items)


def _is_number_row(value: Value) -> bool:
    return isinstance(value, ListLit) and all(isinstance(x, Num) for x in value.items)


def _matrix_text(lst: ListLit, column: int) -> str:
    """Rows of numbers, one per line, columns right-aligned when the rows are equally long."""
    rows = [[x.text for x in row.items] for row in lst.items]
    if len({len(r) for r in rows}) == 1:
        widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
        rows = [[x.rjust(w) for x, w in zip(r, widths)] for r in rows]
    return "[" + (",\n" + " " * (column + 1)).join("[" + ", ".join(r) + "]" for r in rows) + "]"
