"""The table of initializers in docs/language.md, generated from the catalogue."""
from __future__ import annotations

from cnnspec.errors import float_text
from cnnspec.init.catalogue import (
    FOREIGN_NAMES,
    FOREIGN_PARAMS,
    FOREIGN_VALUES,
    INITS,
    REQUIRED,
    Init,
)
from cnnspec.init.gains import gain_text


def _default(value) -> str:
    return gain_text(value) if isinstance(value, dict) else float_text(value) if isinstance(
        value, float) else str(value)


def _written(init: Init) -> str:
    if init.written:
        return f"`{init.written}`"
    if not init.params:
        call = init.name
    else:
        args = [p.name if p.default is REQUIRED else
                f"{p.name}={p.written_default or _default(p.default)}" for p in init.params]
        call = f"{init.name}({', '.join(args)})"
    return f"`{call}`" + "".join(f", `{alias}`" for alias in init.aliases)


def init_table() -> str:
    """The markdown table: how each init is written (with its aliases), what it draws, and
    whether it may initialise a bias."""
    rows = ["| written | distribution | bias |", "|---|---|---|"]
    for init in INITS:
        rows.append(f"| {_written(init)} | {init.doc.replace('|', chr(92) + '|')} | "
                    f"{'yes' if init.bias else ''} |")
    return "\n".join(rows + ["", *foreign_table()])


def foreign_table() -> list[str]:
    """Other libraries' words for inits and their parameters, as the language answers them."""
    rows = ["| written elsewhere | here |", "|---|---|"]
    rows += [f"| `{name}` | {hint} |" for name, hint in FOREIGN_NAMES.items()]
    rows += [f"| `{name}=` | {hint} |" for name, hint in FOREIGN_PARAMS.items()]
    rows += [f"| `{value}` | {hint} |" for values in FOREIGN_VALUES.values()
             for value, hint in values.items()]
    return rows
