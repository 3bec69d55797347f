"""A stride-1 convolution on batch-last blocks as one matrix product per kernel row.

im2col copies every input value ``kh*kw`` times before its one product. Here a block of
images laid out batch-last (:func:`cnnspec.engine.windows.batch_blocks`, ``xt`` (C, Hp, Wp,
images)) is widened along the width alone,

    E[(c, j), y, x, m] = xt[c, y, x + j*dw, m]        (C*kw rows of Hp*Wo*images values),

and at stride 1 the columns of kernel row ``i`` are E's columns from ``i*dh*Wo*images`` on:
in each row contiguous, rows apart by E's row length, a matrix BLAS reads in place. So

    out = sum_i W_i @ E_i,      W_i = w[:, :, i, :] as (F, C*kw),

``kh`` products as deep as a kernel row over a copy ``kh`` times smaller than im2col's. The
weight gradient multiplies the same views by the block's output gradient (``dW_i = dout @
E_i.T``), and the input gradient runs the other way: ``dE_i = W_i.T @ dout``, each added at
its row offset, then folded along the width (``dxp[c, y, x + j*dw] += dE[(c, j), y, x]``).

LeNet-5's second layer (6 -> 16, 5x5, 14x14), one thread, ms, im2col columns on blocks of 8
images / these, blocks as :func:`cnnspec.engine.chunking.row_tap_images` sizes them (AMD
EPYC, Zen 4, 1 MiB L2, OpenBLAS 0.3.31): forward at batch 256 3.29 / 2.21, weight gradient
2.98 / 1.86, input gradient 4.2 / 3.3; at batch 64 0.82 / 0.54, 0.74 / 0.47, 1.06 / 0.80.
"""
from __future__ import annotations

import numpy as np

from cnnspec.engine.activations import relu_into
from cnnspec.engine.windows import Window, carve, carve_again, output_array, strided_view


def correlate(xt: np.ndarray, n: int, w: np.ndarray, b, win: Window, work,
              relu: bool = False) -> np.ndarray:
    """``w`` (F, C, kh, kw) correlated with the ``n`` images of the blocks ``xt`` (K, C, Hp,
    Wp, images), plus ``b`` (F,) or None, then ``max(., 0)`` where ``relu``  ->  ``out`` (F, N,
    Ho, Wo), C-contiguous (the layer's kept output buffer where ``relu``). A shorter last
    block's spare slots are zeroed first: its products are computed and dropped, and the
    weight gradient reads the same blocks."""
    f, kh = w.shape[0], w.shape[2]
    step = xt.shape[-1]
    ho, wo = win.out_hw
    _zero_spare_slots(xt, n)
    taps = _rows_of(w)  # (kh, F, C*kw)
    first = taps[0] if b is None else np.concatenate([taps[0], b[:, None]], axis=1)
    out = output_array(work if relu else None, (f, n, ho, wo), xt.dtype)
    for block in range(xt.shape[0]):
        start = block * step
        images = min(step, n - start)
        rows = _tap_rows(_widened(xt[block], win, work, ones=b is not None), win, kh)
        product = carve(work, "product", (f, ho * wo * step), xt.dtype)
        part = carve(work, "part", product.shape, xt.dtype)
        np.matmul(first, rows[0], out=product)
        for tap, columns in zip(taps[1:], rows[1:, :taps.shape[2]]):
            product += np.matmul(tap, columns, out=part)
        if relu:
            relu_into(product, product)
        out[:, start:start + images] = (product.reshape(f, ho, wo, step)[..., :images]
                                        .transpose(0, 3, 1, 2))
    return out


