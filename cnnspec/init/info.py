"""What an initializer will produce for one parameter, described without drawing it."""
from __future__ import annotations

import math

from cnnspec.init.truncation import Truncation
from cnnspec.records import record


@record(frozen=True, eq=False)
class TapSquares:
    """A fixed conv kernel's squares summed over each of its rows and each of its columns of
    taps (:attr:`InitInfo.tap_squares`). Compared and hashed as an object, not by its
    numbers: one is made per layer, and a 100000x1 kernel's would take long to hash each time
    a cache looks it up."""

    rows: tuple[float, ...]
    columns: tuple[float, ...]


# The displacements a kernel's autocorrelation is kept for, along each axis: below 3, all of
# a 3x3 kernel's (a wider one's overlaps further apart are left out). How far apart the
# signal's positions are followed grows with the layers' windows (cnnspec.check.signal's
# NEAR_REACH).
LAG_REACH = 3


@record(frozen=True)
class KernelSums:
    """What a fixed weight (a constant, a literal, a named kernel) adds up to, or the
    expectation over the draws of what a weight drawn about a mean other than 0 does
    (:func:`cnnspec.init.describe.drawn_sums`), each a mean over its filters (or units) of a
    square: ``whole``, of the sum of all of a filter's values
    (``sum w``, which multiplies the mean of what it reads); ``channels``, of the sums over
    each input channel's taps, squared and added over the channels; ``taps``, of the sums
    over the input channels at each tap, squared and added over the taps; ``mean``, the mean
    over the filters of their sums, not squared (filters summing to 1 and -1 give their
    layer a mean of 0 and each channel a mean of its own). A dense weight's inputs are its
    channels, of one tap each. The signal estimate's second moment of the sums of a fixed
    kernel (:mod:`cnnspec.check.signal`) reads them. ``lags``: a conv kernel's autocorrelation
    over displacements ``(dy, dx)`` (both at least 0, not both 0), ``sum_i w_i w_(i+d)`` over
    the pairs of taps ``d`` apart, either way along each axis (the mean of ``(dy, dx)`` and
    ``(dy, -dx)``), added over the input channels: how alike two of its sums ``d`` apart are
    on an input whose positions are independent (overlapping windows share inputs);
    ``tap_lags`` the same over the sums of the input channels at each tap (an input whose
    channels are copies of one another). Up to :data:`LAG_REACH` along each axis; empty for
    a dense weight or a 1x1 kernel."""

    whole: float
    channels: float
    taps: float
    mean: float
    lags: tuple[tuple[tuple[int, int], float], ...] = ()
    tap_lags: tuple[tuple[tuple[int, int], float], ...] = ()


@record(frozen=True)
class InitInfo:
    """The description of one parameter's initialisation.

    ``distribution`` is one of ``constant``, ``uniform``, ``normal``, ``truncated_normal``,
    ``orthogonal``, ``delta_orthogonal``, ``sparse``, ``positive_unitball``, ``identity``,
    ``literal``, ``lsuv``. ``std`` is the theoretical standard
    deviation of the values (None where it is not a fixed number, e.g. a literal kernel);
    ``bound`` is ``a`` of U(-a, a) for symmetric uniform, or for a truncated normal the
    half-width of a cut centred on its mean (None for one that is not); ``truncation``: a
    truncated normal's parameters and cut, which it is drawn from (None for others).
    ``short`` reads like ``N(0, 0.118^2)`` or ``U(-0.118, 0.118)``; ``formula`` like
    ``std = sqrt(2 / fan_in) = sqrt(2 / 144)``. ``constant`` is true when every element gets the
    same value (all filters alike, see :mod:`cnnspec.check.lints`). ``alike_axes``: the weight's
    leading axes along which every slice is the same (0: every filter or unit gets the same values,
    1: each weighs all its inputs alike), for a weight the spec fixes (a constant, a literal, a
    named kernel); empty for a drawn one. ``nonzero_scale``: how large the values that are not
    0 are, where mean and std do not say it: the largest magnitude of a fixed kernel's, the
    std of those a sparse init draws, the entries of delta_orthogonal's centre tap (None
    elsewhere). ``source``: the paper the scheme comes from.
    """

    name: str
    distribution: str
    short: str
    formula: str
    mean: float | None = None
    std: float | None = None
    bound: float | None = None
    fan_in: int | None = None
    fan_out: int | None = None
    constant: bool = False
    random: bool = False
    alike_axes: tuple[int, ...] = ()
    nonzero_scale: float | None = None
    source: str = ""  # the paper the formula comes from (the catalogue's), or ""
    truncation: Truncation | None = None
    # A fixed kernel's squares relative to its largest value, (v / nonzero_scale)^2: their
    # mean, and for a conv weight their sums over each row and each column of taps (the
    # signal estimate's E[w^2] and the padding's share), worked out once with the values,
    # which a 100000x1 kernel has many of. None elsewhere.
    relative_square: float | None = None
    tap_squares: TapSquares | None = None
    # A fixed weight's sums (:class:`KernelSums`), or their expectation for one drawn about a
    # mean other than 0; None for one drawn about 0 or a bias.
    sums: KernelSums | None = None

    @property
    def symmetric(self) -> bool:
        """Whether each value is drawn as likely as its negative (a zero-mean normal, uniform
        or centred truncated normal; orthogonal and sparse draws): a layer of such weights
        gives outputs whose distribution is symmetric about 0 whatever its input."""
        if not self.random or self.mean:
            return False
        if self.distribution == "truncated_normal":
            return self.bound is not None  # a cut centred on the mean
        return self.distribution in ("uniform", "normal", "orthogonal", "delta_orthogonal",
                                     "sparse")

    @property
    def scale(self) -> float | None:
        """How large the values are: ``nonzero_scale`` where it is given, else their root mean
        square ``sqrt(mean^2 + std^2)`` (``hypot``, which does not underflow for a std of
        1e-300 as its square does); None where no number says it (identity's 0s and 1s,
        LSUV's scale set on data)."""
        if self.nonzero_scale is not None:
            return self.nonzero_scale
        return None if self.std is None else math.hypot(self.mean or 0.0, self.std)
