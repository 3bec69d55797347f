"""The Caffe tables of docs/importing.md, generated from the tables the importer reads: layer
types (CAFFE_KINDS and its neighbours in :mod:`cnnspec.lang.foreign`, which the language's
hints read too, with the notes below on what the importer reads of each), fillers
(:data:`cnnspec.importers.caffe.FILLERS` and its neighbours) and solver fields
(:mod:`cnnspec.importers.caffe_solver`). ``python tools/generate.py`` writes each between its
marker lines; a test fails when the page is stale.
"""
from __future__ import annotations

from cnnspec.errors import float_text
from cnnspec.importers import caffe, caffe_solver
from cnnspec.init.describe import init_text
from cnnspec.ir.training_catalogue import CAFFE_POLICIES
from cnnspec.kinds import KINDS
from cnnspec.kinds.docs import markers
from cnnspec.lang import foreign
from cnnspec.markdown import cell, row

LAYER_MARKERS = markers("Caffe layer types",
                        "cnnspec/lang/foreign.py and cnnspec/importers/caffe_docs.py")
FILLER_MARKERS = markers("Caffe fillers", "cnnspec/importers/caffe.py")
SOLVER_MARKERS = markers("Caffe solver fields", "cnnspec/importers/caffe_solver.py and "
                         "cnnspec/importers/caffe_docs.py")

# The layers that give the net its input, read by the importer itself (no kind is theirs):
# the type's cell, the spec's and the notes.
INPUT_ROWS = (
    ("`Input`, net-level `input`/`input_shape`/`input_dim`", "`input CxHxW`",
     "the batch dimension is dropped (above 1, it is the solver's batch)"),
    ("`Data`", "`input CxHxW` (from `--input`), train `data`, `batch`",
     ("its shape is in its database: `--input` gives it (without it, the error suggests "
      "the shape of the dataset its `source`, its name or the net's name mentions; "
      "`ImageData`, `HDF5Data` and other "
      "data layers: replace them by an `Input` layer). `transform_param`: `scale` -> "
      "`preprocess none`, `mean_value`/`mean_file` -> `preprocess zero_center`, `mirror` -> "
      "`augment flip`; `crop_size` is refused")),
)

# What the importer reads of each type that is a kind here (cnnspec/importers/caffe.py's
# readers), and what it refuses.
NOTES = {
    "Convolution": "`num_output`, `kernel_size` (or `kernel_h`/`kernel_w`), `stride`, `pad`, "
                   "`dilation`, `group`, `bias_term`",
    "Deconvolution": "as `Convolution`; the weight layout `(in, out/group, kh, kw)` is the same",
    "InnerProduct": "a `flatten` is written before it when its input is a feature map (Caffe "
                    "flattens inside the layer)",
    "Pooling": "Caffe rounds the output size up: `ceil_mode true`, written only where it "
               "changes the size (LeNet's 24 -> 12 does not); `round_mode: FLOOR` rounds down; "
               "Caffe's stride defaults to 1. `global_pooling` -> "
               "`global_maxpool`/`global_avgpool`. `STOCHASTIC` is refused",
    "ReLU": "`leaky_relu` with a `negative_slope`",
    "ELU": "`alpha`",
    "PReLU": "one slope per channel from 0.25, Caffe's default filler; `channel_shared` and "
             "other fillers are refused",
    "Dropout": "`dropout_ratio`",
    "BatchNorm": "`eps`; `momentum` = 1 − `moving_average_fraction` (Caffe keeps a share of "
                 "the old statistics, PyTorch and cnnspec weigh the new batch), or more where "
                 "the run is too short for it: see [Running statistics](#running-statistics); "
                 "`use_global_stats`, Caffe's switch between training and testing, is "
                 "cnnspec's own; `param { lr_mult: 0 }` on the statistics is read and needs "
                 "nothing here. Without a `Scale` after it: `batchnorm ... frozen`, no learned "
                 "scale or shift, as Caffe's; the running statistics are still updated",
    "Scale": "after a `BatchNorm`, with `bias_term: true`: that batchnorm's learned scale and "
             "shift (the two are one `batchnorm` line)",
    "Concat": "along the channels (`axis: 1`)",
    "Eltwise": "`SUM` with coefficients 1; `PROD`, `MAX` and other coefficients are refused",
}


def layer_table() -> str:
    """| Caffe layer type | cnnspec | notes |, one row per type."""
    rows = ["| Caffe layer type | cnnspec | notes |", "|---|---|---|"]
    rows += [row(*cells) for cells in INPUT_ROWS]
    rows += [row(f"`{caffe}`", _kinds_cell(kind), NOTES.get(caffe, ""))
             for caffe, kind in foreign.CAFFE_KINDS.items()]
    loss = foreign.caffe_loss()
    rows.append(row(f"`{foreign.CAFFE_LOSS}`", f"train `loss {loss}`",
                     f"not a layer: {loss} applies the softmax itself; a `loss_weight` other "
                     "than 1 is refused (with one loss it scales the lr), as is a "
                     "`normalization` other than "
                     f"{', '.join(caffe.BATCH_MEAN_NORMALIZATIONS)} (the batch's mean here)"))
    rows += [row(f"`{caffe}`", "left out", f"{why}; said in the header")
             for caffe, why in foreign.CAFFE_LEFT_OUT.items()]
    rows += [row(f"`{caffe}`", "error", why) for caffe, (_, why) in foreign.CAFFE_REPLACED.items()]
    rows.append(row("anything else", "error", "the error lists the types cnnspec imports"))
    return "\n".join(rows)


