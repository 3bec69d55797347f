"""Batch normalisation (Ioffe & Szegedy 2015) with PyTorch's running statistics.

Statistics are per feature over the batch: over axes (N, H, W) for ``x`` (N, C, H, W), over N
for ``x`` (N, F). In training the batch mean and *biased* variance normalise; the running
estimates are updated as PyTorch does, ``running = (1 - momentum) * running + momentum * stat``
with the *unbiased* batch variance (times n / (n - 1), n values per feature). In evaluation the
running estimates normalise.
"""
from __future__ import annotations

import numpy as np


def _axes_and_shape(x):
    if x.ndim == 4:
        return (0, 2, 3), (1, x.shape[1], 1, 1)
    return (0,), (1, x.shape[1])


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1,
                      eps=1e-5):
    """Normalise ``x`` per feature, then scale by ``gamma`` and shift by ``beta``.

    Shapes: ``x`` (N, C, H, W) or (N, F); ``gamma``, ``beta``, ``running_mean``, ``running_var``
    (C,) -> ``out`` like ``x``. In training ``running_mean`` and ``running_var`` are updated in
    place. ``cache`` = (``xhat`` the normalised input, ``inv_std`` (C,), ``gamma``, training).
    """
    axes, shape = _axes_and_shape(x)
    if training:
        mean = x.mean(axis=axes)
        centred = x - mean.reshape(shape)
        var = (centred * centred).mean(axis=axes)
        n = x.size // x.shape[1]
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += (momentum * n / max(n - 1, 1)) * var
    else:
        mean, var = running_mean, running_var
        centred = x - mean.reshape(shape)
    inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
    xhat = centred * inv_std.reshape(shape)
    out = xhat * gamma.reshape(shape) + beta.reshape(shape)
    return out, (xhat, inv_std, gamma, training)


def batchnorm_backward(dout, cache, need_dw=True):
    """``dout`` like ``x`` -> ``(dx, dgamma (C,), dbeta (C,))`` (the gradients of the
    parameters are None when not ``need_dw``).

    Training mode differentiates through the batch statistics:
    ``dx = inv_std / n * (n * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))``.
    """
    xhat, inv_std, gamma, training = cache
    axes, shape = _axes_and_shape(xhat)
    dgamma = (dout * xhat).sum(axis=axes) if need_dw or training else None
    dbeta = dout.sum(axis=axes) if need_dw or training else None
    scale = (gamma * inv_std).reshape(shape)
    if training:
        n = xhat.size // xhat.shape[1]
        dx = scale * (dout - (dbeta / n).reshape(shape) - xhat * (dgamma / n).reshape(shape))
    else:
        dx = dout * scale
    if not need_dw:
        dgamma = dbeta = None
    return dx, dgamma, dbeta
