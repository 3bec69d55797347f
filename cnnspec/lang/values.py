"""Reading plain values out of the AST: numbers, sizes, choices, with errors that point at them.

Every reader takes an AST value and a ``what`` phrase used in the message ("the stride of
conv1") and returns a plain Python value for the IR, or raises :class:`SpecError` at the
value's span.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from cnnspec.errors import Mend, SpecError, float_text, rounded_text
from cnnspec.ir.limits import short_number, too_large_int
from cnnspec.lang.arithmetic import call_text, number_text, value_of_call
from cnnspec.lang.ast import Dims, ListLit, Num, Str, Value, Word, describe
from cnnspec.lang.suggest import did_you_mean


def hinted(reader: Callable[..., object], hint: str, *bounds: float,
           **options) -> Callable[[Value, str], object]:
    """``reader`` (with its ``bounds``, e.g. in_range's low and high) as a ``(value, what)``
    reader whose out-of-range errors carry ``hint``: what the value means and a typical one."""

    def read_value(value: Value, what: str) -> object:
        return reader(value, what, *bounds, hint=hint, **options)

    return read_value


def number(value: Value, what: str) -> float:
    """Any finite number, as a float (the IR writes real-valued settings as floats): read as
    the widest dtype holds it, since the dtype a run computes in is not known yet; ``check``
    holds it to that dtype (:func:`cnnspec.ir.limits.unheld`)."""
    if isinstance(value, Num) and not _finite(value.value):
        raise SpecError(f"{what} is too large a number: {short_number(value.text)}",
                        span=value.span,
                        hint="numbers must be finite: at most about 1.8e308 in size")
    if isinstance(value, Num):
        return float(value.value) + 0.0  # -0.0 reads as 0.0 (NumPy refuses a scale of -0.0)
    computed = value_of_call(value)  # sqrt(2), pi: the number to write instead
    hint = (f"a spec holds numbers: write {number_text(computed)} for "
            f"{call_text(value)}" if computed is not None
            else "write a number such as 0.5, -2 or 1e-3")
    raise SpecError(f"{what} must be a number, not {describe(value)}", span=value.span,
                    hint=hint)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer of more than 308 digits
        return False


def whole_number(value: Value, what: str, minimum: int, hint: str | None = None,
                 maximum: int | None = None) -> int:
    """An integer >= ``minimum`` and at most ``maximum`` (where given) and
    :data:`~cnnspec.ir.limits.MAX_INT`. ``hint`` says what the number means, for a value out
    of range."""
    if isinstance(value, Num) and isinstance(value.value, int):
        check_size(value.value, value, what)
    if (isinstance(value, Num) and isinstance(value.value, int) and maximum is not None
            and value.value > maximum):
        raise SpecError(f"{what} must be at most {maximum}, not {value.text}", span=value.span,
                        hint=hint or f"write a whole number from {minimum} to {maximum}")
    if isinstance(value, Num) and isinstance(value.value, int) and value.value >= minimum:
        return value.value
    if isinstance(value, Num) and isinstance(value.value, int):
        raise SpecError(f"{what} must be at least {minimum}, not {value.text}", span=value.span,
                        hint=hint or f"write a whole number of {minimum} or more")
    if isinstance(value, Num):
        number(value, what)  # an overflowing literal such as 1e999 is reported as too large
        raise SpecError(f"{what} must be a whole number, not {value.text}", span=value.span,
                        hint=f"write an integer such as {max(minimum, round(value.value))}")
    raise SpecError(f"{what} must be a whole number, not {describe(value)}", span=value.span,
                    hint=f"write an integer such as {max(minimum, 1)}")


def check_size(number: int, value: Value, what: str) -> None:
    """A located error if the whole ``number`` written as ``value`` is beyond the IR's bound."""
    problem = too_large_int(number)
    if problem:
        raise SpecError(f"{what} {problem}", span=value.span,
                        hint="a size this large is a mistyped number: check its digits")


def increasing_whole_numbers(value: Value, what: str, minimum: int, hint: str) -> list[int]:
    """A non-empty list of integers >= ``minimum`` in increasing order, e.g. ``[30, 60]``."""
    if not isinstance(value, ListLit) or not value.items:
        raise SpecError(f"{what} must be a non-empty list of whole numbers such as [30, 60], "
                        f"not {describe(value)}", span=value.span, hint=hint)
    numbers = [whole_number(item, f"each of {what}", minimum, hint) for item in value.items]
    for i in range(1, len(numbers)):
        if numbers[i] <= numbers[i - 1]:
            raise SpecError(f"{what} must be in increasing order: {numbers[i]} comes after "
                            f"{numbers[i - 1]}", span=value.items[i].span, hint=hint)
    return numbers


def list_of(read_each: Callable[[Value, str], object]) -> Callable[[Value, str], list]:
    """A reader of a list, maybe empty, whose elements ``read_each`` reads: ``[1, 2.5]``."""

    def reader(value: Value, what: str) -> list:
        if not isinstance(value, ListLit):
            raise SpecError(f"{what} must be a list such as [1, 2], not {describe(value)}",
                            span=value.span, hint="write numbers in brackets, separated by "
                            "commas; [] for none")
        return [read_each(item, f"each of {what}") for item in value.items]

    return reader


def positive_int(value: Value, what: str, hint: str | None = None) -> int:
    """An integer >= 1."""
    return whole_number(value, what, 1, hint)


def nonnegative_int(value: Value, what: str, hint: str | None = None) -> int:
    """An integer >= 0."""
    return whole_number(value, what, 0, hint)


def in_range(value: Value, what: str, low: float, high: float, *, high_open: bool = True,
             low_open: bool = False, hint: str | None = None) -> float:
    """A number in [low, high) (or the bounds given); the message states the interval."""
    x = number(value, what)
    too_low = x <= low if low_open else x < low
    too_high = x >= high if high_open else x > high
    if too_low or too_high:
        interval = (("(" if low_open else "[") + f"{float_text(low)}, {float_text(high)}"
                    + (")" if high_open else "]"))
        raise SpecError(f"{what} must be in {interval}, not {value.text}", span=value.span,
                        hint=hint or _interval_hint(low, high, low_open, high_open))
    return x


def _interval_hint(low: float, high: float, low_open: bool, high_open: bool) -> str:
    below, above = "<" if low_open else "<=", "<" if high_open else "<="
    return (f"write a number x with {float_text(low)} {below} x {above} {float_text(high)}, "
            f"e.g. {rounded_text((low + high) / 2, 6)}")


def positive_number(value: Value, what: str, hint: str | None = None) -> float:
    x = number(value, what)
    if x <= 0:
        raise SpecError(f"{what} must be greater than 0, not {value.text}", span=value.span,
                        hint=hint or "write a number above 0 (0 itself is not allowed)")
    return x


def nonnegative_number(value: Value, what: str, hint: str | None = None) -> float:
    x = number(value, what)
    if x < 0:
        raise SpecError(f"{what} must be 0 or more, not {value.text}", span=value.span,
                        hint=hint or "write 0 or a positive number")
    return x


def bounded_number(hint: str | None, low: float | None = None, high: float | None = None,
                   low_open: bool = False, high_open: bool = False
                   ) -> Callable[[Value, str], float]:
    """A reader of numbers within the declared bounds (both, or a lower bound of 0, or none),
    whose out-of-range errors carry ``hint``."""
    if low is not None and high is not None:
        return hinted(in_range, hint, low, high, low_open=low_open, high_open=high_open)
    if low == 0 and high is None:
        return hinted(positive_number if low_open else nonnegative_number, hint)
    assert low is None and high is None, (low, high)  # another range needs its own reader
    return number


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
    for part in parts:
        check_size(part, value, what)
    if min(parts) < minimum:
        raise SpecError(f"{what} must be at least {minimum}, not {value.text}", span=value.span,
                        hint=f"sizes are counted in pixels, {minimum} or more: e.g. "
                        f"{max(minimum, 1)} or {max(minimum, 1)}x{max(minimum, 1) + 2}")
    return parts


def choice(value: Value, what: str, options: list[str],
           hints: Mapping[str, str] | None = None,
           meant: Mapping[str, str] | None = None) -> str:
    """A bare word among ``options``. ``hints``: other libraries' words (lower case) for
    options, with the hint that answers each; ``meant``: such a word (or an option in other
    case) -> the option, which the error's mend writes in its place."""
    if isinstance(value, Word) and value.name in options:
        return value.name
    if isinstance(value, Word):
        hint = (hints or {}).get(value.name.lower()) or did_you_mean(value.name, options,
                                                                   _plural(what))
        target = (meant or {}).get(value.name.lower())
        raise SpecError(f"unknown {what} '{value.name}'", span=value.span, hint=hint,
                        mend=None if target is None else Mend(
                            value.span, target, f"{value.name} is {target} here"))
    raise SpecError(f"{what} must be one of {', '.join(options)}, not {describe(value)}",
                    span=value.span, hint="write the word alone, without quotes or arguments",
                    mend=unquoted_mend(value, options))


def unquoted_mend(value: Value, names) -> Mend | None:
    """A string naming one of ``names`` (``mode="fan_out"``: a name in quotes), as the name
    written bare; None for any other value."""
    if isinstance(value, Str) and value.value in names:
        return Mend(value.span, value.value, "a name is written without quotes")
    return None


def boolean(value: Value, what: str) -> bool:
    if isinstance(value, Word) and value.name in ("true", "false"):
        return value.name == "true"
    raise SpecError(f"{what} must be true or false, not {describe(value)}", span=value.span,
                    hint="write true or false, in lower case and without quotes",
                    mend=_boolean_mend(value))


def _boolean_mend(value: Value) -> Mend | None:
    """Python's True and False (``nesterov=True``), or true and false in quotes or another
    case, as the spec writes them; None for any other value."""
    text = value.name if isinstance(value, Word) else value.value if isinstance(value, Str) \
        else None
    if text is None or text.lower() not in ("true", "false"):
        return None
    return Mend(value.span, text.lower(), f"{text} is {text.lower()} here")


def string(value: Value, what: str) -> str:
    if isinstance(value, Str):
        return value.value
    raise SpecError(f"{what} must be a quoted string, not {describe(value)}", span=value.span,
                    hint='put it in double quotes, e.g. "data/train.npz"')


def word_list(value: Value, what: str, options: list[str], each: str) -> list[str]:
    """A list of words, e.g. ``[x, plus, o]``; each (called ``each``) among ``options``;
    no repeats."""
    if not isinstance(value, ListLit) or not value.items:
        raise SpecError(f"{what} must be a non-empty list such as [{', '.join(options[:2])}]",
                        span=value.span, hint=f"write names in brackets, separated by commas; "
                        f"choose among {', '.join(options)}")
    names = [choice(item, each, options) for item in value.items]
    for i, (item, name) in enumerate(zip(value.items, names)):
        if name in names[:i]:  # the caret under the repeat, as for a setting given twice
            raise SpecError(f"'{name}' is listed twice in {what}", span=item.span,
                            hint="list each name once")
    return names


def _plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x")) else "s")
