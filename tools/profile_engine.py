"""Where a training step's time goes on a benchmark net, most expensive first: milliseconds per
layer, forward and backward (float32, one thread, medians over the steps; see
cnnspec.engine.timing, which ``cnnspec time SPEC`` prints in layer order).

With ``--torch``, the same layers of the same network trained by PyTorch (tools/nets.py: the
same weights, batch and optimizer, one thread) side by side, the layers where cnnspec loses
most time first: where the next speed-up is. PyTorch's layers are timed by module hooks
(forward: before and after the module; backward: from the gradient reaching the module's
output to the last of its input's and its parameters' gradients), the medians of as many
steps. The layers of a network run one after the other on one thread, so the spans do not
overlap; PyTorch's own profiler reports operators, not the spec's layers.

Usage: ``python3 tools/profile_engine.py [lenet5|vgg_small|resnet_small] [batch] [steps]
[--torch]`` (``--help`` for more)."""
from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections import defaultdict

import numpy as np
from nets import LR, NETS, TorchRunner, checked  # tools/nets.py: the script's folder is on sys.path

import cnnspec
from cnnspec.engine.calibrate import cpu_description
from cnnspec.engine.conv_tuned import thresholds
from cnnspec.engine.optim import make_optimizer
from cnnspec.engine.timing import time_step
from cnnspec.kinds import layer_flops


def timed(name: str, batch: int, steps: int):
    """The :class:`~cnnspec.engine.timing.StepTiming` of benchmark net ``name`` (SGD with
    momentum, learning rate ``LR``, random data: :func:`batch_of`)."""
    spec = checked(name)
    model = cnnspec.compile(spec, seed=0)
    x, y = batch_of(spec, batch)
    optimizer = make_optimizer({"name": "sgd", "momentum": 0.9, "nesterov": False})
    infos = spec.by_name
    return time_step(model, x, y, optimizer, LR, steps, peak=False,
                     flops_of=lambda layer, need_dx: layer_flops(infos[layer], need_dx))


