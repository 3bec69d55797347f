"""The NumPy engine: ops with forward and backward passes, and the model graph that runs them.

Modules (kernels first, then what is built on them):

- ``windows``: sliding-window geometry, im2col / col2im; ``conv``: 2-D convolution, the
  reference; ``conv_tuned``: the same, faster (the one layers run), with thresholds from
  ``calibrate``;
  ``pool``: max, average and global average pooling; ``dense``: dense and flatten;
  ``activations``; ``norm``: batch normalisation; ``dropout``; ``merge``: add and concat;
  ``losses``: softmax cross-entropy and mean squared error.
- ``layers``: a layer object per op (parameters and cache); ``model``: :class:`Model`,
  the DAG of layers (built from a checked spec by :func:`cnnspec.compiler.compile_spec`);
  ``parallel`` and ``blas``: batch halves in threads with single-threaded BLAS.
- ``optim`` and ``schedules``: optimizers and learning-rate schedules.

Conventions (shared by every module here):

- Tensors are NCHW (``(N, C, H, W)``) or ``(N, F)``; float32 by default, float64 for gradient
  checks. No op upcasts a float32 input to float64.
- Kernels are pure functions in the CS231n style: ``*_forward(...) -> (out, cache)`` and
  ``*_backward(dout, cache) -> dx`` (plus parameter gradients). ``dout`` is never written to,
  unless the caller passes it as the place for ``dx`` (``out=dout``: a gradient it owns).
- Layers all keep one contract: ``forward(xs, training) -> out`` keeps the cache on the layer;
  ``backward(dout, need_dx, owned) -> (dxs, grads)`` returns the input gradients and a dict
  of parameter gradients, which the model sums (see :mod:`cnnspec.engine.layers`); it writes
  over ``dout`` only where the model hands it over as ``owned``
  (:func:`cnnspec.engine.model.owned_grad`).
- Parameter layouts are PyTorch's: conv ``weight`` (F, C, kh, kw), dense ``weight`` (out, in).
- Window ops (convolution, pooling) keep their results in channel-first memory and return NCHW
  views of it (see :mod:`cnnspec.engine.windows`); every op accepts arrays of any strides.
- Randomness (dropout) comes from a ``numpy.random.Generator`` passed in, never global state.
"""
