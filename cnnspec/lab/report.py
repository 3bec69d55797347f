"""``cnnspec init-report``: per-layer statistics of a freshly initialised network, per init.

For each init variant the network is compiled with the same seed, LSUV is applied first where a
layer asks for it (as a training run does), and one forward and backward pass of the loss runs on
the same batch. The result answers He et al. 2015's question for the user's own spec: does the
signal keep its scale through the layers, forward and backward?
"""
from __future__ import annotations

import math
from dataclasses import asdict, field
from pathlib import Path

from cnnspec.check.graph import main_path
from cnnspec.check.memory import SMALLER_BATCH, training_batch
from cnnspec.check.model import CheckedSpec
from cnnspec.check.training import one_value_batch_errors
from cnnspec.compiler import compile_spec
from cnnspec.diagnostics import wrapped
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import SpecErrors, counted, rounded_text
from cnnspec.given import given_texts
from cnnspec.ir.training_catalogue import refuse_count, refuse_whole_setting
from cnnspec.lab.batch import Batch, given_input_kind, make_batch
from cnnspec.lab.defaults import BATCH_SIZE
from cnnspec.lab.jsonout import dumps
from cnnspec.lab.lsuv import lsuv
from cnnspec.lab.memory import refuse_beyond_memory
from cnnspec.lab.plots import plot_depth_profile
from cnnspec.lab.probe import probe
from cnnspec.lab.stats import LayerStats, SignalSummary, std64, summarize_signal
from cnnspec.lab.variants import Variant, load_variants, reach_text
from cnnspec.records import record


@record
class VariantReport:
    """The statistics of every layer for one init variant."""

    label: str
    input_std: float
    layers: list[LayerStats]
    lsuv: list = field(default_factory=list)  # LsuvStep per rescaled layer, if any
    # An --init variant's: the layers it set the weight init of, and those that kept their own.
    sets: list[str] | None = None
    keeps: list[str] = field(default_factory=list)
    # The layers every path from the input to the output passes (None: all of them), along
    # which the signal line compares (check.graph.main_path).
    main_path: list[str] | None = None

    @property
    def signal(self) -> SignalSummary:
        return summarize_signal(self.layers, self.main_path)

    def to_dict(self) -> dict:
        out = {"init": self.label, "input_std": self.input_std,
               "signal": self.signal.to_dict()}
        if self.sets is not None:
            out["init_sets"], out["init_keeps"] = self.sets, self.keeps
        if self.lsuv:
            out["lsuv"] = [asdict(step) for step in self.lsuv]
        out["layers"] = [row.to_dict() for row in self.layers]
        return out


@record
class InitReport:
    spec_name: str
    source: str
    batch_size: int
    seed: int
    variants: list[VariantReport]
    # What `cnnspec check` warns about in the variants (identical filters, signal scale, ...),
    # each once.
    warnings: list = field(default_factory=list)
    asked: int | None = None  # --batch-size, where the data held fewer training images

    def to_dict(self) -> dict:
        return {"spec": self.spec_name, "input": self.source, "batch": self.batch_size,
                **({} if self.asked is None else {"batch_asked": self.asked}),
                "seed": self.seed, "variants": [v.to_dict() for v in self.variants]}


def measure(variant: Variant, batch: Batch, seed: int, dtype: str = DEFAULT_DTYPE) -> VariantReport:
    """Compile ``variant`` with ``seed``, apply LSUV where asked, and probe it on ``batch``."""
    model = compile_spec(variant.checked, seed=seed, dtype=dtype)
    steps = lsuv(model, batch.x)
    return VariantReport(variant.label, std64(batch.x), probe(model, batch.x, batch.y), steps,
                         variant.sets, variant.keeps, main_path(variant.checked.spec))


