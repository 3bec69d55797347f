"""Batch normalisation (Ioffe & Szegedy 2015) with PyTorch's running statistics.

Statistics are per feature over the batch: over axes (N, H, W) for ``x`` (N, C, H, W), over N
for ``x`` (N, F). In training the batch mean and *biased* variance normalise; the running
estimates are updated as PyTorch does, ``running = (1 - momentum) * running + momentum * stat``
with the *unbiased* batch variance (times n / (n - 1), n values per feature). In evaluation the
running estimates normalise.
"""
from __future__ import annotations

import sys

import numpy as np

from cnnspec.engine.activations import relu_into
from cnnspec.engine.footprint import norm_block_channels
from cnnspec.engine.windows import carve, work_buffer


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


def _row_dots(a, b, out):
    """The dot products of the rows of ``a`` and ``b`` (C, M) written into ``out`` (C,):
    ``np.vecdot`` (NumPy 2, a BLAS dot a row: 3.6 times einsum's speed on a 256 KiB float32
    row, and closer to the float64 sum) where there is one."""
    if hasattr(np, "vecdot"):
        return np.vecdot(a, b, out=out)
    return np.einsum("ij,ij->i", a, b, out=out)


def _ones(work, rows):
    """A vector of ones as long as the rows of ``rows`` (C, M), kept in ``work``: the sums of
    the rows are one BLAS matrix-vector product with it (``rows @ ones``), 4 times NumPy's
    pairwise sums on four 256 KiB float32 rows (relative error 1.7e-7 against 8e-8)."""
    return work_buffer(work, "ones", (rows.shape[1],), rows.dtype, fill=1)


