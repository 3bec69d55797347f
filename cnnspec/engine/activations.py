"""Elementwise nonlinearities and softmax: ``*_forward(x) -> (out, cache)``,
``*_backward(dout, cache) -> dx``. Shapes are anything; ``out`` and ``dx`` have ``x``'s shape.

Backward passes multiply ``dout`` by a stored factor (a mask or a derivative) into a new array;
``dout`` is never written to.
"""
from __future__ import annotations

import numpy as np


def relu_forward(x):
    """``max(x, 0)``; ``cache`` = the boolean mask ``x > 0`` (the derivative, 0 at 0 as PyTorch)."""
    return np.maximum(x, 0), x > 0


def relu_backward(dout, cache):
    return dout * cache


def leaky_relu_forward(x, slope):
    """``x`` where ``x > 0``, ``slope * x`` elsewhere (Maas et al. 2013); ``cache`` = the
    derivative (1 or ``slope``) in ``x``'s dtype."""
    deriv = np.where(x > 0, x.dtype.type(1), x.dtype.type(slope))
    return x * deriv, deriv


def leaky_relu_backward(dout, cache):
    return dout * cache


def elu_forward(x, alpha=1.0):
    """``x`` where ``x > 0``, ``alpha * (exp(x) - 1)`` elsewhere (Clevert et al. 2016).
    ``cache`` = the derivative: 1 where ``x > 0``, ``alpha * exp(x)`` elsewhere."""
    positive = x > 0
    neg = alpha * np.expm1(np.minimum(x, 0))
    out = np.where(positive, x, neg)
    return out, np.where(positive, x.dtype.type(1), neg + x.dtype.type(alpha))


def elu_backward(dout, cache):
    return dout * cache


def tanh_forward(x):
    """``tanh(x)``; ``cache`` = ``out`` (the derivative is ``1 - out**2``)."""
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    return dout * (1 - cache * cache)


def sigmoid_forward(x):
    """``1 / (1 + exp(-x))``, computed as ``(1 + tanh(x / 2)) / 2`` so no ``exp`` overflows;
    ``cache`` = ``out`` (the derivative is ``out * (1 - out)``)."""
    out = 0.5 * (1 + np.tanh(0.5 * x))
    return out, out


def sigmoid_backward(dout, cache):
    return dout * cache * (1 - cache)


def softmax_forward(x):
    """Softmax over axis 1 (classes for (N, K), channels for (N, C, H, W)), shifted by the max so
    ``exp`` never overflows; ``cache`` = ``out``."""
    e = np.exp(x - x.max(axis=1, keepdims=True))
    out = e / e.sum(axis=1, keepdims=True)
    return out, out


def softmax_backward(dout, cache):
    """The Jacobian-vector product ``p * (dout - sum(dout * p))`` along axis 1."""
    p = cache
    return p * (dout - (dout * p).sum(axis=1, keepdims=True))


def gelu_forward(x, approximate="none"):
    """``x * Phi(x)``, Phi the standard normal CDF (Hendrycks & Gimpel 2016); with
    ``approximate="tanh"`` their tanh approximation ``x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715
    x^3)))``, as PyTorch's ``GELU(approximate=...)``. ``cache`` = the derivative."""
    if approximate == "tanh":
        inner = np.sqrt(2 / np.pi).astype(x.dtype) * (x + x.dtype.type(0.044715) * x ** 3)
        t = np.tanh(inner)
        d_inner = np.sqrt(2 / np.pi).astype(x.dtype) * (1 + x.dtype.type(3 * 0.044715) * x * x)
        out = 0.5 * x * (1 + t)
        return out, 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner
    # imported here: scipy.special takes ~0.15 s to import, which `cnnspec check` never needs
    from scipy.special import ndtr

    cdf = ndtr(x).astype(x.dtype, copy=False)
    pdf = np.exp(-0.5 * x * x) * x.dtype.type(1 / np.sqrt(2 * np.pi))
    return x * cdf, cdf + x * pdf


def gelu_backward(dout, cache):
    return dout * cache


def silu_forward(x):
    """``x * sigmoid(x)`` (SiLU, Elfwing et al. 2018; "swish" with beta 1); ``cache`` = the
    derivative ``s + x s (1 - s)``."""
    s, _ = sigmoid_forward(x)
    return x * s, s * (1 + x * (1 - s))


def silu_backward(dout, cache):
    return dout * cache
