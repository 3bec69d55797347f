"""Inverted dropout (Srivastava et al. 2014): in training each value is zeroed with probability
``p`` and the survivors are scaled by ``1 / (1 - p)``, so evaluation is the identity."""
from __future__ import annotations

import numpy as np


def dropout_forward(x, p, training, rng: np.random.Generator):
    """``x`` any shape -> ``out`` like ``x``; ``cache`` = the scaled keep-mask (None in eval).

    The mask is drawn from ``rng`` in ``x``'s dtype (the model's own dropout stream).
    """
    if not training or p == 0:
        return x, None
    mask = _keep_mask(x.shape, p, x.dtype, rng)
    return x * mask, mask


def dropout_backward(dout, cache, out=None):
    """``dout`` times the keep-mask (``dout`` itself in evaluation), into ``out`` where given
    (``dout`` itself, for a caller that owns it), else into a new array."""
    return dout if cache is None else np.multiply(dout, cache, out=out)


def dropout2d_forward(x, p, training, rng: np.random.Generator):
    """Channel dropout (Tompson et al. 2015), as PyTorch's ``nn.Dropout2d``: in training each
    whole channel of each example is zeroed with probability ``p``, survivors scaled by
    ``1 / (1 - p)``. ``x`` (N, C, H, W) -> ``out`` like ``x``; ``cache`` = the scaled keep-mask
    (N, C, 1, 1) (None in eval)."""
    if not training or p == 0:
        return x, None
    mask = _keep_mask(x.shape[:2] + (1,) * (x.ndim - 2), p, x.dtype, rng)
    return x * mask, mask


def _keep_mask(shape, p, dtype, rng: np.random.Generator) -> np.ndarray:
    """The scaled keep-mask of ``shape``: ``1 / (1 - p)`` where a uniform draw from ``rng`` is
    at least ``p``, else 0 (all 0 for ``p >= 1``). Made in the array of the draws: one array
    where the comparison's booleans and their cast were two more (the same values)."""
    if p >= 1:
        return np.zeros(shape, dtype=dtype)
    mask = rng.random(shape, dtype=dtype)
    np.greater_equal(mask, p, out=mask)
    mask *= 1 / (1 - p)
    return mask
