"""The checker: shape inference, parameter counts, fans, inits and lints over the IR.

``check(spec)`` turns a parsed :class:`~cnnspec.ir.spec.Spec` into a
:class:`~cnnspec.check.model.CheckedSpec`; ``load(path)`` (in :mod:`cnnspec.check.load`) reads
a ``.cnn`` or ``.json`` file and checks it.
"""
from cnnspec.check.checker import check
from cnnspec.check.model import CheckedSpec, LayerInfo

__all__ = ["CheckedSpec", "LayerInfo", "check"]