def init_report(path, inits: list[str] | None = None, input_kind: str = "data",
                batch_size: int = BATCH_SIZE, seed: int = 0, data_dir=None,
                dtype: str = DEFAULT_DTYPE, ignore=(), data=None) -> InitReport:
    """Measure the spec at ``path`` once per init in ``inits`` (language syntax; ``None`` or
    empty: the spec as written), every variant on the same batch and with the same seed;
    with ``input_kind`` "data", images of ``data`` (as :class:`cnnspec.Settings` takes it)
    in place of the spec's dataset where given.
    The report's ``warnings`` are check's, but those of the lints ``ignore`` names (as
    ``cnnspec.load``'s).
    Counts and texts of the wrong kind are a :class:`~cnnspec.errors.SettingError` naming
    them."""
    batch_size = refuse_count("batch_size", batch_size, 1, "e.g. {batch_size:64}")
    seed = refuse_whole_setting("seed", seed)
    inits = given_texts(inits, "inits", "he_normal", spec_as_written=True)
    input_kind = given_input_kind(input_kind)
    variants = load_variants(path, inits, dtype, ignore, data)
    refuse_one_value_norms(variants[0].checked, batch_size)
    # probe() keeps every layer's output and gradient of the batch, of the data's images at
    # most where it draws them
    drawn = (batch_size if input_kind != "data"
             else training_batch(variants[0].checked.spec, batch=batch_size))
    refuse_beyond_memory(variants[0].checked, drawn, dtype, recording=True,
                         data=input_kind == "data", smaller=SMALLER_BATCH,
                         batch_setting="batch_size")
    batch = make_batch(variants[0].checked, input_kind, batch_size, seed, data_dir, dtype)
    reports = [measure(v, batch, seed, dtype) for v in variants]
    warnings = {(w.message, w.span): w for v in variants for w in v.checked.warnings}
    measured = len(batch.x)
    return InitReport(variants[0].checked.ir["name"], batch.source, measured, seed, reports,
                      list(warnings.values()), batch_size if measured < batch_size else None)


def refuse_one_value_norms(checked: CheckedSpec, batch_size: int) -> None:
    """Raise :class:`SpecErrors` at each batch norm that a batch of ``batch_size`` gives one
    value per channel: it would measure a constant (its shift) where the input was."""
    errors = one_value_batch_errors(checked.spec, checked.layers, batch_size,
                                    larger="e.g. {batch_size:64}")
    if errors:
        raise SpecErrors(errors)


# ---- output -------------------------------------------------------------------------------

def _same_filters_text(stats) -> str | None:
    """The same-filters cell: YES where all the filters stay one, ``16 of 32`` where some do,
    no where none do (:class:`cnnspec.lab.stats.LayerStats`)."""
    if stats.same_filters is None:
        return None
    if stats.same_filters == 0:
        return "no"
    return "YES" if stats.same_filters == stats.filters else (
        f"{stats.same_filters} of {stats.filters}")


# Two tables per variant, each within the 100 columns summary keeps to (diagnostics.WIDTH):
# the signal through every layer, then the weights of the layers that have them. One table of
# all 14 columns was 180-200 wide and wrapped on a terminal; the JSON holds every column.
# Each column: its title, the statistic (attribute or function of a LayerStats), and what it
# measures, said once below the tables (None: the title says it).
_SIGNAL_COLUMNS = (
    ("layer", "name", None), ("kind", "kind", None),
    ("act mean", "act_mean", "the mean of the layer's output over the batch"),
    ("act std", "act_std", "its std"),
    ("std/input", "act_ratio", "act std over the input's std (He et al. 2015, eq. 7)"),
    ("dead", "dead_frac", "the share of a ReLU's outputs that are exactly 0"),
    ("grad std", "grad_std", ("std of dloss/d(layer's output), the gradient flowing back, "
                              "per value (the signal line gives its norm per input where "
                              "layers' maps differ in size)")),
)
_WEIGHT_COLUMNS = (
    ("layer", "name", None),
    ("fan_in", "fan_in", "the fans the init's formula reads (a conv's C*kh*kw and F*kh*kw)"),
    ("fan_out", "fan_out", None),
    ("w std", "weight_std", "the std of the weights as drawn"),
    ("w std exp.", "weight_std_expected",
     "the std the init's formula gives from fan_in and fan_out"),
    ("w bound exp.", lambda s: s.weight_bound_expected if s.weight_cut_expected is None
     else s.weight_cut_expected, "its bound: a of U(-a, a), or a truncated normal's cut"),
    ("w grad std", "weight_grad_std", "std of dloss/dw"),
    ("same filters", _same_filters_text,
     "how many filters start identical and stay so (check's identical-filters)"),
)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, int):  # a fan: every digit
        return str(value)
    if isinstance(value, list):  # a truncated normal's cut points, one word as each cell is
        return "..".join(_cell(x) for x in value)
    if not math.isfinite(value):
        return str(value)
    return rounded_text(value, 3)


