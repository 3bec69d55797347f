"""Optimizers: SGD (with momentum or Nesterov momentum), Adam (optionally AMSGrad), AdamW,
RMSprop and Adagrad, each with the update rule of its ``torch.optim`` namesake; and the
gradient clipping that may come before a step (:func:`clip_gradients`).

An optimizer holds only its own state (momentum buffers, moment estimates, step counts); the
parameters and their gradients are passed to :meth:`Optimizer.step` as dicts keyed by
parameter name (``conv1.weight``), and the parameters are updated in place. A held
parameter (``frozen``, or at ``lr_mult 0``: the model's ``trainable_names`` leave it out) is
absent from ``grads``, so it has no state here. Gradients are never written to.

Weight decay is L2 regularisation added to the gradient, ``g <- g + weight_decay * p``, as
PyTorch's ``weight_decay`` argument to ``SGD``, ``Adam``, ``RMSprop`` and ``Adagrad``; AdamW
decays the parameters themselves instead (its :attr:`Optimizer.RULE`'s ``decoupled_decay``,
:mod:`cnnspec.update_rules`). A parameter's
``decay_mult`` (0 spares it, as a PyTorch parameter group with ``weight_decay=0``) and
``lr_mult`` scale the decay and the learning rate it gets.

Every update is done with in-place ufuncs into preallocated scratch arrays of the
parameter's dtype: Python-float coefficients keep float32 arithmetic in float32 (NumPy 2's
scalar promotion), and a step allocates nothing after the first. Where it can, a step packs
the parameters' gradients, state and scratch into flat arrays and runs each operation once
over all of them (:class:`Optimizer`), with the same bits as parameter by parameter.

``state_dict()`` returns plain arrays (``<kind>.<param name>``, e.g. ``exp_avg.conv1.weight``)
for an ``.npz`` checkpoint; ``load_state_dict`` restores them so a resumed run is bitwise the
run that was not interrupted. Scratch arrays are not state.

The settings are the checker's: a setting out of range is a mistake in cnnspec, asserted here.
"""
from __future__ import annotations

import inspect
import math
import operator

import numpy as np

from cnnspec import update_rules
from cnnspec.errors import RunError
from cnnspec.records import record


