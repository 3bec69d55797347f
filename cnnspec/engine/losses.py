"""Losses: ``loss(out, y) -> (loss, dout)`` with ``loss`` a Python float (the mean over the
batch) and ``dout`` the gradient d loss / d ``out``, in ``out``'s dtype.

``y`` holds integer class labels (N,). Keyword arguments of a loss (label smoothing, class
weights) are the training settings that apply to it (cnnspec/ir/training_catalogue.py).

A loss is a sum over the batch's examples divided by a number of the whole batch (its
:data:`DIVISORS`: the examples, their class weights' sum, the outputs' elements). A part of a
split batch passes the whole batch's as ``divisor``: its loss is then its share of the
batch's, and its ``dout`` rows are those the whole batch's call gives (the same bits), so each
part can start its backward pass without waiting for the others' outputs.
"""
from __future__ import annotations

import numpy as np

from cnnspec.engine.activations import log_softmax


def _one_hot(y, classes, dtype):
    y = np.asarray(y)
    onehot = np.zeros((y.shape[0], classes), dtype=dtype)
    onehot[np.arange(y.shape[0]), y] = 1
    return onehot


def examples(y, classes: int, class_weights=None) -> float:
    """The number of examples: a mean over the batch (bce's class weights weigh the examples
    but still divide by N, as PyTorch's ``weight=`` does)."""
    return float(len(y))


def weighted_examples(y, classes: int, class_weights=None) -> float:
    """The sum of the examples' class weights ``sum_i w[y_i]`` (N without weights): PyTorch's
    weighted mean in ``CrossEntropyLoss`` and ``NLLLoss``."""
    if class_weights is None:
        return float(len(y))
    return float(np.asarray(class_weights, dtype=np.float64)[np.asarray(y)].sum())


def elements(y, classes: int, class_weights=None) -> float:
    """The number of output elements, N x K: ``MSELoss``'s mean over every element."""
    return float(len(y) * classes)


def softmax_cross_entropy(logits, y, label_smoothing: float = 0.0, class_weights=None, *,
                          divisor: float | None = None):
    """Mean cross-entropy of softmax(``logits``) against labels ``y``, as PyTorch's
    ``CrossEntropyLoss(weight=class_weights, label_smoothing=label_smoothing)``.

    Shapes: ``logits`` (N, K), ``y`` (N,) integers, ``class_weights`` (K,) or None (all 1).
    With ``p = softmax(logits)``, ``w`` the weights, ``W = sum_i w[y_i]`` and
    ``e = label_smoothing``::

        loss = ((1 - e) * sum_i w[y_i] * -log p[i, y_i]
                + e / K * sum_i sum_c w[c] * -log p[i, c]) / W

    so without weights the target is ``(1 - e) * onehot(y) + e / K`` and ``W = N``. The
    gradient is the stable ``(softmax(logits) - target) / N`` form, weighted (computed from the
    log-softmax, never from a division by a probability). ``divisor``: ``W`` of the whole batch
    these rows are a part of (module docstring).
    """
    n, k = logits.shape
    logp = log_softmax(logits)
    y = np.asarray(y)
    rows = np.arange(n)
    total = weighted_examples(y, k, class_weights) if divisor is None else divisor
    if class_weights is None and not label_smoothing:
        loss = -float(logp[rows, y].sum(dtype=np.float64)) / total
        dlogits = np.exp(logp)
        dlogits[rows, y] -= 1
        dlogits *= 1 / total
        return loss, dlogits
    e = float(label_smoothing)
    w = np.ones(k) if class_weights is None else np.asarray(class_weights, dtype=np.float64)
    w_y = w[y]
    loss = ((1 - e) * -float((w_y * logp[rows, y]).sum(dtype=np.float64))
            - e / k * float((logp * w.astype(logp.dtype)).sum(dtype=np.float64))) / total
    # d/dlogits of -log p[i, c] is p[i] - onehot(c): weighted and summed as the loss is.
    dlogits = np.exp(logp)
    dlogits *= ((1 - e) * w_y + e / k * w.sum()).astype(logp.dtype)[:, None]
    dlogits[rows, y] -= ((1 - e) * w_y).astype(logp.dtype)
    dlogits -= (e / k * w).astype(logp.dtype)
    dlogits *= 1 / total
    return loss, dlogits