def batch_of(spec, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """The random float32 images and labels both engines train on."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + spec.input_shape).astype(np.float32)
    return x, rng.integers(0, 10, batch)


def torch_timed(name: str, batch: int, steps: int) -> dict[str, tuple[float, float]]:
    """Median (forward, backward) seconds of each layer of benchmark net ``name`` trained by
    PyTorch on one thread, by the spec's layer names (see the module docstring); backward is
    0 for a layer PyTorch takes no gradient through (before any parameter)."""
    import torch

    # The first layer's input asks for no gradient, so its backward hooks fire when its
    # output's gradient is ready, as the start mark wants; PyTorch warns of just that.
    warnings.filterwarnings("ignore", message="Full backward hook is firing when gradients")
    torch.set_num_threads(1)
    spec = checked(name)
    x, y = batch_of(spec, batch)
    runner = TorchRunner(spec, cnnspec.compile(spec, seed=0).params(), x, y)
    clocks = _LayerClocks(runner.net)
    for _ in range(2):  # warm-up: the first steps allocate
        runner.step()
    forward, backward = defaultdict(list), defaultdict(list)
    for _ in range(steps):
        clocks.clear()
        runner.step()
        for layer in runner.net.layers:
            forward[layer].append(clocks.forward(layer))
            backward[layer].append(clocks.backward(layer))
    return {layer: (statistics.median(forward[layer]), statistics.median(backward[layer]))
            for layer in runner.net.layers}


class _LayerClocks:
    """Hooks on each layer module of a :func:`nets.torch_net` that note when its forward and
    backward start and end. A layer's backward ends with the last of its input's gradient (a
    full backward hook, where the input asks for one) and its parameters' (a hook after each
    is accumulated): the first layer computes no input gradient."""

    def __init__(self, net) -> None:
        self.marks: dict[tuple[str, str], float] = {}
        needs_input_grad = {name: inputs != ["input"] for name, inputs in net.plan}
        for name, module in net.layers.items():
            module.register_forward_pre_hook(self._mark(name, "forward start"))
            module.register_forward_hook(self._mark(name, "forward end"))
            module.register_full_backward_pre_hook(self._mark(name, "backward start"))
            if needs_input_grad[name]:
                module.register_full_backward_hook(self._mark(name, "backward end"))
            for parameter in module.parameters():
                parameter.register_post_accumulate_grad_hook(self._mark(name, "backward end"))

    def _mark(self, name: str, event: str):
        def hook(*_):
            self.marks[name, event] = time.perf_counter()
        return hook

    def clear(self) -> None:
        self.marks.clear()

    def forward(self, name: str) -> float:
        return self.marks[name, "forward end"] - self.marks[name, "forward start"]

    def backward(self, name: str) -> float:
        start = self.marks.get((name, "backward start"))
        end = self.marks.get((name, "backward end"))
        return end - start if start is not None and end is not None else 0.0


def profile(name: str, batch: int, steps: int) -> None:
    timing = timed(name, batch, steps)
    print(f"CPU: {cpu_description()}; conv thresholds: {thresholds()}")
    print(f"{name} batch {batch}: {timing.step * 1e3:.2f} ms/step (median), "
          f"{batch / timing.step:,.0f} images/s; parts sum to {timing.total * 1e3:.2f} ms")
    parts = [((layer.name, "forward"), layer.forward) for layer in timing.layers]
    parts += [((layer.name, "backward"), layer.backward) for layer in timing.layers]
    parts += [(("loss", ""), timing.loss), (("update", ""), timing.update)]
    for (layer, phase), seconds in sorted(parts, key=lambda part: -part[1]):
        print(f"  {layer:>14} {phase:<8} {seconds * 1e3:7.2f} ms  {timing.share(seconds):5.1%}")


def side_by_side(name: str, batch: int, steps: int) -> None:
    """Each cnnspec layer (with the layers fused into it) beside the same layers in PyTorch,
    the layers where cnnspec spends the most time over PyTorch's first."""
    ours = timed(name, batch, steps)
    theirs = torch_timed(name, batch, steps)
    print(f"CPU: {cpu_description()}; {name} batch {batch}, one thread, medians of {steps} steps, "
          "ms; speed = PyTorch's time / cnnspec's")
    print(f"{'layer':>22}  {'cnnspec fwd':>11} {'bwd':>6}  {'pytorch fwd':>11} {'bwd':>6}"
          f"  {'speed':>5}  {'ms lost':>7}")
    rows = []
    for layer in ours.layers:
        names = layer.covers
        forward = sum(theirs[spec_layer][0] for spec_layer in names)
        backward = sum(theirs[spec_layer][1] for spec_layer in names)
        rows.append(("+".join(names), layer.forward, layer.backward, forward, backward))
    for label, *times in sorted(rows, key=lambda row: row[3] + row[4] - row[1] - row[2]):
        _print_row(label, *times)
    _print_row("layers", *(sum(row[i] for row in rows) for i in range(1, 5)))


def _print_row(label, forward, backward, their_forward, their_backward) -> None:
    ours, theirs = forward + backward, their_forward + their_backward
    speed = f"{theirs / ours:5.2f}" if ours > 0 else "  -  "
    print(f"{label:>22}  {forward * 1e3:11.2f} {backward * 1e3:6.2f}  "
          f"{their_forward * 1e3:11.2f} {their_backward * 1e3:6.2f}  {speed}  "
          f"{(ours - theirs) * 1e3:7.2f}")


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
    parser.add_argument("--torch", action="store_true",
                        help="each layer beside the same layer trained by PyTorch (which "
                             "must be installed), where cnnspec loses most time first")
    args = parser.parse_args(argv)
    if args.batch < 1 or args.steps < 1:
        parser.error("batch and steps must be at least 1")
    if args.torch:
        try:
            import torch  # noqa: F401 - only asked whether it is there
        except ImportError:
            parser.error("--torch needs PyTorch: pip install torch")
        side_by_side(args.net, args.batch, args.steps)
    else:
        profile(args.net, args.batch, args.steps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
