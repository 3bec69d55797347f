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
        return f"[{items}]" if isinstance(value, list) else f"({items}{',' if len(value) == 1 else ''})"
    return repr(value)
