"""The input gradient of a strided convolution, phase by phase: the function
:func:`cnnspec.engine.conv_tuned` runs for ``dx`` where the stride is above 1 (no transposed
convolution at stride 1 applies) and the kernel at least as large as the stride, in place of
col2im's scatter.

At stride ``(sh, sw)`` the padded input's pixels fall into ``sh*sw`` *phases*: phase ``(a,
b)`` holds the pixels ``(sh*i + a, sw*j + b)``, a plane of ``Hq x Wq`` (``ceil(Hp/sh) x
ceil(Wp/sw)``). Kernel tap ``(p, q) = (sh*u + a, sw*v + b)`` reads only phase ``(a, b)``,
at ``(i + u, j + v)`` for output ``(i, j)``: on each phase the strided convolution is a
stride-1 one with the taps that fall there (Shi et al. 2016, "Is the deconvolution layer the
same as a convolutional layer?", the sub-pixel view; Dumoulin & Visin 2016, section 4.5). So
the adjoint that takes the column gradient ``w_mat.T @ dout`` back onto ``dx`` adds each tap's
row onto its phase shifted by ``u*Wq + v``, in *wide* coordinates (``dout`` laid out in rows of
``Wq``, zero past ``Wo``): one contiguous run of ``(Ho - 1)*Wq + Wo`` values an image, where
col2im adds ``Ho`` runs of ``Wo`` values at stride ``sw`` onto a padded plane. The phases are
then copied into ``dx`` (one strided copy each).

ResNet-style downsampling (16 -> 32 channels, 3x3, stride 2, 32x32, batch 64, one thread, AMD
EPYC, medians of 15 calls, three rounds): ``dx`` 4.3-5.6 ms against col2im's 5.8-5.9. With a
kernel smaller than the stride (a 1x1 projection at stride 2) some pixels are in no tap's
phase, and col2im's scatter is a plain strided copy: it stays there.
"""
from __future__ import annotations

import functools

import numpy as np
from numpy.lib.stride_tricks import as_strided

from cnnspec.engine.footprint import phase_input_grad, phase_planes
from cnnspec.engine.windows import Window, carve, carve_again
from cnnspec.records import record


def applies(win: Window) -> bool:
    """Whether ``dx`` of ``win`` runs here (:func:`cnnspec.engine.footprint.phase_input_grad`:
    every input pixel is then in some tap's phase)."""
    return phase_input_grad(win.kernel, win.stride, win.dilation)


@record(frozen=True)
class Phase:
    """One phase ``(a, b)``: its ``taps`` (u, v) of ``ku x kv``, and the slices that match
    its plane's pixels (``plane``: rows, columns) with the unpadded input's (``pixels``)."""

    a: int
    b: int
    ku: int
    kv: int
    pixels: tuple[slice, slice]
    plane: tuple[slice, slice]


@record(frozen=True)
class Planes:
    """The phases of a window: their ``Hq x Wq`` planes and ``length``, the columns an image
    in wide coordinates (``(Ho - 1)*Wq + Wo``)."""

    phases: tuple[Phase, ...]
    plane_hw: tuple[int, int]
    length: int


@functools.lru_cache(maxsize=256)
def planes(win: Window) -> Planes:
    """The :class:`Planes` of a window :func:`applies` to, made once."""
    (kh, kw), (sh, sw) = win.kernel, win.stride
    (h, w), (top, _, left, _) = win.in_hw, win.pads
    _, plane_hw, length = phase_planes(win.kernel, win.stride, win.padded_hw, win.out_hw)
    phases = []
    for a in range(sh):
        for b in range(sw):
            y0, x0 = (a - top) % sh, (b - left) % sw  # the first input pixel in the phase
            i0, j0 = (y0 + top) // sh, (x0 + left) // sw  # its place in the plane
            rows, cols = len(range(y0, h, sh)), len(range(x0, w, sw))
            phases.append(Phase(a, b, len(range(a, kh, sh)), len(range(b, kw, sw)),
                                (slice(y0, None, sh), slice(x0, None, sw)),
                                (slice(i0, i0 + rows), slice(j0, j0 + cols))))
    return Planes(tuple(phases), plane_hw, length)


def weight_rows(w: np.ndarray, win: Window) -> np.ndarray:
    """``w`` (F, C, kh, kw) as the (C*kh*kw, F) matrix whose rows are the taps phase by
    phase, each phase's as (c, u, v): the column gradient's rows in :func:`input_grad`."""
    f = w.shape[0]
    (sh, sw) = win.stride
    return np.concatenate([w[:, :, p.a::sh, p.b::sw].reshape(f, -1)
                           for p in planes(win).phases], axis=1).T


def input_grad(dout, w, win: Window, x_shape, step: int, scratch) -> np.ndarray:
    """``dx`` (N, C, H, W), a view of channel-first memory, of a convolution with ``w`` (F, C,
    kh, kw) over ``win`` (:func:`applies`), from ``dout`` (N, F, Ho, Wo), any strides; chunks
    of ``step`` images, their buffers in ``scratch``: ``dout`` laid out in wide coordinates
    (zero past ``Wo``), the column gradient, the phases' planes."""
    n, c = x_shape[:2]
    f = w.shape[0]
    layout = planes(win)
    (hq, wq), length = layout.plane_hw, layout.length
    ho, wo = win.out_hw
    rows_w = weight_rows(w, win)
    dxc = np.empty((c, n, *win.in_hw), dout.dtype)
    dout_c = dout.transpose(1, 0, 2, 3)
    for start in range(0, n, step):
        images = min(step, n - start)
        wide, new = carve_again(scratch, "phase dout", (f, images * length), dout.dtype)
        if new:
            wide.fill(0)  # the junk columns past Wo: they add nothing
        s_f, item = wide.strides
        valid = as_strided(wide, shape=(f, images, ho, wo),
                           strides=(s_f, length * item, wq * item, item))
        np.copyto(valid, dout_c[:, start:start + images])
        columns = carve(scratch, "phase columns", (rows_w.shape[0], images * length),
                        dout.dtype)
        np.matmul(rows_w, wide, out=columns)
        planes_ = carve(scratch, "phase planes", (len(layout.phases), c, images, hq * wq),
                        dout.dtype)
        _fold(columns, planes_, layout, c, images)
        for phase, plane in zip(layout.phases, planes_):
            target = dxc[:, start:start + images][:, :, phase.pixels[0], phase.pixels[1]]
            np.copyto(target, plane.reshape(c, images, hq, wq)[:, :, phase.plane[0],
                                                                 phase.plane[1]])
    return dxc.transpose(1, 0, 2, 3)


def _fold(columns, planes_, layout: Planes, c: int, images: int) -> None:
    """Each tap's row of ``columns`` (rows phase by phase, (c, u, v) within, ``images`` runs
    of ``length`` values) added onto its phase's planes (phase, C, images, Hq*Wq) shifted by
    ``u*Wq + v``: the first tap copied (its zero junk columns included), the planes' tails
    past it zeroed."""
    length, wq = layout.length, layout.plane_hw[1]
    first = 0
    for phase, plane in zip(layout.phases, planes_):
        taps = columns[first:first + c * phase.ku * phase.kv].reshape(
            c, phase.ku, phase.kv, images, length)
        first += c * phase.ku * phase.kv
        np.copyto(plane[:, :, :length], taps[:, 0, 0])
        plane[:, :, length:] = 0
        for u in range(phase.ku):
            for v in range(phase.kv):
                if u or v:
                    target = plane[:, :, u * wq + v:u * wq + v + length]
                    np.add(target, taps[:, u, v], out=target)
