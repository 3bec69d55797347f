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
    if p >= 1:
        mask = np.zeros(x.shape, dtype=x.dtype)
    else:
        mask = (rng.random(x.shape, dtype=x.dtype) >= p).astype(x.dtype)
        mask *= 1 / (1 - p)
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
    mask_shape = x.shape[:2] + (1,) * (x.ndim - 2)
    if p >= 1:
        mask = np.zeros(mask_shape, dtype=x.dtype)
    else:
        mask = (rng.random(mask_shape, dtype=x.dtype) >= p).astype(x.dtype)
        mask *= 1 / (1 - p)
    return x * mask, mask
