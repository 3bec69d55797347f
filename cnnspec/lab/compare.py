"""``cnnspec compare``: train one spec under several inits and several seeds, side by side.

This is the comparison practitioners make by hand: the same network, the same data in the same
order, only the init differs. Seed ``k`` of every variant trains with the same run seed, so the
dataset, the validation split and the batch order are identical across variants (they come from
their own streams, :mod:`cnnspec.seeding`); the init draws differ because the init does.

Each (variant, seed) training is an independent job; with ``jobs > 1`` they run in separate
processes (:class:`concurrent.futures.ProcessPoolExecutor`, spawned so that no BLAS thread pool
is forked). Every job writes its own run folder under the comparison's folder.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cnnspec.errors import RunError, SpecError
from cnnspec.lab.lsuv import lsuv_init_step
from cnnspec.lab.plots import plot_learning_curves
from cnnspec.lab.variants import SPEC_LABEL, load_variant
from cnnspec.training.api import train
from cnnspec.training.files import read_jsonl
from cnnspec.training.loop import Diverged
from cnnspec.training.settings import Settings

DEFAULT_TARGET = 0.9


@dataclass(frozen=True)
class Job:
    """One training: variant ``init`` (None: the spec as written) with run seed ``seed``;
    ``epochs``, ``lr`` and ``batch_size`` override the spec's when given (for every variant
    alike)."""

    spec: str
    init: str | None
    seed: int
    epochs: int | None
    out: str
    data_dir: str | None = None
    lr: float | None = None
    batch_size: int | None = None


@dataclass
class JobResult:
    """What one training left: per-epoch metrics, the final test accuracy, and whether the
    loss diverged (NaN or inf) — then ``error`` holds the trainer's message."""

    label: str
    seed: int
    metrics: list[dict]
    test_acc: float | None
    diverged: bool
    error: str | None = None
    out: str | None = None


@dataclass
class VariantSummary:
    """One row of the comparison table: a variant over all its seeds."""

    label: str
    seeds: int
    val_acc_mean: float
    val_acc_std: float
    test_acc_mean: float
    test_acc_std: float
    epochs_to_target: float | None  # mean over the seeds that reached the target
    reached: int  # seeds that reached the target
    diverged: int  # seeds that diverged
    runs: list[JobResult] = field(default_factory=list)


def variant_label(init: str | None) -> str:
    return SPEC_LABEL if init is None else init


def slug(label: str) -> str:
    """A folder-safe name for a variant: ``normal(0, 0.01)`` -> ``normal_0_0.01``; never
    ``.``/``..`` and at most 100 characters (a long kernel literal is an --init too)."""
    name = re.sub(r"[^A-Za-z0-9.=-]+", "_", label).strip("_.")[:100].rstrip("_.")
    return name or "variant"


def run_job(job: Job) -> JobResult:
    """Train one variant with one seed (the body of a worker process): with LSUV where the
    variant asks for it, and without per-run curves (one plot of all variants is drawn at the
    end)."""
    label = variant_label(job.init)
    variant = load_variant(job.spec, job.init)
    settings = Settings(epochs=job.epochs, lr=job.lr, batch_size=job.batch_size, seed=job.seed)
    try:
        run = train(variant.checked, settings, job.out, progress="none",
                    data_dir=job.data_dir, init_steps=[lsuv_init_step])
    except Diverged as exc:
        return JobResult(label, job.seed, _metrics_on_disk(job.out), None, True, exc.message,
                         job.out)
    metrics = list(run.metrics)
    test_acc = run.summary.get("test_acc")
    diverged = bool(run.summary.get("diverged")) or not _finite_losses(metrics)
    return JobResult(label, job.seed, metrics, test_acc, diverged, None, job.out)


def _metrics_on_disk(out: str) -> list[dict]:
    path = Path(out) / "metrics.jsonl"
    return read_jsonl(path) if path.exists() else []


def _finite_losses(metrics: list[dict]) -> bool:
    values = [m.get("train_loss") for m in metrics]
    return all(v is None or math.isfinite(v) for v in values)


