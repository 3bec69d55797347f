"""The benchmark networks as cnnspec specs, and as the same PyTorch networks (with the cnnspec
model's weights) for side-by-side measurements, shared by tools/bench.py and
tools/profile_engine.py."""
from __future__ import annotations

from pathlib import Path

# The learning rate of every benchmark step (SGD with momentum 0.9), both engines.
LR = 0.01

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

# A ResNet-style net (He et al. 2016, the CIFAR variant narrowed, with batch norm): the spec
# file itself, so that `cnnspec time specs/resnet_small.cnn` times the net measured here.
SPECS = Path(__file__).resolve().parent.parent / "specs"
SPEC_FILES = {"resnet_small": SPECS / "resnet_small.cnn"}

NETS = {"lenet5": LENET5, "vgg_small": VGG_SMALL, **{name: None for name in SPEC_FILES}}

# The data every benchmark net is checked against: none read (the bench makes its batches).
NO_DATA = {"name": "npz", "path": "unused.npz"}


def checked(name: str, batch: int | None = None):
    """The checked spec of benchmark net ``name`` (training at ``batch`` when given: the
    memory estimate of check is for that batch). A net of a spec file keeps its own training
    settings but for its data, which the bench does not read (:data:`NO_DATA`)."""
    from cnnspec.check.checker import check
    from cnnspec.lang import parse

    if name in SPEC_FILES:
        from cnnspec.check.load import read_spec
        from cnnspec.training.settings import overridden_spec

        overrides = {"data": NO_DATA} | ({} if batch is None else {"batch_size": batch})
        return check(overridden_spec(read_spec(SPEC_FILES[name]), overrides))
    train = TRAIN if batch is None else TRAIN.replace("  seed 0", f"  seed 0\n  batch {batch}")
    return check(parse(NETS[name] + train))


def torch_net(spec, params):
    """The checked spec as a PyTorch module, each layer the module its kind's registry entry
    names (Kind.torch), wired as the spec's graph, with the cnnspec model's weights."""
    import torch

    from cnnspec.kinds import KINDS
    from cnnspec.kinds.torch_code import torch_module

    class Graph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.plan = []
            self.layers = torch.nn.ModuleDict()
            for info in spec.layers:
                kind = KINDS[info.kind]
                module = torch_module(kind, info.ir, info.input_shapes,
                                      kind.infer(info.ir, info.input_shapes))
                for key, value in module.named_parameters():
                    part = key.split(".")[-1]  # weight or bias, inside any Sequential
                    value.data = torch.from_numpy(params[f"{info.name}.{part}"].copy())
                self.layers[info.name] = module
                self.plan.append((info.name, info.inputs))
            self.output = spec.ir["output"]

        def forward(self, x):
            values = {"input": x}
            for name, inputs in self.plan:
                values[name] = self.layers[name](*[values[i] for i in inputs])
            return values[self.output]

    return Graph()


class TorchRunner:
    """The same network in PyTorch, with the cnnspec model's initial weights."""

    def __init__(self, spec, params, x, y):
        import torch

        self.torch = torch
        self.net = torch_net(spec, params)
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=LR, momentum=0.9)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)

    def set_batch(self, x, y):
        self.x, self.y = self.torch.from_numpy(x), self.torch.from_numpy(y)

    def step(self):
        self.optimizer.zero_grad()
        loss = self.torch.nn.functional.cross_entropy(self.net(self.x), self.y)
        loss.backward()
        self.optimizer.step()
