"""Where a training step's time goes on a benchmark net, most expensive first: milliseconds per
layer, forward and backward (float32, one thread, medians over the steps; see
cnnspec.engine.timing, which ``cnnspec time SPEC`` prints in layer order).
Usage: ``python3 tools/profile_engine.py [lenet5|vgg_small|resnet_small] [batch] [steps]``
(``--help`` for more)."""
from __future__ import annotations

import argparse

import numpy as np
from nets import NETS, checked  # tools/nets.py: the script's folder is on sys.path

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Where a training step's time goes on a benchmark net (tools/nets.py): "
                    "milliseconds per layer, forward and backward, most expensive first "
                    "(float32, one thread, medians over the steps). Pin it to one core "
                    "(taskset -c N) on a shared machine.")
    parser.add_argument("net", nargs="?", default="lenet5", choices=sorted(NETS),
                        help="the benchmark net (default: lenet5)")
    parser.add_argument("batch", nargs="?", type=int, default=64,
                        help="images per step (default: 64)")
    parser.add_argument("steps", nargs="?", type=int, default=20,
                        help="timed steps; the figures are their medians (default: 20)")
    args = parser.parse_args(argv)
    if args.batch < 1 or args.steps < 1:
        parser.error("batch and steps must be at least 1")
    profile(args.net, args.batch, args.steps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
