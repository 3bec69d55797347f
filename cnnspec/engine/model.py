"""The model: layers wired into a DAG, run forward in topological order and backward in reverse.

Values are named by the layer that produces them (``"input"`` for the network's input).
Backward calls each layer's ``backward(dout, need_dx) -> (dxs, grads)`` (the contract of
:mod:`cnnspec.engine.layers`) and keeps what it returns: the parameter gradients per layer
(read by :meth:`Model.grads`), and the input gradients, summed where a value fans out (it
feeds several layers). Only layers the output depends on run.

Owned gradients: a layer's backward may write over the ``dout`` it is given only when the
model hands it over as owned (``backward(d, need_dx, owned=True)``), and the model decides
that in one place, :func:`owned_grad`: a gradient array is owned when the model made it (a
sum of the gradients of a value's readers) or a layer returned it as memory no other value's
gradient shares (a new array or the layer's work memory; or a view of a ``dout`` that was
itself owned), and no recording keeps it. The caller's ``dout`` is never owned, nor an array
handed to two inputs (a residual add's). A sum goes into an owned addend where there is one,
else into a new array, which is owned.

Loss fusion: with ``loss="cross_entropy"`` and a ``softmax`` output layer, :meth:`Model.forward`
still returns probabilities, but :meth:`Model.loss` computes the loss from the logits (the
softmax's input) by log-sum-exp and returns ``dout = (p - onehot) / N``, the gradient with
respect to the logits; :meth:`Model.backward` recognises that array and starts below the
softmax. Any other ``dout`` passes through the softmax's own backward.

Speed fusion: a ReLU whose only consumer is a max pool runs as ``relu(maxpool(x))`` (identical
values and gradients, a smaller tensor), a batch norm or a convolution whose only reader is a
ReLU runs the ReLU itself (identical values and gradients; no mask kept, no pass of the ReLU's
own), and a ReLU or a residual sum that is the only reader of a new array (the output of
batch norm, a dense layer or a residual sum: ``Layer.fresh_output``) writes its output over it
(``Layer.over_input``). All are switched
off while ``record`` is on, so that every layer's own output and gradient can be recorded.

Timing: with ``model.clock`` a dict, forward and backward add each node's seconds to it
(:mod:`cnnspec.engine.timing`, ``cnnspec time``); the batch then runs in one thread.

Parts: BLAS runs single-threaded inside :meth:`Model.forward` and :meth:`Model.backward`
(on the small products of a training step a BLAS thread pool gains little, and on a machine
busy with other work it is many times slower). The engine parallelises itself instead:
with ``model.threads = k`` (a compiled spec's ``cores`` setting, 2 unless it says otherwise)
a batch of at least ``k * 8`` runs as ``k`` parts, the first in the calling thread, the others
in worker processes forked from this one (:mod:`cnnspec.engine.processes`, on Linux) or, with
``model.parts_in = "threads"`` and where processes are not available, in threads
(:mod:`cnnspec.engine.parallel`); both give the same bits. The split depends on the spec
alone, so results do not depend on the machine; they equal ``threads = 1`` results up to
rounding in the summed parameter gradients (and in batch norm's statistics, which the parts
sum across them). It is skipped while recording, and while training a model with dropout
(its masks follow the order of draws). Set ``model.threads = 1`` for bitwise one-part
results.
"""
from __future__ import annotations

from collections import Counter
from time import perf_counter

import numpy as np

from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.engine import heap, losses, parallel, processes, splitting
from cnnspec.engine.blas import blas_threads
from cnnspec.engine.footprint import keeps_logits
from cnnspec.engine.layers import Layer, fuse
from cnnspec.errors import RunError
from cnnspec.held import HELD
from cnnspec.records import record
from cnnspec.shapes import shape_text

INPUT = "input"


@record
class Node:
    """One layer of the graph: its ``name``, the :class:`Layer`, and the names of its inputs."""

    name: str
    kind: str
    layer: Layer
    inputs: list[str]
    fused: tuple[str, ...] = ()  # layers this node also computes (a ReLU before a max pool)
    params_of: str = ""  # the fused layer whose parameters' gradients it returns, if any


