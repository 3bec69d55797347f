"""The checked spec: the IR plus everything shape inference and the init catalogue derive."""
from __future__ import annotations

from dataclasses import field

from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import SpecError, counted
from cnnspec.init.info import InitInfo
from cnnspec.ir.spec import Spec
from cnnspec.records import record
from cnnspec.shapes import shape_text


@record
class LayerInfo:
    """One layer after checking. Shapes exclude the batch axis: (C, H, W) or (F,)."""

    name: str
    kind: str
    ir: dict
    inputs: list[str]
    input_shapes: list[tuple[int, ...]]
    output_shape: tuple[int, ...]
    pads: tuple[int, int, int, int] | None = None  # resolved (top, bottom, left, right)
    weight_shape: tuple[int, ...] | None = None
    bias_shape: tuple[int, ...] | None = None
    params: int = 0
    trainable_params: int = 0  # of the parameters that train (training_catalogue.is_trained)
    fan_in: int | None = None
    fan_out: int | None = None
    weight_init: InitInfo | None = None
    bias_init: InitInfo | None = None
    macs: int = 0  # multiply-adds per image


@record
class CheckedSpec:
    spec: Spec
    layers: list[LayerInfo]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    total_params: int
    trainable_params: int
    frozen_params: int
    macs: int
    activation_memory: int  # bytes per image in ``dtype``, all layer outputs
    step_memory: object = None  # check.memory.MemoryEstimate of one training step
    warnings: list[SpecError] = field(default_factory=list)
    dtype: str = DEFAULT_DTYPE  # the precision it was checked for (inits held, memory counted)
    # the first layer whose ReLU starts mostly dead, past which the signal estimate does not
    # hold (cnnspec.check.signal.dying_sums), or None
    signal_dies: str | None = None
    # the lints silenced in this check (cnnspec.check.silence.Silences), which the warnings
    # found once the data is read (an npz file's) are held to as well; None: none
    silences: object = None

    @property
    def ir(self) -> dict:
        return self.spec.ir

    @property
    def ignored(self) -> frozenset[str]:
        """The lints silenced everywhere in this check (those ``ignore`` named and those of
        the spec's ``# cnnspec: ignore-file[...]``), for a check of it again."""
        return self.silences.names if self.silences else frozenset()

    def __repr__(self) -> str:
        """One line that says what was checked (the dataclass's own printed every layer's IR
        and the spec's whole text: pages for LeNet-5); ``cnnspec.summary(spec)`` gives the
        table."""
        where = f" from {self.spec.path}" if self.spec.path else ""
        return (f"<CheckedSpec {self.ir['name']!r}{where}: input "
                f"{shape_text(self.input_shape)} -> {shape_text(self.output_shape)}, "
                f"{counted(len(self.layers), 'layer')}, {self.total_params:,} params "
                f"({self.trainable_params:,} trainable), {counted(len(self.warnings), 'warning')}, "
                f"checked for {self.dtype}>")

    @property
    def by_name(self) -> dict[str, LayerInfo]:
        return {layer.name: layer for layer in self.layers}
