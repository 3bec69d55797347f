"""Elementwise nonlinearities and softmax: ``*_forward(x) -> (out, cache)``,
``*_backward(dout, cache) -> dx``. Shapes are anything; ``out`` and ``dx`` have ``x``'s shape.

Backward passes multiply ``dout`` by a stored factor (a mask or a derivative) into a new array;
``dout`` is never written to, except by :func:`times_derivative` given ``out=dout``: a caller
that owns ``dout`` (:meth:`cnnspec.engine.model.Model.backward` says which gradients are
owned) spares the new array, its page faults and a third of the memory traffic.
"""
from __future__ import annotations

import functools

import numpy as np

GELU_TANH_CUBIC = 0.044715  # the x^3 coefficient of GELU's tanh form (Hendrycks & Gimpel 2016)
# Beyond this |x| GELU is x or 0 and its derivative 1 or 0 to the last bit of float64: the
# normal's density exp(-x^2 / 2) underflows past |x| = 38.6, and the tanh form's argument
# exceeds 2000. Its terms take x clipped to it, so that x^2 and x^3 cannot overflow (a layer
# of weights N(0, 1e30^2) made NaN derivatives of the tanh form, 0 * inf).
GELU_FLAT = 40.0


def relu_forward(x):
    """``max(x, 0)``; ``cache`` = the boolean mask ``x > 0`` (the derivative, 0 at 0 as PyTorch).

    Boolean, not float: the backward product with it costs more than with a float mask, but
    making a float mask costs as much more, and it keeps four bytes a value where this keeps
    one (docs/measurements.md, "The engine")."""
    return relu_into(x, np.empty_like(x)), x > 0


def times_derivative(dout, cache, out=None):
    """``dout * cache``: the backward pass of each op whose ``cache`` is its derivative (or the
    mask that is ReLU's), into ``out`` where given (``dout`` itself, for a caller that owns it:
    elementwise, each value is read before it is written), else into a new array."""
    return np.multiply(dout, cache, out=out)


relu_backward = times_derivative


# NumPy's maximum of an array and the scalar 0 runs a loop about twice as slow as its maximum
# of two arrays (NumPy 2.4, float32, 1M values: 0.39 against 0.15-0.25 ms on an AMD EPYC, where
# an add takes 0.05 ms): a large array is taken as rows of ZERO_ROW values against one row of
# zeros, which stays in cache; an array whose last axis is contiguous, as rows of that axis,
# from MIN_ZERO_ROW values (rows of 16, 64 and 256 values: 0.43, 0.33 and 0.21 ms against the
# scalar's 0.60, 0.39 and 0.38). The same bits (NaN stays NaN, -0.0 and -inf give 0).
ZERO_ROW = 16384
MIN_ZERO_ROW = 64


def relu_into(x, out):
    """``max(x, 0)`` written into ``out`` (``x`` itself, or where a kernel writes its result
    anyway: a ReLU fused into the convolution before it, :class:`cnnspec.engine.layers.ConvReLU`,
    which keeps no mask); returns ``out``. Arrays laid out alike in one dense run of memory
    (C order, or a channel-first view) go row by row against a row of zeros (``ZERO_ROW``),
    as do arrays whose last axis is a contiguous row (``MIN_ZERO_ROW``)."""
    # the size first: a small array (a deep thin net's) pays for no layout check
    flat, flat_out = _dense_runs(x, out) if x.size >= ZERO_ROW else (None, None)
    if flat is not None:
        whole = flat.size - flat.size % ZERO_ROW
        np.maximum(flat[:whole].reshape(-1, ZERO_ROW), _zeros(x.dtype),
                   out=flat_out[:whole].reshape(-1, ZERO_ROW))
        np.maximum(flat[whole:], 0, out=flat_out[whole:])
        return out
    row = x.shape[-1] if x.ndim else 0
    if MIN_ZERO_ROW <= row <= ZERO_ROW and x.dtype == out.dtype \
            and x.strides[-1] == out.strides[-1] == x.itemsize:
        return np.maximum(x, _zeros(x.dtype)[:row], out=out)
    return np.maximum(x, 0, out=out)


