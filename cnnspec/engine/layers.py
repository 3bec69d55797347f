"""Layer objects: a kernel pair from this package plus the state the graph keeps for it.

One contract for every layer:

- ``forward(xs, training) -> out``: ``xs`` the list of its inputs; the cache backward needs is
  kept on the layer (``cache``) until the next ``forward``, or until the model has run the
  layer's ``backward`` (:class:`cnnspec.engine.model.Model` then frees it where the layer's
  ``frees_cache`` says so, as autograd frees saved tensors).
- ``backward(dout, need_dx=True, owned=False) -> (dxs, grads)``: ``dxs`` one input gradient
  per input (None where not ``need_dx``), ``grads`` a new dict of parameter gradients keyed
  like ``params`` (``"weight"``, ``"bias"``) of the parameters that train: empty for a layer
  without parameters, and no entry for a ``held`` parameter, whose gradient is never computed.
  Nothing is stored on the layer; the caller sums what it receives
  (:class:`cnnspec.engine.model.Model`). ``dout`` is never written to, unless ``owned``: the caller
  then hands over an array nothing else reads (the model's rule,
  :func:`cnnspec.engine.model.owned_grad`), which an elementwise backward pass may overwrite with
  its input gradient. Each input gradient is a view of ``dout`` or memory no one but the caller
  reads once it is returned: a new array, or the layer's own work memory, which only its next pass
  writes again. Where ``single_use_cache`` (the model sets it on its layers whose cache it
  frees after their ``backward``: it runs ``backward`` once a ``forward``), ``backward`` may
  also give an input gradient the memory of an array its cache holds, which the layer's next
  ``forward`` writes again only where nothing holds that gradient any more (batch norm's
  centred input).

Layers with parameters hold them in ``params`` (PyTorch layouts); batch norm also has
``buffers`` (running statistics). ``held`` names the parameters that do not train (the
compiler sets it from the spec: ``cnnspec.ir.training_catalogue.is_trained``, the one rule for
``frozen`` and ``lr_mult 0``); the input gradient still passes through their layer.
"""
from __future__ import annotations

import numpy as np

from cnnspec.engine import activations as act
from cnnspec.engine import conv_tuned as conv
from cnnspec.engine import dense, dropout, merge, norm, pool


class Layer:
    """A parameter-free layer with one input; subclasses override the kernel calls."""

    params: dict[str, np.ndarray]
    buffers: dict[str, np.ndarray]
    held: frozenset[str] = frozenset()  # keys of ``params`` that do not train
    op = ""  # an elementwise op's name (relu, softmax): the graph fuses some of them
    # True where the training-mode output for one example depends on the others (batch
    # statistics) or on the order of random draws: such a model does not split its batch,
    # unless the layer also has ``part_sums``: it then sums its statistics over the parts of a
    # split batch (see cnnspec.engine.parallel.PartSums), and reads them from ``parts``.
    batch_coupled = False
    part_sums = False
    parts = None
    # Whether the model frees ``cache`` once the layer's backward has run (see the contract).
    frees_cache = True
    # Set by the model where it does: the one backward pass may take the cache's memory.
    single_use_cache = False
    # True where ``forward`` returns a new array that neither the cache nor anything else
    # holds: the graph may then let its only reader, a ReLU or a sum, overwrite it
    # (``over_input``).
    fresh_output = False
    # True where ``forward`` writes its output into memory that its next forward pass writes
    # again (ConvReLU): the graph never makes such a layer the network's output, nor the
    # input of a layer whose output may be a view of its input (``input_view``).
    reuses_output = False
    input_view = False
    # True where the layer chunks its work by the machine's calibrated limits
    # (cnnspec.engine.calibrate), which a process times at its first use where none are kept.
    calibrated = False

    def __init__(self) -> None:
        self.params = {}
        self.buffers = {}
        self.cache = None

    @property
    def trainable(self) -> bool:
        """Whether any of the layer's parameters trains."""
        # a set operation, not a generator: the model asks every layer on every backward pass
        return not self.held.issuperset(self.params)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self.held = frozenset() if value else frozenset(self.params)

    def trains(self, key: str) -> bool:
        """Whether parameter ``key`` (``"weight"``, ``"bias"``) exists and trains: its
        gradient is computed and returned."""
        return key in self.params and key not in self.held

    def forward(self, xs, training):
        out, self.cache = self._forward(xs[0], training)
        return out

    def backward(self, dout, need_dx=True, owned=False):
        out = dout if owned else None
        return [self._backward(dout, self.cache, out) if need_dx else None], {}

    def method(self) -> str:
        """How the last forward pass computed the layer, where there is more than one way
        (for ``cnnspec time``); "" otherwise."""
        return ""

    def over_input(self, index: int) -> Layer | None:
        """The layer that computes this one's output over its input ``index`` (which the
        graph gives it only where that input is a ``fresh_output`` no other layer reads):
        :class:`InPlaceReLU`, :class:`InPlaceAdd`; None where there is none."""
        return None

    def _forward(self, x, training):
        raise NotImplementedError

    def _backward(self, dout, cache, out=None):
        """``dx``; ``out`` is ``dout`` where the caller owns it (the layer may write ``dx``
        over it), else None."""
        raise NotImplementedError


