"""Binding the arguments of a call such as ``he_normal(mode=fan_out)`` to named parameters.

One binder serves initializers, datasets, optimizers and schedules: positional arguments fill
the parameters in order, keywords by name, missing ones take their default (or are an error
when there is none), and unknown or repeated ones are errors with a suggestion.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnnspec.errors import SpecError, counted
from cnnspec.lang.ast import Call, Value, Word
from cnnspec.lang.source_text import one_line
from cnnspec.lang.suggest import did_you_mean
from cnnspec.records import record

REQUIRED = object()


@record(frozen=True)
class Param:
    """A parameter: its name, its default (or REQUIRED) and how to read a written value."""

    name: str
    default: Any
    read: Callable[[Value, str], Any]


def argument(value: Word | Call, params: list[Param], name: str) -> Value | None:
    """The value written for parameter ``name`` (by position or keyword), or None."""
    if not isinstance(value, Call):
        return None
    for kwarg in value.kwargs:
        if kwarg.name == name:
            return kwarg.value
    index = [p.name for p in params].index(name)
    return value.args[index] if index < len(value.args) else None


def bind(value: Word | Call, params: list[Param], what: str) -> dict:
    """The call's arguments as ``{name: value}`` with defaults filled in, in ``params`` order.

    ``what`` names the callee in messages, e.g. "initializer he_normal".
    """
    args = value.args if isinstance(value, Call) else []
    kwargs = value.kwargs if isinstance(value, Call) else []
    names = [p.name for p in params]
    signature = f"{value.name}({', '.join(names)})"
    if len(args) > len(params):
        extra = args[len(params)]
        count = "no arguments" if not params else (
            f"at most {counted(len(params), 'argument')}")
        raise SpecError(f"{what} takes {count}, got {len(args)}", span=extra.span,
                        hint=f"write {signature}" if params else f"write {value.name}")
    given: dict[str, Value] = dict(zip(names, args))
    for kwarg in kwargs:
        if kwarg.name not in names:
            raise SpecError(f"{what} has no parameter '{kwarg.name}'", span=kwarg.name_span,
                            hint=did_you_mean(kwarg.name, names, "parameters")
                            if names else f"write {value.name} without arguments")
        if kwarg.name in given:
            raise SpecError(f"parameter '{kwarg.name}' of {value.name} is given twice",
                            span=kwarg.name_span,
                            hint=f"give each parameter once, by position or by name: {signature}")
        given[kwarg.name] = kwarg.value
    out = {}
    for param in params:
        if param.name in given:
            out[param.name] = param.read(given[param.name], f"{param.name} of {value.name}")
        elif param.default is REQUIRED:
            raise SpecError(f"{what} needs a value for '{param.name}'", span=value.span,
                            hint=f"write {signature}{_given_to_another(value, params, param)}")
        else:
            out[param.name] = param.default
    return out


def _given_to_another(value: Word | Call, params: list[Param], missing: Param) -> str:
    """Where the last value given by position fills a parameter that has a default, before
    the required ``missing`` one (``normal(0.01)``: the mean, where PyTorch's and Keras'
    habit is a std), a hint's tail saying so, with the call that gives it to ``missing``
    (``normal(std=0.01)``); "" where none does, or ``missing`` would refuse the value."""
    args = value.args if isinstance(value, Call) else []
    if not args or params[len(args) - 1].default is REQUIRED:
        return ""
    last, taken = args[-1], params[len(args) - 1]
    try:
        missing.read(last, f"{missing.name} of {value.name}")
    except SpecError:
        return ""
    written = one_line(last)
    fixed = ([one_line(arg) for arg in args[:-1]] + [f"{missing.name}={written}"]
             + [f"{kwarg.name}={one_line(kwarg.value)}" for kwarg in value.kwargs])
    return (f"; by position {written} is the {taken.name}: for a {missing.name} of {written} "
            f"write {value.name}({', '.join(fixed)})")
