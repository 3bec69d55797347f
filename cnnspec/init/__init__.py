"""The initializer catalogue: fans, gains, and every init scheme of the language.

``describe`` says what an init will produce (distribution, mean, std, bound, formula) without
drawing anything; ``create`` draws the values from an explicit ``numpy.random.Generator``. Each
init name has one meaning, documented in docs/ir.md. Importing this package does not import
NumPy (the checker and the CLI's start-up stay light); ``create`` loads it when called.
"""
from __future__ import annotations

from cnnspec.init import catalogue
from cnnspec.init.catalogue import ALIASES, INIT_NAMES
from cnnspec.init.describe import describe
from cnnspec.init.fans import fans
from cnnspec.init.gains import gain
from cnnspec.init.info import InitInfo
from cnnspec.init.keras import ir_name_hints

__all__ = ["ALIASES", "INIT_NAMES", "InitInfo", "canonical", "create", "describe", "fans", "gain"]


def canonical(init: dict) -> dict:
    """``init`` with its canonical name and every parameter explicit (defaults filled in); a
    name of another library's answered as a spec line's and a JSON IR's are, Keras' class
    names too (``HeNormal``: the init it is, as an init object writes it)."""
    return catalogue.canonical(init, ir_name_hints())


def create(init, shape, rng, dtype=None, fans=None):
    """Draw the values of ``init`` for a parameter of ``shape``; see
    :func:`cnnspec.init.draw.create`."""
    from cnnspec.init.draw import create as _create  # NumPy: see the docstring above

    if dtype is None:
        import numpy as np  # NumPy: see the docstring above

        dtype = np.float32
    return _create(init, shape, rng, dtype=dtype, fans=fans)