class FusedReLU(Layer):
    """A layer followed by a ReLU, run as one (:func:`fuse`): it runs the layer ``inner``,
    whose parameters, buffers and held parameters are its own, with a cache of its own."""

    def __init__(self, inner: Layer) -> None:
        # not Layer.__init__: the parameters and buffers are the inner layer's
        self.inner = inner
        self.cache = None

    @property
    def params(self):
        return self.inner.params

    @property
    def buffers(self):
        return self.inner.buffers

    @property
    def held(self):
        return self.inner.held

    @held.setter
    def held(self, value: frozenset[str]) -> None:
        self.inner.held = value


class Conv2d(Layer):
    """Convolution: weight (F, C, kh, kw), optional bias (F,)."""

    # Its output is a new array, but a ReLU writing over it made VGG-small's step 3% slower
    # (batch 64, one thread; conv2's forward 20.5 -> 23.1 ms): the conv after the ReLU then
    # faulted in new memory for its product instead of reusing the memory the ReLU freed.
    # Such a ReLU runs inside the convolution instead, into memory kept from step to step
    # (ConvReLU).
    fresh_output = False
    # The values an image of the transformed input tiles a Winograd forward pass keeps for
    # the backward pass (0: none): set by the compiler on its network's keepers
    # (cnnspec.engine.footprint.winograd_keepers), whose budget is the network's.
    tile_share = 0
    calibrated = True

    def __init__(self, weight, bias, stride, pads, dilation) -> None:
        super().__init__()
        self.params["weight"] = weight
        if bias is not None:
            self.params["bias"] = bias
        self.stride, self.pads, self.dilation = tuple(stride), tuple(pads), tuple(dilation)
        self.work: dict = {}  # reused padding, im2col and product memory (see conv2d_forward)

    # Its cache points into ``work``, which stays: freeing it saves next to nothing (peak of a
    # step unchanged within 2 MiB on lenet5, vgg_small, resnet_small) and made LeNet-5's step
    # slower (batch 64, one thread: 8.6 against 6.9 ms), by what the allocator does with the
    # input that an unpadded layer's cache views.
    frees_cache = False

    def forward(self, xs, training):
        out, self.cache = self.run(xs[0], training, relu=False)
        return out

    def backward(self, dout, need_dx=True, owned=False):
        return self.run_backward(dout, self.cache, need_dx)

    def run(self, x, training, relu):
        """``(out, cache)`` of the convolution of ``x``, then a ReLU where ``relu``. Only a
        training pass keeps Winograd's tiles or a thin layer's columns for the weight
        gradient: an evaluation's backward pass, if any, computes them again from the input
        its cache then holds. A held weight's layer keeps no columns for a weight gradient it
        never computes."""
        return conv.conv2d_forward(x, self.params["weight"], self.params.get("bias"),
                                   self.stride, self.pads, self.dilation, work=self.work,
                                   relu=relu, tile_share=self.tile_share if training else 0,
                                   need_dw=self.trains("weight") and training)

    def run_backward(self, dout, cache, need_dx, relu_out=None, owned=False):
        """The layer's ``backward`` result for ``cache`` (its own or a stand-in's); with
        ``relu_out`` (the output of a ``run`` with ``relu``), through the ReLU first (over
        ``dout`` where ``owned``)."""
        dx, dw, db = conv.conv2d_backward(dout, cache, need_dw=self.trains("weight"),
                                          need_dx=need_dx, work=self.work, relu_out=relu_out,
                                          owned=owned, need_db=self.trains("bias"))
        return [dx], param_grads(dw, db)

    def method(self) -> str:
        return "" if self.cache is None else conv.method(self.cache)


