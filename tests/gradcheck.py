"""Central finite differences in float64 and the relative error used by the gradient checks."""
import numpy as np


def numeric_grad(f, x, eps=1e-6):
    """d f / d x by central differences, perturbing ``x`` in place one element at a time."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    assert np.shares_memory(flat, x), "x must be contiguous so perturbations reach f"
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        plus = f()
        flat[k] = old - eps
        minus = f()
        flat[k] = old
        gflat[k] = (plus - minus) / (2 * eps)
    return grad


def rel_error(analytic, numeric):
    """``||a - n|| / max(||a|| + ||n||, 1e-8)``: scale-free; the floor keeps a gradient that is
    exactly zero in theory (a bias before batch norm) from dividing rounding noise by zero."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    assert analytic.shape == numeric.shape
    denom = max(np.linalg.norm(analytic) + np.linalg.norm(numeric), 1e-8)
    return float(np.linalg.norm(analytic - numeric) / denom)
