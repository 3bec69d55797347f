"""What the user sees while training: a live bar on a terminal, a line per epoch otherwise.

The bar is tqdm's (loss, accuracy and ETA of the current epoch, written to stderr); when stderr
is not a terminal (a log file, CI) each finished epoch prints one line instead, so logs stay
readable. ``quiet`` prints nothing.
"""
from __future__ import annotations

import os
import sys

from cnnspec.errors import SettingError
from cnnspec.given import shown
from cnnspec.metrics import (
    EPOCH,
    IMAGES_PER_S,
    LR,
    SECONDS,
    TRAIN_ACC,
    TRAIN_LOSS,
    VAL_ACC,
    VAL_LOSS,
    loss_text,
)

FALLBACK_COLUMNS, FALLBACK_ROWS = 100, 24


def _columns(stream) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


def terminal_bar(total: int, desc: str, unit: str, stream, done: int = 0):
    """A tqdm bar of ``total`` ``unit``s on ``stream`` (a terminal), ``done`` of them done."""
    from tqdm import tqdm  # ~40 ms of imports, for the bar only

    # A terminal that reports a 0x0 size (some pseudo-terminals do) would get no bar from
    # tqdm's size detection (too narrow, and no row to draw on); give it a fixed size.
    sized = _columns(stream) > 0
    return tqdm(total=total, initial=done, desc=desc, file=stream, leave=True,
                dynamic_ncols=sized, ncols=None if sized else FALLBACK_COLUMNS,
                nrows=None if sized else FALLBACK_ROWS, unit=unit)


def format_epoch(row: dict, epochs: int) -> str:
    """One line for a finished epoch, e.g. ``epoch  3/20  train 0.412 (87.1%)  val ...``."""
    width = len(str(epochs))
    text = (f"epoch {row[EPOCH]:>{width}}/{epochs}  train loss {loss_text(row[TRAIN_LOSS])} "
            f"acc {100 * row[TRAIN_ACC]:5.1f}%")
    if row.get(VAL_LOSS) is not None:
        text += f"  val loss {loss_text(row[VAL_LOSS])} acc {100 * row[VAL_ACC]:5.1f}%"
    # fixed widths, so that the columns stay put from epoch to epoch (0.02 to 0.000489 under a
    # cosine schedule: 8 characters as %.3g writes it, 1.23e-05 too)
    return text + (f"  lr {row[LR]:<8.3g}  {row[SECONDS]:5.1f}s  "
                   f"{row[IMAGES_PER_S]:6.0f} img/s")


class Display:
    """The silent display; subclasses override what they show."""

    def start_epoch(self, epoch: int, epochs: int, steps: int, done: int) -> None:
        """``epoch`` is 1-based; ``done`` steps of it already ran (after a resume)."""

    def step(self, loss: float, acc: float) -> None:
        """One step finished; ``loss`` and ``acc`` are the epoch's running means."""

    def end_epoch(self, row: dict, epochs: int) -> None:
        """The epoch's metrics row is complete."""

    def message(self, text: str) -> None:
        """A note worth showing even between bars (resume, LSUV)."""

    def close(self) -> None:
        """The run is over: release the terminal (a bar), nothing to do otherwise."""


class LineDisplay(Display):
    """One line per finished epoch on ``stream``."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout

    def end_epoch(self, row: dict, epochs: int) -> None:
        print(format_epoch(row, epochs), file=self.stream, flush=True)

    def message(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


class BarDisplay(LineDisplay):
    """A tqdm bar per epoch (on stderr), replaced by the epoch's line when it ends."""

    def __init__(self, stream=None) -> None:
        super().__init__(stream or sys.stderr)
        self.bar = None

    def start_epoch(self, epoch: int, epochs: int, steps: int, done: int) -> None:
        self.close()
        self.bar = terminal_bar(steps, f"epoch {epoch}/{epochs}", "batch", self.stream, done)

    def step(self, loss: float, acc: float) -> None:
        self.bar.set_postfix_str(f"loss {loss_text(loss)} acc {100 * acc:.1f}%", refresh=False)
        self.bar.update(1)

    def end_epoch(self, row: dict, epochs: int) -> None:
        # The finished bar gives way to the epoch's line, as in a log: kept as the bar, its
        # figures were cut at the terminal's edge (on 80 columns, the validation accuracy).
        self.bar.leave = False
        self.close()
        super().end_epoch(row, epochs)

    def message(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            super().message(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def make_display(progress, quiet: bool) -> Display:
    """``progress`` is a :class:`Display`, or ``"bar"``, ``"lines"``, ``"none"``, or None to
    choose: a bar when stderr is a terminal, lines otherwise."""
    if isinstance(progress, Display):
        return progress
    if quiet or progress == "none":
        return Display()
    if progress is None:
        progress = "bar" if sys.stderr.isatty() else "lines"
    if progress == "bar":
        return BarDisplay()
    if progress == "lines":
        return LineDisplay()
    raise SettingError(f"{{progress}} must be 'bar', 'lines', 'none' or a Display, not "
                       f"{shown(progress)}", hint="e.g. {progress:'none'}",
                       invalid=True)
