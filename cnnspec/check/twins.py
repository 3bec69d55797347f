"""Twin branches: inputs of a concat or an add that compute the same values at every step.

Two layers are twins when they are one layer read twice, or when they are of one kind with the
same settings (every IR field but their names, inputs and group), their inputs are twins in
order, and whatever parameters they have start with the same values: inits the spec fixes
(constant, zeros, a kernel literal, a named kernel, identity; the catalogue's inits that are
not ``random``) or a layer's fixed inits (batch norm's 1 and 0). A drawn init (glorot, he,
normal, orthogonal, ...) draws each layer's weights from a stream of its own
(:mod:`cnnspec.seeding`), so two such layers differ from the start; dropout draws a mask of
its own in each branch at every step, so the branches' values differ while training.

Twins start equal. They stay equal while training when nothing in them learns (frozen layers,
layers without parameters), or when each pair of their parameters gets the same gradient at
every step, so that SGD, momentum, Adam and weight decay move them alike. The gradient of a
layer's parameters is a function of its input and of the gradient reaching its output; the
inputs are equal (twins), so by induction over the steps the twins stay equal when the same
gradient reaches every pair:

- each layer of the two branches that is not shared is read once, by the next layer of its
  branch or by the merge (a second reader of one branch sends it gradient the other does not
  get);
- an add passes the gradient of its output to each input as it is: twins added together stay
  twins whatever reads the sum, and the add computes 2x one of them;
- a concat puts the twins' channels side by side, and the layers after it may weigh them
  differently: they get the same gradient only where nothing after the concat tells channels
  apart (:func:`cnnspec.check.lints.tie_breakers`: a drawn conv or dense layer reading them
  weighs each channel with weights of its own, dropout masks each channel its own way; but
  not one that sends no gradient back, :mod:`cnnspec.check.exact`: a drawn conv no gradient
  reaches) and no channel reaches the loss as it is (each output unit has a target of its
  own). A conv or
  dense layer weighing every input channel alike (a constant) sends every channel the same
  gradient, and its weights on two equal channels get equal gradients, so it stays so.

Then the concat only repeats features, and the add doubles one branch: the second branch's
parameters and computation add nothing. The warning is said at the merge's input that repeats
an earlier one.
"""
from __future__ import annotations

from cnnspec.check.exact import Exact
from cnnspec.check.graph import INPUT
from cnnspec.check.lints import RANDOM_INIT, tie_breakers
from cnnspec.check.model import LayerInfo
from cnnspec.check.signal import Estimate
from cnnspec.errors import SpecError, counted
from cnnspec.ir.spec import Spec
from cnnspec.kinds import KINDS, is_weighted

# The IR fields that say where a layer is, not what it computes.
PLACE_FIELDS = ("name", "inputs", "group", "default_inits")


def _settings(info: LayerInfo) -> dict:
    return {key: value for key, value in info.ir.items() if key not in PLACE_FIELDS}


def _fixed_start(info: LayerInfo) -> bool:
    """Whether every parameter of the layer starts with values the spec fixes (no draw)."""
    return all(init is None or not init.random for init in (info.weight_init, info.bias_init))


def _frozen(value):
    """An IR field's value made hashable, equal where the value is: dicts and lists as
    tuples."""
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value


def _computes(info: LayerInfo) -> tuple | None:
    """What a layer computes of its inputs and how it starts, equal for two layers that
    compute the same function of equal inputs and start alike; None for a layer that has
    no twin but itself (dropout, or parameters drawn)."""
    if KINDS[info.kind].family == "dropout" or not _fixed_start(info):
        return None
    return info.kind, len(info.inputs), _frozen(_settings(info))


def _same_layer(a: LayerInfo, b: LayerInfo) -> bool:
    """Whether two layers compute the same function of equal inputs and start alike."""
    computes = _computes(a)
    return computes is not None and computes == _computes(b)


def twin_classes(layers: list[LayerInfo]) -> dict[str, object]:
    """Each layer's class of twins, the layers in order (inputs first): two layers are twins
    (:func:`twin_pairs` not None) when they are one, or when they compute alike
    (:func:`_same_layer`) on inputs that are twins in order, so a layer's class is what it
    computes and its inputs' classes, numbered as first met. A merge of ``k`` inputs then
    pairs only the inputs of one class: pairing all of them took 22 s for 2,000 inputs."""
    classes: dict[str, object] = {INPUT: INPUT}
    numbers: dict[tuple, int] = {}
    for info in layers:
        computes = _computes(info)
        classes[info.name] = info.name if computes is None else numbers.setdefault(
            (computes, tuple(classes[name] for name in info.inputs)), len(numbers))
    return classes


def twin_pairs(first: str, second: str, by_name: dict[str, LayerInfo]
               ) -> list[tuple[str, str]] | None:
    """The pairs of distinct layers that make ``first`` and ``second`` twins, back to where
    the branches meet (empty: one layer), or None when they are not twins. A worklist, not
    recursion: branches may be thousands of layers deep."""
    todo, pairs, seen = [(first, second)], [], set()
    while todo:
        pair = todo.pop()
        a, b = pair
        if a == b or pair in seen:
            continue
        if INPUT in pair or not _same_layer(by_name[a], by_name[b]):
            return None
        seen.add(pair)
        pairs.append(pair)
        todo.extend(zip(by_name[a].inputs, by_name[b].inputs))
    return pairs


def _learns(pairs: list[tuple[str, str]], by_name: dict[str, LayerInfo]) -> bool:
    return any(by_name[name].trainable_params for pair in pairs for name in pair)


