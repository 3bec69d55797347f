"""Loss, accuracy and confusion of a model on a labelled set, in eval mode and in batches."""
from __future__ import annotations

import numpy as np

from cnnspec.engine.overflow import overflow_reported_by_caller
from cnnspec.records import record

EVAL_BATCH = 256  # big enough for BLAS to be efficient, small enough for 28x28 nets' memory


@record
class Score:
    """``predictions`` (N,) int: the arg-max class of each example; ``true_ranks`` (N,) int:
    how many classes scored above the true one (0: predicted; below k: in the top k)."""

    loss: float
    accuracy: float
    predictions: np.ndarray
    true_ranks: np.ndarray

    def top_k_accuracy(self, k: int) -> float:
        """The share of examples whose true class is among the ``k`` highest scores."""
        return float(np.mean(self.true_ranks < k)) if len(self.true_ranks) else 0.0


def predicted(out: np.ndarray) -> np.ndarray:
    """The predicted class of each row of scores (N, K): the arg-max, or, for one score (a
    2-class logit, the bce loss), class 1 where it is above 0."""
    if out.shape[1] == 1:
        return (out[:, 0] > 0).astype(np.int64)
    return np.argmax(out, axis=1)


def true_ranks(out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """How many classes scored above the true one, per row (for one score: 0 or 1)."""
    if out.shape[1] == 1:
        return (predicted(out) != y).astype(np.int64)
    true_scores = out[np.arange(len(y)), y]
    return np.sum(out > true_scores[:, None], axis=1)


def score(model, x: np.ndarray, y: np.ndarray, batch_size: int = EVAL_BATCH) -> Score:
    """Mean loss and accuracy of ``model`` on ``x`` (N, C, H, W), labels ``y`` (N,).

    Runs in eval mode (dropout off, batchnorm running statistics) and puts the model back in
    the mode it was in. The loss is the mean over examples, accumulated in float64; weights
    that overflow make it non-finite, which the caller reports.
    """
    was_training = bool(model.training)
    model.eval()
    loss_sum = 0.0
    predictions = np.empty(len(y), dtype=np.int64)
    ranks = np.empty(len(y), dtype=np.int64)
    try:
        with overflow_reported_by_caller():
            for start in range(0, len(y), batch_size):
                stop = min(start + batch_size, len(y))
                out = model.forward(x[start:stop])
                loss, _ = model.loss(out, y[start:stop])
                loss_sum += float(loss) * (stop - start)
                predictions[start:stop] = predicted(out)
                ranks[start:stop] = true_ranks(out, y[start:stop])
    finally:
        model.release()  # the caches of batches of EVAL_BATCH: no backward pass reads them
        if was_training:
            model.train()
    n = max(len(y), 1)
    return Score(loss_sum / n, float(np.mean(predictions == y)) if len(y) else 0.0, predictions,
                 ranks)


def confusion_matrix(y: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts: row = true class, column = predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (y, predictions), 1)
    return matrix


def per_class(matrix: np.ndarray) -> list[dict]:
    """Precision (of the predictions of a class, the share that were right), recall (of the
    examples of a class, the share found) and support (examples) per class, from a confusion
    matrix; a precision or recall with nothing to divide by is None."""
    rows = []
    for k in range(len(matrix)):
        predicted, actual, right = int(matrix[:, k].sum()), int(matrix[k].sum()), int(matrix[k, k])
        rows.append({"precision": right / predicted if predicted else None,
                     "recall": right / actual if actual else None, "support": actual})
    return rows
