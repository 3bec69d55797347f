"""Where a training step's time goes: milliseconds per layer, forward and backward, on the
benchmark nets (float32, one thread). Each figure is the median over the steps, which resists
the load other processes put on the machine.
Usage: ``python3 tools/profile_engine.py [lenet5|vgg_small] [batch] [steps]``."""
from __future__ import annotations

import statistics
import sys
import time
from collections import defaultdict

import numpy as np
from nets import checked  # tools/nets.py: the script's folder is on sys.path

import cnnspec
from cnnspec.engine.blas import blas_threads
from cnnspec.engine.calibrate import cpu_model, thresholds


def _timed(times, key, fn):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        times[key].append(time.perf_counter() - start)
        return result
    return wrapper


def profile(name: str, batch: int, steps: int) -> None:
    spec = checked(name)
    model = cnnspec.compile(spec, seed=0)
    model.threads = 1  # the timers sit on this model's layers, not on thread replicas
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for node in model._plain + model._fused:
        layer = node.layer
        if not hasattr(layer, "_profiled"):
            layer.forward = _timed(times, (node.name, "forward"), layer.forward)
            layer.backward = _timed(times, (node.name, "backward"), layer.backward)
            layer._profiled = True
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + spec.input_shape).astype(np.float32)
    y = rng.integers(0, 10, batch)
    walls = []
    with blas_threads(1):
        for step in range(steps + 2):
            if step == 2:  # two warm-up steps
                times.clear()
            start = time.perf_counter()
            _, dout = model.loss(model.forward(x), y)
            model.backward(dout, input_grad=False)
            params = model.params()
            for key, grad in model.grads().items():
                params[key] -= 0.01 * grad
            walls.append(time.perf_counter() - start)
    wall = statistics.median(walls[2:])
    print(f"CPU: {cpu_model()}; conv thresholds: {thresholds()}")
    print(f"{name} batch {batch}: {wall * 1e3:.2f} ms/step (median), {batch / wall:,.0f} images/s")
    medians = {key: statistics.median(values) for key, values in times.items()}
    for (layer, phase), seconds in sorted(medians.items(), key=lambda kv: -kv[1]):
        print(f"  {layer:>10} {phase:<8} {seconds * 1e3:7.2f} ms  {seconds / wall:5.1%}")


if __name__ == "__main__":
    args = sys.argv[1:]
    profile(args[0] if args else "lenet5", int(args[1]) if len(args) > 1 else 64,
            int(args[2]) if len(args) > 2 else 20)