def _dense_runs(x, out):
    """``x`` and ``out`` as 1-D views of the same order of their elements, where both are one
    dense run of memory laid out alike, in C order or as a channel-first (N, C, H, W) view of
    (C, N, H, W) memory (a convolution's output); else ``(None, None)``. Flags only: a call
    on a small array pays for what is checked here."""
    if x.dtype != out.dtype or x.strides != out.strides or x.shape != out.shape:
        return None, None
    if x.ndim == 4 and not x.flags.c_contiguous:
        x, out = x.transpose(1, 0, 2, 3), out.transpose(1, 0, 2, 3)
    if not (x.flags.c_contiguous and out.flags.c_contiguous):
        return None, None
    return x.reshape(-1), out.reshape(-1)


@functools.cache
def _zeros(dtype) -> np.ndarray:
    """A read-only row of ``ZERO_ROW`` zeros of ``dtype``."""
    zeros = np.zeros(ZERO_ROW, dtype)
    zeros.flags.writeable = False
    return zeros


def relu_backward_from_output(dout, out, into=None):
    """:func:`relu_backward` with the mask read off the ReLU's output ``out`` rather than kept:
    ``out > 0`` exactly where ``x > 0`` (a NaN ``x`` has a NaN ``out``, and both compare false),
    so the values are :func:`relu_backward`'s. Into ``into`` where given, else a new array."""
    return np.multiply(dout, out > 0, out=into)


def relu_forward_in_place(x):
    """:func:`relu_forward` that writes ``max(x, 0)`` over ``x`` and returns it: for an ``x``
    nothing else reads (see :class:`cnnspec.engine.layers.InPlaceReLU`), which spares a new
    array, its page faults and a third of the memory traffic."""
    mask = x > 0
    return relu_into(x, x), mask


def _factor_array(dout, cache):
    """A new array for ``dx``: ``dout``'s shape (``cache``'s too), the dtype ``dout * cache``
    has (one call when the two agree: deep thin nets pay per call, not per value)."""
    if dout.dtype == cache.dtype:
        return np.empty_like(dout, order="C")
    return np.empty(dout.shape, np.result_type(dout, cache))


def leaky_relu_forward(x, slope):
    """``x`` where ``x > 0``, ``slope * x`` elsewhere (Maas et al. 2013); ``cache`` = the
    derivative (1 or ``slope``) in ``x``'s dtype."""
    deriv = np.where(x > 0, x.dtype.type(1), x.dtype.type(slope))
    return x * deriv, deriv


leaky_relu_backward = times_derivative


def elu_forward(x, alpha=1.0):
    """``x`` where ``x > 0``, ``alpha * (exp(x) - 1)`` elsewhere (Clevert et al. 2016).
    ``cache`` = the derivative: 1 where ``x > 0``, ``alpha * exp(x)`` elsewhere."""
    positive = x > 0
    neg = alpha * np.expm1(np.minimum(x, 0))
    out = np.where(positive, x, neg)
    return out, np.where(positive, x.dtype.type(1), neg + x.dtype.type(alpha))


elu_backward = times_derivative


def tanh_forward(x):
    """``tanh(x)``; ``cache`` = ``out`` (the derivative is ``1 - out**2``)."""
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """``dout * (1 - out**2)`` in three in-place passes over one new array."""
    dx = np.multiply(cache, cache, out=_factor_array(dout, cache))
    np.subtract(1, dx, out=dx)
    return np.multiply(dout, dx, out=dx)


def sigmoid_forward(x):
    """``1 / (1 + exp(-x))``, computed as ``(1 + tanh(x / 2)) / 2`` so no ``exp`` overflows;
    ``cache`` = ``out`` (the derivative is ``out * (1 - out)``)."""
    out = 0.5 * (1 + np.tanh(0.5 * x))
    return out, out