class Model:
    """An executable network.

    ``forward(x)`` takes ``x`` (N, C, H, W) (or (N, F)) and returns the output layer's output;
    ``loss(out, y)`` gives ``(loss, dout)`` for integer labels ``y`` (N,); ``backward(dout)``
    fills the parameter gradients (:meth:`grads`) and returns d loss / d ``x``.
    """

    def __init__(self, nodes: list[Node], output: str, loss: str = "cross_entropy",
                 dtype=DEFAULT_DTYPE, checked=None, loss_args: dict | None = None,
                 threads: int = 1) -> None:
        self.nodes = nodes
        self.output = output
        assert loss in losses.LOSSES, loss  # the checker knows the losses' names
        self.loss_name = loss
        self.loss_args = dict(loss_args or {})  # label smoothing, class weights
        self.dtype = np.dtype(dtype)
        self.checked = checked  # the CheckedSpec compiled from, when there is one
        self.training = True
        self.record = False
        self.threads = threads  # parts of a batch run side by side (the spec's `cores`)
        heap.keep_arrays_for_reuse()  # a step's arrays served again at the next
        self.parts_in = splitting.DEFAULT_PARTS_IN  # "processes" (where available) or "threads"
        self.activations: dict[str, np.ndarray] = {}
        self.activation_grads: dict[str, np.ndarray] = {}
        # When a dict, forward and backward add each node's seconds to it under (name,
        # "forward") and (name, "backward") (read by cnnspec.engine.timing); one thread only.
        self.clock: dict[tuple[str, str], float] | None = None
        self._by_name = {node.name: node for node in nodes}
        self._plain = self._needed_nodes()
        self._fused_softmax = keeps_logits(self._by_name[output].layer.op, loss)
        self._last_out = self._logits = self._fused_dout = None
        kept = {output} | ({self._by_name[output].inputs[0]} if self._fused_softmax else set())
        self._fused = _in_place(_fuse_pairs(self._plain, output), kept)
        for node in (*self._plain, *self._fused):  # see the layer contract
            node.layer.single_use_cache = node.layer.frees_cache
        self._drops = {id(plan): _last_uses(plan, kept) for plan in (self._plain, self._fused)}
        self._ran: list[Node] = []
        self._param_grads: dict[str, dict[str, np.ndarray]] = {}  # layer -> key -> gradient
        self._coupled = any(node.layer.batch_coupled and not node.layer.part_sums
                            for node in self._plain)
        self._parallel: parallel.DataParallel | None = None
        self._split = False

    def __repr__(self) -> str:
        """The network as PyTorch prints a module: a line per layer with its parameters'
        shapes, under its name, dtype, mode and parameter count."""
        params = self.params()
        name = f" {self.checked.ir['name']!r}" if self.checked is not None else ""
        mode = "training" if self.training else "evaluation"
        widths = [max((len(text) for text in column), default=0) for column in
                  ([node.name for node in self.nodes], [node.kind for node in self.nodes])]
        count = sum(value.size for value in params.values())
        lines = [f"Model{name} ({self.dtype}, {mode} mode, {count:,} parameters)"]
        for node in self.nodes:
            lines.append(f"  {node.name:<{widths[0]}}  {node.kind:<{widths[1]}}  "
                         f"{_params_text(node.layer)}".rstrip())
        return "\n".join(lines)

    def __call__(self, x) -> np.ndarray:
        """``model(x)`` is :meth:`forward`, as a PyTorch module's call is."""
        return self.forward(x)

    # ----------------------------------------------------------------- running
    @property
    def layer_names(self) -> list[str]:
        return [node.name for node in self.nodes]

    def train(self) -> Model:
        self.training = True
        return self

    def eval(self) -> Model:
        """Evaluation mode (dropout off, batch norm's running statistics). Leaving training
        mode frees what the training passes left for a backward pass (:meth:`release`): the
        last step's caches and the buffers kept for its gradients (a thin convolution's whole
        im2col matrix), which no evaluation or prediction reads."""
        if self.training:
            self.release()
        self.training = False
        return self

    def forward(self, x) -> np.ndarray:
        """Run the network on ``x`` (N, C, H, W) or (N, F); returns the output layer's output."""
        x = self._prepared(x)
        with blas_threads(1):
            if self._split:
                self._last_out, self._logits = self._data_parallel().forward(x)
                return self._last_out
            return self._forward(x)

    def _prepared(self, x) -> np.ndarray:
        """``x`` checked and in the model's dtype; whether it runs split decided (the other
        side's caches freed when that changes)."""
        x = np.asarray(x)
        self._check_input(x)
        x = x.astype(self.dtype, copy=False)
        split = self._can_split(x)
        if split != self._split:
            self._release_other_layers(split)
        self._split = split
        return x

    def _forward(self, x: np.ndarray) -> np.ndarray:
        values = {INPUT: x}
        plan = self._plain if self.record else self._fused
        if self.record:
            self.activations = {}
        # locals, not attributes, in the loop: a deep thin net pays this loop per layer
        clock, record, training = self.clock, self.record, self.training
        drops = self._drops[id(plan)]
        for node, done in zip(plan, drops):
            start = perf_counter() if clock is not None else 0.0
            out = node.layer.forward(list(map(values.__getitem__, node.inputs)), training)
            if clock is not None:
                _tick(clock, (node.name, "forward"), start)
            values[node.name] = out
            if record:
                self.activations[node.name] = out
            for name in done:  # read by no later layer: free unless a cache keeps it
                del values[name]
        self._ran = plan
        self._last_out = values[self.output]
        if self._fused_softmax:
            self._logits = values[self._by_name[self.output].inputs[0]]
        return self._last_out

    def _check_input(self, x: np.ndarray) -> None:
        expected = None if self.checked is None else tuple(self.checked.input_shape)
        if expected is not None and tuple(x.shape[1:]) != expected:
            shape = shape_text(expected)
            raise RunError(
                f"the model takes inputs of shape (N, {', '.join(map(str, expected))}), "
                f"not {tuple(x.shape)}",
                hint=f"the spec's input line says {shape}; reshape or resize the data to match")
        # a Python caller's mistakes, which NumPy would say as a reshape's ValueError deep in
        # a layer (an empty batch) or not at all (complex numbers lose their imaginary part)
        if x.ndim and not len(x):
            raise RunError(f"the model takes a batch of one input or more, not {tuple(x.shape)}",
                           hint="pass at least one input: an array (N, ...) with N >= 1")
        if x.dtype.kind not in "biuf":
            raise RunError(f"the model takes real numbers, not an array of dtype {x.dtype}",
                           hint=f"convert the inputs, e.g. np.asarray(x, dtype=np.{self.dtype})")

    def loss(self, out, y) -> tuple[float, np.ndarray]:
        """``(loss, dout)`` of the spec's loss for ``out`` and integer labels ``y`` (N,)."""
        if self._fused_softmax and out is not self._last_out:
            raise RunError("the loss of a softmax output needs the output of the last forward",
                           hint="call model.loss(model.forward(x), y)")
        return self._loss(out, y, None)

    def _loss(self, out, y, divisor: float | None) -> tuple[float, np.ndarray]:
        """:meth:`loss`, the sum divided by ``divisor`` (None: this batch's own; a part of a
        split batch: the whole batch's, :func:`losses.batch_divisor`)."""
        if not self._fused_softmax:
            return losses.LOSSES[self.loss_name](out, y, **self.loss_args, divisor=divisor)
        loss, dlogits = losses.softmax_cross_entropy(self._logits, y, **self.loss_args,
                                                     divisor=divisor)
        self._fused_dout = dlogits
        return loss, dlogits

    def loss_and_grads(self, x, y) -> tuple[float, np.ndarray]:
        """A training step's passes: forward on ``x``, the loss against labels ``y`` (N,),
        and backward, filling :meth:`grads` (no input gradient); returns ``(loss, output)``.

        As ``model.backward(model.loss(model.forward(x), y)[1], input_grad=False)``, but a
        split batch's parts each take their own rows' loss and go on to their backward pass
        without meeting between the two (the loss is a sum over the batch divided by a number
        of the whole batch, which each part is given: their gradients are the same bits). The
        loss is the sum of the parts' shares."""
        x = self._prepared(x)
        y = np.asarray(y)
        with blas_threads(1):
            if self._split:
                # no logits of the whole batch are kept for a loss of this output to read
                self._last_out = self._logits = None
                return self._data_parallel().loss_and_grads(x, y)
            return self._part_loss_and_grads(x, y, slice(None))

    def _part_loss_and_grads(self, x, y, rows: slice) -> tuple[float, np.ndarray]:
        """:meth:`loss_and_grads` of the ``rows`` of a batch with labels ``y`` that ``x``
        holds, run whole here: a replica's part of a split batch (its loss divided by the
        whole batch's divisor), or an unsplit model's batch (every row)."""
        out = self._forward(x)
        divisor = losses.batch_divisor(self.loss_name, y, out.shape[-1], **self.loss_args)
        loss, dout = self._loss(out, y[rows], divisor)
        self._backward(dout, self._fused_softmax, False)
        return loss, out

    def backward(self, dout, input_grad: bool = True):
        """Backpropagate ``dout`` (d loss / d output, or the array :meth:`loss` returned).

        Fills :meth:`grads` and returns d loss / d input (None when ``input_grad`` is False,
        which saves the first layer's input-gradient work when training).
        """
        fused = self._fused_softmax and dout is self._fused_dout
        with blas_threads(1):
            if self._split:
                return self._data_parallel().backward(dout, fused, input_grad)
            return self._backward(dout, fused, input_grad)

    def _backward(self, dout, fused: bool, input_grad: bool):
        nodes = list(self._ran)
        grads = {self.output: dout}
        if fused:
            softmax = nodes.pop()  # the output layer; its input receives the logits' gradient
            grads = {softmax.inputs[0]: dout}
        self.activation_grads = {}
        self._param_grads = {}
        wanted = self._wants_grad(nodes, input_grad)
        owned: set[str] = set()  # the values whose gradient in grads is owned (owned_grad)
        # locals, not attributes, in the loop: a deep thin net pays this loop per layer
        record, clock, param_grads_of = self.record, self.clock, self._param_grads
        for node in reversed(nodes):
            if node.name not in grads:
                continue  # nothing downstream of this layer reaches the loss
            d = grads.pop(node.name)
            if record:
                self.activation_grads[node.name] = d
            layer = node.layer
            need_dx = any(map(wanted.__getitem__, node.inputs))
            start = perf_counter() if clock is not None else 0.0
            d_owned = node.name in owned
            dxs, param_grads = layer.backward(d, need_dx, d_owned)
            # the cache has served: free it now, as autograd frees saved tensors, so the
            # memory of the layers already done is free for the gradients of those still to go
            if layer.frees_cache:
                layer.cache = None
            if clock is not None:
                _tick(clock, (node.name, "backward"), start)
            if param_grads:
                param_grads_of[node.params_of or node.name] = param_grads
            for name, dx in zip(node.inputs, dxs):
                if dx is None or not wanted[name]:
                    continue
                dx_owned = not record and owned_grad(dx, d, d_owned, dxs)
                if name in grads:
                    grads[name] = _summed(grads[name], name in owned, dx, dx_owned)
                    dx_owned = not record
                else:
                    grads[name] = dx
                owned.discard(name)
                if dx_owned:
                    owned.add(name)
        return grads.get(INPUT) if input_grad else None

    def _wants_grad(self, nodes: list[Node], input_grad: bool) -> dict[str, bool]:
        """Which values need a gradient: those with a trainable layer at or before them (or
        every value while recording, and the input when asked for)."""
        record = self.record
        wanted = {INPUT: input_grad or record}
        # map, not a generator: this runs for every layer on every backward pass
        for node in nodes:
            wanted[node.name] = (record or node.layer.trainable
                                 or any(map(wanted.__getitem__, node.inputs)))
        return wanted

    # ---------------------------------------------------------------- threads
    def replica(self) -> Model:
        """A model sharing this one's parameters and buffers, with its own layer caches, that
        runs in one thread."""
        nodes = [Node(n.name, n.kind, parallel.replicate_layer(n.layer), list(n.inputs))
                 for n in self.nodes]
        twin = Model(nodes, self.output, self.loss_name, self.dtype, self.checked,
                     self.loss_args)
        twin.threads = 1  # a replica runs its part in its own thread; it must not split again
        return twin

    def _release_other_layers(self, split: bool) -> None:
        """Free the caches and work buffers of the layers that will not run: the model's own
        when the batch is now split across replicas, the replicas' when it now runs whole (an
        epoch's short last batch, then full ones). Both sets kept theirs would hold more than
        check's memory estimate, which counts one or the other."""
        if split:
            _release([self])
        elif self._parallel is not None:
            self._parallel.release()

    def release(self) -> None:
        """Free every layer's cache and work buffers, the replicas' too: what passes that no
        backward pass follows left behind (an evaluation's, in batches larger than the
        training batch that check's memory estimate counts, would otherwise stay through the
        next training step). The next pass allocates them again."""
        _release([self])
        if self._parallel is not None:
            self._parallel.release()

    def forget_gradients(self) -> None:
        """Drop the parameter gradients of the last backward pass (:meth:`grads` then gives
        zeros), and the replicas' parts of them: once training has ended no step reads them,
        and the end of a run reads its best weights back into the room they held."""
        self._param_grads = {}
        if self._parallel is not None:
            for replica in self._parallel.replicas:
                replica._param_grads = {}

    def _plan_layers(self) -> list[Layer]:
        """Every layer a forward pass can run: the nodes' own and the fused plan's stand-ins
        (:class:`MaxPoolReLU`, :class:`BatchNormReLU`, :class:`InPlaceReLU`, ...), which hold
        caches of their own."""
        layers = {id(node.layer): node.layer for node in self.nodes + self._fused}
        return list(layers.values())

    def _can_split(self, x: np.ndarray) -> bool:
        return (splitting.splits(x.shape[0], self.threads) and not self.record
                and self.clock is None and not (self.training and self._coupled))

    def start_parts(self, batch: int) -> None:
        """Start now what runs the parts of a training batch of ``batch`` examples (a worker
        process is forked), before the caller allocates more: a worker keeps the pages of this
        process that were there when it was forked, for its life, once this process frees
        or rewrites them."""
        if splitting.splits(batch, self.threads) and not self._coupled:
            self._data_parallel().start()

    def _data_parallel(self) -> parallel.DataParallel | processes.ProcessParallel:
        runner = (processes.ProcessParallel if processes.runs_parts(self.parts_in)
                  else parallel.DataParallel)
        if type(self._parallel) is not runner or self._parallel.parts != self.threads:
            if self._parallel is not None:
                self._parallel.close()
            self._parallel = runner(self, self.threads)
        return self._parallel

    # -------------------------------------------------------------- parameters
    def params(self) -> dict[str, np.ndarray]:
        """The live parameter arrays, ``<layer>.weight`` / ``<layer>.bias`` (PyTorch layouts)."""
        return {f"{node.name}.{key}": value for node in self.nodes
                for key, value in node.layer.params.items()}

    @property
    def trainable_names(self) -> list[str]:
        """The parameters that train: every one but the layers' ``held`` ones."""
        return [f"{node.name}.{key}" for node in self.nodes for key in node.layer.params
                if node.layer.trains(key)]

    def grads(self) -> dict[str, np.ndarray]:
        """Gradients of the trainable parameters from the last :meth:`backward` (zeros for a
        layer the loss does not depend on)."""
        out = {}
        for node in self.nodes:
            layer_grads = self._param_grads.get(node.name, {})
            for key, value in node.layer.params.items():
                if node.layer.trains(key):
                    grad = layer_grads.get(key)
                    out[f"{node.name}.{key}"] = np.zeros_like(value) if grad is None else grad
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer (``<layer>.running_mean``/``running_var``)."""
        return {name: value.copy() for name, value in self.state_arrays().items()}

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The model's own arrays under :meth:`state_dict`'s names, not copies: for reading
        them at once (writing a checkpoint, comparing shapes), where copies would hold every
        weight a second time (a step updates these arrays in place)."""
        state = dict(self.params())
        for node in self.nodes:
            for key, value in node.layer.buffers.items():
                state[f"{node.name}.{key}"] = value
        return state

    def load_state_dict(self, state: dict) -> None:
        """Copy ``state`` into the model's arrays (which stay the same objects). Each value is
        an array of the parameter's shape holding real numbers (:func:`weight_values`); all
        are checked before any is copied, so a refused state leaves the model as it was."""
        targets = self.params()
        for node in self.nodes:
            for key, value in node.layer.buffers.items():
                targets[f"{node.name}.{key}"] = value
        missing = sorted(set(targets) - set(state))
        unexpected = sorted(set(state) - set(targets))
        if missing or unexpected:
            raise RunError(
                "the saved state does not match this model"
                + (f"; missing: {', '.join(missing)}" if missing else "")
                + (f"; unexpected: {', '.join(unexpected)}" if unexpected else ""),
                hint="load a checkpoint written by the same spec")
        values = {}
        for name, target in targets.items():
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise RunError(f"'{name}' has shape {value.shape} in the saved state but "
                               f"{target.shape} in the model",
                               hint="load a checkpoint written by the same spec")
            values[name] = weight_values(name, value, target.dtype)
        for name, target in targets.items():
            np.copyto(target, values[name])

    # ---------------------------------------------------------------- planning
    def _needed_nodes(self) -> list[Node]:
        """The nodes the output depends on, in the given (topological) order."""
        needed = {self.output}
        for node in reversed(self.nodes):
            if node.name in needed:
                needed.update(node.inputs)
        return [node for node in self.nodes if node.name in needed]


