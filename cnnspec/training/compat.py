"""Does the data loaded fit the network, and training with it the machine's memory? The
checker has checked the data the spec declares; what a file holds (``npz``) is only known once
it is read, and is checked here the same way."""
from __future__ import annotations

from cnnspec.check.memory import memory_problems, with_loaded_data, with_recording
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


def check_training_memory(checked: CheckedSpec, dataset, recording: bool = False) -> None:
    """Raise :class:`SpecErrors` at the spec's heaviest layer when a process training it on
    ``dataset`` (a :class:`cnnspec.data.dataset.Dataset`) would not fit in the machine's
    memory: the data set counted as loaded where check could not know its size (an npz
    file's), and, when ``recording`` (``train --stats``), what a recorded step keeps, which
    check does not know of either."""
    memory = checked.step_memory
    if memory is None or (memory.data and not recording):
        return  # counted by check already
    if not memory.data:
        loaded = sum(a.nbytes for a in (dataset.x_train, dataset.y_train, dataset.x_test,
                                        dataset.y_test))
        memory = with_loaded_data(memory, loaded)
    if recording:
        memory = with_recording(memory, checked.spec, checked.layers)
    errors = [e for e in memory_problems(checked.spec, memory, None) if e.severity == "error"]
    if errors:
        raise SpecErrors(errors)