class Optimizer:
    """The shared part: weight decay, the packed step, scratch arrays and the state dict.

    A step updates the parameters through :meth:`_direction`, the optimizer's rule written once
    over a :class:`_OneParam` or an :class:`_AllParams`: its state, scratch and step count
    for one parameter, or for all of a step's parameters packed into flat arrays, each
    operation then once over all of them (a 1,000-layer net of 8-channel layers has 2,000
    parameters of 8 to 576 values). The two give the same bits: the same operations on the
    same values, element by element."""

    STATE_KINDS: tuple[str, ...] = ()
    # How the rule takes weight decay and whether it writes its update over the gradient: the
    # facts the training catalogue's record of the optimizer reads too.
    RULE: update_rules.UpdateRule = update_rules.L2

    def __init__(self, weight_decay: float = 0.0) -> None:
        assert weight_decay >= 0, weight_decay  # the checker validates the settings
        self.weight_decay = float(weight_decay)
        # Per-parameter multipliers of the learning rate and of the weight decay (Caffe's
        # lr_mult and decay_mult); a parameter not named has 1 for both.
        self.lr_mult: dict[str, float] = {}
        self.decay_mult: dict[str, float] = {}
        self.state: dict[str, dict[str, np.ndarray]] = {kind: {} for kind in self.STATE_KINDS}
        self._scratch: dict[tuple[str, str], np.ndarray] = {}
        # The last packed step's parameters, one pack for each group of equal multipliers.
        self._packs: dict[tuple[float, float], _Packed] = {}
        self._grouping: tuple[tuple[str, ...], list[_Group]] | None = None

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
             lr: float) -> None:
        """Update every parameter named in ``grads`` in place, with learning rate ``lr``: the
        parameters of equal multipliers (``lr_mult``, ``decay_mult``: a PyTorch parameter
        group's lr and weight decay) as one update of all of them packed into flat arrays
        where they can be (:meth:`_pack`), else parameter by parameter (:meth:`_step_each`),
        the same bits."""
        lr = float(lr)
        for group in self._groups(grads):
            group_grads = grads if group.whole else {name: grads[name] for name in group.names}
            pack = self._pack(params, group_grads, group.mults)
            if pack is None or not _gathered(group_grads, pack.grad):
                self._step_each(params, group_grads, lr)
            else:
                self._packed_step(pack, lr * group.mults[0], self.weight_decay * group.mults[1])

    def _groups(self, grads: dict[str, np.ndarray]) -> list[_Group]:
        """The parameters ``grads`` names, grouped by their multipliers (the default spec's
        weights and its biases, which get no decay: two groups), in the order of their first
        parameters; worked out again only where the names change."""
        names = tuple(grads)
        if self._grouping is not None and self._grouping[0] == names:
            return self._grouping[1]
        lr_mult, decay_mult = self.lr_mult, self.decay_mult
        by_mults: dict[tuple[float, float], list[str]] = {}
        for name in names:
            mults = (lr_mult.get(name, 1.0), decay_mult.get(name, 1.0))
            by_mults.setdefault(mults, []).append(name)
        groups = [_Group(mults, tuple(members), len(by_mults) == 1)
                  for mults, members in by_mults.items()]
        self._grouping = (names, groups)
        return groups

    def _step_each(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
                   lr: float) -> None:
        """:meth:`step` parameter by parameter, each with its multipliers."""
        # looked up once, not per parameter: a deep thin net has thousands of small ones
        lr_mult, decay_mult, weight_decay = self.lr_mult, self.decay_mult, self.weight_decay
        for name, grad in grads.items():
            param = params[name]
            lr_here = lr * lr_mult.get(name, 1.0)
            decay = weight_decay * decay_mult.get(name, 1.0)
            param -= self._update(_OneParam(self, name, param), (param,), grad, lr_here, decay)

    def _packed_step(self, pack: _Packed, lr: float, decay: float) -> None:
        """:meth:`step` over the gradients gathered in ``pack.grad`` (``lr`` and ``decay``
        the group's, its multipliers applied), then each parameter less its view of the
        update."""
        every = _AllParams(self, pack)
        update = self._update(every, pack.params, pack.grad, lr, decay)
        for param, step in zip(pack.params, every.views_of(update)):
            param -= step

    def _update(self, slot: _OneParam | _AllParams, params, grad: np.ndarray, lr: float,
                decay: float) -> np.ndarray:
        """The update that ``slot``'s ``params`` are less, weight decay ``decay`` taken as
        the optimizer takes it: the parameters shrunk first (its rule's ``decoupled_decay``),
        else added to the gradient."""
        if self.RULE.decoupled_decay:
            if decay:
                for param in params:
                    param *= 1.0 - lr * decay
        elif decay:
            grad = self._decayed(slot, grad, decay)
        return self._direction(slot, grad, lr)

    def _decayed(self, slot: _OneParam | _AllParams, grad: np.ndarray,
                 decay: float) -> np.ndarray:
        """``grad + decay * param``, in a scratch array (``decay`` is not 0)."""
        out = slot.parameters(slot.scratch("decayed"))
        out *= decay
        out += grad
        return out

    def _direction(self, slot: _OneParam | _AllParams, grad: np.ndarray,
                   lr: float) -> np.ndarray:
        """The update, ``lr`` times the step's direction, that the parameters of ``slot``
        are less (in its "update" scratch), its state updated."""
        raise NotImplementedError

    def updates_over_gradients(self) -> bool:
        """Whether :meth:`_direction` may write its update over the gradient it is given (it
        reads the gradient no more once it writes there), as its rule says for its arguments:
        a packed step then needs no flat update array beside the gathered gradients
        (:meth:`cnnspec.update_rules.UpdateRule.update_arrays` counts them)."""
        return self.RULE.over_gradients(self.arguments())

    def arguments(self) -> dict:
        """The constructor's arguments but the weight decay, as the IR names them (each kept
        as the attribute of its name)."""
        names = inspect.signature(type(self)).parameters
        return {name: getattr(self, name) for name in names if name != "weight_decay"}

    def scratch(self, purpose: str, name: str, like: np.ndarray) -> np.ndarray:
        """A work array shaped like ``like``, allocated once per parameter and purpose."""
        key = (purpose, name)
        buf = self._scratch.get(key)
        if buf is None or buf.shape != like.shape or buf.dtype != like.dtype:
            buf = self._scratch[key] = np.empty_like(like)
        return buf

    def state_dict(self) -> dict[str, np.ndarray]:
        """Plain arrays, ``<kind>.<param name>``; copies, so later steps do not change them."""
        return {key: np.array(value, copy=True) for key, value in self.state_arrays().items()}

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The optimizer's own state arrays under :meth:`state_dict`'s names, not copies: for
        reading them at once (writing a checkpoint), where copies would hold the state a
        second time (a step updates these arrays in place)."""
        return {f"{kind}.{name}": value
                for kind, per_param in self.state.items() for name, value in per_param.items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned (replacing the current state)."""
        restored: dict[str, dict[str, np.ndarray]] = {kind: {} for kind in self.STATE_KINDS}
        for key, value in state.items():
            kind, _, name = key.partition(".")
            if kind not in restored or not name:
                raise RunError(f"optimizer state {key!r} does not belong to "
                               f"{type(self).__name__}",
                               hint="resume with the optimizer the checkpoint was trained with")
            restored[kind][name] = np.array(value, copy=True)
        self.state = restored

    def _pack(self, params, grads, mults: tuple[float, float]) -> _Packed | None:
        """The :class:`_Packed` for a step with ``grads`` (a group of multipliers
        ``mults``), kept from the group's last step where it still fits; None where the step
        is taken parameter by parameter: parameters of several dtypes, or state that cannot
        be packed (:meth:`_state_packed`)."""
        if not grads:
            return None
        pack = self._packs.get(mults)
        if pack is None or pack.names != tuple(grads) or not all(
                map(operator.is_, map(params.get, pack.names), pack.params)):
            pack = _new_pack(params, grads, self.updates_over_gradients())
        if pack is None or not all(self._state_packed(pack, kind) for kind in self.STATE_KINDS):
            return None
        self._packs[mults] = pack
        return pack

    def _state_packed(self, pack: _Packed, kind: str) -> bool:
        """Whether the state ``kind`` of the parameters of ``pack`` is views of one flat
        array of it, packing it there where the state holds it elsewhere (state loaded from a
        checkpoint, or made parameter by parameter); True where no parameter has it yet (the
        packed step makes it), False where only some have it, or where step counts differ
        (a parameter held for a while): those steps go parameter by parameter."""
        state = self.state[kind]
        held = list(map(state.get, pack.names))
        views = pack.views.get(kind)
        if views is not None and all(map(operator.is_, held, views)):
            # a step parameter by parameter may have counted some of them since
            return kind != "step" or not np.ptp(pack.flats[kind])
        pack.forget(kind)
        if all(value is None for value in held):
            return True
        if kind == "step":
            if any(count is None or count.shape != () for count in held) or len(
                    {int(count) for count in held}) > 1:
                return False
            flat = np.array([int(count) for count in held], np.int64)
        elif any(value is None or value.shape != param.shape or value.dtype != param.dtype
                 for value, param in zip(held, pack.params)):
            return False
        else:
            flat = np.concatenate(held, axis=None)
        state.update(zip(pack.names, pack.keep(kind, flat)))
        return True