def _params_text(layer: Layer) -> str:
    """``weight 4x4x3x3, bias 4``: a layer's parameters' shapes, ``(held)`` after them where
    none trains, ``held`` after each held one where others train."""
    held = layer.held if layer.trainable else set()
    text = ", ".join(f"{key} {shape_text(value.shape)}" + (f" {HELD}" if key in held else "")
                     for key, value in layer.params.items())
    return f"{text} ({HELD})" if layer.params and not layer.trainable else text


def owned_grad(dx: np.ndarray, dout: np.ndarray, dout_owned: bool, dxs: list) -> bool:
    """Whether the input gradient ``dx`` that a layer's backward returned (among ``dxs``, for
    ``dout``) belongs to the model alone, which may then hand it to the input's layer as
    owned (see the module's docstring): writeable, and sharing memory with no other of
    ``dxs`` (a residual add hands ``dout`` to both inputs) and, unless ``dout_owned``, none
    with ``dout`` (the caller's array, or one a recording keeps). By the layer contract
    (:mod:`cnnspec.engine.layers`) an input gradient that is not a view of ``dout`` is memory
    no one but the model reads. The memory checks compare bounds only: never a false
    "shares none"."""
    if not dx.flags.writeable or (not dout_owned and np.may_share_memory(dx, dout)):
        return False
    if len(dxs) == 1:  # dx shares with itself alone: what the sum below finds, without a
        # NumPy call (0.6 us, a deep thin net's per layer); an empty array shares nothing
        return dx.size > 0
    return sum(np.may_share_memory(dx, other) for other in dxs if other is not None) == 1


