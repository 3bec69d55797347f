"""Where a training step's time goes: seconds per layer, forward and backward, on the benchmark
nets (float32). Usage: ``python3 tools/profile_engine.py [lenet5|vgg_small] [batch] [steps]``."""
from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/nets.py beside this script
from nets import checked  # noqa: E402

from cnnspec.compile import compile_spec  # noqa: E402


def _timed(totals, key, fn):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        totals[key] += time.perf_counter() - start
        return result
    return wrapper


def profile(name: str, batch: int, steps: int) -> None:
    spec = checked(name)
    model = compile_spec(spec, seed=0)
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for node in model._plain + model._fused:
        layer = node.layer
        if not hasattr(layer, "_profiled"):
            layer.forward = _timed(totals, (node.name, "forward"), layer.forward)
            layer.backward = _timed(totals, (node.name, "backward"), layer.backward)
            layer._profiled = True
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + spec.input_shape).astype(np.float32)
    y = rng.integers(0, 10, batch)
    start = None
    for step in range(steps + 2):
        if step == 2:  # two warm-up steps
            totals.clear()
            start = time.perf_counter()
        loss, dout = model.loss(model.forward(x), y)
        model.backward(dout, input_grad=False)
        params = model.params()
        for key, grad in model.grads().items():
            params[key] -= 0.01 * grad
    wall = (time.perf_counter() - start) / steps
    print(f"{name} batch {batch}: {wall * 1e3:.2f} ms/step, {batch / wall:,.0f} images/s")
    for (layer, phase), seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        share = seconds / steps / wall
        print(f"  {layer:>10} {phase:<8} {seconds / steps * 1e3:7.2f} ms  {share:5.1%}")


if __name__ == "__main__":
    args = sys.argv[1:]
    profile(args[0] if args else "lenet5", int(args[1]) if len(args) > 1 else 64,
            int(args[2]) if len(args) > 2 else 20)