def _channel_blocks(rows) -> list[slice]:
    """Slices of whole channels (rows of ``rows`` (C, M)) small enough that a pass over a few
    such arrays keeps them in a core's cache between its steps
    (:func:`cnnspec.engine.footprint.norm_block_channels`)."""
    channels, values = rows.shape
    step = norm_block_channels(channels, values)
    return [slice(start, min(start + step, channels)) for start in range(0, channels, step)]


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1,
                      eps=1e-5, parts=None, work=None, relu=False):
    """Normalise ``x`` per feature, then scale by ``gamma`` and shift by ``beta`` (and, with
    ``relu``, take ``max(out, 0)``: the ReLU after the batch norm, fused into it).

    Shapes: ``x`` (N, C, H, W) or (N, F); ``gamma``, ``beta``, ``running_mean``, ``running_var``
    (C,) -> ``out`` like ``x`` (a view of channel-first memory). In training ``running_mean``
    and ``running_var`` are updated in place. ``cache`` = (``centred`` the input less its mean
    as (C, M) rows, ``inv_std`` (C,), ``scale`` = ``gamma * inv_std`` (C,), ``threshold``
    the output's shift negated with ``relu`` (the backward pass finds the output's sign again
    from it, so no mask is kept: :func:`_masked`), else None, training, x's shape, ``parts``,
    ``offset``): the normalised input is ``(centred + offset) * inv_std``, which the
    backward pass folds into its per-channel factors, so the forward pass makes ``out``
    straight from ``centred``.
    ``offset`` (C,) is None but for one part of a split batch, whose ``centred`` is its own
    values less its own mean: ``offset`` is that mean less the whole batch's. With ``work``
    (a dict the layer keeps) ``centred`` is written into the same buffer on every call,
    sparing a new array's page faults (0.5-1 ms a layer of ResNet-small, batch 64); the
    previous cache is then stale.
    The sums of rows are products with a row of ones (:func:`_ones`), kept there too.

    The statistics are made over blocks of whole channels that stay in a core's cache
    (:func:`_channel_blocks`): a block's mean, its centred values and their variance (mean
    first, then the centred variance, not E[x^2] - E[x]^2) in one read of the block from
    memory (:func:`_block_statistics`). The output is made over the same blocks, each block's
    three steps (scale, shift, ReLU) in the cache: right after its statistics, while its
    centred values are still there, unless the parts of a split batch must meet first (then
    in a second pass over the blocks). Made over the whole tensor instead, each of the three
    steps read and wrote the tensor in memory. Intel Xeon (cpu family 6, model 167), one
    thread, ResNet-small at batch 64, the forward passes of its ten batch norms summed (medians
    of three runs each, alternating with the whole-tensor code): 14.45 ms a step made over the
    whole tensor against 13.42 made right after the statistics, and 14.25 against 13.67 with
    every block made in the second pass; the convolutions after them took no longer (an
    earlier measurement, output made block by block, had found the next convolution 5-10%
    slower; not seen here).

    ``parts``: where ``x`` is one part of a split batch, the
    :class:`cnnspec.engine.parallel.PartSums` of this layer's parts (``total(a)`` sums ``a``
    over the parts, ``first`` is True for one of them): the statistics are then the whole
    batch's (:func:`_whole_batch_statistics`, one meeting of the parts), and the first part
    updates the running estimates.
    """
    rows = _features_first(x)
    centred = _centred_buffer(work, rows.shape, x.dtype)
    ones = _ones(work, rows)
    blocks = _channel_blocks(rows)
    eps = x.dtype.type(eps)
    out = np.empty(rows.shape, np.result_type(rows, gamma))
    # without a meeting of parts each block is normalised while it is in the cache
    meeting = training and parts is not None
    offset = None
    if not training:
        mean, var = running_mean, running_var
    else:
        mean, var = np.empty(rows.shape[0], x.dtype), np.empty(rows.shape[0], x.dtype)
        residual = np.empty(rows.shape[0], x.dtype) if meeting else None
    for block in blocks:
        if training:
            _block_statistics(rows, ones, mean, centred, var, residual, block)
        else:
            np.subtract(rows[block], mean[block, None], out=centred[block])
        if not meeting:
            _, scale, shift = _scale_and_shift(var[block], gamma[block], beta[block], eps)
            _normalise(centred[block], scale, shift, relu, out[block])
    if training:
        n = rows.shape[1]
        if meeting:
            mean, var, offset, n = _whole_batch_statistics(mean, var, residual, n, parts)
        if parts is None or parts.first:
            _update_running(running_mean, running_var, mean, var, n, momentum)
    inv_std, scale, shift = _scale_and_shift(var, gamma, beta, eps, offset)
    if meeting:
        for block in blocks:
            _normalise(centred[block], scale[block], shift[block], relu, out[block])
    threshold = np.negative(shift) if relu else None  # negated once, not once a block
    return (_as_input(out, x.shape),
            (centred, inv_std, scale, threshold, training, x.shape, parts, offset))


def _centred_buffer(work, shape, dtype):
    """The array the forward pass writes the centred input into: the one kept in ``work``
    (a new one's memory is faulted in: 0.5-1 ms a layer of ResNet-small, batch 64), unless
    the last backward pass lent it to ``dx`` (``spend``) and a view of that ``dx`` is still
    held (each holds a reference to it): then a new one, which ``work`` keeps instead. A
    buffer given up after each lending, a new one made at each forward pass, moved the net's
    other arrays about the heap: ResNet-small's strided ``down`` then took 4.8 -> 5.2 ms
    forward, its batch norm 0.9 -> 1.2 ms (Intel Xeon, cpu family 6, model 167, one thread,
    batch 64, two runs alternating with the buffer kept, kept first each time; with the
    buffer lent, as here, such an order showed 0.1-0.3 ms of ``down``, and the other order
    none)."""
    buffer = work_buffer(work, "centred", shape, dtype)
    if work is not None and work.pop("lent", False):
        # held as buffer is but for work's reference: counted alike, however the
        # interpreter counts a frame's own references
        alone = np.empty(0)
        if sys.getrefcount(buffer) > sys.getrefcount(alone) + 1:
            buffer = work["centred"] = np.empty(shape, dtype)
    return buffer


