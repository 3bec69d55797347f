"""Whether a measurement of the init lab fits in the machine's memory.

The lab's commands load a spec as one they do not train (its training batch and data set are
not what they run: cnnspec.lab.variants), then refuse, before anything is allocated, a
measurement whose own batch would not fit: a step at that batch in its dtype, what it records
and the data set it draws from, as check counts them (cnnspec.check.memory)."""
from __future__ import annotations

from cnnspec.check import memory
from cnnspec.check.model import CheckedSpec

MEASURING = "measuring the network"
# The hint where the command's batch is fixed (the Jacobian's directions, the phase diagram's
# probes): only the network can shrink.
SMALLER_NETWORK = ("measure a smaller network: fewer filters or units, or more stride or pooling "
                   "early")


def refuse_beyond_memory(checked: CheckedSpec, batch: int, dtype: str, *, recording: bool,
                         data: bool, smaller: str, batch_setting: str | None = None) -> None:
    """Raise :class:`SpecErrors` when measuring ``checked`` on ``batch`` inputs in ``dtype``
    (recording every layer's output and gradient where ``recording``; drawn from the data set
    where ``data``) would not fit; ``smaller`` is the hint (a template) that lowers it,
    ``batch_setting`` the command's setting that sets the batch (``batch_size``; None where
    the batch is fixed)."""
    task = memory.Task(MEASURING, smaller, reads_data=data, batch_setting=batch_setting,
                       spec_batch=False)
    memory.refuse_beyond_memory(checked, batch, dtype, task, recording)
