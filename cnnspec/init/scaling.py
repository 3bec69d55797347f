"""Variance scaling: the one rule under every named random initializer.

``variance_scaling(scale, mode, distribution)`` draws zero-mean weights of variance
``scale / n``, ``n`` being fan_in, fan_out or their mean (jax.nn.initializers and Keras use the
same general form). For a layer ``y = W x`` with ``n`` independent inputs of second moment ``q``,
``Var(y) = n Var(w) q``; ``Var(w) = scale / n`` makes the layer multiply the signal's second
moment by ``scale``, which the nonlinearity's gain^2 then undoes (He et al. 2015, eq. 10).

- ``uniform``: U(-a, a) with ``a = sqrt(3 scale / n)`` (the variance of U(-a, a) is a^2 / 3);
- ``normal``: N(0, scale / n);
- ``truncated_normal``: N(0, sigma^2) redrawn outside +-2 sigma, with sigma chosen so that the
  *truncated* values have std ``sqrt(scale / n)``: ``sigma = sqrt(scale / n) / 0.8796``,
  0.8796 being the std of a standard normal truncated at +-2 (as Keras' VarianceScaling;
  :mod:`cnnspec.init.truncation`).
"""
from __future__ import annotations

import math

from cnnspec.errors import SpecError, float_text
from cnnspec.init.fans import fan_for_mode
from cnnspec.init.truncation import TRUNCATED_STD, TRUNCATION
from cnnspec.records import record

DISTRIBUTIONS = ("uniform", "normal", "truncated_normal")


@record(frozen=True)
class VarianceScaling:
    """A resolved ``variance_scaling(scale, mode, distribution)``, held by ``gain``, the square
    root of its scale, as the named schemes give it: a gain of 1e-170 squares to 1e-340,
    below float64's range, and would become a scale of 0, where its std ``gain / sqrt(n)``
    is a number (which the dtype the weights are trained in may still not hold: check warns)."""

    gain: float
    mode: str
    distribution: str

    def __post_init__(self) -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise SpecError(f"unknown distribution {self.distribution!r}",
                            hint="distribution is one of " + ", ".join(DISTRIBUTIONS))
        if not self.gain > 0:
            raise SpecError(f"variance scaling needs a gain > 0, not {float_text(self.gain)}",
                            hint="the gain multiplies the standard deviation, e.g. 1.414 for "
                                 "ReLU")

    @classmethod
    def of_scale(cls, scale: float, mode: str, distribution: str) -> VarianceScaling:
        """``variance_scaling`` as written, by its scale (the variance times the fan)."""
        if not scale > 0:
            raise SpecError(f"variance_scaling needs a scale > 0, not {float_text(float(scale))}",
                            hint="scale is the target variance times the fan, e.g. 2 for ReLU")
        return cls(math.sqrt(scale), mode, distribution)

    @property
    def scale(self) -> float:
        return self.gain * self.gain

    def std(self, fan_in: int, fan_out: int) -> float:
        """The std of the values drawn: ``gain / sqrt(n) = sqrt(scale / n)`` for every
        distribution."""
        n = fan_for_mode(self.mode, fan_in, fan_out)
        if n <= 0:
            raise SpecError("a parameter with no inputs or outputs cannot be scaled by its fan",
                            hint="use a constant or normal(mean, std) init here")
        return self.gain / math.sqrt(n)

    def bound(self, fan_in: int, fan_out: int) -> float | None:
        """``a`` of U(-a, a), or the truncation limit ``2 sigma``; None for a plain normal."""
        std = self.std(fan_in, fan_out)
        if self.distribution == "uniform":
            return math.sqrt(3.0) * std
        if self.distribution == "truncated_normal":
            return TRUNCATION * std / TRUNCATED_STD
        return None

    def sigma(self, fan_in: int, fan_out: int) -> float:
        """The std parameter of the (untruncated) normal drawn from; for uniform, the std."""
        std = self.std(fan_in, fan_out)
        return std / TRUNCATED_STD if self.distribution == "truncated_normal" else std