def _block_statistics(rows, ones, mean, centred, var, residual, block):
    """The statistics of the channels of ``block`` in one read of their rows from memory:
    ``mean``, then ``centred`` = ``rows - mean`` and ``var`` their centred variance (not
    E[x^2] - E[x]^2). For one part of a split batch (``residual`` not None) ``var`` holds
    the sums of squares and ``residual`` the sums of the centred values (not quite 0:
    ``mean`` is rounded), which :func:`_whole_batch_statistics` needs; the vectors are
    written in place (out=), no temporary one a block."""
    count = rows.shape[1]
    np.matmul(rows[block], ones, out=mean[block])
    mean[block] /= count
    np.subtract(rows[block], mean[block, None], out=centred[block])
    _row_dots(centred[block], centred[block], var[block])
    if residual is None:
        var[block] /= count
    else:
        np.matmul(centred[block], ones, out=residual[block])


def _scale_and_shift(var, gamma, beta, eps, offset=None):
    """``(inv_std, scale, shift)`` of the output ``centred * scale + shift``, with
    ``scale = gamma * inv_std``; a split batch's part's ``offset`` (its ``centred +
    offset`` is the input less the batch's mean) joins the shift."""
    inv_std = 1 / np.sqrt(var + eps)
    scale = gamma * inv_std
    shift = beta if offset is None else beta + offset * scale
    return inv_std, scale, shift


def _whole_batch_statistics(mean, squares, residual, count: int, parts):
    """The whole batch's ``(mean, var, offset, n)`` from one part's ``count`` values a
    channel, centred on ``mean`` (C,): their sums of squares ``squares`` and sums
    ``residual`` (not quite 0: ``mean`` is rounded), in one meeting of the parts. ``offset``
    is ``mean`` less the batch's mean.

    Chan, Golub & LeVeque 1979 ("Updating formulae and a pairwise algorithm for computing
    sample variances"): the sum of squares of the union about its mean ``m`` is
    ``sum_i (S_i + n_i (m_i - m)^2)``, parts ``i`` of ``n_i`` values with means ``m_i`` and
    sums of squares ``S_i`` about them. With ``sum_i n_i (m_i - m)^2 = sum_i n_i m_i^2 - n
    m^2`` every term is a sum over the parts, so the parts meet once (rather than once for the
    sums, then again for the squares about the batch's mean) and each keeps its values
    centred on its own mean. The formula holds for exact means only: ``m_i`` is ``mean`` plus
    ``residual / n_i``, and ``S_i`` about it ``squares - residual^2 / n_i``; left out, where the
    parts' means lie apart, the variance was off by 1e-4 of itself in float32. The sums are
    added in float64, where ``n_i m_i^2`` rounds at 1e-16 of itself, so their difference
    keeps float32's precision unless the means are some 10^4 times the spread or more (where
    the one-part path itself loses float32's digits); it is never taken below 0."""
    part_mean = residual / np.float64(count)
    part_mean += mean
    sums = np.empty(3 * mean.shape[0] + 1)  # float64, for one meeting
    counted, firsts, about_means, seconds = _sum_terms(sums)
    counted[0] = count
    np.multiply(part_mean, count, out=firsts)  # n_i m_i
    np.multiply(residual, part_mean - mean, out=about_means)  # residual^2 / n_i
    np.subtract(squares, about_means, out=about_means)  # S_i
    np.multiply(firsts, part_mean, out=seconds)  # n_i m_i^2
    # the parts' total: this part's own array, worked on in place
    counted, batch_mean, var, seconds = _sum_terms(parts.total(sums))
    n = int(counted[0])
    batch_mean /= n
    between = np.square(batch_mean)
    between *= n
    np.subtract(seconds, between, out=seconds)  # sum_i n_i (m_i - m)^2
    np.maximum(seconds, 0, out=seconds)
    var += seconds
    var /= n
    dtype = mean.dtype
    return (batch_mean.astype(dtype), var.astype(dtype), (mean - batch_mean).astype(dtype), n)


def _sum_terms(sums):
    """The views of a meeting's array of :func:`_whole_batch_statistics`: the count (one
    value), then a value a channel of ``n_i m_i``, ``S_i`` and ``n_i m_i^2``."""
    channels = (sums.shape[0] - 1) // 3
    return np.split(sums, [1, 1 + channels, 1 + 2 * channels])