def sigmoid_backward(dout, cache):
    """``dout * out * (1 - out)`` in three in-place passes over one new array."""
    dx = np.subtract(1, cache, out=_factor_array(dout, cache))
    np.multiply(dx, cache, out=dx)
    return np.multiply(dout, dx, out=dx)


def softmax_forward(x):
    """Softmax over axis 1 (classes for (N, K), channels for (N, C, H, W)), shifted by the max so
    ``exp`` never overflows; ``cache`` = ``out``. One new array of ``x``'s size, worked in
    place (the same bits as new arrays for each step)."""
    out = np.subtract(x, x.max(axis=1, keepdims=True))
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out, out


def log_softmax(x):
    """``x - logsumexp(x)`` along axis 1, shifted by the max so nothing overflows: the output
    and one temporary of ``x``'s size (the exponentials), where three were made before."""
    shifted = np.subtract(x, x.max(axis=1, keepdims=True))
    total = np.exp(shifted).sum(axis=1, keepdims=True)
    shifted -= np.log(total)
    return shifted


def log_softmax_forward(x):
    """:func:`log_softmax` of ``x``; ``cache`` = the softmax ``p``."""
    out = log_softmax(x)
    return out, np.exp(out)


def log_softmax_backward(dout, cache):
    """``dout - p * sum(dout)`` along axis 1 (the Jacobian of log-softmax is ``I - p``)."""
    dx = np.multiply(cache, dout.sum(axis=1, keepdims=True), out=_factor_array(dout, cache))
    return np.subtract(dout, dx, out=dx)


def softmax_backward(dout, cache):
    """The Jacobian-vector product ``p * (dout - sum(dout * p))`` along axis 1."""
    p = cache
    dx = np.multiply(dout, p, out=_factor_array(dout, p))
    total = dx.sum(axis=1, keepdims=True)
    np.subtract(dout, total, out=dx)
    return np.multiply(p, dx, out=dx)


def gelu_forward(x, approximate="none"):
    """``x * Phi(x)``, Phi the standard normal CDF (Hendrycks & Gimpel 2016); with
    ``approximate="tanh"`` their tanh approximation ``x/2 * (1 + tanh(sqrt(2/pi) (x + c x^3)))``,
    ``c`` :data:`GELU_TANH_CUBIC`, as PyTorch's ``GELU(approximate=...)``. ``cache`` = the
    derivative."""
    near = np.clip(x, -GELU_FLAT, GELU_FLAT)
    if approximate == "tanh":
        return _gelu_tanh(x, near)
    # imported here: scipy.special takes ~0.15 s to import, which `cnnspec check` never needs
    from scipy.special import ndtr

    cdf = ndtr(x).astype(x.dtype, copy=False)
    pdf = np.exp(-0.5 * near * near) * x.dtype.type(1 / np.sqrt(2 * np.pi))
    return x * cdf, cdf + near * pdf


def _gelu_tanh(x, near):
    """GELU's tanh form and its derivative ``(1 + t) / 2 + x/2 (1 - t^2) d_inner``, ``t =
    tanh(inner)``, ``inner = sqrt(2/pi) (x + c x^3)``; worked in place, so that three arrays
    of ``x``'s size live beside the output and the derivative (the footprint's forward
    temporaries)."""
    k = np.sqrt(2 / np.pi).astype(x.dtype)
    t = near ** 3
    t *= x.dtype.type(GELU_TANH_CUBIC)
    t += near
    t *= k
    np.tanh(t, out=t)
    d_inner = near * x.dtype.type(3 * GELU_TANH_CUBIC)
    d_inner *= near
    d_inner += 1
    d_inner *= k
    deriv = t + 1
    out = x * x.dtype.type(0.5)
    out *= deriv
    np.multiply(t, t, out=t)
    np.subtract(1, t, out=t)
    near *= x.dtype.type(0.5)
    np.multiply(near, t, out=t)
    t *= d_inner
    deriv *= x.dtype.type(0.5)
    deriv += t
    return out, deriv


