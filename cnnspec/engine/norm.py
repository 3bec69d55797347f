"""Batch normalisation (Ioffe & Szegedy 2015) with PyTorch's running statistics.

Statistics are per feature over the batch: over axes (N, H, W) for ``x`` (N, C, H, W), over N
for ``x`` (N, F). In training the batch mean and *biased* variance normalise; the running
estimates are updated as PyTorch does, ``running = (1 - momentum) * running + momentum * stat``
with the *unbiased* batch variance (times n / (n - 1), n values per feature). In evaluation the
running estimates normalise.
"""
from __future__ import annotations

import numpy as np

from cnnspec.engine.windows import work_buffer


def _axes_and_shape(x):
    if x.ndim == 4:
        return (0, 2, 3), (1, x.shape[1], 1, 1)
    return (0,), (1, x.shape[1])


def _features_first(x):
    """``x`` as a C-contiguous (C, M) matrix, one row per feature: (N, C, H, W) -> (C, N*H*W),
    (N, F) -> (F, N). A view when ``x`` is a channel-first buffer seen as NCHW (a conv's or a
    pool's output, see cnnspec.engine.windows), else a copy. Reductions along contiguous rows
    are several times faster than over the axes (0, 2, 3) of such a view."""
    order = (1, 0, 2, 3) if x.ndim == 4 else (1, 0)
    return np.ascontiguousarray(x.transpose(order)).reshape(x.shape[1], -1)


def _as_input(rows, shape):
    """(C, M) rows back as an array of ``shape`` (N, C, H, W) or (N, F): a view of ``rows``."""
    if len(shape) == 4:
        n, c, h, w = shape
        return rows.reshape(c, n, h, w).transpose(1, 0, 2, 3)
    return rows.T


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1,
                      eps=1e-5, parts=None, work=None):
    """Normalise ``x`` per feature, then scale by ``gamma`` and shift by ``beta``.

    Shapes: ``x`` (N, C, H, W) or (N, F); ``gamma``, ``beta``, ``running_mean``, ``running_var``
    (C,) -> ``out`` like ``x`` (a view of channel-first memory). In training ``running_mean``
    and ``running_var`` are updated in place. ``cache`` = (``centred`` the input less its mean
    as (C, M) rows, ``inv_std`` (C,), ``gamma``, training, x's shape, ``parts``): the
    normalised input is ``centred * inv_std``, which the backward pass folds into its
    per-channel factors, so the forward pass makes ``out`` straight from ``centred`` (five
    passes over the values, not six). With ``work`` (a dict the layer keeps) ``centred`` is
    written into the same buffer on every call, sparing a new array's page faults (0.5-1 ms
    a layer of ResNet-small, batch 64); the previous cache is then stale.

    ``parts``: where ``x`` is one part of a batch run in threads, the
    :class:`cnnspec.engine.parallel.PartSums` of this layer's parts (``total(a)`` sums ``a``
    over the parts, ``first`` is True for one of them): the statistics are then the whole
    batch's, and the first part updates the running estimates.
    """
    rows = _features_first(x)
    centred = work_buffer(work, "centred", rows.shape, x.dtype)
    if training and parts is not None:
        # the sums of the values and the count of the parts, in one meeting of the threads
        sums = parts.total(np.append(rows.sum(axis=1), x.dtype.type(rows.shape[1])))
        n = int(sums[-1])
        mean = sums[:-1] / x.dtype.type(n)
        np.subtract(rows, mean[:, None], out=centred)
        var = parts.total(np.einsum("ij,ij->i", centred, centred)) / x.dtype.type(n)
        if parts.first:
            _update_running(running_mean, running_var, mean, var, n, momentum)
    elif training:
        mean = rows.mean(axis=1)
        np.subtract(rows, mean[:, None], out=centred)
        var = np.einsum("ij,ij->i", centred, centred) / rows.shape[1]
        _update_running(running_mean, running_var, mean, var, rows.shape[1], momentum)
    else:
        mean, var = running_mean, running_var
        np.subtract(rows, mean[:, None], out=centred)
    inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
    out = centred * (gamma * inv_std)[:, None]
    out += beta[:, None]
    return _as_input(out, x.shape), (centred, inv_std, gamma, training, x.shape, parts)


def _update_running(running_mean, running_var, mean, var, n: int, momentum: float) -> None:
    """PyTorch's update, with the unbiased variance of ``n`` values."""
    running_mean *= 1 - momentum
    running_mean += momentum * mean
    running_var *= 1 - momentum
    running_var += (momentum * n / max(n - 1, 1)) * var