@record(frozen=True)
class _Group:
    """Parameters of equal multipliers, ``mults`` their (lr_mult, decay_mult); ``whole``
    where they are all of a step's."""

    mults: tuple[float, float]
    names: tuple[str, ...]
    whole: bool


@record
class _Packed:
    """The parameters of a packed step, updated as flat arrays: ``names`` and ``params`` in
    the order of the gradients; ``grad`` (the size of all of them) takes the gradients (and
    the update, where the optimizer writes it over them); ``flats`` the state kinds' and
    scratch purposes' flat arrays, ``views`` theirs shaped as each parameter (a step count's
    are 0-d views, one number a parameter), the state's views being the optimizer's state."""

    names: tuple[str, ...]
    params: list[np.ndarray]
    grad: np.ndarray
    update_over_grad: bool
    flats: dict[str, np.ndarray]
    views: dict[str, list[np.ndarray]]

    def keep(self, key: str, flat: np.ndarray) -> list[np.ndarray]:
        """``flat`` kept as the flat array of ``key`` (a state kind, or a scratch purpose);
        its views."""
        self.flats[key] = flat
        if key == "step":
            views = [flat[i:i + 1].reshape(()) for i in range(len(self.names))]
        else:
            views = _views(flat, self.params)
        self.views[key] = views
        return views

    def forget(self, key: str) -> None:
        """Drop the flat array of ``key`` (the state no longer is its views)."""
        self.flats.pop(key, None)
        self.views.pop(key, None)


