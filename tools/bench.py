"""Training throughput of the cnnspec engine, side by side with PyTorch when it is installed.

Measures images per second of full training steps (forward, loss, backward, SGD update with
momentum 0.9) in float32 for LeNet-5 on 1x28x28 (batch 64 and 256) and a small VGG-style net on
3x32x32 (batch 64); see tools/nets.py. This machine's speed drifts from second to second, so
the two engines run in alternating blocks of steps in one process (A B A B ...) and the
reported ratio is the median of the per-round ratios. Both use the same number of threads:
PyTorch via ``torch.set_num_threads``, cnnspec via ``model.threads`` (batch halves in threads).
It also reports the GFLOP/s the conv layers reach (forward and backward, one thread) against a
large float32 matrix product on the same machine, and prints the CPU model and the thresholds
the tuned convolution uses there (see cnnspec.engine.calibrate), so that figures from two
machines can be told apart.

Usage: ``python3 tools/bench.py [--threads 2] [--rounds 7] [--seconds 0.4]``
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from nets import TRAIN, checked  # tools/nets.py: the script's folder is on sys.path
from threadpoolctl import threadpool_info

import cnnspec
from cnnspec.engine import conv_tuned
from cnnspec.engine.blas import blas_threads
from cnnspec.engine.calibrate import cpu_model, thresholds
from cnnspec.engine.optim import make_optimizer

CASES = [("lenet5", 64), ("lenet5", 256), ("vgg_small", 64)]
LR = 0.01


class CnnspecRunner:
    def __init__(self, spec, batch, threads, rng):
        self.model = cnnspec.compile(spec, seed=0)
        self.model.threads = threads
        self.optimizer = make_optimizer({"name": "sgd", "momentum": 0.9, "nesterov": False})
        self.x = rng.standard_normal((batch,) + spec.input_shape).astype(np.float32)
        self.y = rng.integers(0, 10, batch)

    def step(self):
        model = self.model
        _, dout = model.loss(model.forward(self.x), self.y)
        model.backward(dout, input_grad=False)
        self.optimizer.step(model.params(), model.grads(), LR)


class TorchRunner:
    """The same network in PyTorch, with the cnnspec model's initial weights."""

    def __init__(self, spec, batch, params, x, y):
        import torch

        self.torch = torch
        self.net = _torch_net(spec, params)
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=LR, momentum=0.9)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)

    def step(self):
        self.optimizer.zero_grad()
        loss = self.torch.nn.functional.cross_entropy(self.net(self.x), self.y)
        loss.backward()
        self.optimizer.step()


def _torch_net(spec, params):
    import torch
    from torch import nn

    modules = []
    for info in spec.layers:
        ir = info.ir
        if info.kind == "conv":
            top, bottom, left, right = info.pads
            assert top == bottom and left == right, "the benchmark nets pad symmetrically"
            module = nn.Conv2d(info.input_shapes[0][0], ir["filters"], tuple(ir["kernel"]),
                               stride=tuple(ir["stride"]), padding=(top, left),
                               dilation=tuple(ir["dilation"]), bias=ir["bias"])
        elif info.kind == "dense":
            module = nn.Linear(info.input_shapes[0][0], ir["units"], bias=ir["bias"])
        elif info.kind == "maxpool":
            module = nn.MaxPool2d(tuple(ir["size"]), tuple(ir["stride"]))
        elif info.kind == "relu":
            module = nn.ReLU()
        elif info.kind == "flatten":
            module = nn.Flatten()
        else:
            raise ValueError(f"no PyTorch module for {info.kind}")
        for key, value in module.named_parameters():
            value.data = torch.from_numpy(params[f"{info.name}.{key}"].copy())
        modules.append(module)
    return nn.Sequential(*modules)


def _block(step, steps):
    """Seconds taken by ``steps`` steps."""
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


def _steps_for(step, seconds):
    """How many steps make a block of about ``seconds`` (after two warm-up steps)."""
    step()
    step()
    start = time.perf_counter()
    step()
    return max(2, int(seconds / max(time.perf_counter() - start, 1e-6)))


def bench_case(name, batch, threads, rounds, seconds, torch_ok):
    spec = checked(name)
    rng = np.random.default_rng(0)
    ours = CnnspecRunner(spec, batch, threads, rng)
    theirs = TorchRunner(spec, batch, ours.model.params(), ours.x, ours.y) if torch_ok else None
    steps = _steps_for(ours.step, seconds)
    t_steps = _steps_for(theirs.step, seconds) if theirs else 0
    ours_rates, theirs_rates, ratios = [], [], []
    for _ in range(rounds):
        ours_rates.append(batch * steps / _block(ours.step, steps))
        if theirs:
            theirs_rates.append(batch * t_steps / _block(theirs.step, t_steps))
            ratios.append(ours_rates[-1] / theirs_rates[-1])
    line = f"{name:>9} batch {batch:>3}: cnnspec {statistics.median(ours_rates):8,.0f} img/s"
    if theirs:
        line += (f"   pytorch {statistics.median(theirs_rates):8,.0f} img/s   "
                 f"ratio cnnspec/pytorch median {statistics.median(ratios):.2f} "
                 f"(rounds {min(ratios):.2f}..{max(ratios):.2f})")
    print(line, flush=True)


