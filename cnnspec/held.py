"""The words for parameters a spec holds still, in one place for every view that labels them:
``summary``'s table, the diagram, the filter pictures and a compiled model's ``repr``.

A parameter is held by the ``frozen`` keyword (its whole layer) or by Caffe's ``lr_mult 0``
(one rule: :func:`cnnspec.ir.training_catalogue.is_trained`). Either way it keeps its initial
values, with no gradient or optimizer state of its own, while the gradient of the loss still
flows through its layer to the layers before it: the same facts, so the same words. "Frozen"
alone reads, to a reader of other frameworks, as a layer that stops the gradient too.
"""
from __future__ import annotations

HELD = "held"
# The count of such parameters in a model's totals, in the words Keras' model.summary() and
# torchinfo print it in ("Non-trainable params"), where their users look for it; each held
# parameter is counted there.
NON_TRAINABLE = "non-trainable"
# What a held parameter is, said once: the summary's note and the diagram's legend read it.
HELD_MEANS = ("kept at its initial values (`frozen`, or `lr_mult 0`), with no gradient or "
              "optimizer state of its own; the gradient still flows through its layer to the "
              "layers before")


def held_text(params: int, trainable: int) -> str:
    """The label of a layer's ``params`` of which ``trainable`` train: ``held`` where none
    does, ``36 held`` where some do, "" where all do."""
    if trainable == params:
        return ""
    if trainable == 0:
        return HELD
    return f"{params - trainable:,} {HELD}"
