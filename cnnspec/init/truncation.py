"""A normal distribution cut to an interval: where ``truncated_normal`` and the truncated
``variance_scaling`` draw from, and the moments of what they draw.

N(loc, sigma^2) is redrawn outside ``[low, high]``. By default the cut is at ``loc +- 2 sigma``
(TensorFlow's, Keras' and JAX's truncated normal); given bounds are values, as the ``a`` and
``b`` of PyTorch's ``nn.init.trunc_normal_``. In units of sigma about loc the cut is
``[alpha, beta] = [(low - loc) / sigma, (high - loc) / sigma]``, and with ``phi`` the standard
normal density, ``Phi`` its distribution function and ``Z = Phi(beta) - Phi(alpha)`` the mass
kept, the values have (Johnson, Kotz & Balakrishnan 1994, "Continuous Univariate
Distributions", vol. 1, sec. 10.1)::

    mean = loc + sigma (phi(alpha) - phi(beta)) / Z
    var  = sigma^2 [1 + (alpha phi(alpha) - beta phi(beta)) / Z - ((phi(alpha) - phi(beta)) / Z)^2]

An interval that keeps less than :data:`MIN_KEPT` of the normal is refused: its formulas lean
on ``Z``, a difference of two ``erf`` values near 1 that loses its digits in a tail (and is 0
beyond about 8 std), and such a cut is more often a bound written in units of std than meant
(:func:`cnnspec.init.draw.truncated_standard_normal` draws any kept cut at a few draws a value).
"""
from __future__ import annotations

import math

from cnnspec.errors import SpecError, float_text, rounded_text
from cnnspec.records import record

TRUNCATION = 2.0  # the default cut, loc +- 2 sigma (TensorFlow, Keras, JAX)
MIN_KEPT = 0.01  # the least share of the normal a cut may keep


def density(x: float) -> float:
    """The standard normal density ``phi(x)``; 0 at +-infinity."""
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def kept_mass(alpha: float, beta: float) -> float:
    """``Phi(beta) - Phi(alpha)``: the share of N(0, 1) inside ``[alpha, beta]``."""
    return (math.erf(beta / math.sqrt(2)) - math.erf(alpha / math.sqrt(2))) / 2


def _x_density(x: float) -> float:
    """``x phi(x)``, 0 at +-infinity (where the product would be inf * 0)."""
    return 0.0 if math.isinf(x) else x * density(x)


def truncated_moments(alpha: float, beta: float) -> tuple[float, float]:
    """Mean and std of N(0, 1) cut to ``[alpha, beta]`` (the module's formulas). Written so
    that for ``[-2, 2]`` it is the arithmetic of ``sqrt(1 - 4 phi(2) / erf(sqrt 2))``, bit for
    bit: :data:`TRUNCATED_STD` sets the sigma of every truncated variance_scaling draw."""
    kept = kept_mass(alpha, beta)
    shift = (density(alpha) - density(beta)) / kept
    variance = 1 + (_x_density(alpha) - _x_density(beta)) / kept - shift * shift
    return shift, math.sqrt(max(variance, 0.0))


# The std of N(0, 1) cut at +-2: 0.87962566 (Keras' VarianceScaling divides by it).
TRUNCATED_STD = truncated_moments(-TRUNCATION, TRUNCATION)[1]