def _normalise(centred, scale, shift, relu, out):
    """``centred * scale + shift`` (per row), then ``max(., 0)`` with ``relu``, into ``out``."""
    out = np.multiply(centred, scale[:, None], out=out)
    out += shift[:, None]
    if relu:
        relu_into(out, out)
    return out


def _update_running(running_mean, running_var, mean, var, n: int, momentum: float) -> None:
    """PyTorch's update, with the unbiased variance of ``n`` values."""
    running_mean *= 1 - momentum
    running_mean += momentum * mean
    running_var *= 1 - momentum
    running_var += (momentum * n / max(n - 1, 1)) * var


def batchnorm_backward(dout, cache, need_dw=True, work=None, owned=False, spend=False):
    """``dout`` like ``x`` -> ``(dx, dgamma (C,), dbeta (C,))`` (the gradients of the
    parameters are None when not ``need_dw``). ``dout`` is never written to, unless
    ``owned`` (the caller hands it over). ``spend``: the caller reads the cache no more (the
    model frees it after the backward pass), so ``dx`` may take the memory of its centred
    values (:func:`_dx_rows`), lent: the next forward pass writes it again only where no
    view of ``dx`` is held any more (:func:`_centred_buffer`).

    Training mode differentiates through the batch statistics:
    ``dx = inv_std / n * (n * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))`` (Ioffe &
    Szegedy 2015, section 3), with ``xhat = centred * inv_std`` folded into the per-channel
    factors. For one part of a split batch (see :func:`batchnorm_forward`), the sums and
    ``n`` are the whole batch's, and ``dgamma`` and ``dbeta`` this part's share (the parts'
    shares add up); the part's ``offset`` (its centred values are ``centred + offset`` about
    the batch's mean) joins the per-channel factors. With the ReLU fused (a ``threshold`` in
    the cache), ``dout`` is first masked by the sign of the output, found again block by block
    from ``centred`` (:func:`_masked`: the same bits as the forward's), so no mask is
    stored. The passes run over blocks of channels that stay in a core's cache
    (:func:`_channel_blocks`), reading ``dout`` and ``centred`` once and writing ``dx`` once
    (twice each with ``parts``, whose parts meet between the sums and ``dx``); ``work`` keeps
    a block's mask and masked gradient. With the ReLU fused and one pass, ``dx`` is written
    over the rows of ``dout`` (:func:`_dx_rows`): each block's are read, masked into
    ``work``, before its ``dx`` is written.
    """
    centred, inv_std, scale, threshold, training, shape, parts, offset = cache
    drows = _features_first(dout)
    blocks = _channel_blocks(centred)
    sums = need_dw or training
    ones = _ones(work, centred)
    dgamma = np.empty(inv_std.shape, np.result_type(drows, inv_std)) if sums else None
    dbeta = np.empty(inv_std.shape, drows.dtype) if sums else None
    n = centred.shape[1]
    in_one_pass = parts is None or not training
    # with the ReLU fused and one pass, each block's rows are masked into work before its dx
    # is written (_masked): dx may be written over them
    dx = _dx_rows(drows, dout, scale, owned, threshold is not None and in_one_pass,
                  centred if spend else None)
    if work is not None and dx is centred:
        work["lent"] = True  # see _centred_buffer
    per_value = inv_std / n  # dgamma's factor a value (_input_grad), made once, not a block
    for block in blocks:  # the sums written in place (out=): no temporary vector a block
        grad = _masked(drows, centred, scale, threshold, work, block)
        if sums:
            np.matmul(grad, ones, out=dbeta[block])
            _row_dots(grad, centred[block], dgamma[block])
            if offset is not None:  # sum(grad * (centred + offset))
                dgamma[block] += offset[block] * dbeta[block]
            dgamma[block] *= inv_std[block]
        if in_one_pass:
            _input_grad(grad, centred, per_value, scale, dgamma, dbeta, n, training, dx, block)
    if not in_one_pass:
        both = parts.total(np.stack([dgamma, dbeta, np.full_like(dbeta, n)]))
        sum_dgamma, sum_dbeta, total = both[0], both[1], int(both[2, 0])
        per_value = inv_std / total
        for block in blocks:
            grad = _masked(drows, centred, scale, threshold, work, block)
            _input_grad(grad, centred, per_value, scale, sum_dgamma, sum_dbeta, total, True,
                        dx, block, offset)
    if not need_dw:
        dgamma = dbeta = None
    return _as_input(dx, shape), dgamma, dbeta


