"""The canonical layout of a spec (``cnnspec fmt``).

The spec is parsed (so only valid syntax is formatted) and written back from its AST:

- one statement per line, single spaces between values, ``name: kind ...``, ``<- a, b``,
  ``f(a, k=v)``, ``[1, 0, 1]``; numbers exactly as written;
- the body of a ``repeat`` or ``train`` block indented by two spaces;
- a kernel literal of several rows written as a matrix, one row per line, columns aligned;
- at most one blank line between statements, where the source had at least one;
- comments kept: a comment after code stays after it, aligned with the trailing comments on the
  lines around it; a comment on its own line stays on its own line, indented like the code
  that follows it. (A comment inside a multi-line statement moves to the line above it.)

Formatting its own output changes nothing (tests check this on every spec in ``specs/``).
"""
from __future__ import annotations

from dataclasses import dataclass

from cnnspec.lang.ast import (
    Call,
    DefaultStmt,
    Dims,
    InputStmt,
    LayerStmt,
    ListLit,
    ModelStmt,
    Num,
    OutputStmt,
    RepeatStmt,
    Setting,
    Str,
    TrainStmt,
    Value,
    Word,
    to_ast,
)
from cnnspec.lang.parser import parse_with_comments

INDENT = "  "


@dataclass
class Element:
    """One piece of output: a statement (possibly several lines), a brace or a comment."""

    text: str  # without indentation of the first line; later lines carry their own
    depth: int
    first: int  # source lines it came from
    last: int
    role: str = "code"  # code | open | close | comment
    trailing: str | None = None


def format_source(text: str, path: str | None = None) -> str:
    """``text`` in canonical layout (idempotent; comments kept). ``path`` names the file in
    syntax errors."""
    tree, comments = parse_with_comments(text, path=path)
    module = to_ast(tree, path)
    elements = []
    for stmt in module.statements:
        elements += _statement(stmt, 0)
    elements = _place_comments(elements, comments)
    return _render(elements)


# -- values -------------------------------------------------------------------------------------


def value_text(value: Value, column: int = 0) -> str:
    """``value`` as canonical source; a multi-row matrix continues on lines indented to sit
    under its first row (``column`` is where the value starts)."""
    if isinstance(value, (Num, Dims)):
        return value.text
    if isinstance(value, Word):
        return value.name
    if isinstance(value, Str):
        return f'"{value.value}"'
    if isinstance(value, Call):
        return _call_text(value, column)
    return _list_text(value, column)


def _call_text(call: Call, column: int) -> str:
    out = call.name + "("
    parts = []
    for arg in call.args:
        parts.append(value_text(arg, column + len(out) + len(", ".join(parts))))
    for kwarg in call.kwargs:
        prefix = kwarg.name + "="
        start = column + len(out) + len(", ".join(parts)) + (2 if parts else 0) + len(prefix)
        parts.append(prefix + value_text(kwarg.value, start))
    return out + ", ".join(parts) + ")"


def _list_text(lst: ListLit, column: int) -> str:
    if lst.items and all(isinstance(item, ListLit) for item in lst.items):
        if all(_is_number_row(item) for item in lst.items) and len(lst.items) > 1:
            return _matrix_text(lst, column)
        if len(lst.items) > 1:
            rows = [value_text(item, column + 1) for item in lst.items]
            return "[" + (",\n" + " " * (column + 1)).join(rows) + "]"
    inner = ", ".join(value_text(item, column + 1) for item in lst.items)
    return f"[{inner}]"


def _is_number_row(value: Value) -> bool:
    return isinstance(value, ListLit) and all(isinstance(x, Num) for x in value.items)


def _matrix_text(lst: ListLit, column: int) -> str:
    """Rows of numbers, one per line, columns right-aligned when the rows are equally long."""
    rows = [[x.text for x in row.items] for row in lst.items]
    if len({len(r) for r in rows}) == 1:
        widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
        rows = [[x.rjust(w) for x, w in zip(r, widths)] for r in rows]
    return "[" + (",\n" + " " * (column + 1)).join("[" + ", ".join(r) + "]" for r in rows) + "]"


# -- statements ---------------------------------------------------------------------------------