class ConvReLU(FusedReLU):
    """``relu(conv(x))`` in one layer (:func:`cnnspec.engine.conv_tuned.conv2d_forward` with
    ``relu``): the convolution takes ``max(., 0)`` as it writes its output, and its backward
    pass masks ``dout`` by that output's zeros (Winograd's as it copies ``dout`` into its
    tiles), so the ReLU makes no pass, no new array and no mask of its own. The output is
    written into a buffer the layer keeps from step to step
    (:func:`cnnspec.engine.windows.output_array`), which the cache holds for the backward pass
    and the next forward pass writes again: the graph substitutes this layer for a
    convolution whose only reader is a ReLU (unless a max pool takes that ReLU, on a smaller
    tensor), that ReLU not the network's output (which the caller may keep), when it does not
    record each layer's output; values and gradients are identical. It runs the convolution
    layer ``inner`` (whose parameters and work buffers it uses) with a cache of its own.

    VGG-small (its first and third layers), one thread, batch 64, Intel Xeon (AVX-512, 2 MiB
    L2), the pair / fused, medians of 6 alternating runs of 20 steps: 104.4 / 99.4 ms a step,
    830 / 0 page faults a step (the pair's new output and mask were fresh memory on every
    step). The first layer's forward pass alone, new arrays on each call: 5.3 / 2.95 ms."""

    reuses_output = True
    frees_cache = False  # as Conv2d's: what the cache holds is in the work buffers, which stay

    def forward(self, xs, training):
        out, cache = self.inner.run(xs[0], training, relu=True)
        self.cache = (cache, out)
        return out

    def backward(self, dout, need_dx=True, owned=False):
        cache, out = self.cache
        return self.inner.run_backward(dout, cache, need_dx, relu_out=out, owned=owned)

    def method(self) -> str:
        return "" if self.cache is None else conv.method(self.cache[0])


class Dense(Layer):
    """Fully connected: weight (out, in), optional bias (out,)."""

    fresh_output = True

    def __init__(self, weight, bias) -> None:
        super().__init__()
        self.params["weight"] = weight
        if bias is not None:
            self.params["bias"] = bias

    def forward(self, xs, training):
        out, self.cache = dense.dense_forward(xs[0], self.params["weight"],
                                              self.params.get("bias"))
        return out

    def backward(self, dout, need_dx=True, owned=False):
        dx, dw, db = dense.dense_backward(dout, self.cache, need_dw=self.trains("weight"),
                                          need_dx=need_dx, need_db=self.trains("bias"))
        return [dx], param_grads(dw, db)