def backward(xt: np.ndarray, n: int, dout: np.ndarray, w: np.ndarray, win: Window, work,
             scratch, need_dw: bool = True, need_dx: bool = True):
    """``(dx, dw)`` from the blocks ``xt`` of :func:`correlate` (its spare slots zero) and
    ``dout`` (N, F, Ho, Wo), any strides, block by block of the forward pass's images: each
    block's output gradient laid out once, images innermost, for both. ``dw`` (F, C, kh, kw)
    where ``need_dw`` (else None): the block widened again (in cache, as im2col's columns are
    built again), its kernel rows' views times the laid-out gradient. ``dx`` (N, C, H, W), a
    view of channel-first memory, where ``need_dx`` (else None): :func:`_input_grad_block`.
    ``work``: the layer's buffers; ``scratch``: the input gradient's, which live within the
    call.

    One laid-out gradient for both, where each pass had laid out its own (the input
    gradient in blocks of its own size): LeNet-5's second layer, weight and input gradients,
    one thread, median ratio of 25 interleaved rounds 0.93 at batch 128, 0.91 at 32 (Intel
    Xeon, cpu family 6, model 167, OpenBLAS 0.3.31 SkylakeX kernels; the input gradient alone
    was as fast or faster in the forward pass's blocks of 16 images as in its own of 11:
    1.52 / 1.66 ms at batch 128)."""
    c, step = xt.shape[1], xt.shape[-1]
    f = dout.shape[1]
    kh, kw = win.kernel
    sums = np.zeros((kh, c * kw, f), dout.dtype) if need_dw else None
    part = np.empty_like(sums) if need_dw else None
    if need_dx:
        dxc = np.empty((c, n, *win.in_hw), dout.dtype)
        back = np.ascontiguousarray(w.transpose(2, 1, 3, 0)).reshape(kh, c * kw, -1)  # W_i.T
    for block in range(xt.shape[0]):
        start = block * step
        laid = _laid_out(dout, start, step, work).reshape(f, -1)
        if need_dw:
            rows = _tap_rows(_widened(xt[block], win, work), win, kh)
            # one call for the kh kernel rows' products: NumPy runs BLAS on each matrix of
            # the stack, the products and sums of kh calls (the same bits), in two calls
            # instead of 2*kh (LeNet-5's second layer at batch 64, one thread, medians of 101
            # alternating calls, three runs: 0.64 / 0.61 / 0.69 -> 0.59 / 0.57 / 0.64 ms; AMD
            # EPYC, load 8)
            sums += np.matmul(rows, laid.T, out=part)
        if need_dx:
            _input_grad_block(laid, back, win, scratch, dxc[:, start:start + step])
    # sums[i, (c, j), f] is dw[f, c, i, j]
    dw = (np.ascontiguousarray(sums.reshape(kh, c, kw, f).transpose(3, 1, 0, 2)) if need_dw
          else None)
    return (dxc.transpose(1, 0, 2, 3) if need_dx else None), dw


def _input_grad_block(laid: np.ndarray, back: np.ndarray, win: Window, scratch,
                      into: np.ndarray) -> None:
    """One block's input gradient into ``into`` (C, images, H, W), from its laid-out output
    gradient ``laid`` (F, Ho*Wo*step) and the kernel rows' ``back`` = W_i.T (kh, C*kw, F):
    each kernel row's ``W_i.T @ dout`` added into the widened gradient at its row offset
    (:func:`_add_shifted`), folded along the width onto the padded block, whose unpadded part
    is ``dx``'s (the block's first ``images`` images)."""
    kh, c, images = back.shape[0], into.shape[0], into.shape[1]
    kw, dw = win.kernel[1], win.dilation[1]
    (ho, wo), (hp, wp) = win.out_hw, win.padded_hw
    step = laid.shape[1] // (ho * wo)
    run, span = win.dilation[0] * wo * step, ho * wo * step  # a kernel row's offset, columns
    widened = carve(scratch, "widened", (c * kw, hp * wo * step), laid.dtype)
    np.matmul(back[0], laid, out=widened[:, :span])
    widened[:, span:] = 0
    part = _zero_led(scratch, widened.shape, span, laid.dtype)
    for i in range(1, kh):
        np.matmul(back[i], laid, out=part[:, :span])
        _add_shifted(widened, part, i * run)
    spread = widened.reshape(c, kw, hp, wo, step)
    padded = carve(scratch, "padded", (c, hp, wp, step), laid.dtype)
    padded[:, :, wo:] = 0
    padded[:, :, :wo] = spread[:, 0]
    for j in range(1, kw):
        padded[:, :, j * dw:j * dw + wo] += spread[:, j]
    into[...] = win.unpad(padded[..., :images].transpose(0, 3, 1, 2))


def _zero_led(work, shape: tuple[int, int], span: int, dtype) -> np.ndarray:
    """A buffer of ``shape`` (rows as long as the widened gradient's) for a kernel row's
    product in its first ``span`` columns; the columns after them are zero (written once for
    the buffer), so that :func:`_add_shifted` adds nothing through them."""
    part, new = carve_again(work, "shifted", shape, dtype)
    if new:
        part[:, span:] = 0
    return part


