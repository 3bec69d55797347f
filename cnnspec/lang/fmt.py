"""The canonical layout of a spec (``cnnspec fmt``).

The spec is parsed (so only valid syntax is formatted) and written back from its AST:

- one statement per line, single spaces between values, ``name: kind ...``, ``<- a, b``,
  ``f(a, k=v)``, ``[1, 0, 1]``; numbers exactly as written;
- the body of a ``repeat`` or ``train`` block indented by two spaces;
- a kernel literal of several rows written as a matrix, one row per line, columns aligned;
- at most one blank line between statements, where the source had at least one;
- the train block last: statements written below it (a layer, which is still the network's
  next layer) move above it, in their order, with their comments; the block keeps the comments
  on their own lines just above it, after one blank line;
- comments kept: a comment after code stays after it, aligned with the trailing comments on the
  lines around it; a comment on its own line stays on its own line, indented like the code
  that follows it. A comment after a row of a kernel literal written over several lines stays
  after that row (each row has its line); any other comment inside a statement of several
  lines moves to the line above it.

Formatting its own output changes nothing (tests check this on every spec in ``specs/``).
"""
from __future__ import annotations

import bisect
from dataclasses import field

from cnnspec.lang.ast import (
    DefaultStmt,
    InputStmt,
    LayerStmt,
    ModelStmt,
    OutputStmt,
    RepeatStmt,
    Setting,
    TrainStmt,
    to_ast,
)
from cnnspec.lang.parser import parse_with_comments
from cnnspec.lang.resolve import no_input_line
from cnnspec.lang.source_text import source_text
from cnnspec.records import record

INDENT = "  "


@record
class Element:
    """One piece of output: a statement (possibly several lines), a brace or a comment."""

    text: str  # without indentation of the first line; later lines carry their own
    depth: int
    first: int  # source lines it came from
    last: int
    role: str = "code"  # code | open | close | comment
    trailing: str | None = None
    # The source line each line of ``text`` but the last ends on (the row of a kernel literal
    # it ends with), and the comments placed after those lines, by index.
    line_ends: list[int] = field(default_factory=list)
    inner_trailing: dict[int, str] = field(default_factory=dict)
    blank_before: bool = False  # a blank line before it, wherever its source lines were


def format_source(text: str, path: str | None = None) -> str:
    """``text`` in canonical layout (idempotent; comments kept). ``path`` names the file in
    syntax errors."""
    tree, comments = parse_with_comments(text, path=path)
    module = to_ast(tree, path)
    if not module.statements:  # empty, or comments alone: no spec, as check says
        raise no_input_line(path)
    elements = []
    for stmt in module.statements:
        elements += _statement(stmt, 0)
    elements = _place_comments(elements, comments)
    return _render(_train_block_last(elements))


# -- statements ---------------------------------------------------------------------------------


def _statement(stmt, depth: int) -> list[Element]:
    span = stmt.span
    if isinstance(stmt, ModelStmt):
        return [Element(f"model {stmt.name}", depth, span.line, span.end_line)]
    if isinstance(stmt, InputStmt):
        return [Element(f"input {source_text(stmt.value)}", depth, span.line, span.end_line)]
    if isinstance(stmt, OutputStmt):
        return [Element(f"output {stmt.name}", depth, span.line, span.end_line)]
    if isinstance(stmt, DefaultStmt):
        ends: list[int] = []
        text = "default " + ", ".join(_setting_text(s, 0, ends) for s in stmt.settings)
        return [Element(text, depth, span.line, span.end_line, line_ends=ends)]
    if isinstance(stmt, LayerStmt):
        ends = []
        text = _layer_text(stmt, depth, ends)
        return [Element(text, depth, span.line, span.end_line, line_ends=ends)]
    if isinstance(stmt, RepeatStmt):
        header = f"repeat {source_text(stmt.count)}" + (f" as {stmt.name}" if stmt.name else "")
        body = [e for layer in stmt.layers for e in _statement(layer, depth + 1)]
        return _block(header, body, stmt, depth)
    if isinstance(stmt, TrainStmt):
        return _block("train", [_setting_element(s, depth + 1) for s in stmt.settings], stmt,
                      depth)
    raise TypeError(f"no layout for {type(stmt).__name__}")


def _block(header: str, body: list[Element], stmt, depth: int) -> list[Element]:
    # The header's source line is where the statement starts; the brace's, where it ends.
    open_line = stmt.span.line
    close_line = stmt.span.end_line
    return [Element(header + " {", depth, open_line, open_line, "open"), *body,
            Element("}", depth, close_line, close_line, "close")]


def _setting_element(setting: Setting, depth: int) -> Element:
    ends: list[int] = []
    text = _setting_text(setting, depth, ends)
    return Element(text, depth, setting.span.line, setting.span.end_line, line_ends=ends)


