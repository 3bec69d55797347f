"""The benchmark networks as cnnspec specs, shared by tools/bench.py and tools/profile_engine.py."""
from __future__ import annotations

TRAIN = 'train {\n  data npz(path="unused.npz")\n  seed 0\n}\n'

# LeNet-5 on 1x28x28: conv1 pads by 2 so 28 -> 28 -> 14 -> 10 -> 5 as on LeNet's 32x32.
LENET5 = """model lenet5
input 1x28x28
conv1: conv 6 5x5 pad 2 relu
pool1: maxpool 2
conv2: conv 16 5x5 relu
pool2: maxpool 2
flatten
fc1: dense 120 relu
fc2: dense 84 relu
fc3: dense 10
"""

# A small VGG-style net (Simonyan & Zisserman 2015) on 3x32x32.
VGG_SMALL = """model vgg_small
input 3x32x32
conv1: conv 32 3x3 pad same relu
conv2: conv 32 3x3 pad same relu
pool1: maxpool 2
conv3: conv 64 3x3 pad same relu
conv4: conv 64 3x3 pad same relu
pool2: maxpool 2
flatten
fc: dense 10
"""

NETS = {"lenet5": LENET5, "vgg_small": VGG_SMALL}


def checked(name: str):
    """The checked spec of benchmark net ``name``."""
    from cnnspec.check.checker import check
    from cnnspec.lang import parse

    return check(parse(NETS[name] + TRAIN))
