"""cnnspec: write a convolutional network down as a spec, check it, train it, learn from it.

The Python API mirrors the command line::

    spec = cnnspec.load("specs/digits.cnn")      # parsed and checked (.cnn or .json IR)
    spec = cnnspec.check.check(cnnspec.parse(text))  # a spec's text, parsed and checked
    print(cnnspec.summary(spec))                  # the table `cnnspec summary` prints
    model = cnnspec.compile(spec, seed=0)         # an executable NumPy graph
    run = cnnspec.train("specs/digits.cnn", cnnspec.Settings(epochs=5))  # a Run
    run = cnnspec.resume(run.path)                # continues a run stopped by Ctrl-C
    run = cnnspec.load_run("runs/digits-...")     # a finished run: run.predict(images)

``load`` is the check (``cnnspec check``): a spec with mistakes raises
:class:`cnnspec.errors.SpecErrors`, its warnings are ``spec.warnings``. ``cnnspec.check`` is
the checker's package: ``cnnspec.check.check(cnnspec.parse(text))`` checks a spec's text.

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
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.version import __version__ as __version__

# The functions below import their modules when called, so that `import cnnspec` (which every
# `cnnspec` command, even `--help`, does) does not load NumPy, the parser or Matplotlib.


def parse(text: str, path: str | None = None):
    """Parse a spec's ``text`` (``path`` names its file in errors) into its unchecked ``Spec``;
    ``cnnspec.check.check(spec)`` checks it. A mistake raises one
    :class:`cnnspec.errors.SpecError` (the parser stops at it); where its hint writes a line
    of cnnspec in place of another library's, it says what the checker makes of that line
    there, as ``cnnspec check`` does (:func:`cnnspec.check.load.parse_spec`)."""
    from cnnspec.check.load import parse_spec  # deferred: the parser, see above

    return parse_spec(text, path)


def load(path, strict: bool = False, max_memory: int | None = None,
         for_training: bool = True, dtype: str = DEFAULT_DTYPE, ignore=()):
    """Parse and check a ``.cnn`` spec or ``.json`` IR file; returns a ``CheckedSpec``.

    A process training it that would need more than ``max_memory`` bytes (the machine's memory
    when None) is an error, more than half of it a warning (:mod:`cnnspec.check.memory`); with
    ``for_training`` False (a spec to draw, export or evaluate, not to train here) only a
    warning. ``dtype``: the precision the weights will be trained in (``float32`` or
    ``float64``): each init's values are held to its range, the memory counted in it.
    ``ignore``: the names of lints whose warnings are left out (``"gain-misfit,signal-scale"``
    or a list; docs/warnings.md lists them).
    """
    from cnnspec.check.load import load as _load  # deferred: the parser, see above

    return _load(path, strict=strict, max_memory=max_memory, for_training=for_training,
                 dtype=dtype, ignore=ignore)


def summary(spec, dtype: str | None = None, explain: bool = False) -> str:
    """The table ``cnnspec summary`` prints, as text (Keras' ``model.summary()``, torchinfo's
    ``summary``): per layer its window, output shape, parameters, signal and init with its
    formula; the totals and the memory of training. ``spec``: a ``CheckedSpec`` or a path,
    checked as ``cnnspec summary`` checks it (a spec too large to train here is summarised)
    for ``dtype`` (float32 when None). A ``CheckedSpec`` is summarised in the dtype it was
    checked for: another ``dtype`` is an error, not a table of the wrong one. ``explain``:
    the note on the Signal column says how it is estimated in full, as ``--explain`` has it.
    """
    from cnnspec.check.load import load as _load  # deferred: the parser, see above
    from cnnspec.check.model import CheckedSpec
    from cnnspec.check.summary import summary_table
    from cnnspec.dtypes import given_dtype
    from cnnspec.errors import SettingError

    if not isinstance(spec, CheckedSpec):
        spec = _load(spec, for_training=False, dtype=DEFAULT_DTYPE if dtype is None else dtype)
    elif dtype is not None and given_dtype(dtype) != spec.dtype:
        raise SettingError(f"the spec was checked for {spec.dtype}, not {given_dtype(dtype)}",
                           hint=f"load it with cnnspec.load(path, dtype={given_dtype(dtype)!r}), "
                                "or pass its path to summary")
    return summary_table(spec, explain=explain)


def compile(spec, seed: int | None = None, dtype: str = DEFAULT_DTYPE):
    """Build the executable model of a checked spec (or a path to one)."""
    from cnnspec.compiler import compile_spec  # deferred: NumPy, see above

    return compile_spec(spec, seed=seed, dtype=dtype)


def train(spec, settings=None, run_dir=None, *, stats_every: int | None = None, on_step=None,
          callbacks=(), curves: bool = True, ignore=(), **options):
    """Train a spec (a path or a ``CheckedSpec``) into a new run folder; returns its ``Run``,
    holding the weights :func:`load_run` opens by default (the best epoch's by validation,
    whose test accuracy ``run.summary["test_acc"]`` is; ``run.weights`` says which).

    ``settings`` (:class:`Settings`) changes the spec's epochs, lr, batch size, seed or data;
    ``run_dir`` is the run folder (default ``runs/<name>-<time>``); ``options`` are
    ``runs_dir``, ``data_dir`` and ``progress`` (see :func:`cnnspec.training.api.train`).
    ``ignore``: the names of lints whose warnings are left out of those the run hears
    (``on_warnings``), as :func:`load`'s; a name no lint has is a
    :class:`~cnnspec.errors.SettingError` naming the closest.

    The run applies LSUV to the layers whose init is ``lsuv`` (:mod:`cnnspec.lab.lsuv`), records
    per-layer statistics every ``stats_every`` steps (``--stats``, :mod:`cnnspec.lab.recorder`),
    calls ``on_step(step, model)`` after every optimizer step (a ``KeyboardInterrupt`` raised
    there stops training like Ctrl-C), then any further ``callbacks``
    (:class:`cnnspec.training.callbacks.Callback`), and draws ``curves.png`` unless
    ``curves=False`` (about a second of Matplotlib per run).
    """
    from cnnspec.lab.lsuv import lsuv_init_step  # deferred: NumPy, see above
    from cnnspec.training.api import train as train_run

    _refuse_unknown_options(options, train, train_run, ("callbacks", "init_steps"))
    hooks = _callbacks(stats_every, on_step, callbacks, curves)
    return train_run(spec, settings, run_dir, callbacks=hooks, init_steps=[lsuv_init_step],
                     ignore=ignore, **options)


def resume(run_dir, settings=None, *, spec=None, stats_every: int | None = None, on_step=None,
           callbacks=(), curves: bool = True, **options):
    """Continue the run in ``run_dir`` (stopped by Ctrl-C or an error) from its last checkpoint;
    returns its ``Run``. ``settings`` and ``spec``, when given, must be the run's own;
    ``options`` are ``data_dir`` and ``progress``; the rest as for :func:`train`."""
    from cnnspec.training.api import resume as resume_run  # deferred: NumPy, see above

    _refuse_unknown_options(options, resume, resume_run, ("callbacks",))
    hooks = _callbacks(stats_every, on_step, callbacks, curves)
    return resume_run(run_dir, settings, spec=spec, callbacks=hooks, **options)


def load_run(path, which: str = "best"):
    """Open a run folder: its checked spec, the trained model, metrics and summary (``Run``);
    ``run.predict(images)`` gives class probabilities. ``which``: ``"best"``, the weights of
    the best epoch by validation (``best.npz``) when the run has them, else the last;
    ``"last"``, the last checkpoint's (``run.weights`` says which were loaded)."""
    from cnnspec.training.run import load_run as _load_run  # deferred: NumPy, see above

    return _load_run(path, which)


