"""Fan-in and fan-out of a parameter, in PyTorch's layouts.

A conv weight is (out, in, kh, kw): every output pixel sums ``in * kh * kw`` products, and every
input pixel feeds ``out * kh * kw`` of them, so ``fan_in = in*kh*kw`` and ``fan_out = out*kh*kw``
(PyTorch's ``_calculate_fan_in_and_fan_out``; Keras' ``(kh, kw, in, out)`` layout gives the same
numbers from different axes). A dense weight is (out, in): ``fan_in = in``, ``fan_out = out``.

A 1-D parameter (a bias, shape (out,)) has no fans of its own; ``fans`` returns ``(out, out)``
as Keras does, but a scaled scheme on a bias should use its layer's weight fans instead, which
``describe`` and ``create`` accept as an override.
"""
from __future__ import annotations

import math

from cnnspec.errors import SpecError

FAN_MODES = ("fan_in", "fan_out", "fan_avg")


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a parameter of ``shape``: (out, in, *kernel), (out, in) or (n,)."""
    shape = tuple(int(n) for n in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def fan_for_mode(mode: str, fan_in: int, fan_out: int) -> float:
    """The ``n`` of variance_scaling's ``scale / n``: fan_in, fan_out or their mean.

    ``fan_in`` keeps the variance of the forward signal, ``fan_out`` that of the backward
    gradient; ``fan_avg`` is Glorot & Bengio's (2010) compromise between the two.
    """
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    if mode == "fan_avg":
        return (fan_in + fan_out) / 2
    raise SpecError(f"unknown fan mode {mode!r}",
                    hint="mode is one of " + ", ".join(FAN_MODES))