class BatchNorm(Layer):
    """Batch normalisation: weight (gamma) and bias (beta) (C,), buffers running_mean/var."""

    batch_coupled = True
    part_sums = True  # the statistics are summed across the parts of a split batch
    fresh_output = True

    def __init__(self, channels, dtype, momentum=0.1, eps=1e-5) -> None:
        super().__init__()
        self.params = {"weight": np.ones(channels, dtype), "bias": np.zeros(channels, dtype)}
        self.buffers = {"running_mean": np.zeros(channels, dtype),
                        "running_var": np.ones(channels, dtype)}
        self.momentum, self.eps = momentum, eps
        # the centred input, which the cache holds, a row of ones and a fused ReLU's block
        # buffers (see batchnorm_forward and batchnorm_backward)
        self.work: dict = {}

    def forward(self, xs, training):
        out, self.cache = self.run(xs[0], training, relu=False)
        return out

    def backward(self, dout, need_dx=True, owned=False):
        return self.run_backward(dout, self.cache, need_dx, owned, self.single_use_cache)

    def run(self, x, training, relu):
        """``(out, cache)`` of the batch norm of ``x``, then a ReLU where ``relu``."""
        return norm.batchnorm_forward(
            x, self.params["weight"], self.params["bias"], self.buffers["running_mean"],
            self.buffers["running_var"], training, self.momentum, self.eps, self.parts,
            self.work, relu)

    def run_backward(self, dout, cache, need_dx, owned=False, spend=False):
        """The layer's ``backward`` result for ``cache`` (its own or a stand-in's), over
        ``dout`` where ``owned`` and it can, into the cache's memory where ``spend`` (a
        single-use cache; see batchnorm_backward)."""
        # a norm layer's parameters are held together (its kinds have no lr_mult): one flag
        dx, dgamma, dbeta = norm.batchnorm_backward(dout, cache, self.trainable, self.work,
                                                    owned, spend)
        return [dx if need_dx else None], param_grads(dgamma, dbeta)


class BatchNormReLU(FusedReLU):
    """``relu(batchnorm(x))`` in one layer (:func:`cnnspec.engine.norm.batchnorm_forward`
    with ``relu``): the ReLU writes over the batch norm's new output, and the backward pass
    masks ``dout`` inside the batch norm's blocks by the output's sign recomputed from its
    cache, so no mask is kept and the ReLU makes no pass of its own backward. The graph
    substitutes it for a batch norm whose only reader is a ReLU when it does not record each
    layer's output; values and gradients are identical. It runs the batch norm layer
    ``inner`` (whose parameters, running statistics, work buffers and, for one part of a
    split batch, part sums it reads when it runs) with a cache of its own."""

    batch_coupled = True
    fresh_output = True

    def forward(self, xs, training):
        out, self.cache = self.inner.run(xs[0], training, relu=True)
        return out

    def backward(self, dout, need_dx=True, owned=False):
        return self.inner.run_backward(dout, self.cache, need_dx, owned, self.single_use_cache)


class GroupNorm(Layer):
    """Group normalisation: weight and bias (C,); ``groups`` runs of channels per example
    (1: layer norm with per-channel affine, C: instance norm). No buffers: it normalises by
    each example's own statistics in training and evaluation alike, so it is not batch-coupled."""

    def __init__(self, channels, groups, dtype, eps=1e-5) -> None:
        super().__init__()
        self.params = {"weight": np.ones(channels, dtype), "bias": np.zeros(channels, dtype)}
        self.groups, self.eps = groups, eps

    def forward(self, xs, training):
        out, self.cache = norm.groupnorm_forward(xs[0], self.params["weight"],
                                                 self.params["bias"], self.groups, self.eps)
        return out

    def backward(self, dout, need_dx=True, owned=False):
        dx, dgamma, dbeta = norm.groupnorm_backward(dout, self.cache, need_dw=self.trainable)
        return [dx if need_dx else None], param_grads(dgamma, dbeta)


class LayerNorm(Layer):
    """Layer normalisation over each example's (C, H, W) (or (F,)): weight and bias of that
    shape (elementwise, as PyTorch's ``nn.LayerNorm(normalized_shape)``)."""

    def __init__(self, shape, dtype, eps=1e-5) -> None:
        super().__init__()
        self.params = {"weight": np.ones(shape, dtype), "bias": np.zeros(shape, dtype)}
        self.eps = eps

    def forward(self, xs, training):
        out, self.cache = norm.layernorm_forward(xs[0], self.params["weight"],
                                                 self.params["bias"], self.eps)
        return out

    def backward(self, dout, need_dx=True, owned=False):
        dx, dgamma, dbeta = norm.layernorm_backward(dout, self.cache, need_dw=self.trainable)
        return [dx if need_dx else None], param_grads(dgamma, dbeta)


