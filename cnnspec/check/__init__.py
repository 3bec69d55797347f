"""The checker: shape inference, parameter counts, fans, inits and lints over the IR.

``check(spec)`` turns a parsed :class:`~cnnspec.ir.spec.Spec` into a
:class:`~cnnspec.check.model.CheckedSpec`; ``load(path)`` (in :mod:`cnnspec.check.load`) reads
a ``.cnn`` or ``.json`` file and checks it.
"""
import sys
import types

from cnnspec.check.checker import READ_AND_CHECK, check
from cnnspec.check.model import CheckedSpec, LayerInfo
from cnnspec.errors import SettingError, literal

__all__ = ["CheckedSpec", "LayerInfo", "check"]


class _Package(types.ModuleType):
    """This package, which ``cnnspec.check("net.cnn")`` calls as the function it is named
    like (the command is ``cnnspec check``): told the functions that check, not Python's
    "'module' object is not callable"."""

    def __call__(self, *args, **kwargs):
        raise SettingError("cnnspec.check is the package of the checker, not a function",
                           hint=literal(READ_AND_CHECK.replace("check(", "cnnspec.check.check(")),
                           invalid=True)


sys.modules[__name__].__class__ = _Package
