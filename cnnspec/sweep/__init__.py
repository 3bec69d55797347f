"""Sweeps: one spec trained over a grid of settings x seeds (x folds), on Dask distributed or
in this process, recorded cell by cell so that a sweep resumes where it stopped.

- :mod:`cnnspec.sweep.grid`: ``--set KEY=V1,V2`` read as the language reads it, applied to the IR;
- :mod:`cnnspec.sweep.cells`: the cells, their identity (a hash of the resolved IR) and the task
  that trains one;
- :mod:`cnnspec.sweep.executor`: where the tasks run (Dask, or local processes);
  :mod:`cnnspec.sweep.worker` sets up each worker of a local Dask cluster;
- :mod:`cnnspec.sweep.results`: the sweep folder, results over seeds and folds;
- :mod:`cnnspec.sweep.plots`: accuracy against each setting, curves per group;
- :mod:`cnnspec.sweep.runner`: ``sweep()``, the steps in order;
- :mod:`cnnspec.sweep.compare`: ``cnnspec compare``, the sweep over ``init`` alone.
"""
