"""Pictures of a spec and of a trained run.

- :mod:`cnnspec.render.diagram`: the network as a Graphviz graph (shapes, params, inits);
- :mod:`cnnspec.render.curves`: loss / accuracy / learning-rate curves of a run (drawn into
  the run folder by the ``Curves`` training callback);
- :mod:`cnnspec.render.filters`: a conv layer's kernels as a grid of tiles;
- :mod:`cnnspec.render.features`: one input and the feature maps each conv layer makes of it.

All colours come from :mod:`cnnspec.render.palette`, so a conv layer looks the same in every
picture. Plots use Matplotlib's Agg backend (no display needed); it is imported inside the
functions that draw, so importing this package stays cheap.
"""
