"""cnnspec: write a convolutional network down as a spec, check it, train it, learn from it.

The Python API mirrors the command line::

    spec = cnnspec.load("specs/digits.cnn")      # parsed and checked (.cnn or .json IR)
    model = cnnspec.compile(spec, seed=0)         # an executable NumPy graph
    run = cnnspec.train("specs/digits.cnn")       # trains; a run with metrics and the model

Imports point one way, from the top of this list down (tests/test_imports.py holds the order
and fails on an import against it, or on any cycle)::

    cnnspec (this facade), cnnspec.cli     compose the others
    cnnspec.lab                            init diagnostics, LSUV, the --stats recorder
    cnnspec.render                         diagrams and pictures, the curves of a run
    cnnspec.training                       the loop and the run folder; others join a run as
                                           callbacks and init steps (training.callbacks)
    cnnspec.compiler                       checked spec -> engine model
    cnnspec.check                          shapes, parameters, lints
    cnnspec.lang                           .cnn text -> IR
    cnnspec.kinds                          the layer-kind registry every stage above reads
    cnnspec.data                           datasets (named in the IR's table, ir/datasets.py)
    cnnspec.ir, init, engine, ...          the IR, the initializers, the NumPy engine

So training knows nothing of the lab or of render: :func:`train` composes a run from
:func:`cnnspec.training.api.train` with LSUV (an init step), the statistics recorder and the
curves (callbacks).
"""
from cnnspec.version import __version__ as __version__

# The functions below import their modules when called, so that `import cnnspec` (which every
# `cnnspec` command, even `--help`, does) does not load NumPy, Lark or Matplotlib.


def load(path, strict: bool = False):
    """Parse and check a ``.cnn`` spec or ``.json`` IR file; returns a ``CheckedSpec``."""
    from cnnspec.check.load import load as _load  # deferred: Lark, see above

    return _load(path, strict=strict)


def compile(spec, seed: int | None = None, dtype: str = "float32"):
    """Build the executable model of a checked spec (or a path to one)."""
    from cnnspec.compiler import compile_spec  # deferred: NumPy, see above

    return compile_spec(spec, seed=seed, dtype=dtype)


def train(spec=None, *, stats_every: int | None = None, on_step=None, callbacks=(),
          curves: bool = True, **options):
    """Train a spec (path or ``CheckedSpec``), or continue a run (``resume=RUN``); returns a
    ``Run``. ``options`` as ``cnnspec train`` (see :func:`cnnspec.training.api.train`).

    The run applies LSUV to the layers whose init is ``lsuv`` (:mod:`cnnspec.lab.lsuv`), records
    per-layer statistics every ``stats_every`` steps (``--stats``, :mod:`cnnspec.lab.recorder`),
    calls ``on_step(step, model)`` after every optimizer step (a ``KeyboardInterrupt`` raised
    there stops training like Ctrl-C), then any further ``callbacks``
    (:class:`cnnspec.training.callbacks.Callback`), and draws ``curves.png`` unless
    ``curves=False`` (about a second of Matplotlib per run).
    """
    # deferred: NumPy and the training modules, see above
    from cnnspec.lab.lsuv import lsuv_init_step
    from cnnspec.lab.recorder import StatsRecorder
    from cnnspec.render.curves import Curves
    from cnnspec.training.api import train as train_run
    from cnnspec.training.callbacks import StepHook

    hooks = [StatsRecorder(stats_every)] if stats_every is not None else []
    if on_step is not None:
        hooks.append(StepHook(on_step))
    hooks += list(callbacks)
    if curves:
        hooks.append(Curves())
    return train_run(spec, callbacks=hooks, init_steps=[lsuv_init_step], **options)
