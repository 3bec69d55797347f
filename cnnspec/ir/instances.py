"""How the layers of a repeat block's instances are named (docs/ir.md): instance i of block B
is the group ``B_i`` and its layers are ``B_i_<name>``, ``<name>`` being the layer's name in
the block; a block inside it is called ``B_i_<inner>``, so names nest. The resolver makes the
names, and the checker reads them back to tell which instance a layer lies in.
"""
from __future__ import annotations

from collections.abc import Iterator

# Why a block's own name for a layer is the one to write, for the messages about full names.
SAME_INSTANCE = "in a block, a name means the layer of the same instance"


def instance_group(block: str, number: int) -> str:
    """The group of instance ``number`` (from 1) of ``block``."""
    return f"{block}_{number}"


def in_instance(name: str, block: str) -> tuple[int, str] | None:
    """(instance number, the name in the block) of a layer ``name`` of an instance of
    ``block`` (``block_<i>_<rest>``), else None."""
    number, _, rest = name.removeprefix(f"{block}_").partition("_")
    if not name.startswith(f"{block}_") or not number.isdigit() or not rest:
        return None
    return int(number), rest


def instances_around(group: str) -> Iterator[tuple[str, int]]:
    """(block, instance number) of each instance a layer of ``group`` (its innermost
    instance) lies in, innermost first: ``stage_1_unit_2`` gives (stage_1_unit, 2) and
    (stage, 1). A name that only looks like an instance (a block called ``b_2``) yields a
    block no layer lies in."""
    parts = group.split("_")
    for end in range(len(parts) - 1, 0, -1):
        if parts[end].isdigit():
            yield "_".join(parts[:end]), int(parts[end])
