"""cnnspec's speed, memory and start-up, side by side with PyTorch when it is installed.

Parts (``--parts``, default all; every figure printed with the CPU model and the load):

- speed: images per second of full training steps (forward, loss, backward, SGD update with
  momentum 0.9) in float32 for LeNet-5 on 1x28x28 (batch 64 and 256), a small VGG-style net
  and a ResNet-style net with batch norm and residual adds on 3x32x32 (batch 64); see
  tools/nets.py. The machine's speed drifts from second to second, so the two engines run in
  alternating blocks of steps in one process (A B A B ...) and the reported ratio is the
  median of the per-round ratios. Both use the same number of threads: PyTorch via
  ``torch.set_num_threads``, cnnspec via ``model.threads`` (batch parts, those after the
  first in worker processes where they can be forked, else in threads; batch norm sums its
  statistics across them). Then the GFLOP/s of the conv layers (one thread, FLOPs from
  the kinds registry) against one large float32 matrix product.
- memory: the peak resident memory a training step adds, each engine in its own process;
  and the estimate ``cnnspec check``/``summary`` print (cnnspec.check.memory) against what it
  estimates: the peak of the arrays NumPy allocates (tracemalloc) while the model is built
  and trained three steps with the engine's default batch halves (run in threads here: the
  worker processes' arrays are the same, and tracemalloc sees one process).
- startup: whole-process times of ``cnnspec check`` and ``cnnspec --help``.
- deep: steps per second of a 1,000-conv 8-channel tanh net on 8x8 inputs; at batch 1 the
  time per layer is the engine's per-layer overhead.
- epoch: one epoch of 60,000 MNIST-shaped images for LeNet-5, both engines taking turns.

``--readme README.md`` also writes the output into README's bench.py block (its figures are
this script's output, never typed).

Usage: ``python3 tools/bench.py [--threads 2] [--rounds 7] [--seconds 0.4] [--parts ...]``
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# tools/nets.py (the script's folder is on sys.path)
from nets import LR, TRAIN, TorchRunner, checked
from profile_engine import timed

import cnnspec
from cnnspec.check.memory import EXAMPLES_OVERESTIMATE
from cnnspec.engine import chunking, conv_tuned, footprint, processes, splitting
from cnnspec.engine.blas import blas_text, get_threads
from cnnspec.engine.calibrate import cpu_model, largest_limits, load_averages, load_text
from cnnspec.engine.conv_tuned import thresholds
from cnnspec.engine.optim import make_optimizer
from cnnspec.engine.timing import PEAK_SIZE, matmul_peak

CASES = [("lenet5", 64), ("lenet5", 256), ("vgg_small", 64), ("resnet_small", 64)]
MEMORY_CASES = [("lenet5", 256), ("vgg_small", 64), ("resnet_small", 64)]
# the nets whose conv layers' GFLOP/s are printed beside the matmul peak, and their batch
GFLOPS_CASES = [("lenet5", 64), ("vgg_small", 64), ("resnet_small", 64)]


class CnnspecRunner:
    def __init__(self, spec, batch, threads, rng, lr=LR):
        self.lr = lr
        self.model = cnnspec.compile(spec, seed=0)
        self.model.threads = threads
        self.optimizer = make_optimizer({"name": "sgd", "momentum": 0.9, "nesterov": False})
        self.x = rng.standard_normal((batch,) + spec.input_shape).astype(np.float32)
        self.y = rng.integers(0, 10, batch)

    def set_batch(self, x, y):
        self.x, self.y = x, y

    def step(self):
        model = self.model
        model.loss_and_grads(self.x, self.y)  # as `cnnspec train` steps
        self.optimizer.step(model.params(), model.grads(), self.lr)


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
    theirs = TorchRunner(spec, ours.model.params(), ours.x, ours.y) if torch_ok else None
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


def conv_gflops(name, batch, steps=5):
    """GFLOP/s of the conv layers of ``name`` (forward + backward, one thread; FLOPs from the
    kinds registry, as ``cnnspec time`` counts them)."""
    convs = [layer for layer in timed(name, batch, steps).layers if layer.kind == "conv"]
    flops = sum(layer.forward_flops + layer.backward_flops for layer in convs)
    return flops / sum(layer.seconds for layer in convs) / 1e9


def _rss_bytes() -> int:
    """The process's resident memory now (Linux: /proc/self/statm)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_bytes() -> int:
    """The peak resident memory of this process's address space (Linux: VmHWM). Not
    getrusage's maxrss, which survives exec: a child started by a large parent reports the
    parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # kB
    raise OSError("no VmHWM in /proc/self/status")


def _reset_peak_rss() -> None:
    """Set the peak to the present resident memory (Linux 4.0+), where the system allows."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def memory_child(engine: str, name: str, batch: int) -> None:
    """Run in a fresh process: build ``engine``'s runner, then print, as JSON, what three
    training steps take. For ``cnnspec`` and ``pytorch`` (one thread) that is the growth of
    the peak resident memory over the resident memory just before the steps: the memory a
    step needs beyond the model, the data and the libraries. For ``check`` it is what
    ``check``'s step estimate counts: the peak of the arrays NumPy allocates (tracemalloc)
    from before the model is built, with the engine's default batch halves (the model, its
    work buffers, gradients and optimizer state, and the steps), the second half in a thread
    (tracemalloc sees one process), under the largest limits calibration may choose, whose
    buffers the estimate counts (check does not read the machine's). Resident memory holds
    more (BLAS buffers, the allocator's slack), which ``check`` adds for its figure of a
    process."""
    import gc
    import tracemalloc

    from cnnspec.engine.blas import available

    spec = checked(name)
    rng = np.random.default_rng(0)
    thresholds(), available()  # loaded on first use, not memory of a step
    if engine == "check":
        # under the limits whose buffers the estimate counts, not the machine's own (check
        # does not read them): the step the tests hold the estimate to
        largest = largest_limits(chunking.chunk_bytes())
        conv_tuned.thresholds = lambda: largest
        tracemalloc.start()
        runner = CnnspecRunner(spec, batch, spec.ir["training"]["cores"], rng)
        # tracemalloc sees this process's arrays only: the parts run in threads, whose arrays
        # are the worker processes' (check's estimate also counts what the workers add)
        runner.model.parts_in = "threads"
    else:
        runner = _one_thread_runner(engine, spec, batch, rng)
        gc.collect()
        _reset_peak_rss()
        before = _rss_bytes()
    for _ in range(3):
        runner.step()
    if engine == "check":
        step_bytes = tracemalloc.get_traced_memory()[1]
    else:
        step_bytes = max(0, _peak_rss_bytes() - before)
    print(json.dumps({"step_bytes": step_bytes}))


