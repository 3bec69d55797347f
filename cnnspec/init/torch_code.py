"""An init as a PyTorch statement: the ``torch`` template of its catalogue record, filled
with the numbers ``describe`` gives for one parameter (bounds and stds from the layer's fans,
as cnnspec draws them), for ``cnnspec export --format torch``. Needs no PyTorch.
"""
from __future__ import annotations

from cnnspec.init.catalogue import BY_NAME, canonical
from cnnspec.init.gains import gain
from cnnspec.init.info import InitInfo
from cnnspec.init.kernels import kernel_values

# The line above which a PyTorch source file of the package (torch_inits.py here,
# kinds/torch_layers.py) holds its own imports and below which its text is copied.
MARKER = "# ---- copied into exported modules from here on ----"


def copied_source(package: str, filename: str) -> str:
    """The text of ``filename`` in ``package`` below :data:`MARKER`."""
    # Imported here: the layer registry imports this module, and `cnnspec check`, which
    # exports nothing, need not pay for importlib.resources.
    from importlib.resources import files

    text = (files(package) / filename).read_text(encoding="utf-8")
    return text[text.index(MARKER) + len(MARKER):].strip() + "\n"


def used_definitions(sources: list[str], code: str) -> str:
    """The top-level functions and classes of ``sources`` (the text :func:`copied_source`
    gives) that ``code`` calls, with those they call in turn, in the order of ``sources``.

    An exported module carries the helpers its layers and inits use and no others. Which ones
    those are is read off the code the registries wrote for it (a conv is ``nn.Conv2d`` or,
    with padding that differs per side, ``PaddedConv2d``), so no list beside the templates
    can fall out of step with them."""
    import ast

    definitions = []  # (name, text, the names it uses)
    for source in sources:
        lines = source.splitlines()
        for node in ast.parse(source).body:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            definitions.append((node.name, "\n".join(lines[first - 1:node.end_lineno]),
                                used_names(node)))
    uses = {name: used for name, _, used in definitions}
    needed, todo = set(), list(used_names(ast.parse(code)) & uses.keys())
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(uses[name] & uses.keys())
    return "\n\n\n".join(text for name, text, _ in definitions if name in needed)


def used_names(tree) -> set[str]:
    """Every name ``tree`` (an ``ast`` node) reads or binds (``pad_sides`` in
    ``pad_sides(x, self.pads)``)."""
    import ast

    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def torch_statement(init: dict, info: InitInfo, shape: tuple[int, ...], target: str) -> str:
    """The statement that draws ``init`` (described by ``info`` for a parameter of ``shape``)
    into ``target``, e.g. ``nn.init.normal_(self.conv1.weight, 0.0, 0.4714...)``."""
    init = canonical(init)
    template = BY_NAME[init["name"]].torch
    if isinstance(template, dict):
        template = template[init["distribution"]]
    values: dict = {"mean": info.mean or 0.0, "std": info.std, "bound": info.bound}
    values.update({key: value for key, value in init.items() if key != "name"})
    if info.truncation is not None:  # the normal's own mean and std, and the cut as values
        cut = info.truncation
        values.update(loc=cut.loc, sigma=cut.sigma, low=cut.low, high=cut.high)
    if "gain" in init:
        values["gain"] = gain(init["gain"])
    if BY_NAME[init["name"]].family == "kernel":
        kernel, placement = kernel_values(init, shape)
        values.update(values=kernel, placement=tuple(placement))
    return template.format(p=target, **{key: _literal(v) for key, v in values.items()})


def _literal(value) -> str:
    """A number with every digit (the generated code draws exactly cnnspec's distribution)."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        items = ", ".join(_literal(v) for v in value)
        if isinstance(value, list):
            return f"[{items}]"
        return f"({items}{',' if len(value) == 1 else ''})"
    return repr(value)
