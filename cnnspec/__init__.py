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


def compile(spec, seed: int | None = None, dtype: str = "float32"):
    """Build the executable model of a checked spec (or a path to one)."""
    from cnnspec.compiler import compile_spec

    return compile_spec(spec, seed=seed, dtype=dtype)


def train(spec, **options):
    """Train a spec (path or ``CheckedSpec``); returns a ``Run``. Options as ``cnnspec train``."""
    from cnnspec.training.api import train as _train

    return _train(spec, **options)

