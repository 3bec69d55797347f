"""Training curves: loss and accuracy per epoch for the training and validation splits, with
the learning rate on a second axis (so a schedule's steps line up with the curves' bends).

``metrics`` is the run's list of per-epoch records with keys ``epoch``, ``train_loss``,
``train_acc``, ``val_loss``, ``val_acc`` and ``lr``; a key may be missing or ``None`` (no
validation split, say), and that line is then left out. :class:`Curves` draws them into a
training run's folder as a training callback.
"""
from __future__ import annotations

import math
from pathlib import Path

from cnnspec.errors import RunError
from cnnspec.metrics import ACCURACIES, EPOCH, LOSSES, LR, TITLES
from cnnspec.render import palette
from cnnspec.render.figure import (
    axes_title,
    axis_label,
    figure_title,
    log_axis,
    new_figure,
    save_png,
    share_axis,
    share_axis_text,
    whole_numbers,
)
from cnnspec.training import rundir
from cnnspec.training.callbacks import Callback
from cnnspec.training.progress import Display
from cnnspec.training.run import read_summary
from cnnspec.training.rundir import RunDir

# A loss that spans more than this factor (a fast start, or a divergence) is drawn on a log
# scale so the late epochs are not squashed flat against the axis.
_LOG_SCALE_RATIO = 30.0
# The legend's word for the lines between epochs where a run was extended: short, as the
# legend of a panel is one row (its place on the axis says after which epoch).
EXTENDED_LABEL = "extended"


def _series(metrics: list[dict], key: str) -> list[float]:
    """Values of ``key`` per epoch, NaN where missing (Matplotlib leaves a gap there)."""
    out = []
    for record in metrics:
        value = record.get(key)
        out.append(float(value) if value is not None else math.nan)
    return out


def _present(values: list[float]) -> bool:
    return any(not math.isnan(v) for v in values)


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def _plot_pair(ax, epochs, metrics, columns: tuple[str, str], label: str) -> None:
    """Draw ``columns``, a training figure and its validation one (:data:`LOSSES`,
    :data:`ACCURACIES`), on ``ax`` in the shared train/val colours."""
    for column, name, colour, style in zip(columns, ("train", "validation"),
                                           (palette.TRAIN_COLOUR, palette.VAL_COLOUR),
                                           ("-", "--")):
        values = _series(metrics, column)
        if _present(values):
            ax.plot(epochs, values, style, color=colour, marker="o", markersize=3, label=name)
    axis_label(ax, "epoch", "x")
    axis_label(ax, label)
    ax.grid(True, alpha=0.3)


def _maybe_log_scale(ax, metrics) -> None:
    values = [v for v in _finite([v for c in LOSSES for v in _series(metrics, c)])
              if v > 0]
    if values and max(values) / min(values) > _LOG_SCALE_RATIO:
        log_axis(ax)


def epoch_steps(epochs: list[float], values: list[float]) -> tuple[list[float], list[float]]:
    """A step line holding each epoch's value over that epoch's width: from halfway to the
    epoch before to halfway to the next, centred on the epoch's points (half an epoch beyond
    the first and the last). A step drawn from each point to the next (``where="post"``)
    gives the last value no width at all: a learning rate halved for the last epoch, or a
    run of one epoch, never showed. A missing value is a gap."""
    xs: list[float] = []
    ys: list[float] = []
    for i, (epoch, value) in enumerate(zip(epochs, values)):
        left = (epochs[i - 1] + epoch) / 2 if i else epoch - 0.5
        right = (epoch + epochs[i + 1]) / 2 if i + 1 < len(epochs) else epoch + 0.5
        xs += [left, right]
        ys += [value, value]
    return xs, ys


def _plot_lr(ax, epochs, metrics) -> None:
    """The learning rate on a twin y-axis of ``ax``, in grey, dotted, as a step line with
    every epoch's rate over its width (:func:`epoch_steps`)."""
    lr = _series(metrics, LR)
    if not _present(lr):
        return
    twin = ax.twinx()
    twin.plot(*epoch_steps(epochs, lr), ":", color=palette.LR_COLOUR, label=TITLES[LR])
    axis_label(twin, TITLES[LR])
    twin.yaxis.label.set_color(palette.LR_COLOUR)
    twin.tick_params(axis="y", colors=palette.LR_COLOUR)
    lr_values = _finite(lr)
    if lr_values and min(lr_values) >= 0:
        twin.set_ylim(bottom=0, top=max(lr_values) * 1.1 or 1.0)
    # One legend for both axes of the panel.
    lines, labels = ax.get_legend_handles_labels()
    more_lines, more_labels = twin.get_legend_handles_labels()
    _legend_below(ax, lines + more_lines, labels + more_labels)