@record(frozen=True)
class Truncation:
    """N(``loc``, ``sigma``^2) cut to ``[low, high]``; ``given``: whether the bounds were
    written (else the cut is loc +- 2 sigma)."""

    loc: float
    sigma: float
    low: float
    high: float
    given: bool = False

    @property
    def alpha(self) -> float:
        """The lower bound in units of sigma about loc: exactly -2 for the default cut, which
        every truncated draw before given bounds existed was held to, bit for bit."""
        return (self.low - self.loc) / self.sigma if self.given else -TRUNCATION

    @property
    def beta(self) -> float:
        """The upper bound in units of sigma about loc (exactly 2 for the default cut)."""
        return (self.high - self.loc) / self.sigma if self.given else TRUNCATION

    @property
    def kept(self) -> float:
        """The share of the normal inside the cut."""
        return kept_mass(self.alpha, self.beta)

    @property
    def mean(self) -> float:
        """The mean of the values."""
        return self.loc + self.sigma * truncated_moments(self.alpha, self.beta)[0]

    @property
    def std(self) -> float:
        """The std of the values."""
        return self.sigma * truncated_moments(self.alpha, self.beta)[1]

    @property
    def half_width(self) -> float | None:
        """``b`` of a cut at ``loc +- b``; None for a cut not centred on loc."""
        if not self.given:
            return TRUNCATION * self.sigma
        return self.high - self.loc if self.high - self.loc == self.loc - self.low else None


def at_two_sigma(loc: float, sigma: float) -> Truncation:
    """The default cut, ``loc +- 2 sigma``."""
    return Truncation(loc, sigma, loc - TRUNCATION * sigma, loc + TRUNCATION * sigma)


def truncation(loc: float, sigma: float, low: float | None = None,
               high: float | None = None) -> Truncation:
    """N(loc, sigma^2) cut to ``[low, high]``, a bound not given at ``loc -+ 2 sigma``.

    Raises :class:`SpecError` (without a location; the caller adds it) when ``low >= high``
    or when the interval keeps less than :data:`MIN_KEPT` of the normal.
    """
    default = at_two_sigma(loc, sigma)
    low_given, high_given = low is not None, high is not None
    if not (low_given or high_given):
        return default
    low = float(low) if low_given else default.low
    high = float(high) if high_given else default.high
    bounds = (f"low={_bound_text(low, low_given)}", f"high={_bound_text(high, high_given)}")
    if not low < high:
        raise SpecError(f"truncated_normal needs low < high, not {', '.join(bounds)}",
                        hint=_order_hint(low, high, low_given, high_given))
    cut = Truncation(loc, sigma, low, high, given=True)
    if not cut.kept >= MIN_KEPT:
        raise SpecError(
            f"truncated_normal between {' and '.join(bounds)} keeps {_share(cut.kept)} of "
            f"N({float_text(float(loc))}, {float_text(float(sigma))}^2), too little to draw from "
            f"(at least {MIN_KEPT:.0%})",
            hint=f"the interval is {_sigmas(cut.alpha)} to {_sigmas(cut.beta)} std from the "
                 "mean: move it toward the mean or widen it, or raise std; for values spread "
                 "evenly between two bounds write uniform(low, high)")
    return cut


def _bound_text(x: float, given: bool) -> str:
    """A bound as written (``2.0000000000001``, which ``:g`` shows as 2), or one left out,
    ``mean -+ 2 std``, to 6 digits."""
    return float_text(x) if given else rounded_text(x, 6)


def _order_hint(low: float, high: float, low_given: bool, high_given: bool) -> str:
    low_text, high_text = _bound_text(low, low_given), _bound_text(high, high_given)
    if not high_given:
        return (f"high, left out, is mean + 2 std = {high_text}: give a high above {low_text}, "
                "or a lower low")
    if not low_given:
        return (f"low, left out, is mean - 2 std = {low_text}: give a low below {high_text}, "
                "or a higher high")
    if low == high:
        return f"for the same value everywhere write constant({low_text})"
    return f"swap them: low={high_text}, high={low_text}"


def _share(kept: float) -> str:
    """``0.13%``, ``3e-07%``: the share of the normal kept, readable however small, and with
    the digits that set a share just short of :data:`MIN_KEPT` apart from it (``0.997%``,
    not ``1%``)."""
    for digits in range(2, 18):
        text = rounded_text(100 * kept, digits)
        if float(text) < 100 * MIN_KEPT:
            break
    return f"{text}%"


def _sigmas(x: float) -> str:
    """A bound in std about the mean, signed: ``+2.33``, ``-40``, ``+1e9``."""
    text = rounded_text(x, 3)
    return text if text.startswith("-") else f"+{text}"
