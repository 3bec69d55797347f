"""The layer graph: names, references, the output, and which layers the output uses.

The parser already rejects duplicate names and references to undefined or later layers in a
``.cnn`` file; a hand-written ``.json`` IR file reaches the checker without that, so the same
rules are checked here on the IR. Layers are in a valid topological order when every input is
``input`` or a layer written earlier, which also rules out cycles.
"""
from __future__ import annotations

from cnnspec.errors import SpecError, closest
from cnnspec.ir.spec import Spec
from cnnspec.kinds import KINDS

INPUT = "input"


def _did_you_mean(name: str, known: list[str]) -> str:
    close = closest(name, known)
    return f"did you mean '{close}'? " if close else ""


def structure_errors(spec: Spec) -> list[SpecError]:
    """Duplicate names, unknown or later inputs, and an output that names no layer."""
    errors: list[SpecError] = []
    # Sets for the look-ups (lists made a spec of 60,000 layers take minutes), the list of
    # the layers seen so far for suggestions in the order written.
    seen: list[str] = []
    seen_set: set[str] = set()
    all_names = [layer["name"] for layer in spec.ir["layers"]]
    all_set = set(all_names)
    for layer in spec.ir["layers"]:
        name = layer["name"]
        if name == INPUT or name in seen_set:
            errors.append(spec.error(f"the name '{name}' is used twice", name,
                                     hint="give every layer its own name"))
        for ref in layer["inputs"]:
            if ref == INPUT or ref in seen_set:
                continue
            if ref in all_set:
                message = (f"layer '{name}' uses '{ref}', which is written after it; a layer "
                           "may only use layers written before it (so there are no cycles)")
                hint = f"move '{ref}' above '{name}'"
            else:
                message = f"layer '{name}' uses '{ref}', which is not defined"
                hint = _did_you_mean(ref, seen + [INPUT]) + "inputs are `input` or earlier layers"
            errors.append(spec.error(message, name, "inputs", hint=hint))
        seen.append(name)
        seen_set.add(name)
    output = spec.ir["output"]
    if output not in all_set:
        errors.append(spec.error(
            f"the output layer '{output}' is not found", "output",
            hint=_did_you_mean(output, all_names) + "`output NAME` names one of the layers"))
    return errors


def used_layers(spec: Spec) -> set[str]:
    """Names of the layers the output depends on (the output included)."""
    inputs = {layer["name"]: layer["inputs"] for layer in spec.ir["layers"]}
    used, todo = set(), [spec.ir["output"]]
    while todo:
        name = todo.pop()
        if name in used or name not in inputs:
            continue
        used.add(name)
        todo.extend(inputs[name])
    return used


def consumers(spec: Spec) -> dict[str, list[str]]:
    """For every layer (and ``input``), the layers that take it as an input."""
    out: dict[str, list[str]] = {INPUT: []}
    for layer in spec.ir["layers"]:
        out.setdefault(layer["name"], [])
        for ref in layer["inputs"]:
            out.setdefault(ref, []).append(layer["name"])
    return out


def sugar_word(name: str, kind: str) -> tuple[str, str] | None:
    """``(line's name, word)`` when ``name`` reads as a layer the language made from a word at
    the end of another layer's line: ``a_relu`` of `a: conv 8 3 relu`, ``b_bn`` of
    `b: conv 8 3 bn`. Such a layer is called ``<line's name>_<word written>``, the word being
    its kind's name or one of its aliases."""
    for word in (kind, *KINDS[kind].aliases):
        if name.endswith(f"_{word}") and len(name) > len(word) + 1:
            return name[:-len(word) - 1], word
    return None


def main_path(spec: Spec) -> list[str]:
    """The layers every path from the input to the output passes, in order: in a plain
    stack every layer; in a residual network the stem, each add and what follows it, and the
    head, not the layers of a branch that an identity path bypasses.

    Layers in IR order are topologically sorted, and among the layers the output uses a
    layer lies on every path exactly when no edge jumps over it (a path that avoids it must
    step from a layer before it to one after it); the sweep counts, for each position, the
    edges that span it."""
    used = used_layers(spec)
    order = [INPUT] + [layer["name"] for layer in spec.ir["layers"] if layer["name"] in used]
    position = {name: i for i, name in enumerate(order)}
    spans = [0] * (len(order) + 1)  # +1 at an edge's first position it jumps, -1 past its last
    for layer in spec.ir["layers"]:
        if layer["name"] not in used:
            continue
        end = position[layer["name"]]
        for ref in layer["inputs"]:
            if position[ref] + 1 < end:
                spans[position[ref] + 1] += 1
                spans[end] -= 1
    path, jumped = [], 0
    for i, name in enumerate(order):
        jumped += spans[i]
        if i and not jumped:
            path.append(name)
    return path
