"""cnnspec: write a convolutional network down as a spec, check it, train it, learn from it.

The Python API mirrors the command line::

    spec = cnnspec.load("specs/digits.cnn")      # parsed and checked (.cnn or .json IR)
    model = cnnspec.compile(spec, seed=0)         # an executable NumPy graph
    run = cnnspec.train("specs/digits.cnn")       # trains; a run with metrics and the model
"""
__version__ = "0.1.0"


def load(path, strict: bool = False):
    """Parse and check a ``.cnn`` spec or ``.json`` IR file; returns a ``CheckedSpec``."""
    from cnnspec.check.load import load as _load

    return _load(path, strict=strict)


def compile(spec, seed: int | None = None, dtype: str = "float32"):  # noqa: A001 - the API's name
    """Build the executable model of a checked spec (or a path to one)."""
    from cnnspec.compile import compile_spec

    return compile_spec(spec, seed=seed, dtype=dtype)


def train(spec, **options):
    """Train a spec (path or ``CheckedSpec``); returns a ``Run``. Options as ``cnnspec train``."""
    from cnnspec.train.api import train as _train

    return _train(spec, **options)


# `compile` and `train` above share their names with the subpackages cnnspec/compile.py and
# cnnspec/train/. Importing one of those (``from cnnspec.train.api import ...``) makes the import
# system bind the submodule over the package attribute, after which ``cnnspec.train(...)``
# fails with "'module' object is not callable". The package keeps its API functions instead;
# the submodules stay importable by their full names.
import sys as _sys
import types as _types


class _Package(_types.ModuleType):
    def __setattr__(self, name, value):
        if name in ("compile", "train") and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