def _add_shifted(widened: np.ndarray, part: np.ndarray, offset: int) -> None:
    """``widened[:, offset + t] += part[:, t]`` for every column ``t`` of ``part``'s product,
    as one add over the two arrays' flat memory (both C-contiguous, rows of one length): row
    ``r`` of ``part`` lands on row ``r`` of ``widened`` from column ``offset`` on, and its
    zero columns past the product (:func:`_zero_led`) spill onto the next row, adding
    nothing. NumPy adds a contiguous run two to three times faster than the same values as
    the rows of a strided view, whose every row costs a loop of its own: LeNet-5's second
    layer's (30 rows of 1300 values, 13 images a block), us, one thread, medians of 300
    (Intel Xeon, cpu family 6, model 167, AVX-512, 2 MiB L2; NumPy 2.4.6): strided rows 10.8,
    flat run (1.4 times the values) 5.9; the whole input gradient, median ratio of 21
    interleaved rounds to the strided adds: 0.80 at batch 128, 0.81 at 32."""
    size = part.size - offset
    flat = widened.reshape(-1)[offset:]
    np.add(flat, part.reshape(-1)[:size], out=flat)


def _rows_of(w: np.ndarray) -> np.ndarray:
    """``w`` (F, C, kh, kw) as its kernel rows' matrices (kh, F, C*kw), a copy."""
    f, c, kh, kw = w.shape
    return np.ascontiguousarray(w.transpose(2, 0, 1, 3)).reshape(kh, f, c * kw)


def _widened(block: np.ndarray, win: Window, work, ones: bool = False) -> np.ndarray:
    """One block (C, Hp, Wp, images), C-contiguous, widened along the width: (C*kw,
    Hp*Wo*images), row ``(c, j)`` the block's channel ``c`` from column ``j*dw`` on, ``Wo``
    columns of each row; with ``ones`` a last row of ones after them (C*kw + 1 rows), which
    the first kernel row's product multiplies by the bias, so that the bias costs no pass over
    the product (LeNet-5's second layer forward, one thread, median ratio of 21 interleaved
    rounds to adding the bias after the products: 0.94 at batch 128, 0.97 at 32; Intel Xeon,
    cpu family 6, model 167, OpenBLAS 0.3.31 SkylakeX kernels). This view and
    :func:`_tap_rows`' are made once a block by :func:`cnnspec.engine.windows.strided_view`,
    a fifth of ``as_strided``'s cost."""
    c, hp, _, step = block.shape
    kw, dw, wo = win.kernel[1], win.dilation[1], win.out_hw[1]
    s_c, s_h, s_w, s_m = block.strides
    view = strided_view(block, 0, (c, kw, hp, wo, step), (s_c, dw * s_w, s_h, s_w, s_m),
                        writeable=False)
    rows = carve(work, "widened", (c * kw + ones, hp * wo * step), block.dtype)
    np.copyto(rows[:c * kw].reshape(view.shape), view)
    if ones:
        rows[-1] = 1
    return rows


def _tap_rows(widened: np.ndarray, win: Window, kh: int) -> np.ndarray:
    """The columns of each kernel row ``i``: ``widened``'s (C-contiguous) from ``i*dh`` rows
    of the block on, ``Ho`` rows' worth, as one read-only view (kh, C*kw, Ho*Wo*images) whose
    matrices have a unit column stride and rows apart by ``widened``'s row (what BLAS reads
    in place)."""
    ho, wo = win.out_hw
    step = widened.shape[1] // (win.padded_hw[0] * wo)
    run, span = win.dilation[0] * wo * step, ho * wo * step
    row_stride, column_stride = widened.strides
    return strided_view(widened, 0, (kh, widened.shape[0], span),
                        (run * column_stride, row_stride, column_stride), writeable=False)


def _laid_out(dout: np.ndarray, start: int, step: int, work) -> np.ndarray:
    """Images ``start:start + step`` of ``dout`` (N, F, Ho, Wo) as a block (F, Ho, Wo, step),
    images innermost; slots past the batch's end zero."""
    n, f, ho, wo = dout.shape
    images = min(step, n - start)
    laid = carve(work, "laid", (f, ho, wo, step), dout.dtype)
    if images < step:
        laid[..., images:] = 0
    laid[..., :images] = dout[start:start + images].transpose(1, 2, 3, 0)
    return laid


def _zero_spare_slots(xt: np.ndarray, n: int) -> None:
    """Zero the slots of the last block past the batch's end (batch_blocks leaves them as
    they were): multiplied by the output gradient's zero slots they add nothing, where a
    stale NaN or infinity would."""
    spare = xt.shape[0] * xt.shape[-1] - n
    if spare:
        xt[-1, ..., xt.shape[-1] - spare:] = 0
