"""Reading plain values out of the AST: numbers, sizes, choices, with errors that point at them.

Every reader takes an AST value and a ``what`` phrase used in the message ("the stride of
conv1") and returns a plain Python value for the IR, or raises :class:`SpecError` at the
value's span.
"""
from __future__ import annotations

import math

from cnnspec.errors import SpecError
from cnnspec.lang.ast import Dims, ListLit, Num, Str, Value, Word, describe
from cnnspec.lang.suggest import did_you_mean


def number(value: Value, what: str) -> float:
    """Any finite number, as a float (the IR writes real-valued settings as floats)."""
    if isinstance(value, Num) and not math.isfinite(float(value.value)):
        raise SpecError(f"{what} is too large a number: {value.text}", span=value.span)
    if isinstance(value, Num):
        return float(value.value)
    raise SpecError(f"{what} must be a number, not {describe(value)}", span=value.span)


def positive_int(value: Value, what: str) -> int:
    """An integer >= 1."""
    if isinstance(value, Num) and isinstance(value.value, int) and value.value >= 1:
        return value.value
    if isinstance(value, Num) and isinstance(value.value, int):
        raise SpecError(f"{what} must be at least 1, not {value.text}", span=value.span)
    if isinstance(value, Num):
        raise SpecError(f"{what} must be a whole number, not {value.text}", span=value.span,
                        hint=f"write an integer such as {max(1, round(value.value))}")
    raise SpecError(f"{what} must be a whole number, not {describe(value)}", span=value.span)


def nonnegative_int(value: Value, what: str) -> int:
    if isinstance(value, Num) and isinstance(value.value, int) and value.value >= 0:
        return value.value
    raise SpecError(f"{what} must be a whole number >= 0, not {describe(value)}",
                    span=value.span)


def in_range(value: Value, what: str, low: float, high: float, *, high_open: bool = True,
             low_open: bool = False) -> float:
    """A number in [low, high) (or the bounds given); the message states the interval."""
    x = number(value, what)
    too_low = x <= low if low_open else x < low
    too_high = x >= high if high_open else x > high
    if too_low or too_high:
        interval = ("(" if low_open else "[") + f"{low:g}, {high:g}" + (")" if high_open else "]")
        raise SpecError(f"{what} must be in {interval}, not {value.text}", span=value.span)
    return x


def positive_number(value: Value, what: str) -> float:
    x = number(value, what)
    if x <= 0:
        raise SpecError(f"{what} must be greater than 0, not {value.text}", span=value.span)
    return x


def nonnegative_number(value: Value, what: str) -> float:
    x = number(value, what)
    if x < 0:
        raise SpecError(f"{what} must be 0 or more, not {value.text}", span=value.span)
    return x


def pair(value: Value, what: str, *, minimum: int = 1) -> list[int]:
    """A size written `3` (square) or `3x5` (height x width), each >= ``minimum``."""
    if isinstance(value, Num) and isinstance(value.value, int):
        parts = [value.value, value.value]
    elif isinstance(value, Dims) and len(value.values) == 2:
        parts = list(value.values)
    elif isinstance(value, Dims):
        raise SpecError(f"{what} must be one number or HxW, not {value.text}", span=value.span,
                        hint="e.g. 3 (square) or 3x5 (height x width)")
    else:
        raise SpecError(f"{what} must be a whole number or HxW, not {describe(value)}",
                        span=value.span, hint="e.g. 3 (square) or 3x5 (height x width)")
    if min(parts) < minimum:
        raise SpecError(f"{what} must be at least {minimum}, not {value.text}", span=value.span)
    return parts


def choice(value: Value, what: str, options: list[str]) -> str:
    """A bare word among ``options``."""
    if isinstance(value, Word) and value.name in options:
        return value.name
    if isinstance(value, Word):
        raise SpecError(f"unknown {what} '{value.name}'", span=value.span,
                        hint=did_you_mean(value.name, options, _plural(what)))
    raise SpecError(f"{what} must be one of {', '.join(options)}, not {describe(value)}",
                    span=value.span)


def boolean(value: Value, what: str) -> bool:
    if isinstance(value, Word) and value.name in ("true", "false"):
        return value.name == "true"
    raise SpecError(f"{what} must be true or false, not {describe(value)}", span=value.span)


def string(value: Value, what: str) -> str:
    if isinstance(value, Str):
        return value.value
    raise SpecError(f"{what} must be a quoted string, not {describe(value)}", span=value.span)


def word_list(value: Value, what: str, options: list[str], each: str) -> list[str]:
    """A list of words, e.g. ``[x, plus, o]``; each (called ``each``) among ``options``;
    no repeats."""
    if not isinstance(value, ListLit) or not value.items:
        raise SpecError(f"{what} must be a non-empty list such as [{', '.join(options[:2])}]",
                        span=value.span)
    names = [choice(item, each, options) for item in value.items]
    for item, name in zip(value.items, names):
        if names.count(name) > 1:
            raise SpecError(f"'{name}' is listed twice in {what}", span=item.span)
    return names


def _plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x")) else "s")
