"""A model that switches between a split and a whole batch frees the caches of every layer of
the set that will not run, the fused plan's stand-ins (a ReLU run in place, a ReLU fused
with a max pool) included: check's memory estimate counts one set only."""
import numpy as np

from cnnspec.check.checker import check
from cnnspec.compiler import compile_spec
from cnnspec.engine.layers import InPlaceReLU, MaxPoolReLU
from cnnspec.lang import parse

NET = """model m
input 1x8x8
c1: conv 4 3x3 pad same
bn1: batchnorm
r1: relu
p1: maxpool 2x2
c2: conv 4 3x3 pad same
r2: relu
p2: maxpool 3x3 stride 1
f: flatten
fc: dense 10
r3: relu
out: dense 10
"""


def _kept_caches(model):
    return sorted(node.name for plan in (model._plain, model._fused) for node in plan
                  if node.layer.cache is not None)


def test_switching_frees_the_fused_layers_caches_too():
    model = compile_spec(check(parse(NET)), seed=0)
    model.threads = 2
    model.eval()
    stand_ins = {type(node.layer) for node in model._fused}
    assert {InPlaceReLU, MaxPoolReLU} <= stand_ins  # the case this test is about
    rng = np.random.default_rng(0)
    small, full = (rng.standard_normal((n, 1, 8, 8)) for n in (3, 64))
    model.forward(small)  # whole, on the model's own layers (no backward frees them)
    model.forward(full)
    assert model._split
    assert _kept_caches(model) == []
    model.forward(small)
    assert not model._split
    assert [_kept_caches(replica) for replica in model._parallel.replicas] == [[], []]