def _statement(stmt, depth: int) -> list[Element]:
    span = stmt.span
    if isinstance(stmt, ModelStmt):
        return [Element(f"model {stmt.name}", depth, span.line, span.end_line)]
    if isinstance(stmt, InputStmt):
        return [Element(f"input {value_text(stmt.value)}", depth, span.line, span.end_line)]
    if isinstance(stmt, OutputStmt):
        return [Element(f"output {stmt.name}", depth, span.line, span.end_line)]
    if isinstance(stmt, DefaultStmt):
        text = "default " + ", ".join(_setting_text(s, 0) for s in stmt.settings)
        return [Element(text, depth, span.line, span.end_line)]
    if isinstance(stmt, LayerStmt):
        return [Element(_layer_text(stmt, depth), depth, span.line, span.end_line)]
    if isinstance(stmt, RepeatStmt):
        header = f"repeat {value_text(stmt.count)}" + (f" as {stmt.name}" if stmt.name else "")
        body = [e for layer in stmt.layers for e in _statement(layer, depth + 1)]
        return _block(header, body, stmt, depth)
    if isinstance(stmt, TrainStmt):
        body = [Element(_setting_text(s, depth + 1), depth + 1, s.span.line, s.span.end_line)
                for s in stmt.settings]
        return _block("train", body, stmt, depth)
    raise TypeError(f"no layout for {type(stmt).__name__}")


def _block(header: str, body: list[Element], stmt, depth: int) -> list[Element]:
    # The header's source line is where the statement starts; the brace's, where it ends.
    open_line = stmt.span.line
    close_line = stmt.span.end_line
    return [Element(header + " {", depth, open_line, open_line, "open"), *body,
            Element("}", depth, close_line, close_line, "close")]


def _setting_text(setting: Setting, depth: int) -> str:
    prefix = setting.key + " "
    return prefix + value_text(setting.value, len(INDENT) * depth + len(prefix))


def _layer_text(stmt: LayerStmt, depth: int) -> str:
    out = f"{stmt.label}: " if stmt.label else ""
    column = len(INDENT) * depth
    out += value_text(stmt.head, column + len(out))
    for item in stmt.items:
        out += " " + value_text(item, _column_after(out, column) + 1)
    if stmt.inputs:
        out += " <- " + ", ".join(ref.name for ref in stmt.inputs)
    return out


def _column_after(text: str, column: int) -> int:
    """The column after ``text`` written from ``column`` (later lines carry their own
    indentation)."""
    if "\n" in text:
        return len(text.rsplit("\n", 1)[-1])
    return column + len(text)


# -- comments -----------------------------------------------------------------------------------


def _place_comments(elements: list[Element], comments) -> list[Element]:
    """Attach each comment after the code on its line, or insert it as its own element."""
    result = list(elements)
    for token in comments:
        line, text = token.line, str(token).rstrip()
        owner = next((e for e in elements if e.last == line and e.role != "comment"), None)
        if owner is not None and owner.trailing is None:
            owner.trailing = text
            continue
        if owner is not None:  # two comments cannot both trail one line; keep the second above
            line = owner.first
        inside = next((e for e in elements if e.first <= line < e.last), None)
        position = inside.first if inside is not None else line
        index = next((i for i, e in enumerate(result)
                      if e.first > position or (inside is not None and e is inside)),
                     len(result))
        depth = _comment_depth(result, index)
        result.insert(index, Element(text, depth, position, position, "comment"))
    return result


def _comment_depth(elements: list[Element], index: int) -> int:
    """A comment on its own line is indented like the code after it (inside a block, even
    when what follows is the block's closing brace)."""
    if index < len(elements):
        after = elements[index]
        return after.depth + 1 if after.role == "close" else after.depth
    return 0


# -- output -------------------------------------------------------------------------------------


def _render(elements: list[Element]) -> str:
    lines: list[tuple[str, str | None]] = []  # (code with indentation, trailing comment)
    previous = None
    for element in elements:
        if previous is not None and _blank_between(previous, element):
            lines.append(("", None))
        code_lines = element.text.split("\n")
        first = INDENT * element.depth + code_lines[0]
        rest = code_lines[1:]
        all_lines = [first, *rest]
        for i, code in enumerate(all_lines):
            trailing = element.trailing if i == len(all_lines) - 1 else None
            lines.append((code, trailing))
        previous = element
    return "\n".join(_align_comments(lines)).rstrip("\n") + "\n" if lines else ""


def _blank_between(previous: Element, element: Element) -> bool:
    if previous.role == "open" or element.role == "close":
        return False
    return element.first > previous.last + 1


def _align_comments(lines: list[tuple[str, str | None]]) -> list[str]:
    """Trailing comments on consecutive lines start in one column, two spaces after the
    longest code among them."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i][1] is None:
            out.append(lines[i][0])
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j][1] is not None:
            j += 1
        column = max(len(code) for code, _ in lines[i:j]) + 2
        out += [code.ljust(column) + comment for code, comment in lines[i:j]]
        i = j
    return out
