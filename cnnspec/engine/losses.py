"""Losses: ``loss(out, y) -> (loss, dout)`` with ``loss`` a Python float (the mean over the
batch) and ``dout`` the gradient d loss / d ``out``, in ``out``'s dtype.

``y`` holds integer class labels (N,).
"""
from __future__ import annotations

import numpy as np


def _one_hot(y, classes, dtype):
    y = np.asarray(y)
    onehot = np.zeros((y.shape[0], classes), dtype=dtype)
    onehot[np.arange(y.shape[0]), y] = 1
    return onehot


def log_softmax(logits):
    """``logits - logsumexp(logits)`` along axis 1, shifted by the max so nothing overflows."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax_cross_entropy(logits, y):
    """Mean cross-entropy of softmax(``logits``) against labels ``y``.

    Shapes: ``logits`` (N, K), ``y`` (N,) integers. The gradient is the stable
    ``(softmax(logits) - onehot(y)) / N`` (computed from the log-softmax, never from a division by
    a probability).
    """
    n = logits.shape[0]
    logp = log_softmax(logits)
    y = np.asarray(y)
    loss = -float(logp[np.arange(n), y].sum(dtype=np.float64)) / n
    dlogits = np.exp(logp)
    dlogits[np.arange(n), y] -= 1
    dlogits *= 1 / n
    return loss, dlogits


def mse(out, y):
    """Mean squared error against one-hot targets, averaged over every element (PyTorch's
    ``MSELoss()``). Shapes: ``out`` (N, K), ``y`` (N,) integers -> ``dout`` (N, K)."""
    diff = out - _one_hot(y, out.shape[1], out.dtype)
    loss = float(np.mean(diff * diff, dtype=np.float64))
    return loss, diff * (2 / diff.size)


# The losses the IR names (cnnspec/ir/training_catalogue.py declares them).
LOSSES = {"cross_entropy": softmax_cross_entropy, "mse": mse}
