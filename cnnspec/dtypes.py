"""The floating-point types a model computes in, declared once for the engine, the compiler,
check's memory estimate and init lints, training, the lab and the command line. Plain data, no
NumPy, so that reading them keeps ``cnnspec check`` and ``--help`` light.

Tensors are float32 by default; float64 is slower and is what gradient checks against finite
differences need. Each type is declared by its IEEE 754 binary layout, from which its size and
the limits ``numpy.finfo`` reports follow (tests/test_dtypes.py compares them).
"""
from __future__ import annotations

import math

from cnnspec.errors import SettingError, rounded_text
from cnnspec.given import shown
from cnnspec.records import record


@record(frozen=True)
class FloatFormat:
    """An IEEE 754 binary format: ``fraction_bits`` stored bits of the significand
    (``numpy.finfo(...).nmant``) and ``exponent_bits`` bits of exponent, besides the sign."""

    fraction_bits: int
    exponent_bits: int

    @property
    def bytes(self) -> int:
        return (1 + self.exponent_bits + self.fraction_bits) // 8

    @property
    def _bias(self) -> int:
        return 2 ** (self.exponent_bits - 1) - 1

    @property
    def largest(self) -> float:
        """The largest finite value (``finfo.max``): beyond it a value becomes infinity."""
        return math.ldexp(2.0 - math.ldexp(1.0, -self.fraction_bits), self._bias)

    @property
    def largest_text(self) -> str:
        """:attr:`largest` as messages write it: ``3.4e38``, ``1.8e308``."""
        return rounded_text(self.largest, 2)

    @property
    def largest_root(self) -> float:
        """The square root of :attr:`largest`: a value beyond it squares to infinity, as in a
        mean square, a variance or an L2 norm of it."""
        return math.sqrt(self.largest)

    @property
    def tiny(self) -> float:
        """The smallest normal value (``finfo.tiny``): below it a value is subnormal, with
        fewer significant bits the smaller it is."""
        return math.ldexp(1.0, 1 - self._bias)

    @property
    def smallest_subnormal(self) -> float:
        """The smallest value above 0 (``finfo.smallest_subnormal``): below half of it a value
        rounds to 0."""
        return math.ldexp(1.0, 1 - self._bias - self.fraction_bits)

    def spacing(self, x: float) -> float:
        """The gap between ``x`` and the next number of this format away from 0
        (``numpy.spacing`` of ``x`` in it): ``2^(e - fraction_bits)`` for ``2^e <= |x| <
        2^(e+1)``, and :attr:`smallest_subnormal` among the subnormal numbers and at 0."""
        if x == 0:
            return self.smallest_subnormal
        exponent = math.frexp(abs(x))[1] - 1  # |x| = m * 2^(e+1) with 0.5 <= m < 1
        return math.ldexp(1.0, max(exponent, 1 - self._bias) - self.fraction_bits)

    @property
    def rounds_to_zero(self) -> float:
        """The largest positive value that becomes 0 (half of :attr:`smallest_subnormal`: the
        halfway value rounds to the even neighbour, 0). A setting that must be above 0 (an eps
        that divides, a learning rate) but is at most this is 0 in this format."""
        return self.smallest_subnormal / 2


# the dtypes a model trains in
FORMATS = {"float32": FloatFormat(23, 8), "float64": FloatFormat(52, 11)}
VALUE_BYTES = {name: layout.bytes for name, layout in FORMATS.items()}
DTYPES = tuple(FORMATS)
DEFAULT_DTYPE = "float32"


def widest(names) -> str:
    """The dtype of ``names`` that holds every value any of them holds (the most exponent
    bits)."""
    return max(names, key=lambda name: FORMATS[name].exponent_bits)


# The dtype that holds every value any of DTYPES holds.
WIDEST_DTYPE = widest(DTYPES)
# A run whose summary names no dtype is from before the dtype was a setting: it trained in
# float32, whatever the default is now.
UNRECORDED_DTYPE = "float32"
# A run whose summary names no ``data_dtype`` is from before a float64 run loaded its images in
# float64: they were loaded in float32 and widened by the preprocessing, whatever its dtype.
UNRECORDED_DATA_DTYPE = "float32"


def given_dtype(dtype, setting: str = "{dtype}", example: str = "{dtype:float64}") -> str:
    """The name of the dtype a caller gives (one of :data:`DTYPES` by name, or NumPy's
    ``np.float64`` or ``np.dtype("float64")``); any other is a
    :class:`~cnnspec.errors.SettingError` naming ``setting`` (a template: the ``dtype``
    parameter, or a sweep's ``{sets:dtype=...}``), its hint ``e.g.`` ``example``."""
    name = dtype if isinstance(dtype, str) else \
        getattr(dtype, "name", None) or getattr(dtype, "__name__", None)
    if name in DTYPES:
        return name
    lower = name.lower() if isinstance(name, str) else None  # FLOAT64, as C and Java write it
    raise SettingError(f"{setting} must be one of {', '.join(DTYPES)}, not "
                       f"{shown(dtype)}", invalid=True,
                       hint=f"did you mean {lower}?" if lower in DTYPES else f"e.g. {example}")
