"""The tables of training settings in docs/language.md (as the language writes them) and in
docs/ir.md (as the IR holds them), generated from the training catalogue and the dataset table
(``python tools/generate.py`` writes each between its marker lines; a test fails when a shipped
page is stale)."""
from __future__ import annotations

import json

from cnnspec.ir.datasets import (
    DATASETS,
    SHAPE_CLASSES,
    SHAPES_MAX_PIXELS,
    SHAPES_MIN_PER_CLASS,
    DatasetKind,
)
from cnnspec.ir.datasets import Arg as DataArg
from cnnspec.ir.training_catalogue import KEYS, Arg, Entry, Key, value_text
from cnnspec.markdown import cell


def _code(text: str) -> str:
    return f"`{text}`"


def _data_arg(arg: DataArg) -> str:
    if arg.kind == "path":
        return f'{arg.name}="FILE.npz"'
    return f"{arg.name}={'[...]' if arg.kind == 'classes' else value_text(arg.default)}"


def _data_range(arg: DataArg) -> str:
    if arg.kind == "classes":
        return (f"{arg.name}: at least {arg.minimum:g} among "
                f"{', '.join(_code(c) for c in SHAPE_CLASSES)}, all by default")
    if arg.kind == "path":
        return ""
    if arg.kind == "bool":
        return f"{arg.name}: true or false"
    return f"{arg.name} >= {arg.minimum:g}"


def _other_spellings(aliases: tuple[str, ...]) -> str:
    """`` (or `a`, `b`)`` after a name that has other spellings, else nothing."""
    return f" (or {', '.join(_code(alias) for alias in aliases)})" if aliases else ""


def _data_object(kind: DatasetKind) -> str:
    """A dataset as the IR's data object holds it, its arguments at their defaults."""
    return json.dumps({"name": kind.name, **{a.name: "FILE.npz" if a.kind == "path" else
                                             a.default for a in kind.args}})


def _dataset(kind: DatasetKind, ir: bool = False) -> str:
    """How the language (or, with ``ir``, the IR) writes the dataset, what it is and the
    ranges of its arguments."""
    if ir:
        written = _data_object(kind)
    elif not kind.args:
        written = kind.name
    else:
        written = f"{kind.name}({', '.join(_data_arg(a) for a in kind.args)})"
    text = _code(written) + _other_spellings(kind.aliases)
    ranges = [r for r in (_data_range(a) for a in kind.args) if r]
    if kind.name == "shapes":
        ranges.append(f"at least {SHAPES_MIN_PER_CLASS} images per class, at most "
                      f"{SHAPES_MAX_PIXELS:,} pixel values in all (count x channels x size x size)")
    return f"{text}: {kind.description}" + (f"; {', '.join(ranges)}" if ranges else "")


def _value(arg: Arg) -> str:
    what = {"int": "a whole number", "bool": "true or false", "ints": "a list of whole numbers",
            "numbers": "a list of numbers"}.get(arg.type, "a number")
    return f"{what} {arg.range_text()}".strip()


def _entry(written: str, entry: Entry) -> str:
    """``written``, what the entry does and the ranges of its arguments."""
    ranges = [f"{a.name} {a.range_text()}" for a in entry.args if a.range_text()]
    return f"{_code(written)}: {entry.summary}" + (f" ({', '.join(ranges)})" if ranges else "")


def _written(key: Key, entry: Entry, ir: bool) -> str:
    """How the language (or, with ``ir``, the IR) writes ``entry`` with its defaults."""
    if not ir:
        return entry.written()
    return json.dumps({"name": entry.name, **entry.defaults} if key.objects else entry.name)


def _values(key: Key, ir: bool = False) -> str:
    if key.name == "data":
        return "; ".join(_dataset(kind, ir) for kind in DATASETS.values())
    if key.arg is not None:
        return f"{_value(key.arg)}: {key.doc}"
    text = "; ".join(_entry(_written(key, entry, ir), entry) for entry in key.catalogue.values())
    if key.many:
        text = f"a list of {key.words}s, each one of: {text}"
    return f"{text}. {key.doc[0].upper()}{key.doc[1:]}" if key.doc else text


def _default(key: Key) -> str:
    if key.many:
        return _code(value_text(key.default))
    if isinstance(key.default, dict):
        return _code(key.default["name"])
    return _code(value_text(key.default))


def training_table() -> str:
    """The markdown table: each key (with its other spellings), the values it takes with their
    ranges and meaning, and its default."""
    rows = ["| key | values | default |", "|---|---|---|"]
    for key in KEYS.values():
        name = _code(key.name) + _other_spellings(key.aliases)
        rows.append(f"| {name} | {cell(_values(key))} | {_default(key)} |")
    return "\n".join(rows)


def _json(value) -> str:
    return _code(json.dumps(value))


def ir_training_table() -> str:
    """The markdown table of docs/ir.md: each key of the IR's ``training`` object, the values
    it holds (objects with every argument, shown with the defaults) and its default."""
    rows = ["| key | values | default |", "|---|---|---|"]
    for key in KEYS.values():
        rows.append(f"| {_code(key.name)} | {cell(_values(key, ir=True))} "
                    f"| {_json(key.default)} |")
    return "\n".join(rows)
