"""Shared by the export tests: a network with a layer of (nearly) every kind, the example
specs, and the weights a test exports with (batch norm's running statistics made non-trivial,
so that evaluation mode is what is compared)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnspec.compiler import compile_spec
from cnnspec.exporters import open_exported

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.cnn"))

# Every kind in one graph: padding per side, ceil mode, uncounted padding, groups, transposed
# convolutions with output padding and `same`, both upsamplings, merges of maps and vectors,
# every normalisation, dropout in evaluation mode, and activations with their parameters.
ZOO = """\
model zoo
input 3x12x12
default weight he_normal, bias zeros

c1: conv 8 3x3 pad same
bn1: batchnorm relu
c2: conv 8 3x2 stride 2x1 pad 1x0x0x1 groups 2 leaky_relu(0.2)
p1: maxpool 3 stride 2 pad 1x0x1x1 ceil_mode true
p2: avgpool 3 stride 1 pad 1 count_include_pad false
gn: groupnorm 4 elu(0.7)
d2: dropout2d 0.2
t1: conv_transpose 6 3x3 stride 2 pad 1 output_pad 1 gelu
t2: conv_transpose 6 2x2 stride 2 pad same nobias
u1: upsample 2 bilinear
c3: conv 6 3x3 stride 2 pad same weight glorot_uniform silu
inorm: instancenorm relu6
up: upsample 2 nearest
c4: conv 6 1x1 hardswish
a: add(c4_hardswish, up)
cat: concat(a, up)
ln: layernorm prelu
g1: global_avgpool <- ln_prelu
g2: global_maxpool <- ln_prelu
both: concat(g1, g2)
fc1: dense 12 tanh
bnf: batchnorm
mi: mish
fc2: dense 8
gt: gelu approximate tanh
drop: dropout 0.3
fc3: dense 5 sigmoid
fl: flatten <- cat
fc4: dense 5 weight lecun_normal
s: add(fc3_sigmoid, fc4)
sm: log_softmax

train {
  data shapes(size=12, colour=true, classes=[x, plus, o, square, triangle], count=50)
  loss nll
}
"""


def exported_with_statistics(path, dtype: str = "float64"):
    """The export of the spec at ``path`` with random running statistics, and the cnnspec
    model in ``dtype`` holding the same weights, in evaluation mode."""
    exported = open_exported(path)
    rng = np.random.default_rng(7)
    for key, value in exported.state.items():
        if key.endswith("running_mean"):
            value[...] = rng.standard_normal(value.shape)
        elif key.endswith("running_var"):
            value[...] = rng.uniform(0.5, 2.0, value.shape)
    model = compile_spec(exported.checked, dtype=dtype)
    model.load_state_dict(exported.state)
    return exported, model.eval()


def inputs(checked, batch: int, dtype: str, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(
        (batch, *checked.input_shape)).astype(dtype)
