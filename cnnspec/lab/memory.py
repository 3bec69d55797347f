"""Whether a measurement of the init lab fits in the machine's memory.

The lab's commands load a spec as one they do not train (its training batch and data set are
not what they run: cnnspec.lab.variants), then refuse, before anything is allocated, a
measurement whose own batch would not fit: a step at that batch in its dtype, what it records
and the data set it draws from, as check counts them (cnnspec.check.memory)."""
from __future__ import annotations

from cnnspec.check.memory import Task, measuring_estimate, memory_problems
from cnnspec.check.model import CheckedSpec
from cnnspec.errors import SpecErrors

NAME = "measuring the network"
# The hint where the command's batch is fixed (the Jacobian's directions, the phase diagram's
# probes): only the network can shrink.
SMALLER_NETWORK = "measure a smaller network: fewer filters or units, or more stride or pooling early"


def refuse_beyond_memory(checked: CheckedSpec, batch: int, dtype: str, *, recording: bool,
                         data: bool, smaller: str) -> None:
    """Raise :class:`SpecErrors` (at the spec's heaviest layer, or its data) when measuring
    ``checked`` on ``batch`` inputs in ``dtype`` would not fit; ``smaller`` is the hint that
    lowers it (the command's option)."""
    memory = measuring_estimate(checked.spec, checked.layers, batch, dtype,
                                recording=recording, data=data)
    task = Task(NAME, smaller, reads_data=data)
    errors = [error for error in memory_problems(checked.spec, memory, None, task)
              if error.severity == "error"]
    if errors:
        raise SpecErrors(errors)