def _reaches_loss(merge: str, spec: Spec, by_name: dict[str, LayerInfo],
                  after: dict[str, list[str]]) -> bool:
    """Whether the concat ``merge``'s channels reach the output as they are (through layers
    other than an ungrouped conv or dense layer, which sums them into outputs of its own)."""
    todo, seen = [merge], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name == spec.ir["output"]:
            return True
        info = by_name[name]
        if name == merge or not is_weighted(info.kind) or info.ir.get("groups", 1) > 1:
            todo.extend(after.get(name, []))
    return False


def _same_gradients(merge: LayerInfo, pairs: list[tuple[str, str]], spec: Spec,
                    by_name: dict[str, LayerInfo], after: dict[str, list[str]],
                    alike: set[str], facts: Exact) -> bool:
    """Whether every pair of twin layers gets the same gradient at every step (see the
    module's docstring); ``alike``: :func:`cnnspec.check.alike.alike_channels`, ``facts``:
    :func:`cnnspec.check.exact.exact`."""
    if any(len(after.get(name, [])) != 1 for pair in pairs for name in pair):
        return False
    if merge.kind == "add":
        return True
    return (not tie_breakers(merge.name, by_name, after, alike, beside_others=True,
                             facts=facts)
            and not _reaches_loss(merge.name, spec, by_name, after))


def _copied(merge: LayerInfo, spec: Spec, by_name: dict[str, LayerInfo],
            after: dict[str, list[str]], alike: set[str], facts: Exact,
            classes: dict[str, object]) -> list[tuple[int, int, list[tuple[str, str]]]]:
    """``(i, j, pairs)`` for each input ``j`` of the merge that equals an earlier input ``i``
    at every step (the first such ``i``), with the pairs of twin layers between them;
    ``classes``: :func:`twin_classes`."""
    copies = []
    earlier: dict[object, list[int]] = {}  # the inputs before j of each class
    for j, second in enumerate(merge.inputs):
        twins = earlier.setdefault(classes[second], [])
        for i in twins:
            pairs = twin_pairs(merge.inputs[i], second, by_name)
            if not _learns(pairs, by_name) or _same_gradients(
                    merge, pairs, spec, by_name, after, alike, facts):
                copies.append((i, j, pairs))
                break
        twins.append(j)
    return copies


def _why(pairs: list[tuple[str, str]], by_name: dict[str, LayerInfo], merge: str) -> str:
    """Why the two branches of ``pairs`` stay equal, for the warning."""
    inits = dict.fromkeys(init.short for a, _ in reversed(pairs)  # from the input on
                          for init in (by_name[a].weight_init, by_name[a].bias_init)
                          if init is not None)
    start = f", whose parameters start at the same fixed values ({', '.join(inits)})" \
        if inits else ""
    if not _learns(pairs, by_name):
        learning = ", and nothing in them learns"
    elif by_name[merge].kind == "add":
        learning = ", and the add sends both the same gradient"
    else:
        learning = ", and nothing after the concat sends their channels different gradients"
    return (f"branches of {counted(len(pairs), 'layer')} each, alike in kinds and settings, "
            f"on the same input{start}{learning}")


def _warning(spec: Spec, merge: LayerInfo, i: int, j: int, pairs: list[tuple[str, str]],
             by_name: dict[str, LayerInfo]) -> SpecError:
    first, second = merge.inputs[i], merge.inputs[j]
    if merge.kind == "add":
        fate = f"the add computes 2 x '{first}'"
    else:
        channels = by_name[second].output_shape[0] if second != INPUT \
            else spec.ir["input"]["shape"][0]
        which = "repeats the one" if channels == 1 else "repeat those"
        fate = (f"the {counted(channels, 'channel')} it takes from '{second}' only {which} it "
                f"takes from '{first}'" if first != second else
                f"the {counted(channels, 'channel')} it takes the second time only {which} it "
                "takes the first")
    params = sum(by_name[b].params for _, b in pairs)
    if not pairs:
        return spec.error(
            f"{merge.kind} '{merge.name}' reads '{first}' twice: {fate}", merge.name,
            f"inputs[{j}]", severity="warning",
            hint=f"read '{first}' once" + ("" if merge.kind == "add" else
                                          ", or read what was meant the second time"))
    extra = f", and the {counted(params, 'parameter')} of '{second}''s branch add nothing" \
        if params else ""
    hint = (f"draw one branch's weights ({RANDOM_INIT} draws each layer's own), give the "
            "branches different settings, or drop one" if params else
            "give the branches different settings (a kernel, a stride, a pool), or drop one")
    return spec.error(
        f"{merge.kind} '{merge.name}' reads '{first}' and '{second}', which compute the same "
        f"values at every step of training ({_why(pairs, by_name, merge.name)}): "
        f"{fate}{extra}", merge.name, f"inputs[{j}]", severity="warning", hint=hint)


def twin_branches(spec: Spec, estimate: Estimate, facts: Exact) -> list[SpecError]:
    """A warning for each input of a concat or add that repeats an earlier input at every
    step of training (see the module's docstring); ``facts``:
    :func:`cnnspec.check.exact.exact`."""
    layers, by_name, after = estimate.layers, estimate.by_name, estimate.consumers
    alike, classes = estimate.alike, twin_classes(layers)
    return [_warning(spec, info, i, j, pairs, by_name)
            for info in layers if KINDS[info.kind].merge
            for i, j, pairs in _copied(info, spec, by_name, after, alike, facts, classes)]