def _summed(grad: np.ndarray, grad_owned: bool, dx: np.ndarray, dx_owned: bool) -> np.ndarray:
    """``grad + dx``, the gradient of a value two layers read: into whichever addend is owned
    (addition commutes: the same bits), else into a new array."""
    if grad_owned:
        return np.add(grad, dx, out=grad)
    if dx_owned:
        return np.add(dx, grad, out=dx)
    return grad + dx


def _tick(clock: dict, key: tuple[str, str], start: float) -> None:
    clock[key] = clock.get(key, 0.0) + perf_counter() - start


def _last_uses(plan: list[Node], kept: set[str]) -> list[list[str]]:
    """For each node of ``plan``, the values (outputs, or the input) no later node reads, to
    free once it has run (as PyTorch frees an output nothing saved), bar the ``kept`` ones."""
    last = {}
    for i, node in enumerate(plan):
        for name in (*node.inputs, node.name):
            last[name] = i
    drops: list[list[str]] = [[] for _ in plan]
    for name, i in last.items():
        if name not in kept:
            drops[i].append(name)
    return drops


def _fuse_pairs(nodes: list[Node], output: str) -> list[Node]:
    """The plan with each pair of layers that fuses (:func:`cnnspec.engine.layers.fuse`: a
    ReLU then a max pool, a batch norm then a ReLU), the second the only reader of the
    first's output (not the network's output, nor the second where the fused layer
    ``reuses_output`` and the network's output may be the second's or a view of it),
    replaced by one node that keeps the second's
    name and lists the first's in ``fused`` (whose parameters' gradients it returns are
    filed under the first's name: ``params_of``). Pairs are taken from the output back, so
    in a chain batch norm -> ReLU -> max pool the ReLU goes with the pool, which applies it
    to a smaller tensor."""
    readers = _readers(nodes)
    by_name = {node.name: node for node in nodes}
    returned = _returned(by_name, output)
    plan: dict[str, Node] = {}
    absorbed: set[str] = set()
    for node in reversed(nodes):
        if node.name in absorbed:
            continue
        source = by_name.get(node.inputs[0]) if len(node.inputs) == 1 else None
        fused = None
        if source is not None and source.name != output and readers[source.name] == 1:
            fused = fuse(source.layer, node.layer)
        if fused is None or (fused.reuses_output and node.name in returned):
            plan[node.name] = node
            continue
        absorbed.add(source.name)
        plan[node.name] = Node(node.name, node.kind, fused, list(source.inputs),
                               fused=(source.name,),
                               params_of=source.name if source.layer.params else "")
    return [plan[node.name] for node in nodes if node.name in plan]


