"""Finding runs of identical repeated blocks, so a deep network can be drawn short.

A ``repeat`` block expands into instances whose layers carry the instance name in ``group``
(``body_1``, ``body_2``, ...; docs/ir.md) and are named ``<group>_<name>``; in nested blocks
the group is the innermost instance (``stage_1_unit_2``), so each inner instance is a block and
the runs of identical ones are found within each outer instance. Two consecutive
instances are *identical* when, layer by layer, they have the same kinds, settings, inits,
shapes and wiring (an input from outside the instance counts as "outside"). A run of identical
instances is drawn once (or first, ``…``, last) instead of in full.
"""
from __future__ import annotations

from cnnspec.check.model import CheckedSpec, LayerInfo
from cnnspec.records import record
from cnnspec.render.layer_text import hyperparams, layer_init_text


@record
class Block:
    """One instance of a repeated block: its ``group`` name and its layers in order."""

    group: str
    layers: list[LayerInfo]
    start: int  # index of the first layer in the spec

    @property
    def source(self) -> str:
        """The repeat block's own name: ``body`` for ``body_3``."""
        return self.group.rsplit("_", 1)[0]

    def relative(self, name: str) -> str:
        """A layer name without the instance prefix (``body_3_conv`` -> ``conv``)."""
        prefix = self.group + "_"
        return name.removeprefix(prefix)


def blocks(checked: CheckedSpec) -> list[Block]:
    """The instances of repeated blocks, in order (runs of consecutive layers sharing a
    group)."""
    out: list[Block] = []
    for index, layer in enumerate(checked.layers):
        group = layer.ir.get("group")
        if group is None:
            continue
        last = out[-1] if out else None
        if last is not None and last.group == group and last.start + len(last.layers) == index:
            last.layers.append(layer)
        else:
            out.append(Block(group, [layer], index))
    return out


def signature(block: Block) -> tuple:
    """Everything a diagram shows of a block, with instance names made relative."""
    inside = {layer.name for layer in block.layers}
    rows = []
    for layer in block.layers:
        inputs = tuple(block.relative(n) if n in inside else "outside" for n in layer.inputs)
        rows.append((block.relative(layer.name), layer.kind, tuple(hyperparams(layer)),
                     layer_init_text(layer, "weight"), layer_init_text(layer, "bias"),
                     tuple(layer.input_shapes), tuple(layer.output_shape), inputs,
                     layer.params, layer.trainable_params))
    return (block.source, tuple(rows))


def identical_runs(checked: CheckedSpec, min_length: int = 2) -> list[list[Block]]:
    """Maximal runs of at least ``min_length`` consecutive identical block instances."""
    runs: list[list[Block]] = []
    current: list[Block] = []
    for block in blocks(checked):
        if current and signature(current[-1]) == signature(block) \
                and _adjacent(current[-1], block):
            current.append(block)
            continue
        if len(current) >= min_length:
            runs.append(current)
        current = [block]
    if len(current) >= min_length:
        runs.append(current)
    return runs


def _adjacent(first: Block, second: Block) -> bool:
    """Whether ``second`` starts right after ``first`` ends (nothing written in between)."""
    return first.start + len(first.layers) == second.start
