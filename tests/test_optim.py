"""Optimizers, learning-rate schedules and gradient clipping, against their update rules written out
by hand and against torch.optim where PyTorch is installed."""
from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from cnnspec.engine.optim import SGD, Adam, clip_gradients, make_optimizer
from cnnspec.engine.schedules import Clock, lr_at
from cnnspec.errors import RunError, SpecErrors

ADAM = {"name": "adam", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "amsgrad": False}
RMSPROP = {"name": "rmsprop", "alpha": 0.9, "eps": 1e-8, "momentum": 0.5, "centered": True}
ADAGRAD = {"name": "adagrad", "lr_decay": 0.01, "initial_accumulator_value": 0.1, "eps": 1e-10}
SHAPES = {"conv1.weight": (4, 3, 3, 3), "conv1.bias": (4,), "fc.weight": (5, 36)}
LRS = [0.1, 0.05, 0.05, 0.02, 0.01]


def problem(dtype=np.float64, seed=0):
    """Initial parameters and one gradient dict per step (gradients change from step to step)."""
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}
    grads = [{k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()} for _ in LRS]
    return params, grads


def run(opt, params, grads, lrs=LRS):
    params = {k: v.copy() for k, v in params.items()}
    for g, lr in zip(grads, lrs):
        opt.step(params, g, lr)
    return params


# ---------------------------------------------------------------- the rules written out

def sgd_by_hand(p, gs, lrs, momentum, nesterov, wd):
    b = None
    for g, lr in zip(gs, lrs):
        g = g + wd * p
        if momentum:
            b = g if b is None else momentum * b + g
            d = g + momentum * b if nesterov else b
        else:
            d = g
        p = p - lr * d
    return p


def adam_by_hand(p, gs, lrs, b1, b2, eps, wd):
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, (g, lr) in enumerate(zip(gs, lrs), start=1):
        g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


SGD_CASES = [(0.0, False, 0.0), (0.9, False, 0.0), (0.9, True, 0.0), (0.5, False, 0.01),
             (0.9, True, 0.001)]
ADAM_CASES = [(0.9, 0.999, 1e-8, 0.0), (0.8, 0.99, 1e-3, 0.01)]


