"""README.md's and docs/*.md's code, for the tests that hold a quoted output to the command's
own and run the commands the pages show: a block and what it quotes cannot drift apart."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
PAGES = [README, *sorted((README.parent / "docs").glob("*.md"))]

# A shown command: `cnnspec ...` at the start of a fenced block's line or of an indented
# block's, after an optional shell prompt (`$ `, `you$ `); the lines of a table the bench
# prints (indented by two) are its output, not commands.
SHOWN_COMMAND = re.compile(r"^(?:    )?(?:[\w-]*\$ )?(cnnspec \S.*)$")


def quoted_blocks(text: str) -> list[list[str]]:
    """The lines of each fenced block of ``text``."""
    return [block.split("\n")[1:] for block in text.split("```")[1::2]]


def readme_block(first: str) -> list[str]:
    """The lines of README's fenced block whose first line starts with ``first``, up to its
    closing fence."""
    blocks = quoted_blocks(README.read_text(encoding="utf-8"))
    block = next((block for block in blocks if block[0].startswith(first)), None)
    assert block is not None, f"README.md has no fenced block starting with {first!r}"
    return block[:-1] if block[-1] == "" else block


def shown_in(quoted: list[str], out: list[str]) -> bool:
    """Whether ``quoted`` is ``out`` with runs of lines left out where it says ``...``: the
    pieces between the dots stand in ``out`` whole and in order, the first at its start and
    the last at its end."""
    pieces = "\n".join(quoted).strip("\n").split("\n...\n")
    lines = [piece.split("\n") for piece in pieces]
    if out[:len(lines[0])] != lines[0] or out[len(out) - len(lines[-1]):] != lines[-1]:
        return False
    at = len(lines[0])
    for piece in lines[1:-1]:
        found = next((i for i in range(at, len(out)) if out[i:i + len(piece)] == piece), None)
        if found is None:
            return False
        at = found + len(piece)
    return at <= len(out) - len(lines[-1])


def shown_commands(page: Path) -> list[tuple[int, list[str]]]:
    """The ``cnnspec`` command lines ``page`` shows in its code, each with its line number and
    its words as the shell reads them (a line ending in ``\\`` joined to the next, a trailing
    ``# comment`` dropped)."""
    lines = page.read_text(encoding="utf-8").split("\n")
    found, fenced = [], False
    for number, line in enumerate(lines, start=1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        if not (fenced and not line.startswith(" ") or line.startswith("    ")):
            continue
        match = SHOWN_COMMAND.match(line)
        if match:
            text, at = match[1], number
            while text.endswith("\\"):
                text, at = text[:-1] + lines[at].strip(), at + 1
            found.append((number, shlex.split(text, comments=True)))
    return found