def _one_thread_runner(engine: str, spec, batch: int, rng):
    """``engine``'s runner on one thread; PyTorch's with the cnnspec model's weights."""
    ours = CnnspecRunner(spec, batch, 1, rng)
    if engine == "cnnspec":
        return ours
    import torch

    torch.set_num_threads(1)
    return TorchRunner(spec, ours.model.params(), ours.x, ours.y)


def memory(cases, torch_ok: bool) -> None:
    """Peak memory of a training step per engine (each in its own process, one thread), and
    check's estimate (cnnspec.check.memory) at the same batch against what it estimates: the
    arrays of the model built and trained with the engine's default batch halves (in threads),
    in a process of its own."""
    print("peak memory of a training step (resident, beyond the model and data; one thread, "
          "own process), and check's estimate against the arrays of the model built and "
          "trained (tracemalloc, the default batch halves, in threads: the arrays of the "
          "worker processes are the same; under the largest conv limits, which the estimate "
          f"counts; held to 1-{EXAMPLES_OVERESTIMATE}x by the tests):",
          flush=True)
    for name, batch in cases:
        measured = {}
        for engine in ("cnnspec", "pytorch", "check") if torch_ok else ("cnnspec", "check"):
            out = subprocess.run([sys.executable, __file__, "--memory-child", engine, name,
                                  str(batch)], check=True, capture_output=True, text=True)
            measured[engine] = json.loads(out.stdout.splitlines()[-1])["step_bytes"]
        estimate = checked(name, batch).step_memory.total
        line = f"{name:>12} batch {batch:>3}: cnnspec {measured['cnnspec'] / 2**20:7.1f} MiB"
        if "pytorch" in measured:
            line += (f"   pytorch {measured['pytorch'] / 2**20:7.1f} MiB   cnnspec/pytorch "
                     f"{measured['cnnspec'] / max(measured['pytorch'], 1):.2f}")
        line += (f"   check's estimate {estimate / 2**20:7.1f} MiB, "
                 f"{estimate / max(measured['check'], 1):.2f}x the "
                 f"{measured['check'] / 2**20:.1f} MiB allocated")
        print(line, flush=True)