def _mark_best(ax, best_epoch: int | None) -> None:
    """A vertical line at the epoch whose weights ``eval`` and ``predict`` use."""
    if best_epoch:
        ax.axvline(best_epoch, color=palette.BEST_COLOUR, linestyle="-.", linewidth=1.0,
                   label=f"best epoch {best_epoch}")


def _mark_extensions(ax, extended_after) -> None:
    """A vertical line between the last epoch a run was planned for and the first of its
    extension (``train --resume --epochs``): where a schedule over the run's epochs was
    stretched to the new total (a cosine schedule's rate rises again there)."""
    for i, epoch in enumerate(extended_after):  # one legend entry for them all
        ax.axvline(epoch + 0.5, color=palette.EXTENDED_COLOUR, linestyle="--", linewidth=0.8,
                   label=EXTENDED_LABEL if i == 0 else "_nolegend_")


def _legend_below(ax, handles, labels) -> None:
    """A one-row legend under the panel, where it can never hide a curve."""
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.16),
              ncol=len(handles), fontsize=8, frameon=False)


def plot_curves(metrics: list[dict], out_png, title: str | None = None,
                best_epoch: int | None = None, extended_after: tuple[int, ...] = ()) -> Path:
    """Draw loss (left) and accuracy (right) per epoch, train and validation, with the
    learning rate on a second axis of the loss panel, ``best_epoch`` (the one ``best.npz``
    keeps) and the epochs after which the run was extended (``extended_after``) marked on
    both; write a PNG and return its path."""
    if not metrics:
        raise RunError("no metrics to plot: the run has no finished epoch",
                       hint="train for at least one epoch")
    epochs = [record.get(EPOCH, i + 1) for i, record in enumerate(metrics)]
    fig = new_figure(10.0, 4.3)
    # one epoch axis: the learning rate's steps widen the loss panel's by half an epoch
    loss_ax, acc_ax = fig.subplots(1, 2, sharex=True)

    _plot_pair(loss_ax, epochs, metrics, LOSSES, "loss")
    _mark_best(loss_ax, best_epoch)
    _mark_extensions(loss_ax, extended_after)
    _maybe_log_scale(loss_ax, metrics)
    axes_title(loss_ax, "loss")
    _plot_lr(loss_ax, epochs, metrics)
    if not loss_ax.get_legend() and loss_ax.get_legend_handles_labels()[0]:
        _legend_below(loss_ax, *loss_ax.get_legend_handles_labels())

    _plot_pair(acc_ax, epochs, metrics, ACCURACIES, "accuracy")
    _mark_best(acc_ax, best_epoch)
    _mark_extensions(acc_ax, extended_after)
    acc_values = _finite([v for c in ACCURACIES for v in _series(metrics, c)])
    bottom = 0.0
    if acc_values and max(acc_values) <= 1.0:
        bottom = share_axis(acc_ax, acc_values)
    axes_title(acc_ax, share_axis_text("accuracy", bottom))
    if acc_ax.get_legend_handles_labels()[0]:
        _legend_below(acc_ax, *acc_ax.get_legend_handles_labels())

    for ax in (loss_ax, acc_ax):
        whole_numbers(ax)
    if title:
        figure_title(fig, title)
    return save_png(fig, out_png)


class Curves(Callback):
    """Training callback: ``curves.png`` in the run folder when training ends (finished,
    interrupted or diverged). A plotting failure is reported, never allowed to lose the run."""

    def on_end(self, metrics: list[dict], run_dir: Path, display: Display) -> None:
        if not metrics:
            return
        try:
            plot_curves(metrics, Path(run_dir) / rundir.CURVES, **_marks(run_dir))
        except RunError as exc:
            display.message(f"note: curves.png not written: {exc.message}")


def run_title(run_dir: Path, spec: object, what: str = "loss and accuracy per epoch") -> str:
    """A run's picture's title, the curves' by default: the spec's name (``spec``, from the
    run's summary; left out where it is no name), ``what`` it draws and the run's folder,
    which tells runs of one spec apart."""
    what = f"{what} of run {Path(run_dir).name}"
    return f"{spec}: {what}" if isinstance(spec, str) and spec else what


def _marks(run_dir: Path) -> dict:
    """What the run's summary (written before the curves) says to mark: ``best_epoch`` (None
    without a validation split) and ``extended_after``, the epochs each extension started
    after, and the title. A damaged summary leaves the curves without them, titled with the
    run's folder alone."""
    try:
        summary = read_summary(RunDir(Path(run_dir)))
    except RunError:
        return {"best_epoch": None, "extended_after": (), "title": run_title(run_dir, None)}
    return {"title": run_title(run_dir, summary.get("spec")),
            "best_epoch": summary.get("best_epoch"),
            "extended_after": tuple(e["from_epochs"] for e in summary.get("extended", ())
                                    if isinstance(e, dict)
                                    and isinstance(e.get("from_epochs"), int))}
