"""``predict``: class probabilities of a trained run for image files and ``.npy`` arrays.

Each input is one image ``(C, H, W)`` in [0, 1] (:func:`cnnspec.data.load_image`
converts, resizes and, for dark-on-light pictures, inverts it, and says so), or a ``.npy`` batch
(N, C, H, W) whose images are predicted one by one; all are preprocessed with the run's
training statistics and passed through the model in eval mode.
"""
from __future__ import annotations

import numpy as np

from cnnspec.data.images import load_inputs
from cnnspec.training.run import Run

TOP = 3  # classes listed per input in the text output


def predict(run: Run, inputs: list[str], top: int = TOP) -> list[dict]:
    """One dict per input: ``input``, ``predicted`` (class name), ``probability`` (of that
    class), ``top`` (the ``top`` likeliest as ``{"class", "probability"}``), ``probabilities``
    (every class) and ``note`` (what was done to the input to fit the model, or None)."""
    shape = tuple(run.spec.input_shape)
    loaded = [item for path in inputs for item in load_inputs(path, shape, run.input_dtype)]
    if not loaded:
        return []
    labels, images, notes = zip(*loaded)
    probs = run.predict(np.stack(images))
    unusable = [label for label, p in zip(labels, probs) if not np.isfinite(p).all()]
    if unusable:
        raise run.unusable_scores(unusable[0])
    classes = run.classes  # one distinct name per output (load_run checks)
    results = []
    for path, note, p in zip(labels, notes, probs):
        order = np.argsort(-p, kind="stable")
        results.append({
            "input": str(path),
            "predicted": classes[order[0]],
            "probability": float(p[order[0]]),
            "top": [{"class": classes[i], "probability": float(p[i])} for i in order[:top]],
            "probabilities": {classes[i]: float(p[i]) for i in range(len(classes))},
            "note": note,
        })
    return results


def format_predictions(results: list[dict]) -> str:
    """Text: per input, its name, any note, and the top classes with their probabilities."""
    lines = []
    for result in results:
        lines.append(f"{result['input']}: {result['predicted']} "
                     f"({100 * result['probability']:.1f}%)")
        if result["note"]:
            lines.append(f"  note: {result['note']}")
        width = max(len(entry["class"]) for entry in result["top"])
        for entry in result["top"]:
            lines.append(f"  {entry['class']:<{width}}  {100 * entry['probability']:6.2f}%")
    return "\n".join(lines)
