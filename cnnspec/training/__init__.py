"""Training: the loop, the run directory, checkpoints, evaluation and prediction.

``cnnspec.training.api.train`` trains a spec into a run directory; ``cnnspec.training.run.load_run``
opens one again. Training is the lowest of training, render and lab: it imports neither, and
they join a run through :mod:`cnnspec.training.callbacks`. NumPy and the engine load only when
a command runs, not for ``cnnspec --help``.
"""
