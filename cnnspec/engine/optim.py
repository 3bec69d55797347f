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
decays the parameters themselves instead (:attr:`Optimizer.DECOUPLED`). A parameter's
``decay_mult`` (0 spares it, as a PyTorch parameter group with ``weight_decay=0``) and
``lr_mult`` scale the decay and the learning rate it gets.

Every update is done with in-place ufuncs into preallocated scratch arrays of the
parameter's dtype: Python-float coefficients keep float32 arithmetic in float32 (NumPy 2's
scalar promotion), and a step allocates nothing after the first.

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

from cnnspec.errors import RunError
from cnnspec.records import record


class Optimizer:
    """The shared part: weight decay, scratch arrays and the state dict."""

    STATE_KINDS: tuple[str, ...] = ()
    # True when weight decay shrinks the parameters before the update (AdamW) instead of being
    # added to the gradient.
    DECOUPLED = False

    def __init__(self, weight_decay: float = 0.0) -> None:
        assert weight_decay >= 0, weight_decay  # the checker validates the settings
        self.weight_decay = float(weight_decay)
        # Per-parameter multipliers of the learning rate and of the weight decay (Caffe's
        # lr_mult and decay_mult); a parameter not named has 1 for both.
        self.lr_mult: dict[str, float] = {}
        self.decay_mult: dict[str, float] = {}
        self.state: dict[str, dict[str, np.ndarray]] = {kind: {} for kind in self.STATE_KINDS}
        self._scratch: dict[tuple[str, str], np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
             lr: float) -> None:
        """Update every parameter named in ``grads`` in place, with learning rate ``lr``."""
        # looked up once, not per parameter: a deep thin net has thousands of small ones
        lr, lr_mult, decay_mult = float(lr), self.lr_mult, self.decay_mult
        weight_decay, update = self.weight_decay, self._update
        for name, grad in grads.items():
            param = params[name]
            lr_here = lr * lr_mult.get(name, 1.0)
            decay = weight_decay * decay_mult.get(name, 1.0)
            if self.DECOUPLED:
                if decay:
                    param *= 1.0 - lr_here * decay
            elif decay:
                grad = self._decayed(name, param, grad, decay)
            update(name, param, grad, lr_here)

    def _decayed(self, name: str, param: np.ndarray, grad: np.ndarray,
                 decay: float) -> np.ndarray:
        """``grad + decay * param``, in a scratch array (``decay`` is not 0)."""
        out = self.scratch("decayed", name, param)
        np.multiply(param, decay, out=out)
        out += grad
        return out

    def scratch(self, purpose: str, name: str, like: np.ndarray) -> np.ndarray:
        """A work array shaped like ``like``, allocated once per parameter and purpose."""
        key = (purpose, name)
        buf = self._scratch.get(key)
        if buf is None or buf.shape != like.shape or buf.dtype != like.dtype:
            buf = self._scratch[key] = np.empty_like(like)
        return buf

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray, lr: float) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Plain arrays, ``<kind>.<param name>``; copies, so later steps do not change them."""
        return {f"{kind}.{name}": np.array(value, copy=True)
                for kind, per_param in self.state.items() for name, value in per_param.items()}

    def _step_count(self, name: str) -> int:
        """This parameter's step, counted from 1 (a parameter frozen for a while keeps its
        own count, as in PyTorch)."""
        t = int(self.state["step"].get(name, 0)) + 1
        self.state["step"][name] = np.array(t, dtype=np.int64)
        return t

    def _zeros(self, kind: str, name: str, like: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """The state array ``kind`` of parameter ``name``, created filled with ``fill``."""
        value = self.state[kind].get(name)
        if value is None:
            value = self.state[kind][name] = np.full_like(like, fill)
        return value

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


def _running_average(avg: np.ndarray, x: np.ndarray, decay: float, work: np.ndarray) -> None:
    """``avg = decay * avg + (1 - decay) * x`` in place; ``work`` is scratch (may be ``x``)."""
    avg *= decay
    np.multiply(x, 1.0 - decay, out=work)
    avg += work


@record
class _Packed:
    """The parameters of one :class:`SGD` step, updated as one flat array: ``names`` and
    ``params`` in the order of the gradients; ``work`` (the size of all of them) takes the
    gradients, then the step, ``steps`` its views shaped as each parameter; ``decayed`` the
    weight decay's flat copy of the parameters (None until there is a decay); ``buffer`` the
    flat momentum buffer, ``buffers`` its views, which are the momentum buffers of the
    optimizer's state (None until the first momentum step)."""

    names: tuple[str, ...]
    params: list[np.ndarray]
    work: np.ndarray
    steps: list[np.ndarray]
    decayed: np.ndarray | None = None
    buffer: np.ndarray | None = None
    buffers: list[np.ndarray] | None = None


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

    def __init__(self, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        super().__init__(weight_decay)
        assert 0.0 <= momentum < 1.0, momentum
        assert momentum > 0.0 or not nesterov, "Nesterov momentum needs a momentum"
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self._packed: _Packed | None = None  # the last step's parameters, packed

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
             lr: float) -> None:
        """:meth:`Optimizer.step`; without Nesterov momentum and without per-parameter
        multipliers, as one update of all the parameters packed into one flat array
        (:meth:`_packed_step`), the same bits."""
        pack = self._pack(params, grads)
        if pack is None or not _gathered(grads, pack.work):
            super().step(params, grads, lr)
        else:
            self._packed_step(pack, float(lr))

    def _pack(self, params, grads) -> _Packed | None:
        """The :class:`_Packed` for a step with ``grads``, kept from the last step where it
        still fits; None where the step is taken parameter by parameter."""
        if self.nesterov or self.lr_mult or self.decay_mult or not grads:
            return None
        pack = self._packed
        if pack is None or pack.names != tuple(grads) or not all(
                map(operator.is_, map(params.get, pack.names), pack.params)):
            pack = self._new_pack(params, grads)
        if pack is not None and self.momentum and not self._buffers_packed(pack):
            return None
        self._packed = pack
        return pack

    @staticmethod
    def _new_pack(params, grads) -> _Packed | None:
        """A :class:`_Packed` of the parameters ``grads`` names, where they share one dtype;
        else None."""
        names = tuple(grads)
        packed = [params[name] for name in names]
        dtype = packed[0].dtype
        if any(param.dtype != dtype for param in packed):
            return None
        work = np.empty(sum(param.size for param in packed), dtype)
        return _Packed(names, packed, work, _views(work, packed))

    def _buffers_packed(self, pack: _Packed) -> bool:
        """Whether the momentum buffers of ``pack`` are views of its flat buffer, packing
        them there where the state holds them elsewhere (a first step, or state loaded from a
        checkpoint); False where only some parameters have one (their step is then taken
        parameter by parameter, which makes the rest)."""
        state = self.state["momentum_buffer"]
        held = list(map(state.get, pack.names))
        if pack.buffers is not None and all(map(operator.is_, held, pack.buffers)):
            return True
        if all(buf is None for buf in held):  # the first step packs them (_packed_step)
            pack.buffer = pack.buffers = None
            return True
        if any(buf is None or buf.shape != param.shape or buf.dtype != param.dtype
               for buf, param in zip(held, pack.params)):
            return False
        pack.buffer = np.concatenate(held, axis=None)
        pack.buffers = _views(pack.buffer, pack.params)
        state.update(zip(pack.names, pack.buffers))
        return True

    def _packed_step(self, pack: _Packed, lr: float) -> None:
        """The update of :meth:`_update` from the gradients gathered in ``pack.work``, each
        operation once over the flat arrays of ``pack`` where it was once a parameter (a
        1,000-layer net of 8-channel layers has 2,000 parameters of 8 to 576 values): the same
        operations on the same values, so the same bits; then each parameter less its view of
        the step."""
        direction = pack.work
        if self.weight_decay:
            if pack.decayed is None:
                pack.decayed = np.empty_like(pack.work)
            decayed = np.concatenate(pack.params, axis=None, out=pack.decayed)
            decayed *= self.weight_decay  # grad + decay * param, as _decayed
            direction = np.add(decayed, direction, out=decayed)
        if self.momentum:
            if pack.buffer is None:
                pack.buffer = direction.copy()
                pack.buffers = _views(pack.buffer, pack.params)
                self.state["momentum_buffer"].update(zip(pack.names, pack.buffers))
            else:
                pack.buffer *= self.momentum
                pack.buffer += direction
            direction = pack.buffer
        np.multiply(direction, lr, out=pack.work)
        for param, step in zip(pack.params, pack.steps):
            param -= step

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray, lr: float) -> None:
        direction = grad
        if self.momentum:
            buffers = self.state["momentum_buffer"]
            buf = buffers.get(name)
            if buf is None:
                buf = buffers[name] = np.array(grad, copy=True)
            else:
                buf *= self.momentum
                buf += grad
            direction = buf
            if self.nesterov:
                direction = self.scratch("update", name, param)
                np.multiply(buf, self.momentum, out=direction)
                direction += grad
        step = self.scratch("update", name, param)
        np.multiply(direction, lr, out=step)
        param -= step


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

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray, lr: float) -> None:
        t = self._step_count(name)
        m = self._zeros("exp_avg", name, param)
        v = self._zeros("exp_avg_sq", name, param)
        work = self.scratch("update", name, param)

        _running_average(m, grad, self.beta1, work)
        np.multiply(grad, grad, out=work)
        _running_average(v, work, self.beta2, work)
        if self.amsgrad:
            v_max = self._zeros("max_exp_avg_sq", name, param)
            np.maximum(v_max, v, out=v_max)
            v = v_max

        step_size = lr / (1.0 - self.beta1 ** t)
        np.sqrt(v, out=work)
        work /= math.sqrt(1.0 - self.beta2 ** t)
        work += self.eps
        np.divide(m, work, out=work)
        work *= step_size
        param -= work


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), as ``torch.optim.AdamW``:
    before Adam's update (without L2), ``p = p * (1 - lr * weight_decay)``. The decay is the
    training's ``weight_decay`` (0 by default, where PyTorch's AdamW defaults to 0.01)."""

    DECOUPLED = True


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

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray, lr: float) -> None:
        s = self._zeros("square_avg", name, param)
        work = self.scratch("update", name, param)
        np.multiply(grad, grad, out=work)
        _running_average(s, work, self.alpha, work)
        if self.centered:
            a = self._zeros("grad_avg", name, param)
            _running_average(a, grad, self.alpha, work)
            np.multiply(a, a, out=work)
            np.subtract(s, work, out=work)
            np.sqrt(work, out=work)
        else:
            np.sqrt(s, out=work)
        work += self.eps
        np.divide(grad, work, out=work)
        if self.momentum:
            b = self._zeros("momentum_buffer", name, param)
            b *= self.momentum
            b += work
            np.multiply(b, lr, out=work)
        else:
            work *= lr
        param -= work


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

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray, lr: float) -> None:
        t = self._step_count(name)
        s = self._zeros("sum", name, param, self.initial_accumulator_value)
        work = self.scratch("update", name, param)
        np.multiply(grad, grad, out=work)
        s += work
        np.sqrt(s, out=work)
        work += self.eps
        np.divide(grad, work, out=work)
        work *= lr / (1.0 + (t - 1) * self.lr_decay)
        param -= work


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