@pytest.mark.parametrize("momentum, nesterov, wd", SGD_CASES)
def test_sgd_follows_the_rule(momentum, nesterov, wd):
    params, grads = problem()
    out = run(SGD(momentum, nesterov, wd), params, grads)
    for k in SHAPES:
        expected = sgd_by_hand(params[k], [g[k] for g in grads], LRS, momentum, nesterov, wd)
        np.testing.assert_allclose(out[k], expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("b1, b2, eps, wd", ADAM_CASES)
def test_adam_follows_the_rule(b1, b2, eps, wd):
    params, grads = problem()
    out = run(Adam(b1, b2, eps, weight_decay=wd), params, grads)
    for k in SHAPES:
        expected = adam_by_hand(params[k], [g[k] for g in grads], LRS, b1, b2, eps, wd)
        np.testing.assert_allclose(out[k], expected, rtol=1e-12, atol=1e-14)


def test_first_sgd_step_moves_by_lr_times_gradient():
    p = {"w": np.array([1.0, -2.0])}
    SGD(momentum=0.9).step(p, {"w": np.array([0.5, 0.25])}, lr=0.1)
    np.testing.assert_allclose(p["w"], [0.95, -2.025], rtol=1e-15)


def test_first_adam_step_moves_by_lr_times_sign():
    # m_hat = g and v_hat = g^2 after one step, so the step is lr * g / (|g| + eps).
    p = {"w": np.array([1.0, -2.0, 0.0])}
    Adam(eps=1e-12).step(p, {"w": np.array([3.0, -0.001, 0.5])}, lr=0.01)
    np.testing.assert_allclose(p["w"], [0.99, -1.99, -0.01], rtol=1e-9)


# ---------------------------------------------------------------- behaviour

@pytest.mark.parametrize("cfg", [{"name": "sgd", "momentum": 0.9, "nesterov": True},
                                 {"name": "sgd", "momentum": 0.9, "nesterov": False},
                                 ADAM, {**ADAM, "amsgrad": True},
                                 {**ADAM, "name": "adamw"}, RMSPROP, ADAGRAD])
def test_float32_stays_float32_and_frozen_params_and_grads_are_untouched(cfg):
    params, grads = problem(np.float32)
    frozen = params["conv1.bias"].copy()
    grads = [{k: v for k, v in g.items() if k != "conv1.bias"} for g in grads]
    grads_before = [{k: v.copy() for k, v in g.items()} for g in grads]
    opt = make_optimizer(cfg, weight_decay=0.01)
    live = {k: v.copy() for k, v in params.items()}
    ids = {k: id(v) for k, v in live.items()}
    for g, lr in zip(grads, LRS):
        opt.step(live, g, lr)
    assert {k: id(v) for k, v in live.items()} == ids  # updated in place
    assert all(v.dtype == np.float32 for v in live.values())
    assert all(v.dtype == np.float32 for v in opt.state_dict().values() if v.ndim)
    np.testing.assert_array_equal(live["conv1.bias"], frozen)
    for g, before in zip(grads, grads_before):
        for k in g:
            np.testing.assert_array_equal(g[k], before[k])
    assert not np.array_equal(live["fc.weight"], params["fc.weight"])


@pytest.mark.parametrize("cfg", [{"name": "sgd", "momentum": 0.9, "nesterov": False},
                                 {"name": "sgd", "momentum": 0.0, "nesterov": False},
                                 ADAM, {**ADAM, "amsgrad": True},
                                 {**ADAM, "name": "adamw"}, RMSPROP, ADAGRAD])
def test_resume_from_state_dict_is_bitwise_identical(cfg):
    params, grads = problem(np.float32)
    straight = run(make_optimizer(cfg, 1e-3), params, grads)

    first = make_optimizer(cfg, 1e-3)
    half = run(first, params, grads[:2], LRS[:2])
    file = io.BytesIO()
    np.savez(file, **first.state_dict())
    file.seek(0)
    with np.load(file, allow_pickle=False) as saved:
        state = {k: saved[k] for k in saved.files}
    second = make_optimizer(cfg, 1e-3)
    second.load_state_dict(state)
    resumed = run(second, half, grads[2:], LRS[2:])
    for k in SHAPES:
        assert resumed[k].tobytes() == straight[k].tobytes()


PACKED_CASES = [({"name": "sgd", "momentum": 0.0, "nesterov": False}, 0.0),
                ({"name": "sgd", "momentum": 0.9, "nesterov": False}, 0.0),
                ({"name": "sgd", "momentum": 0.5, "nesterov": False}, 0.01),
                ({"name": "sgd", "momentum": 0.9, "nesterov": True}, 0.01),
                (ADAM, 0.0), ({**ADAM, "amsgrad": True}, 0.01), ({**ADAM, "name": "adamw"}, 0.01),
                (RMSPROP, 0.01), ({**RMSPROP, "momentum": 0.0, "centered": False}, 0.0),
                (ADAGRAD, 0.01)]


def _steps_both_ways(cfg, wd, dtype, grads_of_step, resume_at=None):
    """An optimizer's packed steps (Optimizer.step) and its steps parameter by parameter
    (Optimizer._step_each) from the same start; the packed optimizer is rebuilt from its state
    dict before step ``resume_at``. Returns both parameter dicts and both state dicts, and
    the pack of the last packed step of the parameters of no multipliers."""
    params, _ = problem(dtype)
    packed, plain = make_optimizer(cfg, wd), make_optimizer(cfg, wd)
    by_pack, by_param = ({k: v.copy() for k, v in params.items()} for _ in range(2))
    for i, lr in enumerate(LRS):
        if i == resume_at:
            state = {k: v.copy() for k, v in packed.state_dict().items()}
            packed = make_optimizer(cfg, wd)
            packed.load_state_dict(state)
        grads = grads_of_step(i)
        packed.step(by_pack, grads, lr)
        plain._step_each(by_param, grads, lr)
    return (by_pack, by_param, packed.state_dict(), plain.state_dict(),
            packed._packs.get((1.0, 1.0)))


def _same_bits(mine: dict, theirs: dict) -> bool:
    return mine.keys() == theirs.keys() and all(
        mine[k].dtype == theirs[k].dtype and mine[k].tobytes() == theirs[k].tobytes()
        for k in mine)


@pytest.mark.parametrize("cfg, wd", PACKED_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("resume_at", [None, 2])
def test_packed_steps_are_the_steps_parameter_by_parameter(cfg, wd, dtype, resume_at):
    _, grads = problem(dtype, seed=1)
    by_pack, by_param, state, plain_state, pack = _steps_both_ways(
        cfg, wd, dtype, grads.__getitem__, resume_at)
    assert pack is not None  # the steps were packed
    assert _same_bits(by_pack, by_param)
    assert _same_bits(state, plain_state)


@pytest.mark.parametrize("cfg, wd", PACKED_CASES)
def test_steps_pack_again_when_the_trained_parameters_change(cfg, wd):
    """A parameter held for some steps (no gradient, no state) and one whose gradient comes
    in another dtype: those steps go parameter by parameter, the rest packed, the same bits
    (with step counts, a parameter held for a while keeps its own: those steps stay
    parameter by parameter)."""
    _, grads = problem(np.float32, seed=2)

    def grads_of_step(i):
        step = dict(grads[i])
        if i < 2:
            del step["conv1.bias"]  # its state starts at step 2, after the others'
        if i == 3:
            step["fc.weight"] = step["fc.weight"].astype(np.float64)
        return step

    by_pack, by_param, state, plain_state, pack = _steps_both_ways(cfg, wd, np.float32,
                                                                   grads_of_step)
    counted = "step" in make_optimizer(cfg).STATE_KINDS  # conv1.bias is two steps behind
    packed_last = ("conv1.weight", "fc.weight") if counted else tuple(SHAPES)
    assert pack is not None and pack.names == packed_last
    assert _same_bits(by_pack, by_param)
    assert _same_bits(state, plain_state)


@pytest.mark.parametrize("cfg, wd", PACKED_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parameters_of_equal_multipliers_step_packed_together(cfg, wd, dtype):
    """Per-parameter multipliers (a training's biases get no decay; Caffe's lr_mult 2 for
    them) group the parameters as PyTorch's parameter groups: each group packed, with the
    same bits as parameter by parameter."""
    params, grads = problem(dtype, seed=4)
    mults = {"lr_mult": {"conv1.bias": 2.0}, "decay_mult": {"conv1.bias": 0.0}}
    packed, plain = make_optimizer(cfg, wd, **mults), make_optimizer(cfg, wd, **mults)
    by_pack, by_param = ({k: v.copy() for k, v in params.items()} for _ in range(2))
    for i, lr in enumerate(LRS):
        packed.step(by_pack, grads[i], lr)
        plain._step_each(by_param, grads[i], lr)
    assert {pack.names for pack in packed._packs.values()} == {
        ("conv1.weight", "fc.weight"), ("conv1.bias",)}
    assert _same_bits(by_pack, by_param)
    assert _same_bits(packed.state_dict(), plain.state_dict())


@pytest.mark.parametrize("decay_bias, groups", [
    ("true", [("c.weight", "c.bias", "fc.weight", "fc.bias")]),
    ("false", [("c.bias", "fc.bias"), ("c.weight", "fc.weight")])])
def test_a_training_packs_its_steps_whatever_multipliers_it_names(decay_bias, groups):
    """A run's optimizer (training_optimizer) names every parameter's multipliers, 1 where
    the spec sets none, the biases' decay 0 with ``decay_bias false``; its steps are packed,
    a group for each pair of multipliers."""
    from cnnspec.check import check
    from cnnspec.compiler import compile_spec
    from cnnspec.lang import parse
    from cnnspec.training.mults import training_optimizer

    text = ("input 1x8x8\nc: conv 3 3x3 relu\nflatten\nfc: dense 10\n"
            f"train {{\n  optimizer adam\n  weight_decay 0.01\n  decay_bias {decay_bias}\n}}\n")
    model = compile_spec(check(parse(text)), seed=0)
    optimizer = training_optimizer(model.checked.ir["training"], model)
    params = model.params()
    optimizer.step(params, {name: np.ones_like(value) for name, value in params.items()}, 0.1)
    assert sorted(pack.names for pack in optimizer._packs.values()) == groups


@pytest.mark.parametrize("cfg", [ADAM, ADAGRAD])
def test_a_step_count_taken_alone_since_the_last_packed_step_is_seen(cfg):
    """conv1.weight and conv1.bias step packed; then conv1.weight beside fc.weight, which has
    no state yet (that step goes parameter by parameter, counting conv1.weight alone); then
    the first two again: their counts differ, so not one count for both."""
    _, grads = problem(np.float32, seed=3)
    names = [("conv1.weight", "conv1.bias"), ("conv1.weight", "fc.weight"),
             ("conv1.weight", "conv1.bias"), tuple(SHAPES), tuple(SHAPES)]
    by_pack, by_param, state, plain_state, _ = _steps_both_ways(
        cfg, 0.0, np.float32, lambda i: {k: grads[i][k] for k in names[i]})
    assert _same_bits(by_pack, by_param)
    assert _same_bits(state, plain_state)
    assert int(state["step.conv1.weight"]) == 5 and int(state["step.conv1.bias"]) == 4


def test_a_packed_step_count_is_one_array_added_to_in_place():
    """Adam's step counts are 0-d views of one array: a step adds to it and makes none."""
    params, grads = problem(np.float32)
    opt = Adam()
    opt.step(params, grads[0], 0.1)
    counts = dict(opt.state["step"])
    opt.step(params, grads[1], 0.1)
    assert all(opt.state["step"][k] is counts[k] for k in SHAPES)
    assert {int(v) for v in opt.state["step"].values()} == {2}
    assert opt.state_dict()["step.fc.weight"].shape == ()


def test_sgd_takes_a_gradient_of_another_dtype_unrounded():
    """A float64 gradient of a float32 parameter is multiplied by the learning rate in float64
    and rounded once, as parameter by parameter: 1 + 2**-24 + 2**-30 rounded to float32 first
    would give a step of 1.5 + 2**-22, not 1.5 + 2**-23."""
    grad = np.array([1 + 2.0 ** -24 + 2.0 ** -30])
    params = {"w": np.zeros(1, np.float32), "b": np.zeros(1, np.float32)}
    SGD().step(params, {"w": grad, "b": np.ones(1, np.float32)}, lr=1.5)
    assert params["w"][0] == -np.float32(1.5 + 2.0 ** -23)


def test_state_dict_is_a_copy_and_names_its_parts():
    params, grads = problem()
    opt = Adam()
    opt.step(params, grads[0], 0.1)
    state = opt.state_dict()
    assert set(state) == {f"{kind}.{k}" for kind in ("step", "exp_avg", "exp_avg_sq")
                          for k in SHAPES}
    assert int(state["step.fc.weight"]) == 1
    before = state["exp_avg.fc.weight"].copy()
    opt.step(params, grads[1], 0.1)
    np.testing.assert_array_equal(state["exp_avg.fc.weight"], before)


def test_loading_another_optimizers_state_is_a_run_error():
    params, grads = problem()
    adam = Adam()
    adam.step(params, grads[0], 0.1)
    with pytest.raises(RunError) as err:
        SGD(0.9).load_state_dict(adam.state_dict())
    assert err.value.hint


@pytest.mark.parametrize("cfg, wd, where", [
    ({"name": "lamb"}, 0.0, "optimizer.name"),
    ({"name": "rmsprop", "alpha": 1.0, "eps": 1e-8, "momentum": 0.0, "centered": False}, 0.0,
     "optimizer.alpha"),
    ({"name": "adagrad", "lr_decay": -0.1, "initial_accumulator_value": 0.0, "eps": 1e-10}, 0.0,
     "optimizer.lr_decay"),
    ({"name": "sgd", "momentum": 0.0, "nesterov": True}, 0.0, "optimizer.nesterov"),
    ({"name": "sgd", "momentum": 1.5, "nesterov": False}, 0.0, "optimizer.momentum"),
    ({**ADAM, "beta2": 1.0}, 0.0, "optimizer.beta2"),
    ({**ADAM, "eps": 0.0}, 0.0, "optimizer.eps"),
    ({"name": "sgd", "momentum": 0.9, "nesterov": False}, -1.0, "weight_decay"),
])
def test_bad_optimizer_settings_are_check_errors_and_engine_assertions(cfg, wd, where, tmp_path):
    """The checker reports them at their JSON path; the engine, given them anyway, asserts."""
    import cnnspec
    from cnnspec.lang import parse

    ir = parse("input 1x8x8\nflatten\ndense 10\n").ir
    ir["training"].update(optimizer=cfg, weight_decay=wd)
    path = tmp_path / "net.json"
    path.write_text(json.dumps(ir))
    with pytest.raises(SpecErrors) as err:
        cnnspec.load(path)
    assert [e.json_path for e in err.value.errors] == [f"$.training.{where}"]
    assert err.value.errors[0].hint
    with pytest.raises(AssertionError):
        make_optimizer(cfg, wd)


# ---------------------------------------------------------------- against torch.optim

TORCH_CASES = [({"name": "sgd", "momentum": m, "nesterov": n}, wd) for m, n, wd in SGD_CASES] + \
              [({**ADAM, "beta1": b1, "beta2": b2, "eps": e}, wd)
               for b1, b2, e, wd in ADAM_CASES] + [
    ({**ADAM, "amsgrad": True}, 0.0),
    ({**ADAM, "beta1": 0.8, "eps": 1e-3, "amsgrad": True}, 0.01),
    ({**ADAM, "name": "adamw"}, 0.0),
    ({**ADAM, "name": "adamw"}, 0.05),
    ({**ADAM, "name": "adamw", "amsgrad": True}, 0.05),
    ({**RMSPROP, "alpha": 0.99, "momentum": 0.0, "centered": False}, 0.0),
    ({**RMSPROP, "momentum": 0.9, "centered": False}, 0.01),
    ({**RMSPROP, "momentum": 0.0, "centered": True}, 0.0),
    (RMSPROP, 0.01),
    ({**ADAGRAD, "lr_decay": 0.0, "initial_accumulator_value": 0.0}, 0.0),
    (ADAGRAD, 0.01),
]


def torch_optimizer(torch, cfg, params, lr, wd):
    """The torch.optim optimizer an IR optimizer object names."""
    args = {k: v for k, v in cfg.items() if k != "name"}
    if cfg["name"] in ("adam", "adamw"):
        args["betas"] = (args.pop("beta1"), args.pop("beta2"))
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}[cfg["name"]]
    return cls(params, lr=lr, weight_decay=wd, **args)


@pytest.mark.parametrize("cfg, wd", TORCH_CASES)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_matches_torch_optim(cfg, wd, dtype, rtol):
    torch = pytest.importorskip("torch")
    params, grads = problem(dtype)
    ours = run(make_optimizer(cfg, wd), params, grads)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = torch_optimizer(torch, cfg, tensors.values(), LRS[0], wd)
    for g, lr in zip(grads, LRS):
        for k, t in tensors.items():
            t.grad = torch.tensor(g[k])
        opt.param_groups[0]["lr"] = lr
        opt.step()
    for k, t in tensors.items():
        np.testing.assert_allclose(ours[k], t.detach().numpy(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("cfg", [{"name": "sgd", "momentum": 0.9, "nesterov": False},
                                 {**ADAM, "name": "adamw"}, RMSPROP])
def test_parameters_spared_from_decay_match_a_torch_group_without_it(cfg):
    """A decay_mult of 0 (what ``decay_bias false`` gives a bias, training/mults.py) is a
    PyTorch parameter group with weight_decay 0."""
    torch = pytest.importorskip("torch")
    params, grads = problem()
    spared = ["conv1.bias"]
    ours = run(make_optimizer(cfg, 0.05, decay_mult={k: 0.0 for k in spared}), params, grads)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = torch_optimizer(torch, cfg, [
        {"params": [t for k, t in tensors.items() if k not in spared]},
        {"params": [tensors[k] for k in spared], "weight_decay": 0.0}], LRS[0], 0.05)
    for g, lr in zip(grads, LRS):
        for k, t in tensors.items():
            t.grad = torch.tensor(g[k])
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
    for k, t in tensors.items():
        np.testing.assert_allclose(ours[k], t.detach().numpy(), rtol=1e-12, atol=1e-12)
    decayed = run(make_optimizer(cfg, 0.05), params, grads)
    assert not np.allclose(decayed["conv1.bias"], ours["conv1.bias"])
    np.testing.assert_array_equal(decayed["fc.weight"], ours["fc.weight"])


# ---------------------------------------------------------------- schedules

def clock(epoch, epochs=10, batch=0, batches=1, val_losses=()):
    return Clock(epoch, epochs, batch, batches, tuple(val_losses))


def test_schedules_by_hand():
    assert lr_at({"name": "constant"}, 0.1, clock(7)) == 0.1
    step = {"name": "step", "step_size": 3, "gamma": 0.5}
    assert [lr_at(step, 0.8, clock(e)) for e in range(7)] == [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2]
    cosine = {"name": "cosine", "min_lr": 0.01}
    assert lr_at(cosine, 0.1, clock(0, 4)) == pytest.approx(0.1)
    assert lr_at(cosine, 0.1, clock(2, 4)) == pytest.approx(0.055)
    assert lr_at(cosine, 0.1, clock(3, 4)) == pytest.approx(
        0.01 + 0.09 * (1 + math.cos(0.75 * math.pi)) / 2)
    multistep = {"name": "multistep", "milestones": [2, 5], "gamma": 0.1}
    assert [lr_at(multistep, 1.0, clock(e)) for e in range(7)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.1, 0.01, 0.01])
    # Caffe's MNIST LeNet solver: lr 0.01, inv gamma 1e-4 power 0.75; iteration 10000 is the
    # 10001st step: epoch 100 of 100-step epochs.
    inv = {"name": "inv", "gamma": 1e-4, "power": 0.75}
    assert lr_at(inv, 0.01, clock(100, 200, 0, 100)) == pytest.approx(0.01 * 2 ** -0.75)
    poly = {"name": "poly", "power": 2.0}
    assert lr_at(poly, 0.1, clock(1, 2, 1, 4)) == pytest.approx(0.1 * (1 - 5 / 8) ** 2)


def test_warmup_rises_step_by_step_then_hands_over_to_the_schedule():
    step = {"name": "step", "step_size": 1, "gamma": 0.5}
    lrs = [lr_at(step, 1.0, clock(e, 4, b, 3), warmup=2) for e in range(4) for b in range(3)]
    assert lrs == pytest.approx([1 / 6, 2 / 6, 3 / 6, 0.5 * 4 / 6, 0.5 * 5 / 6, 0.5,
                                 0.25, 0.25, 0.25, 0.125, 0.125, 0.125])


def test_plateau_replays_the_validation_losses():
    plateau = {"name": "plateau", "factor": 0.5, "patience": 1, "threshold": 0.0,
               "cooldown": 1, "min_lr": 0.2}
    losses = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95]
    lrs = [lr_at(plateau, 1.0, clock(e, 9, val_losses=losses)) for e in range(9)]
    # bad epochs 2 and 3 (> patience 1): halve after epoch index 3; cooldown 1 skips epoch 4;
    # epochs 5 and 6 bad: halve again; then min_lr 0.2 stops at 0.25 -> 0.2.
    assert lrs == pytest.approx([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])


def test_unknown_schedule_is_an_engine_assertion():  # the schema knows the schedules
    with pytest.raises(AssertionError, match="unknown schedule"):
        lr_at({"name": "cyclic"}, 0.1, clock(0))


PER_EPOCH = [{"name": "step", "step_size": 4, "gamma": 0.3},
             {"name": "multistep", "milestones": [3, 4, 9], "gamma": 0.5},
             {"name": "exp", "gamma": 0.8},
             {"name": "cosine", "min_lr": 0.001},
             {"name": "cosine", "min_lr": 0.0}]
PER_STEP = [{"name": "poly", "power": 0.9}, {"name": "poly", "power": 2.0},
            {"name": "inv", "gamma": 0.05, "power": 0.75}]


def torch_scheduler(torch, opt, schedule, epochs, batches):
    lr_scheduler = torch.optim.lr_scheduler
    name, args = schedule["name"], {k: v for k, v in schedule.items() if k != "name"}
    if name == "step":
        return lr_scheduler.StepLR(opt, **args)
    if name == "multistep":
        return lr_scheduler.MultiStepLR(opt, **args)
    if name == "exp":
        return lr_scheduler.ExponentialLR(opt, **args)
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=args["min_lr"])
    if name == "poly":
        return lr_scheduler.PolynomialLR(opt, total_iters=epochs * batches, **args)
    # Caffe's inv has no torch.optim class; LambdaLR with Caffe's formula written out.
    return lr_scheduler.LambdaLR(
        opt, lambda it: (1 + args["gamma"] * it) ** -args["power"])


@pytest.mark.parametrize("schedule", PER_EPOCH + PER_STEP, ids=lambda s: s["name"])
@pytest.mark.parametrize("warmup", [0, 2])
def test_schedules_match_torch(schedule, warmup):
    """Per-epoch schedules stepped after each epoch, per-step ones after each batch, as a torch
    training loop would; warmup multiplies them by the factor of a LinearLR stepped after each
    batch (run on an optimizer of its own: torch's closed and chained forms of some
    schedulers, cosine's among them, differ once another scheduler changes the lr)."""
    torch = pytest.importorskip("torch")
    epochs, batches, base = 13, 3, 0.2

    def optimizer():
        return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)

    opt, warm_opt = optimizer(), optimizer()
    sched = torch_scheduler(torch, opt, schedule, epochs, batches)
    steps = warmup * batches
    warm = (torch.optim.lr_scheduler.LinearLR(warm_opt, start_factor=1 / steps,
                                              total_iters=steps - 1) if warmup else None)
    per_step = schedule in PER_STEP
    for epoch in range(epochs):
        for batch in range(batches):
            expected = opt.param_groups[0]["lr"] * warm_opt.param_groups[0]["lr"] / base
            ours = lr_at(schedule, base, clock(epoch, epochs, batch, batches), warmup)
            assert ours == pytest.approx(expected, rel=1e-9, abs=1e-15)
            opt.step()
            warm_opt.step()
            if per_step:
                sched.step()
            if warm is not None:
                warm.step()
        if not per_step:
            sched.step()


