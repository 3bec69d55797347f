"""Joining branches: elementwise sum (residual connections, He et al. 2016) and channel
concatenation (Szegedy et al. 2015)."""
from __future__ import annotations

import numpy as np


def add_forward(*xs, out=None):
    """Elementwise sum of >= 2 arrays of equal shape; ``cache`` = the number of inputs. Into
    ``out`` where given (the first or second input itself, for a caller that owns it: the
    same bits, as the first two are added first), else into a new array."""
    out = np.add(xs[0], xs[1], out=out)
    for x in xs[2:]:
        out += x
    return out, len(xs)


def add_backward(dout, cache):
    """Every input receives ``dout`` itself (read-only: never modified by the caller)."""
    return [dout] * cache


def concat_forward(*xs):
    """Concatenate (N, C_i, H, W) (or (N, F_i)) along axis 1; ``cache`` = the channel counts."""
    return np.concatenate(xs, axis=1), [x.shape[1] for x in xs]


def concat_backward(dout, cache):
    """Split ``dout`` back into per-input gradients (views of ``dout``)."""
    bounds = np.cumsum(cache)[:-1]
    return np.split(dout, bounds, axis=1)
