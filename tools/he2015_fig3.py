"""He et al. 2015, Figs. 2 and 3, reproduced: a 22-layer and a 30-layer plain ReLU net trained under
He init and under Glorot (Xavier) init, several seeds each, on 8x8 synthetic shapes of four
classes.

    python3 tools/he2015_fig3.py                   # 3 seeds, the figure in he2015_fig3.png
    python3 tools/he2015_fig3.py --seeds 2 -o fig3.png --out runs/fig3

The paper's result: with He init both depths converge; with Xavier/Glorot the 22-layer net
converges more slowly and the 30-layer net does not learn at all. Each net is one spec
(specs/he2015_fig3_plain22.cnn, specs/he2015_fig3_plain30.cnn) trained with its own settings by
``cnnspec compare SPEC --init he_normal --init glorot_normal --seeds K``; this script runs both
comparisons, prints their tables and draws one figure: a column per depth, validation
accuracy and training loss per epoch, the mean over the seeds with the band from the lowest
to the highest seed.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from cnnspec.lab.plots import plot_curve_panels
from cnnspec.sweep.compare import compare, describe_result, format_table

ROOT = Path(__file__).resolve().parent.parent
SPECS = {"22 layers": ROOT / "specs" / "he2015_fig3_plain22.cnn",
         "30 layers": ROOT / "specs" / "he2015_fig3_plain30.cnn"}
INITS = ["he_normal", "glorot_normal"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per init (default 3)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="trainings at once (default: compare's, 2 on two cores)")
    parser.add_argument("--out", default=None,
                        help="folder for the run folders (default runs/he2015-fig3-<time>)")
    parser.add_argument("-o", "--output", default="he2015_fig3.png", help="the figure")
    args = parser.parse_args(argv)
    out = Path(args.out or f"runs/he2015-fig3-{time.strftime('%Y%m%d-%H%M%S')}")
    panels = {}
    for title, spec in SPECS.items():
        comparison = compare(str(spec), INITS, seeds=args.seeds, jobs=args.jobs,
                             out=out / spec.stem,
                             on_done=lambda result: print(describe_result(result), flush=True))
        print(f"{spec.relative_to(ROOT)} ({comparison.seconds:.0f} s)")
        print(format_table(comparison), flush=True)
        panels[f"{title} (plain ReLU)"] = comparison.curves()
    figure = plot_curve_panels(panels, args.output,
                               title="He et al. 2015, Figs. 2 and 3: He vs Glorot init")
    print(f"wrote {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
