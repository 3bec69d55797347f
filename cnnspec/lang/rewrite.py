"""Writing training settings into a spec's text: the ``train`` block with some settings
replaced or added, everything else (layers, comments, layout) as it was.

A run trained with command-line overrides (``--epochs 5 --lr 0.01``) saves the spec it was
given with those overrides written into its ``train`` block, so that training the saved
``spec.cnn`` again repeats the run. An existing setting is replaced where it stands (under
the spelling the spec used, ``batch`` or ``batch_size``); a new one goes on its own line at
the end of the block; a spec without a block gets one at its end.
"""
from __future__ import annotations

from cnnspec.ir.training_catalogue import KEYS
from cnnspec.lang import parse_module
from cnnspec.lang.ast import TrainStmt
from cnnspec.sourcefile import source_lines

INDENT = "  "


class NotWritable(ValueError):
    """A setting's value cannot be written in the language (a path holding a quote)."""


def with_training(text: str, settings: dict, path: str | None = None) -> str:
    """``text`` with each IR training setting of ``settings`` (``{"epochs": 5, "data":
    {"name": "shapes", ...}}``) written into its ``train`` block. Raises
    :class:`NotWritable` when a value has no spelling in the language."""
    lines = {key: setting_text(key, value) for key, value in settings.items()}
    block = next((stmt for stmt in parse_module(text, path).statements
                  if isinstance(stmt, TrainStmt)), None)
    if block is None:
        body = "".join(f"{INDENT}{key} {value}\n" for key, value in lines.items())
        return text.rstrip("\n") + f"\n\ntrain {{\n{body}}}\n"
    offsets = _line_offsets(text)
    edits = []  # (start, end, replacement), applied from the end so offsets stay right
    for setting in block.settings:
        key = _ir_key(setting.key)
        if key in lines:
            start = _offset(offsets, setting.span.line, setting.span.column)
            end = _offset(offsets, setting.span.end_line, setting.span.end_column)
            edits.append((start, end, f"{setting.key} {lines.pop(key)}"))
    if lines:
        close = _offset(offsets, block.span.end_line, block.span.end_column) - 1  # the "}"
        before = text[:close].rstrip(" \t")
        lead = "" if before.endswith("\n") else "\n"
        added = "".join(f"{INDENT}{key} {value}\n" for key, value in lines.items())
        edits.append((len(before), close, lead + added))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def setting_text(key: str, value) -> str:
    """An IR training value as the ``train`` block writes it."""
    if key == "data":
        return call_text(value)
    return _value_text(value)


def call_text(obj: dict) -> str:
    """An IR object with a ``name`` (a dataset) as ``name(k=v, ...)``, or ``name`` alone."""
    params = [f"{k}={_value_text(v)}" for k, v in obj.items() if k != "name"]
    return f"{obj['name']}({', '.join(params)})" if params else obj["name"]


def _value_text(value, in_list: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value_text(v, in_list=True) for v in value) + "]"
    if isinstance(value, dict):
        return call_text(value)
    if in_list:  # class names: words
        return str(value)
    if '"' in value or "\n" in value:
        raise NotWritable(f"{value!r} cannot be written as a quoted string in a spec")
    return f'"{value}"'


def _ir_key(word: str) -> str | None:
    """The IR training key a ``train`` block word stands for (``batch`` -> ``batch_size``)."""
    for key, entry in KEYS.items():
        if word == key or word in entry.aliases:
            return key
    return None


def _line_offsets(text: str) -> list[int]:
    offsets, total = [0], 0
    for line in source_lines(text, keepends=True):
        total += len(line)
        offsets.append(total)
    return offsets


def _offset(offsets: list[int], line: int, column: int) -> int:
    """The index in the text of (1-based) ``line`` and ``column``."""
    return offsets[line - 1] + column - 1


__all__ = ["NotWritable", "call_text", "setting_text", "with_training"]