def _returned(by_name: dict[str, Node], output: str) -> set[str]:
    """The values the network's output may be, or be a view of: the output, and back from it
    through layers whose output may be a view of their input (``Layer.input_view``)."""
    returned = {output}
    node = by_name.get(output)
    while node is not None and node.layer.input_view:
        returned.add(node.inputs[0])
        node = by_name.get(node.inputs[0])
    return returned


def _readers(nodes: list[Node]) -> Counter:
    """How many nodes read each value."""
    return Counter(name for node in nodes for name in node.inputs)


def _release(models: list[Model]) -> None:
    for model in models:
        for layer in model._plan_layers():
            parallel.release_layer(layer)


def _in_place(nodes: list[Node], kept: set[str]) -> list[Node]:
    """The plan with each layer that is the only reader of an input that is a
    ``fresh_output`` layer's output (not a ``kept`` value) replaced, where it has one, by the
    node of the same name that writes over that input (``Layer.over_input``: a ReLU, a sum)."""
    readers = _readers(nodes)
    by_name = {node.name: node for node in nodes}
    plan = []
    for node in nodes:
        for index, name in enumerate(node.inputs):
            source = by_name.get(name)
            if (source is None or not source.layer.fresh_output or readers[name] != 1
                    or name in kept):
                continue
            layer = node.layer.over_input(index)
            if layer is not None:
                node = Node(node.name, node.kind, layer, list(node.inputs), node.fused,
                            node.params_of)
                break
        plan.append(node)
    return plan


def weight_values(name: str, value: np.ndarray, dtype) -> np.ndarray:
    """``value`` (the saved ``name``) as the numbers of a parameter of ``dtype``: floating point
    as it is; integers (a hand-written kernel, such as a Sobel filter saved as int) where
    ``dtype`` holds each exactly; booleans, complex numbers, text and objects refused (a
    RunError): no weight is True, and casting would drop what a complex or text array meant."""
    kind = value.dtype.kind
    if kind == "f":
        return value
    hint = "load a checkpoint written by the same spec"
    if kind == "b":
        raise RunError(f"'{name}' holds booleans ({value.dtype}), not numbers",
                       hint="save it as numbers: array.astype(numpy.float32) makes True 1.0")
    if kind not in "iu":
        raise RunError(f"'{name}' has dtype {value.dtype}, not real numbers", hint=hint)
    # float32 holds every integer up to 2**24 exactly (its 23-bit mantissa and the implicit 1)
    exact = 2 ** (np.finfo(dtype).nmant + 1)
    if value.size and not (-exact <= value.min() and value.max() <= exact):
        raise RunError(f"'{name}' holds integers beyond ±{exact:,}, which {np.dtype(dtype)} "
                       "cannot hold exactly", hint="save it as floating point numbers")
    return value