def format_table(report: InitReport, width: int | None = None) -> str:
    """Two tables per variant, the signal through each layer and the weights of each layer
    that has them: a row per layer, a column per statistic, within 100 columns for layer names
    of up to 20 characters; the lines of words around them wrapped to ``width`` (None: each
    on its one line, as through a pipe)."""
    every = ("" if report.asked is None else
             f" (all its training images, fewer than --batch-size {report.asked})")
    heading = (f"{report.spec_name}: {counted(report.batch_size, 'input')} from {report.source}"
               f"{every}, seed {report.seed}")
    blocks = [heading]
    for variant in report.variants:
        lines = wrapped(f"init {variant.label} (input std "
                        f"{rounded_text(variant.input_std, 3)})" + describe_reach(variant),
                        width, 2)
        lines += _table(_SIGNAL_COLUMNS, variant.layers, left=2)
        weighted = [s for s in variant.layers if s.weight_std is not None]
        if weighted:
            lines += _table(_WEIGHT_COLUMNS, weighted, left=1)
        said = [describe_lsuv(variant.lsuv) if variant.lsuv else None,
                describe_signal(variant.signal), describe_overflow(variant.layers)]
        lines += [line for text in said if text for line in wrapped(text, width, 2)]
        blocks.append("\n".join(lines))
    blocks.append("\n".join(wrapped(_columns_text(), width, 2)))
    return "\n\n".join(blocks)


def _columns_text() -> str:
    """What each column of the tables measures, in the words of their titles."""
    said = [f"{title}: {meaning}" for title, _, meaning in (*_SIGNAL_COLUMNS, *_WEIGHT_COLUMNS)
            if meaning is not None]
    return "columns: " + "; ".join(said) + "; -: does not apply to the layer"


def _table(columns, layers: list[LayerStats], left: int) -> list[str]:
    """A header and a row per layer of ``columns`` (title, attribute or function of a
    :class:`LayerStats`), the first ``left`` columns (names) left-aligned, numbers right."""
    header = [title for title, _, _ in columns]
    rows = [[_cell(key(s) if callable(key) else getattr(s, key)) for _, key, _ in columns]
            for s in layers]
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) if i < left else c.rjust(w)
                      for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in [header, *rows]]


def describe_reach(variant: VariantReport) -> str:
    """Which layers an --init set, where some layers kept their own init (empty when it set
    every layer with weights, or for the spec as written): the rest of its table is the
    spec's own."""
    reach = reach_text(variant.sets, variant.keeps)
    return f": {reach}" if reach else ""


def describe_overflow(layers) -> str | None:
    """A line naming the first layer whose output is not finite, or None when none is."""
    first = next((s for s in layers if not math.isfinite(s.act_std)), None)
    if first is None:
        return None
    return (f"overflow: the output of '{first.name}' ({first.kind}) holds NaN or infinite "
            f"values, and so does what is computed from it: lower the scale of the inits or "
            f"of the layer settings before it")