def _dx_rows(drows, dout, scale, owned: bool, may_overwrite: bool, centred=None):
    """The (C, M) rows ``dx`` is written into, where the dtypes agree: where
    ``may_overwrite``, ``drows`` itself when it is a features-first copy of ``dout`` or
    ``dout`` is ``owned``; else the ``centred`` values of a spent cache, when given: each
    block's ``dx`` goes over the rows the block's passes have just read, which are in the
    cache, where a new array's memory is fetched before it is written (and a new 4 MiB array
    is faulted in, for a 16-channel 32x32 layer at batch 64); else a new array. ResNet-small's
    batch norms without a ReLU (``tools/profile_engine.py``, main and this alternating, three
    runs, batch 64, one thread, Intel Xeon, cpu family 6, model 167): backward 1.46-1.67 ->
    1.19-1.35 ms at 16x32x32, 0.60-0.73 -> 0.53-0.63 ms at 32x16x16."""
    dtype = np.result_type(drows, scale)
    if may_overwrite and dtype == drows.dtype and (
            owned or not np.may_share_memory(drows, dout)):
        return drows
    if centred is not None and dtype == centred.dtype:
        return centred
    return np.empty(drows.shape, dtype)


def _input_grad(grad, centred, per_value, scale, sum_dgamma, sum_dbeta, n, training, dx,
                block, offset=None):
    """``dx`` of the channels of ``block`` from their (masked) output gradient ``grad``: in
    training through the batch statistics (sums over the ``n`` values of the whole batch,
    ``per_value`` = ``inv_std / n``; ``offset`` a part's, see :func:`batchnorm_forward`), in
    evaluation ``grad * scale``."""
    dest = dx[block]
    if training:
        factor = sum_dgamma[block] * per_value[block]
        np.multiply(centred[block], factor[:, None], out=dest)
        np.subtract(grad, dest, out=dest)
        mean_grad = sum_dbeta[block] / n
        if offset is not None:  # (centred + offset) * factor
            mean_grad += offset[block] * factor
        dest -= mean_grad[:, None]
        dest *= scale[block, None]
    else:
        np.multiply(grad, scale[block, None], out=dest)


def _masked(drows, centred, scale, threshold, work, block):
    """``dout``'s rows of ``block``, masked where the fused ReLU's output was 0; ``dout``
    itself without a fused ReLU. The product, the mask and the masked gradient are in
    block-sized buffers of ``work``, so ``dx`` may be ``drows``.

    The forward pass's output ``centred * scale + shift`` (:func:`_normalise`) is above 0
    exactly where the product ``centred * scale`` is above ``threshold``, ``-shift``: a sum
    rounded to nearest keeps the sign of the exact sum (0 only where it is 0), and negation
    is exact; NaN and infinities compare alike too. So the mask is the same bits as the
    output's sign without the sum: of the backward pass's ten passes over each block (NumPy
    calls), the mask's were four, then three (the shift negated once, in the forward pass),
    and are four again, cheaper: the mask is copied into the float buffer as 1.0 and 0.0 and
    multiplied in place there, rather than multiplied as booleans (a cast a value inside the
    product): the same bits (``x * 0.0`` is ``x * False``), and on an Intel Xeon (cpu family
    6, model 167), one thread, medians of 9 alternating rounds of 200 calls, 24.8 against
    39.4 us on a block of 2 x 65536 float32 values, 22.8 against 29.7 on 8 x 16384."""
    rows = drows[block]
    if threshold is None:
        return rows
    grad = np.multiply(centred[block], scale[block, None],
                       out=carve(work, "grad", rows.shape, rows.dtype))
    mask = np.greater(grad, threshold[block, None],
                      out=carve(work, "mask", rows.shape, bool))
    np.copyto(grad, mask)
    grad *= rows
    return grad


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