def _new_pack(params, grads, update_over_grad: bool) -> _Packed | None:
    """A :class:`_Packed` of the parameters ``grads`` names, where they share one dtype;
    else None."""
    names = tuple(grads)
    packed = [params[name] for name in names]
    dtype = packed[0].dtype
    if any(param.dtype != dtype for param in packed):
        return None
    grad = np.empty(sum(param.size for param in packed), dtype)
    pack = _Packed(names, packed, grad, update_over_grad, {}, {})
    pack.keep("gradients", grad)
    return pack


class _OneParam:
    """One parameter's state, scratch and step count, as :meth:`Optimizer._direction` reads
    them."""

    __slots__ = ("name", "optimizer", "param")

    def __init__(self, optimizer: Optimizer, name: str, param: np.ndarray) -> None:
        self.optimizer, self.name, self.param = optimizer, name, param

    def state(self, kind: str, fill: float = 0.0) -> np.ndarray:
        """The state array ``kind``, created filled with ``fill``."""
        per_param = self.optimizer.state[kind]
        value = per_param.get(self.name)
        if value is None:
            value = per_param[self.name] = np.full_like(self.param, fill)
        return value

    def get(self, kind: str) -> np.ndarray | None:
        """The state array ``kind``, None where there is none yet."""
        return self.optimizer.state[kind].get(self.name)

    def keep(self, kind: str, value: np.ndarray) -> np.ndarray:
        """A copy of ``value`` kept as the state array ``kind``."""
        kept = self.optimizer.state[kind][self.name] = np.array(value, copy=True)
        return kept

    def scratch(self, purpose: str) -> np.ndarray:
        """A work array shaped like the parameter (:meth:`Optimizer.scratch`)."""
        return self.optimizer.scratch(purpose, self.name, self.param)

    def parameters(self, out: np.ndarray) -> np.ndarray:
        """The parameter's values copied into ``out``."""
        np.copyto(out, self.param)
        return out

    def count(self) -> int:
        """This parameter's step, counted from 1 (a parameter frozen for a while keeps its
        own count, as in PyTorch); the count's 0-d array is made once, then added to."""
        counts = self.optimizer.state["step"]
        count = counts.get(self.name)
        if count is None:
            count = counts[self.name] = np.zeros((), np.int64)
        count += 1
        return int(count)


