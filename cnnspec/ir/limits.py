"""The largest values the IR holds, so that no number a user writes overflows a float or an
allocation before ``check`` can say what is wrong with it.

- :data:`MAX_INT`: every whole number in the IR (a size, a count, a padding, an epoch count, a
  seed) is at most 2^31 - 1, the largest index of a 32-bit integer; a size beyond it is always a
  mistyped number, and products of a few such sizes stay far inside a float's range.
- :data:`FLOAT32_MAX`: the largest finite float32, the dtype weights are trained in; an init
  value beyond it (``constant(1e40)``, a kernel literal's ``1e300``) would become infinity.
- :data:`FLOAT32_ROUNDS_TO_ZERO`: a layer's value that must be above 0 (a norm's eps) but is
  at most this is 0 in float32, and the network divides by it. (A training setting's bound
  follows the dtype the run trains in: :meth:`cnnspec.dtypes.FloatFormat.rounds_to_zero`.)
"""
from __future__ import annotations

from cnnspec.dtypes import FORMATS
from cnnspec.errors import float_text

MAX_INT = 2**31 - 1
# A model name names its run folder (runs/<name>-<time>), so it is a short file name: the IR
# schema's `model_name` pattern allows letters, digits, '_', '-' and '.', this many at most.
MAX_MODEL_NAME = 100
FLOAT32_MAX = FORMATS["float32"].largest
FLOAT32_MAX_TEXT = FORMATS["float32"].largest_text
# A positive number at most this (half the smallest subnormal, about 7e-46) is 0 in float32.
FLOAT32_SMALLEST = FORMATS["float32"].smallest_subnormal
FLOAT32_ROUNDS_TO_ZERO = FORMATS["float32"].rounds_to_zero


def too_large_int(value: int) -> str | None:
    """What is wrong with a whole number beyond :data:`MAX_INT` (in words), or None."""
    if abs(value) <= MAX_INT:
        return None
    return f"must be at most {MAX_INT:,} (2^31 - 1), not {short_number(value)}"


def short_number(value: float | str) -> str:
    """A number as messages quote it: a 300-digit integer as its first digits and its length;
    a float as a spec writes it (:func:`float_text`)."""
    text = float_text(value) if isinstance(value, float) else str(value)
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text.lstrip('-'))} digits)"