class PReLU(Layer):
    """A leaky ReLU whose negative slope is learned per channel: weight (C,), as PyTorch's
    ``nn.PReLU(num_parameters=C)``, starting at ``init`` (the layer kind's)."""

    def __init__(self, channels, dtype, init) -> None:
        super().__init__()
        self.params = {"weight": np.full(channels, init, dtype)}

    def forward(self, xs, training):
        out, self.cache = act.prelu_forward(xs[0], self.params["weight"])
        return out

    def backward(self, dout, need_dx=True, owned=False):
        dx, dslope = act.prelu_backward(dout, self.cache, need_dw=self.trains("weight"))
        return [dx if need_dx else None], param_grads(dslope, None)


def param_grads(dw, db) -> dict[str, np.ndarray]:
    """The ``grads`` dict of a layer's backward: ``dw`` and ``db`` where they are not None
    (a kernel returns None for a parameter it was not asked for: a held one)."""
    grads = {}
    if dw is not None:
        grads["weight"] = dw
    if db is not None:
        grads["bias"] = db
    return grads


class Pool(Layer):
    """Max or average pooling over (kh, kw) windows with stride and (top, bottom, left, right)
    padding, optionally in ceil mode; an average may leave the padding out of its count."""

    def __init__(self, reduce, kernel, stride, pads, ceil_mode=False,
                 count_include_pad=True) -> None:
        super().__init__()
        self.reduce, self.kernel, self.stride, self.pads = reduce, kernel, stride, pads
        self.ceil_mode = ceil_mode
        if reduce == "max":
            self._kernels = (pool.maxpool_forward, pool.maxpool_backward)
            self.kwargs = {"ceil_mode": ceil_mode}
        else:
            self._kernels = (pool.avgpool_forward, pool.avgpool_backward)
            self.kwargs = {"ceil_mode": ceil_mode, "count_include_pad": count_include_pad}

    def _forward(self, x, training):
        return self._kernels[0](x, self.kernel, self.stride, self.pads, **self.kwargs)

    def _backward(self, dout, cache, out=None):
        return self._kernels[1](dout, cache)


class MaxPoolReLU(Pool):
    """``relu(maxpool(x))``, which equals ``maxpool(relu(x))`` (both are monotone, and ReLU
    keeps the order of values), on a tensor kh*kw times smaller. The graph substitutes it for a
    ReLU whose only consumer is a max pool when it does not record each layer's output; values
    and gradients are identical."""

    def __init__(self, kernel, stride, pads, ceil_mode=False) -> None:
        super().__init__("max", kernel, stride, pads, ceil_mode)

    def _forward(self, x, training):
        pooled, pool_cache = pool.maxpool_forward(x, self.kernel, self.stride, self.pads,
                                                  self.ceil_mode)
        out, mask = act.relu_forward(pooled)
        return out, (pool_cache, mask)

    def _backward(self, dout, cache, out=None):
        pool_cache, mask = cache
        return pool.maxpool_backward(act.relu_backward(dout, mask, out=out), pool_cache)


class Elementwise(Layer):
    """An activation (or any one-input kernel pair) with fixed keyword arguments."""

    def __init__(self, forward, backward, **kwargs) -> None:
        super().__init__()
        self._kernels, self.kwargs = (forward, backward), kwargs
        # dout times the derivative: written over an owned dout (see the contract)
        self.writes_over_dout = backward is act.times_derivative

    def _forward(self, x, training):
        return self._kernels[0](x, **self.kwargs)

    def over_input(self, index: int) -> Layer | None:
        return InPlaceReLU() if type(self) is Elementwise and self.op == "relu" else None

    def _backward(self, dout, cache, out=None):
        if out is not None and self.writes_over_dout:
            return self._kernels[1](dout, cache, out=out)
        return self._kernels[1](dout, cache)


def activation(op: str, **kwargs) -> Elementwise:
    """The layer of the elementwise op ``op``: the kernel pair ``op_forward``/``op_backward``
    of :mod:`cnnspec.engine.activations` (so a new activation is one pair of functions there),
    with the op's keyword arguments (``slope=0.2``)."""
    layer = Elementwise(getattr(act, f"{op}_forward"), getattr(act, f"{op}_backward"), **kwargs)
    layer.op = op
    return layer