@pytest.mark.parametrize("factor, patience, threshold, cooldown, min_lr", [
    (0.1, 10, 1e-4, 0, 0.0), (0.5, 1, 1e-4, 0, 0.0), (0.5, 0, 0.01, 2, 0.01),
    (0.3, 2, 0.0, 1, 0.001)])
def test_plateau_matches_torch(factor, patience, threshold, cooldown, min_lr):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    epochs, base = 60, 0.1
    # a loss that falls, then wanders: improvements, plateaus and ties
    losses = list(np.round(np.maximum(np.linspace(1, 0, epochs), 0.5)
                           + 0.02 * rng.integers(0, 3, epochs), 3))
    schedule = {"name": "plateau", "factor": factor, "patience": patience,
                "threshold": threshold, "cooldown": cooldown, "min_lr": min_lr}
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=factor, patience=patience, threshold=threshold, cooldown=cooldown,
        min_lr=min_lr)
    seen = []
    for epoch in range(epochs):
        assert lr_at(schedule, base, clock(epoch, epochs, val_losses=losses)) == pytest.approx(
            opt.param_groups[0]["lr"], rel=1e-12)
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(losses[epoch])
    assert len(set(seen)) > 1  # the case does reduce the lr


# ---------------------------------------------------------------- gradient clipping

