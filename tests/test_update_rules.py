"""Each optimizer's update rule (cnnspec/update_rules.py) is the one statement of how it takes
weight decay and what its step writes: the engine's optimizer, built from the training
catalogue's entry, acts on it, and the memory estimate counts from it
(tests/test_memory.py traces what a step allocates against that count)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from cnnspec.engine.optim import make_optimizer
from cnnspec.ir.training_catalogue import OPTIMIZERS

LR, DECAY = 0.01, 0.1


def _settings(entry) -> list[dict]:
    """The entry's defaults with each of its bool arguments either way (SGD's nesterov, Adam's
    amsgrad, RMSprop's centered), the valid combinations only."""
    flags = [arg.name for arg in entry.args if arg.type == "bool"]
    grid = [{**entry.defaults, **dict(zip(flags, values))}
            for values in itertools.product([False, True], repeat=len(flags))]
    return [args for args in grid if not any(rule(args) for rule in entry.rules)]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_weight_decay_is_taken_as_the_optimizers_rule_says(name):
    """With zero gradients, an optimizer whose rule decouples the decay shrinks each weight to
    p * (1 - lr * weight_decay) and its state sees nothing; one whose decay joins the gradient
    moves its state (the momentum buffer, the moments, the sums of squares)."""
    entry = OPTIMIZERS[name]
    start = np.linspace(-1.0, 1.0, 12)
    params = {"w": start.copy()}
    optimizer = make_optimizer({"name": name, **entry.defaults}, weight_decay=DECAY)
    optimizer.step(params, {"w": np.zeros_like(start)}, LR)
    state = [value for value in optimizer.state_dict().values() if value.shape == start.shape]
    assert state
    if entry.rule.decoupled_decay:
        assert params["w"].tobytes() == (start * (1.0 - LR * DECAY)).tobytes()
        assert not any(value.any() for value in state)
    else:
        assert all(value.any() for value in state)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_packed_step_writes_the_arrays_its_rule_counts(name):
    """Beside its state, a packed step (no weight decay) holds the gathered gradients and,
    unless its rule writes the update over them, the update: update_arrays of them."""
    entry = OPTIMIZERS[name]
    for args in _settings(entry):
        optimizer = make_optimizer({"name": name, **args})
        params = {"a": np.zeros((3, 4), np.float32), "b": np.zeros(5, np.float32)}
        grads = {key: np.ones_like(value) for key, value in params.items()}
        for _ in range(2):
            optimizer.step(params, grads, LR)
        (pack,) = optimizer._packs.values()
        written = [key for key in pack.flats if key not in optimizer.STATE_KINDS]
        assert len(written) == entry.rule.update_arrays(args), (args, written)
        assert ("update" not in written) == entry.rule.over_gradients(args), (args, written)