def _refuse_unknown_options(options: dict, facade, function, composed: tuple) -> None:
    """A :class:`~cnnspec.errors.SettingError` for a keyword in ``options`` that neither the
    ``facade`` function nor the ``function`` it hands ``options`` on to takes (``composed``:
    those the facade passes itself). Python's TypeError would name ``function``, not the one
    called; a run's setting (``epochs=5``, ``base_lr=0.1``) is pointed to :class:`Settings`."""
    import inspect

    from cnnspec.given import unknown_keyword
    from cnnspec.training.settings import setting_keyword_hint

    takes = [name for name, p in inspect.signature(facade).parameters.items()
             if p.kind is p.KEYWORD_ONLY]
    takes += [name for name, p in inspect.signature(function).parameters.items()
              if p.kind is p.KEYWORD_ONLY and name not in composed + tuple(takes)]
    for key, value in options.items():
        if key not in takes:
            hint = setting_keyword_hint(key, value, takes, via="settings=cnnspec.Settings")
            raise unknown_keyword(f"cnnspec.{facade.__name__}", key, takes, hint)


def _callbacks(stats_every, on_step, callbacks, curves: bool) -> list:
    # deferred: NumPy and Matplotlib, see above
    from cnnspec.given import given_flag
    from cnnspec.lab.recorder import StatsRecorder
    from cnnspec.render.curves import Curves
    from cnnspec.training.callbacks import StepHook, checked_callbacks

    curves = given_flag(curves, "curves")
    hooks = [StatsRecorder(stats_every)] if stats_every is not None else []
    if on_step is not None:
        hooks.append(StepHook(on_step))
    hooks += checked_callbacks(callbacks)
    if curves:
        hooks.append(Curves())
    return hooks


def __getattr__(name: str):
    # Settings and WeightsFrom live with the training code; imported on first use so
    # `import cnnspec` stays light (see above).
    if name == "Settings":
        from cnnspec.training.settings import Settings

        return Settings
    if name == "WeightsFrom":
        from cnnspec.training.finetune import WeightsFrom

        return WeightsFrom
    # A subpackage not imported yet is imported, as `cnnspec.check` and
    # `cnnspec.diagnostics.format_error` are named in the docs, without an import of their own.
    import importlib

    if name.isidentifier() and not name.startswith("__"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise  # one that is there, missing something it imports
    raise AttributeError(f"module 'cnnspec' has no attribute {name!r}")