class _AllParams:
    """:class:`_OneParam`'s reading of a packed step's parameters: flat arrays of all of
    them, whose views are each parameter's state."""

    __slots__ = ("optimizer", "pack")

    def __init__(self, optimizer: Optimizer, pack: _Packed) -> None:
        self.optimizer, self.pack = optimizer, pack

    def state(self, kind: str, fill: float = 0.0) -> np.ndarray:
        flat = self.pack.flats.get(kind)
        return self.keep(kind, np.full_like(self.pack.grad, fill)) if flat is None else flat

    def get(self, kind: str) -> np.ndarray | None:
        return self.pack.flats.get(kind)

    def keep(self, kind: str, value: np.ndarray) -> np.ndarray:
        flat = np.array(value, copy=True)
        self.optimizer.state[kind].update(zip(self.pack.names, self.pack.keep(kind, flat)))
        return flat

    def scratch(self, purpose: str) -> np.ndarray:
        """The flat work array ``purpose``; the gathered gradients for the update where the
        optimizer writes it over them (:meth:`Optimizer.updates_over_gradients`)."""
        if purpose == "update" and self.pack.update_over_grad:
            return self.pack.grad
        flat = self.pack.flats.get(purpose)
        if flat is None:
            flat = np.empty_like(self.pack.grad)
            self.pack.keep(purpose, flat)
        return flat

    def parameters(self, out: np.ndarray) -> np.ndarray:
        return np.concatenate(self.pack.params, axis=None, out=out)

    def count(self) -> int:
        """The parameters' step (one count, as :meth:`Optimizer._state_packed` packs only
        equal ones), each one's added to at once."""
        counts = self.pack.flats.get("step")
        if counts is None:
            counts = np.zeros(len(self.pack.names), np.int64)
            self.optimizer.state["step"].update(zip(self.pack.names,
                                                    self.pack.keep("step", counts)))
        counts += 1
        return int(counts[0])

    def views_of(self, flat: np.ndarray) -> list[np.ndarray]:
        """The views, shaped as each parameter, of one of the pack's flat arrays."""
        return next(self.pack.views[key] for key, kept in self.pack.flats.items()
                    if kept is flat)


def _running_average(avg: np.ndarray, x: np.ndarray, decay: float, work: np.ndarray) -> None:
    """``avg = decay * avg + (1 - decay) * x`` in place; ``work`` is scratch (may be ``x``)."""
    avg *= decay
    np.multiply(x, 1.0 - decay, out=work)
    avg += work


def _gathered(grads: dict[str, np.ndarray], work: np.ndarray) -> bool:
    """Whether ``grads`` were copied one after another into ``work``: where each has
    ``work``'s dtype (a cast would round them before the update, which the step parameter by
    parameter does not)."""
    try:
        np.concatenate(list(grads.values()), axis=None, out=work, casting="no")
    except TypeError:  # NumPy's casting error
        return False
    return True