def _setting_text(setting: Setting, depth: int, line_ends: list[int]) -> str:
    prefix = setting.key + " "
    return prefix + source_text(setting.value, len(INDENT) * depth + len(prefix), line_ends)


def _layer_text(stmt: LayerStmt, depth: int, line_ends: list[int]) -> str:
    out = f"{stmt.label}: " if stmt.label else ""
    column = len(INDENT) * depth
    out += source_text(stmt.head, column + len(out), line_ends)
    for item in stmt.items:
        out += " " + source_text(item, _column_after(out, column) + 1, line_ends)
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
    """Attach each comment after the code on its line, or insert it as its own element:
    before the first element that starts below it (or before the statement it lies inside),
    after the comments placed there already that start no lower. The elements are found
    by line from tables made once, in source order: a scan of them for each comment took
    n^2 steps for a file of n commented lines."""
    by_last: dict[int, Element] = {}
    by_inner_line: dict[int, int] = {}  # a line within a statement (not its last): its index
    for i, e in enumerate(elements):
        if e.role != "comment":
            by_last.setdefault(e.last, e)
        for inner in range(e.first, e.last):
            by_inner_line.setdefault(inner, i)
    firsts = [e.first for e in elements]
    placed: dict[int, list[Element]] = {}  # comments by the index of the element they precede
    for token in comments:
        line, text = token.line, str(token).rstrip()
        owner = by_last.get(line)
        if owner is not None and owner.trailing is None:
            owner.trailing = text
            continue
        if owner is not None:  # two comments cannot both trail one line; keep the second above
            line = owner.first
        at = by_inner_line.get(line)
        inside = None if at is None else elements[at]
        if inside is not None and line in inside.line_ends:
            # after a row that ends a line of the output too: it annotates that row
            row = len(inside.line_ends) - 1 - inside.line_ends[::-1].index(line)
            inside.inner_trailing[row] = text
            continue
        position = inside.first if inside is not None else line
        before = at if inside is not None else bisect.bisect_right(firsts, position)
        group = placed.setdefault(before, [])
        depth = _comment_depth(elements, before)
        index = next((i for i, e in enumerate(group) if e.first > position), len(group))
        group.insert(index, Element(text, depth, position, position, "comment"))
    result: list[Element] = []
    for i, e in enumerate(elements):
        result += placed.get(i, [])
        result.append(e)
    return result + placed.get(len(elements), [])


def _comment_depth(elements: list[Element], index: int) -> int:
    """A comment on its own line is indented like the code after it (inside a block, even
    when what follows is the block's closing brace)."""
    if index < len(elements):
        after = elements[index]
        return after.depth + 1 if after.role == "close" else after.depth
    return 0


def _train_block_last(elements: list[Element]) -> list[Element]:
    """``elements`` with the top-level train block (from the comments on their own lines just
    above it to its closing brace) after every statement the source wrote below it. A spec
    that writes a second block (which check refuses) keeps them in their order, both moved: a
    block moved below the other swapped them back at the next run."""
    blocks = _train_blocks(elements)
    if not blocks:
        return elements
    inside = {i for start, closing in blocks for i in range(start, closing + 1)}
    if not any(e.role == "code" for i, e in enumerate(elements[blocks[0][1] + 1:],
                                                      blocks[0][1] + 1) if i not in inside):
        return elements  # nothing but comments and train blocks below it: the layout as written
    moved = []
    for start, closing in blocks:
        elements[start].blank_before = True
        moved += elements[start:closing + 1]
    return [e for i, e in enumerate(elements) if i not in inside] + moved


def _train_blocks(elements: list[Element]) -> list[tuple[int, int]]:
    """Where each top-level train block starts (the comments that introduce it, but not the
    file's first lines, which speak of the file) and where its closing brace is."""
    blocks = []
    for opening, e in enumerate(elements):
        if e.role != "open" or e.depth != 0 or e.text != "train {":
            continue
        closing = next(i for i in range(opening, len(elements))
                       if elements[i].role == "close" and elements[i].depth == 0)
        start = opening
        while (start > 1 and elements[start - 1].role == "comment"
               and elements[start - 1].last + 1 == elements[start].first):
            start -= 1
        blocks.append((start, closing))
    return blocks


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
            trailing = (element.trailing if i == len(all_lines) - 1
                        else element.inner_trailing.get(i))
            lines.append((code, trailing))
        previous = element
    return "\n".join(_align_comments(lines)).rstrip("\n") + "\n" if lines else ""


def _blank_between(previous: Element, element: Element) -> bool:
    if previous.role == "open" or element.role == "close":
        return False
    return element.blank_before or element.first > previous.last + 1


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