gelu_backward = times_derivative


def silu_forward(x):
    """``x * sigmoid(x)`` (SiLU, Elfwing et al. 2018; "swish" with beta 1); ``cache`` = the
    derivative ``s + x s (1 - s)``."""
    s, _ = sigmoid_forward(x)
    return x * s, s * (1 + x * (1 - s))


silu_backward = times_derivative


def mish_forward(x):
    """``x * tanh(softplus(x))`` (Misra 2019, "Mish: A Self Regularized Non-Monotonic
    Activation Function"); ``cache`` = the derivative ``t + x s (1 - t^2)``, ``t =
    tanh(softplus(x))``, ``s = sigmoid(x)`` (softplus' derivative), PyTorch's form.

    Both softplus and ``log s`` are written over ``log1p(exp(-|x|))``: ``max(x, 0) + tail``
    and ``min(x, 0) - tail``, so no ``exp`` overflows, ``s`` stays exact far below 0 (where
    ``(1 + tanh(x / 2)) / 2`` cancels to 0 from about -37 on) and a NaN passes as NaN without
    a warning (``logaddexp`` warns of one)."""
    tail = np.abs(x)
    np.negative(tail, out=tail)
    np.exp(tail, out=tail)
    np.log1p(tail, out=tail)
    s = np.minimum(x, x.dtype.type(0))
    s -= tail
    np.exp(s, out=s)
    t = np.maximum(x, x.dtype.type(0))
    t += tail
    np.tanh(t, out=t)
    out = x * t
    deriv = np.multiply(t, t, out=tail)
    np.subtract(1, deriv, out=deriv)
    deriv *= s
    deriv *= x
    deriv += t
    return out, deriv


mish_backward = times_derivative


def relu6_forward(x):
    """``min(max(x, 0), 6)`` (Krizhevsky 2010; MobileNet); ``cache`` = the derivative, 1 on
    the open interval (0, 6) and 0 elsewhere (PyTorch's hardtanh rule at the corners)."""
    return np.clip(x, 0, 6), ((x > 0) & (x < 6)).astype(x.dtype)


relu6_backward = times_derivative


def hardswish_forward(x):
    """``x * relu6(x + 3) / 6`` (Howard et al. 2019, MobileNetV3); ``cache`` = the derivative as
    PyTorch defines it: 0 below -3, ``x / 3 + 1/2`` on [-3, 3], 1 above 3."""
    out = x * (np.clip(x + 3, 0, 6) * x.dtype.type(1 / 6))  # x * 6 would overflow near max
    deriv = np.where(x < -3, x.dtype.type(0),
                     np.where(x <= 3, x * x.dtype.type(1 / 3) + x.dtype.type(0.5),
                              x.dtype.type(1)))
    return out, deriv


hardswish_backward = times_derivative


def _channel_view(a, x):
    """A per-channel (C,) array shaped to broadcast over ``x`` (N, C, ...) along axis 1."""
    return a.reshape((1, -1) + (1,) * (x.ndim - 2))


def prelu_forward(x, slope):
    """``x`` where ``x > 0``, ``slope[c] * x`` elsewhere, one learned slope per channel (He et
    al. 2015). ``x`` (N, C, H, W) or (N, F), ``slope`` (C,) -> ``out`` like ``x``; ``cache`` =
    (``x``, ``slope``)."""
    out = np.where(x > 0, x, x * _channel_view(slope, x))
    return out, (x, slope)


def prelu_backward(dout, cache, need_dw=True):
    """``dout`` like ``x`` -> ``(dx, dslope (C,))``; ``dslope`` is None when not ``need_dw``."""
    x, slope = cache
    negative = x <= 0
    dx = dout * np.where(negative, _channel_view(slope, x), x.dtype.type(1))
    dslope = None
    if need_dw:
        axes = (0,) + tuple(range(2, x.ndim))
        dslope = (dout * np.where(negative, x, 0)).sum(axis=axes)
    return dx, dslope
