"""The checked spec: the IR plus everything shape inference and the init catalogue derive."""
from __future__ import annotations

from dataclasses import dataclass, field

from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import SpecError
from cnnspec.init.info import InitInfo
from cnnspec.ir.spec import Spec


@dataclass
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
    trainable_params: int = 0
    fan_in: int | None = None
    fan_out: int | None = None
    weight_init: InitInfo | None = None
    bias_init: InitInfo | None = None
    macs: int = 0  # multiply-adds per image


@dataclass
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

    @property
    def ir(self) -> dict:
        return self.spec.ir

    @property
    def by_name(self) -> dict[str, LayerInfo]:
        return {layer.name: layer for layer in self.layers}
