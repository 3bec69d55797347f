"""The columns of a run's metrics, one row per epoch (``metrics.jsonl``, ``metrics.csv``),
declared once: the training loop writes them; the summary, the progress line, the curves, the
lab's and the sweep's pictures and tables, and the spec's ``monitor`` setting read them.

Plain names, no imports, so that the IR's catalogue can name the monitored columns too.
"""
from __future__ import annotations

EPOCH = "epoch"  # counted from 1
TRAIN_LOSS = "train_loss"  # mean loss over the epoch's training images, as trained on
TRAIN_ACC = "train_acc"  # share of the epoch's training images classed right
VAL_LOSS = "val_loss"  # loss on the validation split after the epoch; None without one
VAL_ACC = "val_acc"  # accuracy on the validation split after the epoch; None without one
LR = "lr"  # the learning rate of the epoch's last step
SECONDS = "seconds"  # the epoch's wall time, validation included
IMAGES_PER_S = "images_per_s"  # training images per second of training steps

COLUMNS = (EPOCH, TRAIN_LOSS, TRAIN_ACC, VAL_LOSS, VAL_ACC, LR, SECONDS, IMAGES_PER_S)
# The loss and the accuracy, on the training images and the validation split: the figures a
# run's summary keeps the last of (``final_<column>``) and its curves draw as pairs.
LOSSES = (TRAIN_LOSS, VAL_LOSS)
ACCURACIES = (TRAIN_ACC, VAL_ACC)
FIGURES = (TRAIN_LOSS, TRAIN_ACC, VAL_LOSS, VAL_ACC)
# The columns that may hold NaN or an infinity in the rows training keeps: the validation split
# is scored with no divergence check, so its loss can overflow (an epoch that improves nothing),
# while a training step whose loss does stops the run before its row is written. The run's
# JSON files write such a figure as null.
MAY_OVERFLOW = (VAL_LOSS,)
# How a picture's axis names a column.
TITLES = {TRAIN_LOSS: "training loss", TRAIN_ACC: "training accuracy",
          VAL_LOSS: "validation loss", VAL_ACC: "validation accuracy", LR: "learning rate"}


# Where a loss is written in scientific notation: an init of std 1e18 trains to a loss of 1e37,
# which four decimals write as 38 digits and a point.
FIXED_LOSS_LIMIT = 1e6


def loss_text(loss: float) -> str:
    """A loss (or a monitored figure) as the progress line and the reports write it: four
    decimals, ``5.8271e+37`` at or beyond :data:`FIXED_LOSS_LIMIT`."""
    return f"{loss:.4f}" if abs(loss) < FIXED_LOSS_LIMIT else f"{loss:.4e}"
