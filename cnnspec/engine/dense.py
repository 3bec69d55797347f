"""Fully connected layers and flattening. Layouts are PyTorch's: ``w`` (F_out, F_in)."""
from __future__ import annotations

import numpy as np


def dense_forward(x, w, b):
    """``out = x @ w.T + b``.

    Shapes: ``x`` (N, F_in), ``w`` (F_out, F_in), ``b`` (F_out,) or None -> ``out`` (N, F_out).
    ``cache`` = (``x``, ``w``, whether there is a bias).
    """
    out = x @ w.T
    if b is not None:
        out += b
    return out, (x, w, b is not None)


def dense_backward(dout, cache, need_dw=True, need_dx=True, need_db=True):
    """``dout`` (N, F_out) -> ``(dx (N, F_in), dw (F_out, F_in), db (F_out,))``; a part is None
    when not needed (``need_dw`` or ``need_db`` False for a held parameter) or absent (no
    bias)."""
    x, w, has_bias = cache
    dx = dout @ w if need_dx else None
    dw = dout.T @ x if need_dw else None
    db = dout.sum(axis=0) if need_db and has_bias else None
    return dx, dw, db


def flatten_forward(x):
    """``x`` (N, C, H, W) -> ``out`` (N, C*H*W) in C, H, W order (as PyTorch's ``flatten(1)``);
    ``cache`` = x's shape."""
    return np.ascontiguousarray(x).reshape(x.shape[0], -1), x.shape


def flatten_backward(dout, cache):
    return dout.reshape(cache)