def deep_spec_text(lines: int = 100) -> str:
    """A spec of ``2 * lines + 2`` layers that ``cnnspec check`` passes: conv + ReLU lines on
    the built-in digits (1x8x8, the default data; an npz file the spec named but that is not
    there is an error of check's), then a classifier."""
    body = "".join("conv 8 3x3 pad same relu\n" for _ in range(lines))
    return f"model deep\ninput 1x8x8\n{body}flatten\ndense 10\n"


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
    turns, after one run of each that writes the bytecode (as pip does when it installs).
    The parser is generated from the grammar ahead of time (cnnspec/lang/grammar.py): no run
    builds it."""
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
        for command in commands.values():
            _run_times(command, env, 1)
        times = {name: ([], []) for name in commands}
        for _ in range(runs):
            for name, command in commands.items():
                wall, cpu = _run_times(command, env, 1)
                times[name][0].append(wall)
                times[name][1].append(cpu)
        print(f"start-up, whole process, median of {runs} "
              f"(load {load_text(load_averages())}):", flush=True)
        for name, (walls, cpus) in times.items():
            print(f"  {'cnnspec ' + name:<62} {statistics.median(walls):6.3f} s wall "
                  f"{statistics.median(cpus):6.3f} s CPU", flush=True)


def deep(layers: int = 1000, batches=(1, 32), steps: int = 5) -> None:
    """Training steps per second of a deep thin net: ``layers`` lines of ``conv 8 3x3 pad same
    tanh`` on 8x8x8 inputs (each line two nodes), one thread, the median of ``steps`` steps
    after one warm-up. At batch 1 the arithmetic is negligible, so the time per node is the
    engine's per-layer overhead (Python, NumPy dispatch, small allocations)."""
    text = ("model deep\ninput 8x8x8\ndefault weight glorot_uniform, bias zeros\n"
            + "conv 8 3x3 pad same tanh\n" * layers
            + "flatten\ndense 10\n" + TRAIN)
    from cnnspec.check.checker import check
    from cnnspec.lang import parse

    start = time.perf_counter()
    spec = check(parse(text))
    checked_in = time.perf_counter() - start
    print(f"deep thin net: {layers} x (conv 8 3x3 pad same + tanh) on 8x8x8, "
          f"{len(spec.layers)} layers (checked in {checked_in:.2f} s), SGD momentum 0.9, "
          f"1 thread (load {load_text(load_averages())}):", flush=True)
    for batch in batches:
        runner = CnnspecRunner(spec, batch, 1, np.random.default_rng(0), lr=0.0)
        runner.step()
        seconds = statistics.median(_block(runner.step, 1) for _ in range(steps))
        print(f"  batch {batch:>3}: {1 / seconds:6.2f} steps/s, {seconds * 1e3:8.1f} ms a step, "
              f"{seconds / len(spec.layers) * 1e6:6.1f} us a layer (forward + backward + "
              f"update)", flush=True)