def _limit_blas_threads() -> None:
    """Worker initialiser: one BLAS thread per process, so ``--jobs`` processes share the
    cores instead of each starting a thread per core."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def default_jobs(n_jobs: int) -> int:
    """Two processes when there are two cores and two jobs to share them, else one."""
    return max(1, min(2, os.cpu_count() or 1, n_jobs))


def run_jobs(jobs: list[Job], workers: int,
             on_done: Callable[[JobResult], None] | None = None) -> list[JobResult]:
    """Run every job, in this process when ``workers == 1``, else in a process pool; results
    come back in the order of ``jobs``. ``on_done`` hears of each result as it finishes."""
    if workers <= 1 or len(jobs) <= 1:
        results = []
        for job in jobs:
            results.append(run_job(job))
            if on_done:
                on_done(results[-1])
        return results
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=_limit_blas_threads) as pool:
        futures = {pool.submit(run_job, job): i for i, job in enumerate(jobs)}
        results: list[JobResult | None] = [None] * len(jobs)
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if on_done:
                on_done(future.result())
    return results


def describe_result(result: JobResult) -> str:
    """One line on a finished training, for progress output."""
    if result.diverged:
        # The trainer's message says when and in which layer; its tail (where the weights
        # were saved) would make the line too long for progress output.
        where = result.error.split("; ")[0] if result.error else "diverged"
        return f"{result.label}, seed {result.seed}: {where}"
    last = result.metrics[-1] if result.metrics else {}
    val = last.get("val_acc")
    text = f"{result.label}, seed {result.seed}: "
    text += f"val acc {100 * val:.1f}%" if val is not None else "no validation split"
    if result.test_acc is not None:
        text += f", test acc {100 * result.test_acc:.1f}%"
    return text


def make_jobs(spec: str, inits: list[str | None], seeds: int, epochs: int | None, out: Path,
              data_dir: str | None = None, lr: float | None = None,
              batch_size: int | None = None) -> list[Job]:
    """One job per (variant, seed), run folders ``<out>/<variant>-seed<k>``."""
    folders = unique_folders([variant_label(init) for init in inits])
    return [Job(str(spec), init, seed, epochs, str(out / f"{folder}-seed{seed}"), data_dir, lr,
                batch_size)
            for init, folder in zip(inits, folders) for seed in range(seeds)]


def unique_folders(labels: list[str]) -> list[str]:
    """A folder name per label; labels that slug alike (``normal(0,1)`` and ``normal(0, 1)``)
    get ``-2``, ``-3``... so no two variants share a run folder."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        name = slug(label)
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return out


def epochs_to_reach(metrics: list[dict], target: float) -> int | None:
    """The first epoch whose validation accuracy is at least ``target`` (None if none is)."""
    for index, row in enumerate(metrics):
        acc = row.get("val_acc")
        if acc is not None and acc >= target:
            return int(row.get("epoch", index + 1))
    return None


