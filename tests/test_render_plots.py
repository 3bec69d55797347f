"""Plots of a run: curves, filter grids and feature maps are valid PNGs of a sensible size."""
import math

import numpy as np
import pytest
from PIL import Image

from cnnspec.errors import RunError
from cnnspec.render.curves import plot_curves

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(path):
    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        return image.size


def _metrics(epochs=5, with_val=True):
    out = []
    for e in range(1, epochs + 1):
        record = {"epoch": e, "train_loss": 2.0 / e, "train_acc": 1 - 0.5 / e, "lr": 0.1 * 0.5 ** (e // 2)}
        if with_val:
            record.update(val_loss=2.2 / e, val_acc=1 - 0.6 / e)
        out.append(record)
    return out


def test_curves_png(tmp_path):
    out = plot_curves(_metrics(), tmp_path / "curves.png")
    width, height = _png_size(out)
    assert 600 <= width <= 2000 and 250 <= height <= 1200


def test_curves_without_validation_or_lr(tmp_path):
    metrics = [{k: v for k, v in r.items() if k != "lr"} for r in _metrics(with_val=False)]
    out = plot_curves(metrics, tmp_path / "sub" / "curves.png")
    assert _png_size(out)[0] > 0


def test_curves_survive_divergence_and_gaps(tmp_path):
    metrics = _metrics()
    metrics[-1]["train_loss"] = 1e4
    metrics[-2]["val_loss"] = math.nan
    assert _png_size(plot_curves(metrics, tmp_path / "c.png"))[0] > 0


def test_curves_empty_is_a_run_error(tmp_path):
    with pytest.raises(RunError):
        plot_curves([], tmp_path / "c.png")


def test_curves_need_png_extension(tmp_path):
    with pytest.raises(RunError, match="PNG"):
        plot_curves(_metrics(), tmp_path / "c.jpg")