def _views(flat: np.ndarray, likes: list[np.ndarray]) -> list[np.ndarray]:
    """Consecutive views of ``flat`` shaped as each of ``likes``."""
    bounds = np.cumsum([like.size for like in likes])[:-1]
    return [part.reshape(like.shape) for part, like in zip(np.split(flat, bounds), likes)]


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``
    with dampening 0. For each parameter ``p`` with gradient ``g``::

        g = g + weight_decay * p
        b = g                       (first step)
        b = momentum * b + g        (later steps)
        d = g + momentum * b        (nesterov)   or   d = b   (classical)
                                    or   d = g  (no momentum)
        p = p - lr * d

    The Nesterov form is Sutskever et al. 2013's, rewritten on the current parameters as in
    PyTorch (and Bengio et al. 2013).
    """

    STATE_KINDS = ("momentum_buffer",)
    RULE = update_rules.SGD

    def __init__(self, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        super().__init__(weight_decay)
        assert 0.0 <= momentum < 1.0, momentum
        assert momentum > 0.0 or not nesterov, "Nesterov momentum needs a momentum"
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _direction(self, slot, grad, lr):
        direction = grad
        if self.momentum:
            buf = slot.get("momentum_buffer")
            if buf is None:
                buf = slot.keep("momentum_buffer", grad)
            else:
                buf *= self.momentum
                buf += grad
            direction = buf
            if self.nesterov:
                direction = slot.scratch("update")
                np.multiply(buf, self.momentum, out=direction)
                direction += grad
        step = slot.scratch("update")
        np.multiply(direction, lr, out=step)
        return step


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction, as ``torch.optim.Adam``.
    For each parameter ``p`` with gradient ``g`` at step ``t`` (from 1)::

        g = g + weight_decay * p                  (L2, as PyTorch's Adam; AdamW decouples it)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        v = max(v_max, v)  kept as v_max          (amsgrad, Reddi et al. 2018)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    ``m`` and ``v`` start at zero; ``t`` is counted per parameter, so a parameter that is
    frozen for a while keeps its own bias correction.
    """

    STATE_KINDS = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 amsgrad: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(weight_decay)
        assert 0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0 and eps > 0, (beta1, beta2, eps)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.amsgrad = bool(amsgrad)

    def _direction(self, slot, grad, lr):
        t = slot.count()
        m = slot.state("exp_avg")
        v = slot.state("exp_avg_sq")
        work = slot.scratch("update")

        _running_average(m, grad, self.beta1, work)
        np.multiply(grad, grad, out=work)
        _running_average(v, work, self.beta2, work)
        if self.amsgrad:
            v_max = slot.state("max_exp_avg_sq")
            np.maximum(v_max, v, out=v_max)
            v = v_max

        step_size = lr / (1.0 - self.beta1 ** t)
        np.sqrt(v, out=work)
        work /= math.sqrt(1.0 - self.beta2 ** t)
        work += self.eps
        np.divide(m, work, out=work)
        work *= step_size
        return work


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), as ``torch.optim.AdamW``:
    before Adam's update (without L2), ``p = p * (1 - lr * weight_decay)``. The decay is the
    training's ``weight_decay`` (0 by default, where PyTorch's AdamW defaults to 0.01)."""

    RULE = update_rules.ADAMW


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e; Graves 2013 for the centered form), as
    ``torch.optim.RMSprop``. For each parameter ``p`` with gradient ``g``::

        g = g + weight_decay * p
        s = alpha * s + (1 - alpha) * g^2
        a = alpha * a + (1 - alpha) * g           (centered)
        d = sqrt(s - a^2) + eps   (centered)   or   d = sqrt(s) + eps
        b = momentum * b + g / d,  p = p - lr * b   (momentum > 0)
        p = p - lr * g / d                          (momentum 0)

    ``s``, ``a`` and ``b`` start at zero; eps is added outside the square root, as in PyTorch.
    """

    STATE_KINDS = ("square_avg", "grad_avg", "momentum_buffer")

    def __init__(self, alpha: float = 0.99, eps: float = 1e-8, momentum: float = 0.0,
                 centered: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(weight_decay)
        assert 0.0 <= alpha < 1.0 and eps > 0 and 0.0 <= momentum < 1.0, (alpha, eps, momentum)
        self.alpha, self.eps, self.momentum = float(alpha), float(eps), float(momentum)
        self.centered = bool(centered)

    def _direction(self, slot, grad, lr):
        s = slot.state("square_avg")
        work = slot.scratch("update")
        np.multiply(grad, grad, out=work)
        _running_average(s, work, self.alpha, work)
        if self.centered:
            a = slot.state("grad_avg")
            _running_average(a, grad, self.alpha, work)
            np.multiply(a, a, out=work)
            np.subtract(s, work, out=work)
            np.sqrt(work, out=work)
        else:
            np.sqrt(s, out=work)
        work += self.eps
        np.divide(grad, work, out=work)
        if self.momentum:
            b = slot.state("momentum_buffer")
            b *= self.momentum
            b += work
            np.multiply(b, lr, out=work)
        else:
            work *= lr
        return work


class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011), as ``torch.optim.Adagrad``. For each parameter ``p`` with
    gradient ``g`` at step ``t`` (from 1)::

        g = g + weight_decay * p
        s = s + g^2                               (s starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)
    """

    STATE_KINDS = ("step", "sum")

    def __init__(self, lr_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, weight_decay: float = 0.0) -> None:
        super().__init__(weight_decay)
        assert lr_decay >= 0 and initial_accumulator_value >= 0 and eps > 0, (
            lr_decay, initial_accumulator_value, eps)
        self.lr_decay, self.eps = float(lr_decay), float(eps)
        self.initial_accumulator_value = float(initial_accumulator_value)

    def _direction(self, slot, grad, lr):
        t = slot.count()
        s = slot.state("sum", self.initial_accumulator_value)
        work = slot.scratch("update")
        np.multiply(grad, grad, out=work)
        s += work
        np.sqrt(s, out=work)
        work += self.eps
        np.divide(grad, work, out=work)
        work *= lr / (1.0 + (t - 1) * self.lr_decay)
        return work


# The optimizers the IR names (cnnspec/ir/training_catalogue.py declares them, with their
# arguments: the keyword arguments of these constructors).
OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "adamw": AdamW,
                                          "rmsprop": RMSprop, "adagrad": Adagrad}


def make_optimizer(cfg: dict, weight_decay: float = 0.0, lr_mult: dict | None = None,
                   decay_mult: dict | None = None) -> Optimizer:
    """The optimizer an IR ``training.optimizer`` object names, every argument written out (the
    IR is resolved: ``{"name": "sgd", "momentum": 0.9, "nesterov": false}``); ``lr_mult`` and
    ``decay_mult`` scale the learning rate and the weight decay of the parameters they name,
    as PyTorch's parameter groups with their own ``lr`` and ``weight_decay`` do."""
    name = cfg.get("name")
    assert name in OPTIMIZERS, f"unknown optimizer {name!r}"  # the checker knows only these
    cls = OPTIMIZERS[name]
    args = {key: value for key, value in cfg.items() if key != "name"}
    expected = set(inspect.signature(cls).parameters) - {"weight_decay"}
    assert set(args) == expected, f"{name} takes {sorted(expected)}, got {sorted(args)}"
    optimizer = cls(**args, weight_decay=weight_decay)
    optimizer.lr_mult = dict(lr_mult or {})
    optimizer.decay_mult = dict(decay_mult or {})
    return optimizer


def clip_gradients(grads: dict[str, np.ndarray], clip_norm: float = 0.0,
                   clip_value: float = 0.0) -> dict[str, np.ndarray]:
    """The gradients an optimizer step should use, clipped: by their global norm, then by
    value; 0 turns either off. ``grads`` is not written to: a clipped gradient is a new array.

    - ``clip_norm``: as ``torch.nn.utils.clip_grad_norm_``: with ``n`` the L2 norm of all the
      gradients together, each is multiplied by ``clip_norm / (n + 1e-6)`` when that is below 1.
    - ``clip_value``: as ``torch.nn.utils.clip_grad_value_``: each element is clipped to
      ``[-clip_value, clip_value]``.
    """
    assert clip_norm >= 0 and clip_value >= 0, (clip_norm, clip_value)  # the checker's job
    out = dict(grads)
    if clip_norm:
        norm = math.sqrt(sum(float(np.vdot(g.ravel(), g.ravel())) for g in out.values()))
        scale = clip_norm / (norm + 1e-6)
        if scale < 1.0:
            out = {name: g * scale for name, g in out.items()}
    if clip_value:
        out = {name: np.clip(g, -clip_value, clip_value) for name, g in out.items()}
    return out