def _mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and population std; NaN for no values."""
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def summarize(label: str, runs: list[JobResult], target: float) -> VariantSummary:
    """The table row of one variant: final validation and test accuracy over the seeds whose
    training finished (a diverged run has no final accuracy; it is counted under
    ``diverged``), the first epoch at ``target`` validation accuracy, divergences."""
    finished = [r for r in runs if not r.diverged]
    val = [r.metrics[-1]["val_acc"] for r in finished if r.metrics and
           r.metrics[-1].get("val_acc") is not None]
    test = [r.test_acc for r in finished if r.test_acc is not None]
    reached = [e for e in (epochs_to_reach(r.metrics, target) for r in runs) if e is not None]
    val_mean, val_std = _mean_std(val)
    test_mean, test_std = _mean_std(test)
    return VariantSummary(
        label=label, seeds=len(runs), val_acc_mean=val_mean, val_acc_std=val_std,
        test_acc_mean=test_mean, test_acc_std=test_std,
        epochs_to_target=sum(reached) / len(reached) if reached else None,
        reached=len(reached), diverged=sum(r.diverged for r in runs), runs=runs)


@dataclass
class Comparison:
    spec: str
    target: float
    out: Path
    variants: list[VariantSummary]
    seconds: float

    def curves(self) -> dict[str, list[list[dict]]]:
        """Per variant, the per-epoch metrics of each seed (for the learning-curve plot); the
        label says how many seeds diverged (their curves stop where they blew up)."""
        return {_curve_label(v): [r.metrics for r in v.runs] for v in self.variants}

    def to_dict(self) -> dict:
        return {"spec": self.spec, "target": self.target, "seconds": self.seconds,
                "variants": [asdict(v) for v in self.variants]}


def _curve_label(v: VariantSummary) -> str:
    return v.label if not v.diverged else f"{v.label} ({v.diverged}/{v.seeds} diverged)"


def default_out(spec: str, runs_dir: str | Path = "runs") -> Path:
    stem = Path(spec).stem
    return Path(runs_dir) / f"compare-{stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def compare(spec: str, inits: list[str | None], epochs: int | None = None, seeds: int = 1,
            jobs: int | None = None, out: str | Path | None = None,
            target: float = DEFAULT_TARGET, data_dir: str | None = None,
            lr: float | None = None, batch_size: int | None = None,
            on_done: Callable[[JobResult], None] | None = None) -> Comparison:
    """Train ``spec`` once per init variant and seed; returns the summarised comparison.

    ``epochs``, ``lr`` and ``batch_size`` override the spec's training settings for every
    variant; ``jobs`` trainings run at once (default :func:`default_jobs`); ``target`` is the
    validation accuracy whose first epoch the table reports; ``on_done`` hears of each
    training as it finishes.

    Every variant is checked before any training starts, so a typo in the last ``--init``
    fails at once rather than after the first variants trained.
    """
    if seeds < 1:
        raise ValueError("seeds must be at least 1")
    variants = inits or [None]
    repeated = sorted({v for v in variants if variants.count(v) > 1}, key=str)
    if repeated:
        raise SpecError(f"--init {repeated[0]} is given more than once",
                        hint="name each init variant once; use --seeds K for repeated runs",
                        file=str(spec))
    for init in variants:
        load_variant(spec, init)
    folder = Path(out) if out is not None else default_out(spec)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        # Its curves.png (say, a training run's own) would be overwritten, and run folders
        # of this comparison mixed with whatever is there.
        raise RunError(f"{folder} already exists and is not empty",
                       hint="pick another --out for the comparison, or delete the folder first")
    job_list = make_jobs(spec, variants, seeds, epochs, folder, data_dir, lr, batch_size)
    started = time.perf_counter()
    results = run_jobs(job_list, jobs or default_jobs(len(job_list)), on_done)
    seconds = time.perf_counter() - started
    rows = [summarize(variant_label(init), [r for r in results
                                            if r.label == variant_label(init)], target)
            for init in variants]
    return Comparison(str(spec), target, folder, rows, seconds)


# ---- output -------------------------------------------------------------------------------

def _pct(mean: float, std: float, seeds: int) -> str:
    """An accuracy in percent; mean +- std when there are several seeds to spread over."""
    if math.isnan(mean):
        return "-"
    if seeds == 1:
        return f"{100 * mean:5.1f}"
    return f"{100 * mean:5.1f} +- {100 * std:4.1f}"


def _reach(v: VariantSummary) -> str:
    """Epochs to the target accuracy (their mean over the seeds that reached it) and how many
    seeds did."""
    if v.epochs_to_target is None:
        return f"never (0/{v.seeds})"
    epochs = f"{v.epochs_to_target:.0f}" if v.seeds == 1 else f"{v.epochs_to_target:.1f}"
    return f"{epochs} ({v.reached}/{v.seeds})"


def format_table(comparison: Comparison) -> str:
    """The comparison table: one row per variant, accuracies in percent (mean +- std over
    the seeds when there are several)."""
    target = f"epochs to {100 * comparison.target:g}%"
    header = ["init", "val acc %", "test acc %", target, "diverged"]
    rows = []
    for v in comparison.variants:
        diverged = "no" if v.diverged == 0 else f"yes ({v.diverged}/{v.seeds})"
        rows.append([v.label, _pct(v.val_acc_mean, v.val_acc_std, v.seeds),
                     _pct(v.test_acc_mean, v.test_acc_std, v.seeds), _reach(v), diverged])
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    seeds = comparison.variants[0].seeds if comparison.variants else 0
    if seeds == 1:
        lines.append(f"(1 seed per variant; runs in {comparison.out})")
    else:
        lines.append(f"({seeds} seeds per variant; accuracies: mean +- std over the seeds "
                     f"that did not diverge; runs in {comparison.out})")
    return "\n".join(lines)


def plot(comparison: Comparison, out_png) -> Path:
    return plot_learning_curves(comparison.curves(), out_png,
                                title=f"{Path(comparison.spec).stem}: inits compared")