class InPlaceReLU(Elementwise):
    """A ReLU that overwrites its input with its output: the graph substitutes it for a ReLU
    that is the only reader of a layer's ``fresh_output`` when it does not record each
    layer's output; values and gradients are identical. After ResNet-small's batch norms and
    residual sums (batch 64, one thread) each ReLU's forward pass is 0.05-0.26 ms faster
    (a_2_sum_relu 0.72 -> 0.47 ms): no new array to fault in, a third less memory traffic."""

    op = "relu"

    def __init__(self) -> None:
        super().__init__(act.relu_forward_in_place, act.relu_backward)


def fuse(first: Layer, second: Layer) -> Layer | None:
    """The one layer that computes ``second(first(x))``, where the pair fuses: a ReLU and
    the max pool after it (:class:`MaxPoolReLU`), a batch norm or a convolution and the ReLU
    after it (:class:`BatchNormReLU`, :class:`ConvReLU`); else None. The graph substitutes it
    for the pair where ``second`` is the only reader of ``first``'s output."""
    relu_second = type(second) is Elementwise and second.op == "relu"
    if first.op == "relu" and isinstance(second, Pool) and second.reduce == "max":
        return MaxPoolReLU(second.kernel, second.stride, second.pads, second.ceil_mode)
    if type(first) is BatchNorm and relu_second:
        return BatchNormReLU(first)
    if type(first) is Conv2d and relu_second:
        return ConvReLU(first)
    return None


class Flatten(Elementwise):
    input_view = True  # a reshape of a contiguous input (of one image, a channel-first one)

    def __init__(self) -> None:
        super().__init__(dense.flatten_forward, dense.flatten_backward)


class GlobalAvgPool(Elementwise):
    def __init__(self) -> None:
        super().__init__(pool.global_avgpool_forward, pool.global_avgpool_backward)


class Dropout(Layer):
    """Inverted dropout with probability ``p``, drawing masks from ``rng`` (the model's dropout
    stream)."""

    batch_coupled = True
    input_view = True  # in evaluation, its input itself

    def __init__(self, p: float, rng: np.random.Generator) -> None:
        super().__init__()
        self.p, self.rng = p, rng

    def _forward(self, x, training):
        return dropout.dropout_forward(x, self.p, training, self.rng)

    def _backward(self, dout, cache, out=None):
        return dropout.dropout_backward(dout, cache, out)


class Dropout2d(Dropout):
    """Channel dropout: whole channels of each example zeroed with probability ``p``."""

    def _forward(self, x, training):
        return dropout.dropout2d_forward(x, self.p, training, self.rng)


class Merge(Layer):
    """A layer with several inputs: ``add`` or ``concat``."""

    fresh_output = True  # a new sum or concatenation

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        if kind == "add":
            self._kernels = (merge.add_forward, merge.add_backward)
        else:
            self._kernels = (merge.concat_forward, merge.concat_backward)

    def forward(self, xs, training):
        out, self.cache = self._kernels[0](*xs)
        return out

    def backward(self, dout, need_dx=True, owned=False):
        return list(self._kernels[1](dout, self.cache)), {}  # views of dout: nothing to save

    def over_input(self, index: int) -> Layer | None:
        # the first two inputs are added first: a sum written over one of them keeps the bits
        return InPlaceAdd(index) if self.kind == "add" and index < 2 else None


class InPlaceAdd(Merge):
    """A residual sum written over its input ``into`` (the first or the second): the graph
    substitutes it for a sum that is the only reader of that input, a layer's
    ``fresh_output`` (a batch norm's, as in a residual block's ``add(bn, x)``), when it does
    not record each layer's output; values and gradients are identical. The sum then makes
    no new array: it writes over memory the batch norm has just written (still in the
    cache), where a new array is memory to be fetched before it is written."""

    def __init__(self, into: int) -> None:
        super().__init__("add")
        self.into = into

    def forward(self, xs, training):
        out, self.cache = merge.add_forward(*xs, out=xs[self.into])
        return out
