"""Does the data loaded fit the network? The checker has checked the data the spec declares;
what a file holds (``npz``) is only known once it is read, and is checked here the same way."""
from __future__ import annotations

from cnnspec.check.model import CheckedSpec
from cnnspec.check.training import data_fit_errors
from cnnspec.errors import SpecErrors


def check_data_fits(checked: CheckedSpec, input_shape, classes: list[str], data_name: str
                    ) -> None:
    """Raise :class:`SpecErrors` located at the spec's input (or output) when images of
    ``input_shape`` (C, H, W) or ``len(classes)`` labels do not fit the network."""
    errors = data_fit_errors(checked.spec, checked.layers, tuple(input_shape), len(classes),
                             data_name)
    if errors:
        raise SpecErrors(errors)