def conv_gflops(name, batch, repeats=5):
    """GFLOP/s of the conv layers of ``name`` (forward + backward, one thread): FLOPs are
    2 * MACs for the forward, the weight gradient and (except the first layer) the input
    gradient."""
    spec = checked(name)
    model = cnnspec.compile(spec, seed=0)
    model.threads = 1  # the timers sit on this model's layers, not on thread replicas
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + spec.input_shape).astype(np.float32)
    y = rng.integers(0, 10, batch)
    convs = [node for node in model.nodes if node.kind == "conv"]
    spent = {"t": 0.0}
    for node in convs:
        node.layer.forward = _timed(node.layer.forward, spent)
        node.layer.backward = _timed(node.layer.backward, spent)
    infos = spec.by_name
    flops = sum(2 * infos[n.name].macs * batch * (2 if n.inputs == ["input"] else 3)
                for n in convs)
    with blas_threads(1):
        for i in range(repeats + 1):
            if i == 1:
                spent["t"] = 0.0
            _, dout = model.loss(model.forward(x), y)
            model.backward(dout, input_grad=False)
    return flops * repeats / spent["t"] / 1e9


def _timed(fn, spent):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        spent["t"] += time.perf_counter() - start
        return result
    return wrapper


def matmul_gflops(n=2048, repeats=5, threads=None):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    a @ a
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def deep_spec_text(lines: int = 100) -> str:
    """A spec of ``2 * lines + 2`` layers: conv + ReLU lines on 8x16x16, then a classifier."""
    body = "".join("conv 8 3x3 pad same relu\n" for _ in range(lines))
    return f"model deep\ninput 8x16x16\n{body}flatten\ndense 10\n{TRAIN}"


def _run_times(command, env, runs):
    """Median wall and CPU (user + system) seconds of ``runs`` runs of ``command``."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def startup(runs: int) -> None:
    """Whole-process times of ``cnnspec check`` (LeNet-5 and a 202-layer spec) and
    ``cnnspec --help``: the median of ``runs`` runs each, wall and CPU, the commands taking
    turns. Bytecode is written and the parser cache (in a fresh cache directory) filled by
    one run first, as on a user's machine after the first command; that cold first run is
    reported too."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as folder:
        deep = Path(folder) / "deep.cnn"
        deep.write_text(deep_spec_text())
        env = {key: value for key, value in os.environ.items()
               if key != "PYTHONDONTWRITEBYTECODE"}
        env["XDG_CACHE_HOME"] = str(Path(folder) / "cache")
        cli = [sys.executable, "-m", "cnnspec"]
        commands = {"check specs/lenet5.cnn": cli + ["check", str(root / "specs/lenet5.cnn")],
                    "check deep.cnn (202 layers)": cli + ["check", str(deep)],
                    "--help": cli + ["--help"]}
        cold = _run_times(commands["check specs/lenet5.cnn"], env, 1)
        times = {name: ([], []) for name in commands}
        for _ in range(runs):
            for name, command in commands.items():
                wall, cpu = _run_times(command, env, 1)
                times[name][0].append(wall)
                times[name][1].append(cpu)
        print(f"start-up, whole process, median of {runs} (load {_load()}):", flush=True)
        print(f"  {'cnnspec check specs/lenet5.cnn, first run (builds the parser)':<62} "
              f"{cold[0]:6.3f} s wall {cold[1]:6.3f} s CPU")
        for name, (walls, cpus) in times.items():
            print(f"  {'cnnspec ' + name:<62} {statistics.median(walls):6.3f} s wall "
                  f"{statistics.median(cpus):6.3f} s CPU", flush=True)


def _load() -> str:
    """The machine's load averages (1, 5, 15 minutes): how busy it was while measuring."""
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.4, help="length of one block")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--startup", action="store_true",
                        help="only the start-up times of cnnspec commands")
    parser.add_argument("--runs", type=int, default=9, help="runs of each start-up command")
    args = parser.parse_args(argv)
    print(f"CPU: {cpu_model()}; load {_load()}", flush=True)
    if args.startup:
        startup(args.runs)
        return
    torch_ok = False
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(args.threads)
            torch_ok = True
        except ImportError:
            print("PyTorch is not installed: cnnspec alone")
    print(f"threads {args.threads}, {args.rounds} rounds of alternating blocks of "
          f"~{args.seconds} s, float32, SGD momentum 0.9", flush=True)
    for lib in threadpool_info():
        if lib["user_api"] == "blas":
            print(f"BLAS: {lib['internal_api']} {lib['version']} "
                  f"({lib.get('threading_layer', '?')}, {lib.get('architecture', '?')}), "
                  f"{lib['num_threads']} threads by default", flush=True)
    print(f"CPU: {cpu_model()}", flush=True)
    limits = thresholds()
    print(f"conv thresholds: chunks of at most {limits.chunk_bytes // 1024} KB and "
          f"{limits.chunk_columns} columns ({limits.source}), columns kept up to "
          f"{conv_tuned.KEEP_BYTES // 2 ** 20} MB, transposed input gradient up to a ratio of "
          f"{conv_tuned.TRANSPOSED_RATIO}", flush=True)
    for name, batch in CASES:
        bench_case(name, batch, args.threads, args.rounds, args.seconds, torch_ok)
    with blas_threads(1):
        one = matmul_gflops()
    for name, batch in (("lenet5", 64), ("vgg_small", 64)):
        print(f"{name:>9} conv layers (forward + backward, 1 thread): "
              f"{conv_gflops(name, batch):6.1f} GFLOP/s", flush=True)
    print(f"  float32 2048x2048 matmul, 1 thread: {one:6.1f} GFLOP/s; "
          f"default threads: {matmul_gflops():6.1f} GFLOP/s")


if __name__ == "__main__":
    main()
