"""The checker's signal estimate against the engine over weight draws: for each layer of a
spec, the Signal column's mean square (:func:`cnnspec.check.signal.estimate`) and the spread
of one net's mean square about it (:func:`cnnspec.check.signal.log_spreads`), beside the
geometric mean, median and log-variance of what the engine's forward pass gives over
``--seeds`` weight draws (float64, Gaussian inputs, training mode, each relative to its
input's mean square).

    python3 tools/signal_spread.py specs/plain30.cnn --seeds 12
    python3 tools/signal_spread.py specs/resnet_near_identity.cnn --seeds 24 --layers res_

Columns: ``column`` the estimate's mean square; ``typical`` the median it implies, the
column times ``exp(-log-variance / 2)`` (log-normal about it); ``geo``/``median`` the
measured geometric mean and median of the mean square; ``logvar`` predicted and measured.
"""
from __future__ import annotations

import argparse
import math

import numpy as np

import cnnspec
from cnnspec.check.signal import estimate, log_spreads
from cnnspec.lab.spread import log_squares_over_draws


def compare(checked, seeds: int, batch: int) -> list[dict]:
    """One row a layer: the estimate and the measurement side by side."""
    estimated = estimate(checked.layers, biases=True)
    column, spread = estimated[0], log_spreads(checked.layers, estimated)
    measured = log_squares_over_draws(checked, seeds, batch)
    rows = []
    for info in checked.layers:
        logs = measured.get(info.name)
        if logs is None or not column[info.name] > 0:
            continue
        rows.append({"name": info.name, "column": column[info.name],
                     "typical": column[info.name] * math.exp(-spread[info.name] / 2),
                     "geo": math.exp(np.mean(logs)), "median": math.exp(np.median(logs)),
                     "logvar": spread[info.name], "measured_logvar": float(np.var(logs, ddof=1))})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--layers", default="", help="only layers whose name contains this")
    args = parser.parse_args(argv)
    checked = cnnspec.load(args.spec, for_training=False)
    print(f"{'layer':28} {'column':>9} {'typical':>9} {'geo':>9} {'median':>9} "
          f"{'logvar':>7} {'measured':>8}")
    for row in compare(checked, args.seeds, args.batch):
        if args.layers in row["name"]:
            print(f"{row['name']:28} {row['column']:9.3g} {row['typical']:9.3g} "
                  f"{row['geo']:9.3g} {row['median']:9.3g} {row['logvar']:7.3f} "
                  f"{row['measured_logvar']:8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