def batchnorm_backward(dout, cache, need_dw=True):
    """``dout`` like ``x`` -> ``(dx, dgamma (C,), dbeta (C,))`` (the gradients of the
    parameters are None when not ``need_dw``).

    Training mode differentiates through the batch statistics:
    ``dx = inv_std / n * (n * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))`` (Ioffe &
    Szegedy 2015, section 3), with ``xhat = centred * inv_std`` folded into the per-channel
    factors. For one part of a batch run in threads (see :func:`batchnorm_forward`), the sums
    and ``n`` are the whole batch's, and ``dgamma`` and ``dbeta`` this part's share (the
    parts' shares add up).
    """
    centred, inv_std, gamma, training, shape, parts = cache
    drows = _features_first(dout)
    dgamma = (np.einsum("ij,ij->i", drows, centred) * inv_std if need_dw or training
              else None)
    dbeta = drows.sum(axis=1) if need_dw or training else None
    scale = (gamma * inv_std)[:, None]
    if training:
        n = centred.shape[1]
        sum_dgamma, sum_dbeta = dgamma, dbeta
        if parts is not None:
            both = parts.total(np.stack([dgamma, dbeta, np.full_like(dbeta, n)]))
            sum_dgamma, sum_dbeta, n = both[0], both[1], int(both[2, 0])
        dx = centred * (sum_dgamma * inv_std / n)[:, None]
        np.subtract(drows, dx, out=dx)
        dx -= (sum_dbeta / n)[:, None]
        dx *= scale
    else:
        dx = drows * scale
    if not need_dw:
        dgamma = dbeta = None
    return _as_input(dx, shape), dgamma, dbeta


def groupnorm_forward(x, gamma, beta, groups, eps=1e-5):
    """Group normalisation (Wu & He 2018), as PyTorch's ``nn.GroupNorm(groups, C)``: each
    example's channels split into ``groups`` equal runs, each run normalised by its own mean and
    biased variance over its channels and pixels; then a per-channel scale and shift. Layer
    norm over (C, H, W) is 1 group, instance norm C groups. Nothing couples the examples of a
    batch, and training and evaluation compute the same.

    Shapes: ``x`` (N, C, H, W) or (N, C); ``gamma``, ``beta`` (C,) -> ``out`` like ``x``.
    ``cache`` = (``xhat`` the normalised input as (N, G, C/G * H * W), ``inv_std`` (N, G, 1),
    ``gamma``, x's shape).
    """
    n = x.shape[0]
    grouped = x.reshape(n, groups, -1)
    mean = grouped.mean(axis=2, keepdims=True)
    centred = grouped - mean
    var = (centred * centred).mean(axis=2, keepdims=True)
    inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
    xhat = centred * inv_std
    _, shape = _axes_and_shape(x)
    out = xhat.reshape(x.shape) * gamma.reshape(shape) + beta.reshape(shape)
    return out, (xhat, inv_std, gamma, x.shape)


def groupnorm_backward(dout, cache, need_dw=True):
    """``dout`` like ``x`` -> ``(dx, dgamma (C,), dbeta (C,))`` (None when not ``need_dw``).

    Per group of m values: ``dx = inv_std / m * (m * dxhat - sum(dxhat) - xhat * sum(dxhat *
    xhat))``, with ``dxhat = dout * gamma`` (batch norm's rule, within one example's group).
    """
    xhat, inv_std, gamma, x_shape = cache
    n, groups, m = xhat.shape
    axes, shape = _axes_and_shape(dout)
    dgamma = dbeta = None
    if need_dw:
        dgamma = (dout * xhat.reshape(x_shape)).sum(axis=axes)
        dbeta = dout.sum(axis=axes)
    dxhat = (dout * gamma.reshape(shape)).reshape(n, groups, m)
    dx = inv_std * (dxhat - dxhat.mean(axis=2, keepdims=True)
                    - xhat * (dxhat * xhat).mean(axis=2, keepdims=True))
    return dx.reshape(x_shape), dgamma, dbeta


def layernorm_forward(x, gamma, beta, eps=1e-5):
    """Layer normalisation (Ba et al. 2016) over all of one example's values, (C, H, W) or
    (F,), with an elementwise scale and shift as PyTorch's ``nn.LayerNorm(x.shape[1:])``.

    Shapes: ``x`` (N, ...); ``gamma``, ``beta`` x.shape[1:] -> ``out`` like ``x``. ``cache`` =
    (``xhat`` (N, ...), ``inv_std`` (N, 1), ``gamma``).
    """
    flat = x.reshape(x.shape[0], -1)
    mean = flat.mean(axis=1, keepdims=True)
    centred = flat - mean
    var = (centred * centred).mean(axis=1, keepdims=True)
    inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
    xhat = (centred * inv_std).reshape(x.shape)
    return xhat * gamma + beta, (xhat, inv_std, gamma)


def layernorm_backward(dout, cache, need_dw=True):
    """``dout`` like ``x`` -> ``(dx, dgamma, dbeta)`` (the last two shaped like ``gamma``, None
    when not ``need_dw``); the same rule as :func:`groupnorm_backward` with one group."""
    xhat, inv_std, gamma = cache
    dgamma = (dout * xhat).sum(axis=0) if need_dw else None
    dbeta = dout.sum(axis=0) if need_dw else None
    n = dout.shape[0]
    dxhat = (dout * gamma).reshape(n, -1)
    flat_hat = xhat.reshape(n, -1)
    dx = inv_std * (dxhat - dxhat.mean(axis=1, keepdims=True)
                    - flat_hat * (dxhat * flat_hat).mean(axis=1, keepdims=True))
    return dx.reshape(dout.shape), dgamma, dbeta
