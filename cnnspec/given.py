"""The values a library caller hands cnnspec's functions, read where they come in.

A notebook hands over what NumPy and pathlib give it: ``np.int64(5)`` for a count, a ``Path``
for a file. These are taken as the Python values they hold; a value of the wrong kind (a
number for a path, a text for a function) is a :class:`SettingError` naming the parameter, said
before any work starts rather than as a ``TypeError`` from deep inside a run. The command line
parses its options itself and never reaches here.
"""
from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from cnnspec.errors import SettingError, closest, literal, shortened


def plain(value):
    """A NumPy scalar (``np.int64(5)``, ``np.float32(0.1)``, ``np.bool_(True)``) as the Python
    value it holds, so that the checks of a setting and the JSON of a run read it as they read
    ``5``; anything else as it is. Recognised by its type's module, so NumPy is not imported."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def shown(value) -> str:
    """``value`` quoted in a :class:`SettingError` template: its repr, cut, braces escaped."""
    return literal(shortened(repr(value)))


def given_path(value, parameter: str, what: str, example: str) -> Path:
    """``value``, a text or a ``Path`` naming ``what`` (``a run folder``), as a ``Path``; else
    a :class:`SettingError` naming ``parameter``, its hint an ``example`` of it."""
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    raise SettingError(f"{{{parameter}}} takes a path to {what}, not {shown(value)}",
                       hint=f"e.g. {{{parameter}:{example!r}}}", invalid=True)


def given_callable(value, parameter: str, takes: str):
    """``value`` if it can be called (None too: no function), else a :class:`SettingError`
    naming ``parameter``, a function of ``takes`` (``(step, model)``): called only once the
    run is under way, it would end the run in a ``TypeError``."""
    if value is None or callable(value):
        return value
    raise SettingError(f"{{{parameter}}} takes a function of {takes}, not {shown(value)}",
                       hint=f"e.g. {{{parameter}:lambda {takes.strip('()')}: ...}}",
                       invalid=True)


def given_flag(value, parameter: str) -> bool:
    """``value`` as a bool (NumPy's too); any other value is a :class:`SettingError` naming
    ``parameter``: ``strict="no"`` would be taken as true."""
    value = plain(value)
    if isinstance(value, bool):
        return value
    raise SettingError(f"{{{parameter}}} must be True or False, not {shown(value)}",
                       hint=f"e.g. {{{parameter}:True}}", invalid=True)


def given_bytes(value, parameter: str) -> int | None:
    """``value``, a number of bytes (a limit such as ``max_memory``), as an int; None stays
    None (no limit given). Anything but a finite number of at least one byte is a
    :class:`SettingError` naming ``parameter``."""
    value = plain(value)
    if value is None:
        return None
    if not isinstance(value, bool) and isinstance(value, (int, float)) \
            and 1 <= value < float("inf"):
        return int(value)
    raise SettingError(f"{{{parameter}}} must be a number of bytes, at least 1, not "
                       f"{shown(value)}", hint=f"e.g. {{{parameter}:2 * 1024**3}} (2 GiB)",
                       invalid=True)


def given_texts(value, parameter: str, example: str, what: str = "a list of texts",
                spec_as_written: bool = False) -> list[str | None] | None:
    """``value``, texts such as ``--init`` or ``--set`` options, as a list: one text alone is
    a list of it (iterated, a text would be its letters). With ``spec_as_written``, None stays
    None, as does an item None (the spec as written, where inits are listed). Anything else
    is a :class:`SettingError` naming ``parameter`` and the first value that is no text
    (``what`` says what it takes), its hint an ``example`` of one text."""
    if value is None and spec_as_written:
        return None
    if isinstance(value, str):
        return [value]
    try:
        items = list(value)
    except TypeError:
        items = None
    allowed = (str, type(None)) if spec_as_written else str
    wrong = [value] if items is None else [i for i in items if not isinstance(i, allowed)]
    if wrong:
        raise SettingError(f"{{{parameter}}} takes {what}, not {shown(wrong[0])}",
                           hint=f"e.g. {{{parameter}:{example}}}", invalid=True)
    return items


def given_choice(value, parameter: str, choices: tuple[str, ...], example: str) -> str:
    """``value``, one of the texts ``choices`` (NumPy's ``np.str_`` too), as a ``str``;
    anything else is a :class:`SettingError` naming ``parameter`` (a text setting the library
    words as :class:`~cnnspec.errors.Quoted`), its hint an ``example``.
    Tested as a text first: ``array in choices`` compares item by item, and NumPy refuses the
    truth of the array of answers ("ambiguous")."""
    value = plain(value)
    if isinstance(value, str) and value in choices:
        return str(value)
    raise SettingError(f"{{{parameter}}} must be one of {', '.join(choices)}, not "
                       f"{shown(value)}", hint=f"e.g. {{{parameter}:{example}}}", invalid=True)


def unknown_keyword(called: str, key: str, takes: Sequence[str],
                    hint: str | None = None) -> SettingError:
    """The error for a keyword ``key`` that ``called`` (``cnnspec.train``) does not take, when
    it takes the keywords ``takes``: ``hint`` where the caller knows what ``key`` means (a
    training setting given where another keyword takes it), else the closest of ``takes``,
    else all of them. Python's TypeError would name no alternative, and where ``called``
    hands its keywords on, a function the caller never called."""
    if hint is None:
        near = closest(key, takes)
        hint = f"did you mean {near}=?" if near else f"it takes {', '.join(takes)}"
    return SettingError(literal(f"{called}() takes no keyword {shortened(repr(key))}"),
                        literal(hint), invalid=True)


def keywords_checked(called: str, hint_of: Callable[[str, object, list[str]], str | None]):
    """A decorator: the function it wraps refuses a keyword it does not take with
    :func:`unknown_keyword` (``called`` naming it), before it runs; ``hint_of(key, value,
    takes)`` says what ``key`` means, or None. The function's signature is kept, for
    ``help()``."""
    def decorate(function):
        parameters = inspect.signature(function).parameters.items()
        takes = [name for name, p in parameters if name != "self"
                 and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

        @functools.wraps(function)
        def checked(*args, **kwargs):
            for key, value in kwargs.items():
                if key not in takes:
                    raise unknown_keyword(called, key, takes, hint_of(key, value, takes))
            return function(*args, **kwargs)

        return checked

    return decorate
