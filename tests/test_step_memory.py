"""A training step holds no more than it needs: an output is freed once no later layer reads
it (unless a cache keeps it), and each layer's cache once its backward has run."""
from __future__ import annotations

import gc
import weakref

import numpy as np

import cnnspec
from cnnspec.engine.model import _last_uses

SPEC = """model residual
input 1x8x8
stem: conv 4 3x3 pad same
bn: batchnorm relu
a: conv 4 3x3 pad same
sum: add(a, bn_relu) relu
flatten
dense 10
"""


def _model(tmp_path, threads=1):
    path = tmp_path / "residual.cnn"
    path.write_text(SPEC)
    model = cnnspec.compile(cnnspec.load(str(path)), seed=0)
    model.threads = threads
    return model


def _batch():
    rng = np.random.default_rng(0)
    return rng.standard_normal((4, 1, 8, 8)).astype(np.float32), np.array([0, 1, 2, 9])


def test_each_value_is_dropped_after_its_last_reader(tmp_path):
    model = _model(tmp_path)
    plan = model._plain
    drops = dict(zip([node.name for node in plan], _last_uses(plan, {model.output})))
    # the block's input (bn_relu) is read again by the sum: it lives until then
    assert "bn_relu" in drops["sum"] and "bn_relu" not in drops["a"]
    assert "input" in drops["stem"] and "stem" in drops["bn"]
    assert all(model.output not in names for names in drops.values())
    assert sorted(n for names in drops.values() for n in names) == \
        sorted({"input"} | {node.name for node in plan} - {model.output})


def test_an_output_no_cache_keeps_is_freed_during_the_forward_pass(tmp_path):
    model = _model(tmp_path)
    x, _ = _batch()
    stem, total = model._by_name["stem"].layer, model._by_name["sum"].layer
    seen, alive = [], []
    stem_forward, sum_forward = stem.forward, total.forward

    def stem_spy(xs, training):
        out = stem_forward(xs, training)
        seen.append(weakref.ref(out.base if out.base is not None else out))
        return out

    def sum_spy(xs, training):  # later in the same forward pass
        gc.collect()
        alive.append(seen[0]() is not None)
        return sum_forward(xs, training)

    stem.forward, total.forward = stem_spy, sum_spy
    model.forward(x)
    # batch norm caches its centred input in a buffer of its own, not the conv's output
    # (whose ReLU, after batch norm, writes over batch norm's output and keeps a mask)
    assert alive == [False]


def test_caches_are_freed_by_backward_and_gradients_are_unchanged(tmp_path):
    x, y = _batch()
    model = _model(tmp_path)
    _, dout = model.loss(model.forward(x), y)
    model.backward(dout)
    assert all(node.layer.cache is None for node in model.nodes if node.layer.frees_cache)
    assert any(node.layer.frees_cache for node in model.nodes)
    # the same step once more gives the same gradients (nothing read a freed cache)
    first = {k: v.copy() for k, v in model.grads().items()}
    _, dout = model.loss(model.forward(x), y)
    model.backward(dout)
    for key, grad in model.grads().items():
        np.testing.assert_array_equal(grad, first[key])


def test_a_split_batch_frees_its_caches_too(tmp_path):
    x, y = _batch()
    model = _model(tmp_path, threads=2)
    one = _model(tmp_path, threads=1)
    for m in (model, one):
        _, dout = m.loss(m.forward(x), y)
        m.backward(dout)
    for key, grad in one.grads().items():
        np.testing.assert_allclose(model.grads()[key], grad, rtol=1e-5, atol=1e-6)