def mse(out, y, *, divisor: float | None = None):
    """Mean squared error against one-hot targets, averaged over every element (PyTorch's
    ``MSELoss()``). Shapes: ``out`` (N, K), ``y`` (N,) integers -> ``dout`` (N, K)."""
    diff = out - _one_hot(y, out.shape[1], out.dtype)
    total = elements(y, out.shape[1]) if divisor is None else divisor
    loss = float(np.sum(diff * diff, dtype=np.float64)) / total
    return loss, diff * (2 / total)


def nll(logp, y, class_weights=None, *, divisor: float | None = None):
    """Mean negative log-likelihood of log-probabilities ``logp`` (N, K) (a ``log_softmax``
    output) at labels ``y``, as PyTorch's ``NLLLoss(weight=class_weights)``: ``-sum_i w[y_i]
    logp[i, y_i] / sum_i w[y_i]``; ``dout`` is ``-w[y_i] / W`` at each label, 0 elsewhere."""
    n = logp.shape[0]
    y = np.asarray(y)
    rows = np.arange(n)
    w_y = np.ones(n) if class_weights is None else np.asarray(class_weights, np.float64)[y]
    total = weighted_examples(y, logp.shape[1], class_weights) if divisor is None else divisor
    loss = -float((w_y * logp[rows, y]).sum(dtype=np.float64)) / total
    dout = np.zeros_like(logp)
    dout[rows, y] = (-w_y / total).astype(logp.dtype)
    return loss, dout


def bce(logits, y, class_weights=None, *, divisor: float | None = None):
    """Mean binary cross-entropy of one score per example, a logit (N, 1), against labels
    ``y`` (N,) in {0, 1}, as PyTorch's ``BCEWithLogitsLoss``: ``max(z, 0) - z y + log(1 +
    exp(-|z|))`` (no exp overflows); ``dout = (sigmoid(z) - y) / N``. ``class_weights`` (2,)
    weigh each example by its class, divided by N as PyTorch's ``weight=`` does."""
    z = logits[:, 0].astype(np.float64)
    target = np.asarray(y, dtype=np.float64)
    w = np.ones(len(z)) if class_weights is None else np.asarray(class_weights, np.float64)[y]
    n = examples(y, 1) if divisor is None else divisor
    losses = np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))
    loss = float((w * losses).sum()) / n
    sigmoid = 0.5 * (1 + np.tanh(0.5 * z))
    dout = (w * (sigmoid - target) / n).astype(logits.dtype)[:, None]
    return loss, dout


# The losses the IR names (cnnspec/ir/training_catalogue.py declares them).
LOSSES = {"cross_entropy": softmax_cross_entropy, "mse": mse, "nll": nll, "bce": bce}
# What each divides its sum over the batch by: ``divisor(y, classes, class_weights=None)``.
DIVISORS = {"cross_entropy": weighted_examples, "mse": elements, "nll": weighted_examples,
            "bce": examples}


def batch_divisor(loss: str, y, classes: int, **loss_args) -> float:
    """What ``loss`` divides its sum over the batch of labels ``y`` by (:data:`DIVISORS`);
    ``loss_args``: the loss's settings, as :data:`LOSSES` takes them."""
    return DIVISORS[loss](y, classes, loss_args.get("class_weights"))


def uninformed_loss(loss: str, y, classes: int, **loss_args) -> float:
    """The loss ``loss`` gives labels ``y`` (N,) from an output (N, ``classes``) that knows
    nothing of its input: every score equal. That is zero logits (every class equally
    likely: ln K for cross_entropy and ln 2 for bce, without class weights), zero values for
    mse (1/K against one-hot targets, their mean square) and, for nll, the log-probabilities
    of that guess, ln(1/K) each (ln K). ``loss_args``: the loss's settings, as
    :data:`LOSSES` takes them."""
    value = -np.log(classes) if loss == "nll" else 0.0
    out = np.full((len(y), classes), value, dtype=np.float64)
    return LOSSES[loss](out, y, **loss_args)[0]