def _kinds_cell(kind: str) -> str:
    """The kinds a type becomes: a merge's with the layers it takes; a pool's by its `pool`
    (CAFFE_POOLS, whose MAX is the kind CAFFE_KINDS names)."""
    if kind in foreign.CAFFE_POOLS.values():
        return ", ".join(f"`{pool}` (`{method}`)" for method, pool in foreign.CAFFE_POOLS.items())
    return f"`{kind}(a, b)`" if KINDS[kind].merge else f"`{kind}`"


# What each of Caffe's lr_policy values reads and becomes (the schedule it is, from
# CAFFE_POLICIES; cnnspec/importers/caffe_solver.py's _schedule converts it).
POLICY_NOTES = {
    "fixed": ("", "(the default)"),
    "step": ("`gamma`, `stepsize`", "(step_size = stepsize / iterations per epoch, gamma)"),
    "multistep": ("`gamma`, `stepvalue`s", "(milestones = [...] in epochs, gamma)"),
    "exp": ("`gamma`", "(gamma^(iterations per epoch))"),
    "inv": ("`gamma`, `power`", "(gamma, power), per step as Caffe's"),
    "poly": ("`power`", "(power), per step, to 0 at the end of the run (Caffe's `max_iter`)"),
}
# Why each of the solver's plain settings needs a word (SOLVER_SETTINGS).
SETTING_NOTES = {"max_iter": "in epochs: see above", "weight_decay": "L2 only; L1 is refused",
                 "clip_gradients": "only above 0 (Caffe's -1: unset)",
                 "random_seed": "only from 0 (Caffe's -1: unset)"}


def filler_table() -> str:
    """| Caffe filler | draws | weight | bias (out outputs) |, one row per filler (and per
    variance_norm of a scaled one)."""
    rows = ["| Caffe filler | draws | weight | bias (out outputs) |", "|---|---|---|---|"]
    named = ", ".join(f"`{name}`" for name in caffe.NAMED_CONSTANTS.values())
    rows.append(row(f"`{caffe.CONSTANT_FILLER}` (`value`)", "value",
                     f"{named} or `constant(value)`", "the same"))
    for filler, (name, args) in caffe.PLAIN_FILLERS.items():
        fields = ", ".join(f"`{field}` {float_text(default)}"
                           for field, default in args.values())
        written = f"`{name}({', '.join(args)})`"
        rows.append(row(f"`{filler}` ({fields})", name, written, "the same"))
    for filler, (scale, distribution) in caffe.SCALED_FILLERS.items():
        for norm, mode in caffe.VARIANCE_NORM.items():
            default = " (the default)" if norm == next(iter(caffe.VARIANCE_NORM)) else ""
            rows.append(row(f"`{filler}`, `variance_norm: {norm}`{default}",
                             f"{distribution}, variance {float_text(scale)}/{mode}",
                             f"`{cell(init_text(caffe.SCALED_WEIGHTS[filler, mode]))}`",
                             f"{distribution}, variance {float_text(scale)}/"
                             f"{caffe.BIAS_FAN[mode][0]}, written out"))
    for filler, (bias, why) in caffe.NAMED_FILLERS.items():
        rows.append(row(f"`{filler}`", "", f"`{filler}`",
                         f"`{bias}` ({why})" if bias else f"error (it {why})"))
    return "\n".join(rows)


def solver_table() -> str:
    """| Caffe solver field | train key | notes |, one row per field the importer reads, then
    those it leaves out and refuses."""
    rows = ["| Caffe solver field | train key | notes |", "|---|---|---|"]
    rows += [row(f"`{field}`", f"`{setting}`", SETTING_NOTES.get(field, ""))
             for field, setting in caffe_solver.SOLVER_SETTINGS.items()]
    for solver, (name, read, fixed) in caffe_solver.SOLVER_TYPES.items():
        fields = ", ".join(f"`{field}`" for field, _ in read.values())
        args = [*read, *(f"{arg}={value}" for arg, value in fixed.items())]
        rows.append(row(f"`type`: `{solver}` ({fields})", f"`optimizer {name}({', '.join(args)})`",
                         ", ".join(f"{arg} from `{field}`, Caffe's default "
                                   f"{float_text(default)}"
                                   for arg, (field, default) in read.items())))
    for policy, schedule in CAFFE_POLICIES:
        fields, written = POLICY_NOTES[policy]
        rows.append(row(f"`lr_policy: \"{policy}\"`" + (f", {fields}" if fields else ""),
                         f"`schedule {schedule}` {written}", ""))
    rows.append(row(f"{caffe_solver.BATCH_FROM_DATA}, or {caffe_solver.BATCH_FROM_INPUT} "
                     "above 1", "`batch`", "from the net, not the solver"))
    ignored = ", ".join(f"`{field}`" for field in caffe_solver.SOLVER_IGNORED)
    rows.append(row(ignored, "left out", "Caffe's running, not the training"))
    rows.append(row("`iter_size` above 1, other `lr_policy` values, other fields", "error", ""))
    return "\n".join(rows)