def describe_signal(summary: SignalSummary) -> str:
    """One line on the signal's fate along the main path (:class:`SignalSummary`)."""
    points = _points_text(summary)
    if summary.act_change is None and summary.layers >= 2:
        # Only a first layer with std 0 leaves two or more layers without a ratio: e.g. all
        # weights zero, where every unit computes the same nothing (the lesson of zeros.cnn).
        first = ("the first hidden conv/dense layer" if points == _PLAIN
                 else f"the first of the {points}, {summary.first},")
        return _constant_text(first) + _dead_text(summary)
    if summary.constant is not None:  # a layer after the first kills the signal
        return _constant_text(f"'{summary.constant}'") + _dead_text(summary)
    if summary.act_change is None:
        return f"signal: fewer than two {points}, nothing to compare"
    ends = "" if points == _PLAIN else f", {summary.first} to {summary.last}"
    left_out = ("" if not summary.branch_layers else
                f"; {counted(summary.branch_layers, 'conv/dense layer')} in branches left out")
    text = (f"signal: activation std x{rounded_text(summary.act_change, 3)} from the first to "
            f"the last of {summary.layers} {points}{ends} "
            f"(x{rounded_text(summary.act_per_layer, 3)} per layer{left_out})")
    if summary.grad_change is not None:
        text += (f"; gradient std x{rounded_text(summary.grad_change, 3)} on the way back"
                 + _spread_text(summary))
    return text + _dead_text(summary)


def _spread_text(summary: SignalSummary) -> str:
    """Where the two ends of the signal line hold different numbers of values an input (maps
    that pooling or unpadded convs shrink): that the per-value std of the gradient moves with
    them, and the change of its norm, which does not. Empty where they hold as many."""
    first, last = summary.first_values, summary.last_values
    if summary.grad_norm_change is None or first == last:
        return ""
    return (f", spread over {first:,} values an input at '{summary.first}' against {last:,} "
            f"at '{summary.last}': its norm per input x"
            f"{rounded_text(summary.grad_norm_change, 3)}")


def _constant_text(layer: str) -> str:
    return f"signal: {layer} outputs a constant (std 0), so no signal reaches the layers after it"


def _dead_text(summary: SignalSummary) -> str:
    """The end of the signal line: the share of ReLU outputs that are zero, if any ReLU."""
    if summary.dead_mean is None:
        return ""
    return f"; {100 * summary.dead_mean:.0f}% of ReLU outputs zero"


_PLAIN = "hidden conv/dense layers"


def _points_text(summary: SignalSummary) -> str:
    """What the signal line compares: the hidden conv/dense layers of a plain stack, else the
    conv/dense layers and merges on the main path, which the line says is what every path
    from the input to the output passes."""
    if not summary.branch_layers and not summary.merges:
        return _PLAIN
    return ("hidden conv/dense layers and merges every path from the input to the output "
            "passes")


def describe_lsuv(steps) -> str:
    """One line on what LSUV did before the measurement (Mishkin & Matas 2016)."""
    before = [step.variance_before for step in steps]
    after = [step.variance_after for step in steps]
    rescalings = sum(step.iterations for step in steps)
    # a layer whose variance starts within the tolerance is measured, not rescaled
    rescaled = sum(1 for step in steps if step.iterations)
    text = (f"lsuv: {counted(len(steps), 'layer')} measured on this batch, {rescaled} "
            f"rescaled ({counted(rescalings, 'rescaling')}); "
            f"output variance {_span(before)} after the orthogonal start, {_span(after)} "
            "after")
    missed = [step.layer for step in steps if not step.converged]
    if missed:
        text += f"; not within tolerance: {', '.join(missed)}"
    return text


def _span(values: list[float]) -> str:
    """The least and the largest of ``values``: ``0.213..1.86``."""
    return f"{rounded_text(min(values), 3)}..{rounded_text(max(values), 3)}"


def format_json(report: InitReport) -> str:
    """The report as JSON: per variant, one object per layer (see :class:`LayerStats`)."""
    return dumps(report.to_dict())


def plot(report: InitReport, out_png) -> Path:
    """Activation std and gradient norm per input against depth, one line per variant (see
    :func:`cnnspec.lab.plots.plot_depth_profile`)."""
    variants = [(v.label, v.layers) for v in report.variants]
    return plot_depth_profile(variants, out_png,
                              title=f"{report.spec_name}: signal through depth at init")
