"""The initialisation lab: how an init treats the signal, and which init trains best.

- :mod:`cnnspec.lab.stats`: per-layer statistics on arrays (activation mean/std, dead ReLUs,
  weight and gradient stds, identical filters) and the signal's change across depth;
- :mod:`cnnspec.lab.probe`: one forward/backward pass of a model, read out layer by layer;
- :mod:`cnnspec.lab.variants`: a spec checked with another model-wide weight init (``--init``);
- :mod:`cnnspec.lab.batch`: the batch to measure on (the spec's data, or Gaussian noise);
- :mod:`cnnspec.lab.report`: ``cnnspec init-report`` — the statistics per init variant;
- :mod:`cnnspec.lab.lsuv`: layer-sequential unit-variance init (Mishkin & Matas 2016), also
  as the init step of a training run;
- :mod:`cnnspec.lab.recorder`: ``cnnspec train --stats N`` — the statistics during training,
  recorded by a training callback;
- :mod:`cnnspec.lab.plots`: their pictures; :mod:`cnnspec.lab.jsonout`: their JSON;
- :mod:`cnnspec.lab.model_access`: the few things read from a compiled model.

Nothing is imported here, so that importing one module stays cheap.
"""
