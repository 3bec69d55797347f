"""Where a training step's time goes on a benchmark net, most expensive first: milliseconds per
layer, forward and backward (float32, one thread, medians over the steps; see
cnnspec.engine.timing, which ``cnnspec time SPEC`` prints in layer order).
Usage: ``python3 tools/profile_engine.py [lenet5|vgg_small|resnet_small] [batch] [steps]``."""
from __future__ import annotations

import sys

import numpy as np
from nets import checked  # tools/nets.py: the script's folder is on sys.path

import cnnspec
from cnnspec.engine.calibrate import cpu_model, thresholds
from cnnspec.engine.optim import make_optimizer
from cnnspec.engine.timing import time_step
from cnnspec.kinds import layer_flops


def timed(name: str, batch: int, steps: int):
    """The :class:`~cnnspec.engine.timing.StepTiming` of benchmark net ``name`` (SGD with
    momentum, learning rate 0.01, random data)."""
    spec = checked(name)
    model = cnnspec.compile(spec, seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + spec.input_shape).astype(np.float32)
    y = rng.integers(0, 10, batch)
    optimizer = make_optimizer({"name": "sgd", "momentum": 0.9, "nesterov": False})
    infos = spec.by_name
    return time_step(model, x, y, optimizer, 0.01, steps, peak=False,
                     flops_of=lambda layer, need_dx: layer_flops(infos[layer], need_dx))


def profile(name: str, batch: int, steps: int) -> None:
    timing = timed(name, batch, steps)
    print(f"CPU: {cpu_model()}; conv thresholds: {thresholds()}")
    print(f"{name} batch {batch}: {timing.step * 1e3:.2f} ms/step (median), "
          f"{batch / timing.step:,.0f} images/s; parts sum to {timing.total * 1e3:.2f} ms")
    parts = [((layer.name, "forward"), layer.forward) for layer in timing.layers]
    parts += [((layer.name, "backward"), layer.backward) for layer in timing.layers]
    parts += [(("loss", ""), timing.loss), (("update", ""), timing.update)]
    for (layer, phase), seconds in sorted(parts, key=lambda part: -part[1]):
        print(f"  {layer:>14} {phase:<8} {seconds * 1e3:7.2f} ms  {timing.share(seconds):5.1%}")


if __name__ == "__main__":
    args = sys.argv[1:]
    profile(args[0] if args else "lenet5", int(args[1]) if len(args) > 1 else 64,
            int(args[2]) if len(args) > 2 else 20)