def epoch(threads: int, torch_ok: bool, images: int = 60_000, batch: int = 64,
          parts: int = 10) -> None:
    """One epoch of MNIST-shaped data (``images`` x 1x28x28, synthetic: the speed does not
    depend on the values) for LeNet-5 at ``batch``, each engine through the whole epoch in
    the same shuffled order. The epoch is cut into ``parts`` runs of batches and the engines
    take turns on them, so that both see the same load; each engine's time is its sum."""
    spec = checked("lenet5")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((images, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, images)
    order = rng.permutation(images)
    ours = CnnspecRunner(spec, batch, threads, rng)
    runners = {"cnnspec": ours}
    if torch_ok:
        runners["pytorch"] = TorchRunner(spec, ours.model.params(), ours.x, ours.y)
    starts = list(range(0, images, batch))
    spent = dict.fromkeys(runners, 0.0)
    for chunk in np.array_split(np.arange(len(starts)), parts):
        for name, runner in runners.items():
            start = time.perf_counter()
            for k in chunk:
                runner.set_batch(x[order[starts[k]:starts[k] + batch]],
                                 y[order[starts[k]:starts[k] + batch]])
                runner.step()
            spent[name] += time.perf_counter() - start
    line = (f"one epoch, {images:,} MNIST-shaped images (synthetic), LeNet-5, batch {batch}, "
            f"{threads} threads: cnnspec {spent['cnnspec']:.1f} s")
    if torch_ok:
        line += (f", pytorch {spent['pytorch']:.1f} s, cnnspec/pytorch speed "
                 f"{spent['pytorch'] / spent['cnnspec']:.2f}")
    print(line + f" (load {load_text(load_averages())})", flush=True)


PARTS = ("speed", "memory", "startup", "deep", "epoch")


def speed(args, torch_ok: bool) -> None:
    """Training throughput against PyTorch, per-layer GFLOP/s of the convs, the matmul peak."""
    print(f"speed: threads {args.threads}, {args.rounds} rounds of alternating blocks of "
          f"~{args.seconds} s, float32, SGD momentum 0.9", flush=True)
    if args.threads > 1:
        where = ("worker processes" if processes.runs_parts(splitting.DEFAULT_PARTS_IN)
                 else "threads")
        print(f"cnnspec: batches as {args.threads} parts (PyTorch: {args.threads} intra-op "
              f"threads), the parts after the first in {where}", flush=True)
    limits = thresholds()
    print(f"conv thresholds: chunks of at most "
          f"{chunking.column_bytes(limits.chunk_bytes) // 1024} KB and "
          f"{limits.chunk_columns} columns ({limits.source}), batch-last blocks from "
          f"{chunking.BLOCKED_IMAGES} images a chunk, thin layers' columns and Winograd's "
          f"transformed input tiles (within a step's budget) kept up to "
          f"{chunking.KEEP_BYTES // 2 ** 20} MB a layer, "
          f"transposed input gradient up to a ratio of "
          f"{footprint.TRANSPOSED_RATIO}; Winograd F({footprint.WINOGRAD_TILE}x"
          f"{footprint.WINOGRAD_TILE}, 3x3) for float32 3x3 stride-1 layers of at least "
          f"{footprint.WINOGRAD_MIN_CHANNELS} channels in and out and "
          f"{footprint.WINOGRAD_MIN_TILE_COLUMNS} tiles a row (of "
          f"{footprint.WINOGRAD_FEW_CHANNELS} channels, "
          f"{footprint.WINOGRAD_FEW_CHANNELS_TILE_COLUMNS} tiles a row), and "
          f"{footprint.WINOGRAD_MIN_OUTPUTS} output pixels a channel, in chunks of at most "
          f"{limits.winograd_bytes // 1024} KB of transformed tiles; blocks by kernel rows "
          f"and thin layers' groups of columns of at most {limits.block_bytes // 1024} KB",
          flush=True)
    for name, batch in CASES:
        bench_case(name, batch, args.threads, args.rounds, args.seconds, torch_ok)
    for name, batch in GFLOPS_CASES:
        print(f"{name:>12} conv layers (forward + backward, 1 thread): "
              f"{conv_gflops(name, batch):6.1f} GFLOP/s", flush=True)
    print(f"  float32 {PEAK_SIZE}x{PEAK_SIZE} matmul, 1 thread: {matmul_peak():6.1f} GFLOP/s "
          f"(load {load_text(load_averages())})", flush=True)


README_BEGIN = "<!-- bench.py output: begin -->"
README_END = "<!-- bench.py output: end -->"


class _Tee:
    """Standard output that also keeps what is written (for --readme)."""

    def __init__(self, stream):
        self.stream, self.lines = stream, []

    def write(self, text):
        self.lines.append(text)
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()


def write_readme(path: Path, command: str, output: str) -> None:
    """Replace the block between README_BEGIN and README_END in ``path`` with ``command`` and
    its ``output``, verbatim: the README's figures are this script's, never typed by hand."""
    text = path.read_text()
    if README_BEGIN not in text or README_END not in text:
        raise SystemExit(f"{path} has no {README_BEGIN} ... {README_END} block")
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    block = f"{README_BEGIN}\n```\n$ {command}\n{output.rstrip()}\n```\n{README_END}"
    path.write_text(head + block + tail)


def refuse_busy_machine() -> None:
    """README's figures are measured on a quiet machine: other work on its cores slows both
    engines unequally (PyTorch's threads wait on each other; ratios of 4-7x were seen under a
    load of 15 on 2 cores), so a busy machine's run may be printed, not written there."""
    load = load_averages()
    cores = os.cpu_count() or 1
    if load and load[0] > cores:
        raise SystemExit(f"the machine is busy (load {load_text(load)} on {cores} cores): "
                         "README's figures are measured on a quiet machine; run without "
                         "--readme to see this run's figures, or again when it is quiet "
                         "(--busy writes them anyway)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.4, help="length of one block")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"which measurements, comma-separated: {', '.join(PARTS)} "
                             "(default: all)")
    parser.add_argument("--startup", action="store_true",
                        help="only the start-up times (the same as --parts startup)")
    parser.add_argument("--runs", type=int, default=9, help="runs of each start-up command")
    parser.add_argument("--readme", metavar="README.md",
                        help="also write the output into this file's bench.py block")
    parser.add_argument("--busy", action="store_true",
                        help="with --readme: write the block even on a busy machine")
    parser.add_argument("--memory-child", nargs=3, metavar=("ENGINE", "NET", "BATCH"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        engine, name, batch = args.memory_child
        memory_child(engine, name, int(batch))
        return
    parts = ["startup"] if args.startup else args.parts.split(",")
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    if args.readme and not args.busy:
        refuse_busy_machine()
    if args.readme:
        tee = _Tee(sys.stdout)
        with contextlib.redirect_stdout(tee):
            measure(args, parts)
        command = ".venv/bin/python tools/bench.py " + " ".join(
            arg for arg in (argv if argv is not None else sys.argv[1:])
            if not arg.startswith("--readme") and arg not in (args.readme, "--busy"))
        write_readme(Path(args.readme), command.strip(), "".join(tee.lines))
    else:
        measure(args, parts)


def measure(args, parts) -> None:
    """Every measurement named in ``parts``, printed."""
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; CPU: {cpu_model()}; "
          f"{os.cpu_count()} cores; load {load_text(load_averages())}", flush=True)
    print(f"BLAS: {blas_text()}, {get_threads()} threads by default", flush=True)
    torch_ok = False
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(args.threads)
            torch_ok = True
            print(f"PyTorch {torch.__version__}, NumPy {np.__version__}", flush=True)
        except ImportError:
            print("PyTorch is not installed: cnnspec alone")
    if "speed" in parts:
        speed(args, torch_ok)
    if "memory" in parts:
        memory(MEMORY_CASES, torch_ok)
    if "startup" in parts:
        startup(args.runs)
    if "deep" in parts:
        deep()
    if "epoch" in parts:
        epoch(args.threads, torch_ok)


if __name__ == "__main__":
    main()
