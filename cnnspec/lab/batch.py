"""The batch an init is measured on: real training data, or unit Gaussian noise.

Real data (the default) is what training will see: the first ``N`` images of a seeded shuffle of
the spec's training split, preprocessed as the spec says (statistics from the training split).
Gaussian input (zero mean, unit variance, random labels) isolates the network from the data,
which is the setting of He et al. 2015's analysis.
"""
from __future__ import annotations

import numpy as np

from cnnspec.check.model import CheckedSpec
from cnnspec.check.training import classes_scored, loss_output_errors
from cnnspec.data import Preprocessor
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import SpecErrors
from cnnspec.given import given_choice
from cnnspec.records import record
from cnnspec.training.compat import check_data_fits, load_spec_data

INPUT_KINDS = ("data", "gaussian")


@record
class Batch:
    """``x`` ``(N, C, H, W)`` (or ``(N, F)``), integer labels ``y`` ``(N,)``, and where it came
    from (``"gaussian"`` or the dataset's name)."""

    x: np.ndarray
    y: np.ndarray
    source: str


def num_classes(checked: CheckedSpec) -> int:
    """The number of classes the network's output tells apart under its loss: its width, or
    the 2 of the bce loss's one logit."""
    return classes_scored(checked.ir["training"]["loss"], int(np.prod(checked.output_shape)))


def refuse_random_labels(checked: CheckedSpec) -> None:
    """Refuse, located, a network whose output its loss cannot take whatever the data
    (:func:`~cnnspec.check.training.loss_output_errors`): random labels (``time``,
    ``init-report --input gaussian``) have no data whose check would say so, as real labels
    are checked against the output with their data."""
    errors = loss_output_errors(checked.spec, checked.layers)
    if errors:
        raise SpecErrors(errors)


def gaussian_inputs(checked: CheckedSpec, size: int, rng: np.random.Generator,
                    dtype=DEFAULT_DTYPE) -> tuple[np.ndarray, np.ndarray]:
    """``size`` N(0, 1) inputs of the spec's input shape in ``dtype``, then as many labels
    drawn uniformly from the classes its output tells apart (:func:`num_classes`), in that
    order from ``rng``. The output is one its loss takes (:func:`refuse_random_labels`)."""
    x = rng.standard_normal((size, *checked.input_shape)).astype(dtype)
    y = rng.integers(0, num_classes(checked), size=size)
    return x, y


def gaussian_batch(checked: CheckedSpec, size: int, rng: np.random.Generator,
                   dtype: str = DEFAULT_DTYPE) -> Batch:
    """N(0, 1) inputs of the spec's input shape with uniformly drawn labels
    (:func:`gaussian_inputs`), on an output its loss takes (:func:`refuse_random_labels`)."""
    refuse_random_labels(checked)
    return Batch(*gaussian_inputs(checked, size, rng, dtype), "gaussian")


def data_batch(checked: CheckedSpec, size: int, seed: int, data_dir=None,
               dtype: str = DEFAULT_DTYPE) -> Batch:
    """``size`` preprocessed training images of the spec's dataset, drawn with ``seed``."""
    training = checked.ir["training"]
    # Measuring an init does not need the real data: said beside the data's own hint.
    dataset = load_spec_data(checked, data_dir, hint="measure on noise: {input_kind:gaussian}")
    # The trainer's own test, located in the spec: labels beyond the output's scores would
    # index past them in the loss, as images of another shape would not go through.
    check_data_fits(checked, dataset.input_shape, dataset.classes, dataset.name)
    pre = Preprocessor.fit(training["preprocess"], dataset.x_train)
    pick = np.random.default_rng(seed).permutation(len(dataset.x_train))[:size]
    x = pre.apply(dataset.x_train[pick], dtype, in_place=True)
    return Batch(x, dataset.y_train[pick], dataset.name)


def given_input_kind(kind) -> str:
    """The batch a caller's ``input_kind`` asks for, one of :data:`INPUT_KINDS`; anything
    else is a :class:`~cnnspec.errors.SettingError` naming it, said before any work."""
    return given_choice(kind, "input_kind", INPUT_KINDS, "gaussian")


def make_batch(checked: CheckedSpec, kind: str, size: int, seed: int, data_dir=None,
               dtype: str = DEFAULT_DTYPE) -> Batch:
    """The batch ``kind`` (``--input``) asks for: ``"data"`` or ``"gaussian"``."""
    if given_input_kind(kind) == "gaussian":
        return gaussian_batch(checked, size, np.random.default_rng(seed), dtype)
    return data_batch(checked, size, seed, data_dir, dtype)