@pytest.mark.parametrize("max_norm", [0.5, 3.0, 1e6])
def test_clip_norm_matches_torch(max_norm):
    torch = pytest.importorskip("torch")
    _, grads = problem()
    ours = clip_gradients(grads[0], clip_norm=max_norm, clip_value=0.0)
    tensors = {k: torch.zeros(v.shape, dtype=torch.float64, requires_grad=True)
               for k, v in grads[0].items()}
    for k, t in tensors.items():
        t.grad = torch.tensor(grads[0][k])
    torch.nn.utils.clip_grad_norm_(list(tensors.values()), max_norm)
    for k, t in tensors.items():
        np.testing.assert_allclose(ours[k], t.grad.numpy(), rtol=1e-12, atol=1e-15)
    if max_norm == 1e6:
        assert all(ours[k] is grads[0][k] for k in ours)  # nothing to clip, nothing copied


@pytest.mark.parametrize("clip_value", [0.1, 1.0])
def test_clip_value_matches_torch_after_clip_norm(clip_value):
    torch = pytest.importorskip("torch")
    _, grads = problem()
    before = {k: v.copy() for k, v in grads[0].items()}
    ours = clip_gradients(grads[0], clip_norm=5.0, clip_value=clip_value)
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
               for g in grads[0].values()]
    for t, g in zip(tensors, grads[0].values()):
        t.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_norm_(tensors, 5.0)
    torch.nn.utils.clip_grad_value_(tensors, clip_value)
    for k, t in zip(grads[0], tensors):
        np.testing.assert_allclose(ours[k], t.grad.numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(grads[0][k], before[k])  # the gradients are not written


@pytest.mark.parametrize("cfg", [{"name": "sgd", "momentum": 0.9, "nesterov": False},
                                 {**ADAM, "name": "adamw"}, RMSPROP])
def test_lr_and_decay_multipliers_match_torch_groups_with_their_own_lr_and_decay(cfg):
    """Caffe's lr_mult / decay_mult: a bias at twice the rate and without decay is a PyTorch
    parameter group with lr 2x and weight_decay 0."""
    torch = pytest.importorskip("torch")
    params, grads = problem()
    lr_mult, decay_mult = {"conv1.bias": 2.0}, {"conv1.bias": 0.0}
    ours = run(make_optimizer(cfg, 0.05, lr_mult, decay_mult), params, grads)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = torch_optimizer(torch, cfg, [
        {"params": [t for k, t in tensors.items() if k != "conv1.bias"]},
        {"params": [tensors["conv1.bias"]], "weight_decay": 0.0}], LRS[0], 0.05)
    for g, lr in zip(grads, LRS):
        for k, t in tensors.items():
            t.grad = torch.tensor(g[k])
        opt.param_groups[0]["lr"], opt.param_groups[1]["lr"] = lr, 2 * lr
        opt.step()
    for k, t in tensors.items():
        np.testing.assert_allclose(ours[k], t.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_a_spec_writes_lr_mult_and_decay_mult_per_layer_as_caffe_does(tmp_path):
    from cnnspec import Settings, load, train
    from cnnspec.training.mults import parameter_mults

    spec = tmp_path / "mults.cnn"
    spec.write_text("input 1x8x8\nc: conv 4 3x3 lr_mult [1, 2] decay_mult [1, 0] relu\n"
                    "flatten\nfc: dense 10 lr_mult 0\ntrain {\n  data digits\n}\n")
    c = load(spec).by_name["c"].ir
    assert (c["lr_mult"], c["decay_mult"]) == ([1.0, 2.0], [1.0, 0.0])
    run = train(spec, Settings(epochs=1), run_dir=tmp_path / "r", progress="none",
                curves=False)
    mults = parameter_mults(run.model.checked, run.model.params())
    assert mults["c.bias"] == (2.0, 0.0) and mults["fc.weight"] == (0.0, 1.0)
    start = np.load(tmp_path / "r" / "init.npz")
    np.testing.assert_array_equal(run.model.params()["fc.weight"], start["fc.weight"])


HELD = """\
input 1x8x8
c1: conv 16 3x3 pad same relu
c2: conv 16 3x3 pad same {held} relu
pool: maxpool 2
flatten
fc: dense 3
train {{
  data shapes(size=8, classes=[x, plus, o], count=64)
  optimizer {optimizer}
  lr 0.05
  weight_decay 0.001
  clip_norm 1
  batch 16
  epochs 1
  seed 2
}}
"""


def _held_run(tmp_path, held: str, optimizer: str) -> tuple[dict, dict, dict]:
    """(initial weights, last weights, optimizer state) of a run of HELD."""
    from cnnspec import train
    from cnnspec.training import rundir
    from cnnspec.training.files import read_npz
    from cnnspec.training.state import OPTIMIZER_KEY

    folder = tmp_path / f"{held}-{optimizer}".replace(" ", "")
    spec = folder.with_suffix(".cnn")
    spec.write_text(HELD.format(held=held, optimizer=optimizer))
    train(spec, run_dir=folder, progress="none", curves=False)
    end = read_npz(folder / rundir.CHECKPOINT)
    state = {key.partition("/")[2]: value for key, value in end.items()
             if key.startswith(OPTIMIZER_KEY + "/")}
    weights = {key: value for key, value in end.items() if not key.startswith("_")}
    return read_npz(folder / rundir.INIT), weights, state


@pytest.mark.parametrize("optimizer", ["sgd(momentum=0.9)", "adam"])
def test_a_layer_at_lr_mult_0_trains_as_a_frozen_one_with_no_state_or_gradient(tmp_path,
                                                                                optimizer):
    """Caffe's lr_mult [0, 0] and the frozen keyword hold a layer by one rule
    (training_catalogue.is_trained): the optimizer keeps no state for its parameters, no
    gradient of theirs joins the clipped norm, so the run is bitwise the frozen one: the held
    weights their initial bits, the others trained."""
    start, frozen, frozen_state = _held_run(tmp_path, "frozen", optimizer)
    _, held, held_state = _held_run(tmp_path, "lr_mult [0, 0]", optimizer)
    assert not any(".c2." in key for key in held_state)
    assert any(".c1.weight" in key for key in held_state)
    assert sorted(held_state) == sorted(frozen_state)
    for name in ("c2.weight", "c2.bias"):
        np.testing.assert_array_equal(held[name], start[name])
    assert not np.array_equal(held["c1.weight"], start["c1.weight"])
    for name, value in frozen.items():
        np.testing.assert_array_equal(held[name], value, err_msg=name)


def test_a_weight_at_lr_mult_0_is_held_while_its_bias_trains(tmp_path):
    """lr_mult [0, 1]: the weight keeps its bits and has no optimizer state, the bias of the
    same layer trains and has its own."""
    start, end, state = _held_run(tmp_path, "lr_mult [0, 1]", "sgd(momentum=0.9)")
    assert "momentum_buffer.c2.weight" not in state and "momentum_buffer.c2.bias" in state
    np.testing.assert_array_equal(end["c2.weight"], start["c2.weight"])
    assert not np.array_equal(end["c2.bias"], start["c2.bias"])


# A thin first layer (25 rows of 5x5 on one channel) to hold, and a layer after it that is
# not thin (54 rows), which keeps no columns either way.
THIN_HELD = """\
input 1x12x12
c1: conv 6 5x5 pad 2 {held} relu
pool: maxpool 2
c2: conv 8 3x3 relu
flatten
fc: dense 3
train {{
  data shapes(size=12, classes=[x, plus, o], count=96)
  optimizer sgd(momentum=0.9)
  lr 0.05
  batch 16
  epochs 2
  cores 1
  seed 3
}}
"""


@pytest.mark.parametrize("held", ["lr_mult [0, 1]", "frozen"])
def test_a_held_thin_conv_trains_bitwise_as_when_it_kept_its_columns(tmp_path, monkeypatch,
                                                                     held):
    """A held thin conv run in chunks (three images a chunk, the same on every machine) kept
    its whole batch's columns for a weight gradient it never computes; now it keeps none
    (footprint.keeps_columns). The run is bitwise the one under the rule before, which kept
    them: the same metrics every epoch, the same weights."""
    from cnnspec import train
    from cnnspec.engine import conv_tuned
    from cnnspec.engine.calibrate import Thresholds
    from cnnspec.training import rundir
    from cnnspec.training.files import read_npz

    monkeypatch.setattr(conv_tuned, "thresholds",
                        lambda: Thresholds(chunk_columns=512, source="timed"))
    spec = tmp_path / "thin.cnn"
    spec.write_text(THIN_HELD.format(held=held))
    rule, correlate_kept = conv_tuned.keeps_columns, conv_tuned._correlate_kept
    rules = {"now": rule, "before": lambda rows, values, itemsize, weight_grad: rule(
        rows, values, itemsize, True)}
    runs, kept = {}, dict.fromkeys(rules, 0)
    for name, keeps in rules.items():
        def counted(*args, name=name):
            kept[name] += 1
            return correlate_kept(*args)
        monkeypatch.setattr(conv_tuned, "keeps_columns", keeps)
        monkeypatch.setattr(conv_tuned, "_correlate_kept", counted)
        runs[name] = train(spec, run_dir=tmp_path / name, progress="none", curves=False)
    assert kept["now"] == 0 and kept["before"] > 0
    timeless = [[{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")}
                 for row in run.metrics] for run in runs.values()]
    assert timeless[0] == timeless[1] and len(timeless[0]) == 2
    now, before = ({key: value for key, value in read_npz(tmp_path / name / rundir.CHECKPOINT)
                    .items() if not key.startswith("_")} for name in rules)  # not the times
    assert now.keys() == before.keys()
    for key in now:
        np.testing.assert_array_equal(now[key], before[key], err_msg=key)
