"""Training: the loop, the run directory, checkpoints, evaluation and prediction.

``cnnspec.training.api.train`` trains a spec into a run directory; ``cnnspec.training.run.load_run``
opens one again. Nothing here is imported by ``cnnspec --help``: NumPy and the engine load only
when a command runs.
"""
