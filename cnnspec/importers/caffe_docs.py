"""The table of Caffe's layer types in docs/importing.md, generated from the one table of what
each type is here (CAFFE_KINDS and its neighbours in :mod:`cnnspec.lang.foreign`, which the
importer and the language's hints read too) and the notes below on what the importer reads of
each. ``python tools/generate.py`` writes it between its marker lines; a test fails when the
page is stale.
"""
from __future__ import annotations

from cnnspec.kinds import KINDS
from cnnspec.kinds.docs import begin_marker, end_marker
from cnnspec.lang import foreign

LAYER_TABLE = ("Caffe layer types", "cnnspec/lang/foreign.py and cnnspec/importers/caffe_docs.py")
LAYER_MARKERS = (begin_marker(*LAYER_TABLE), end_marker(LAYER_TABLE[0]))

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
    rows += [_row(*row) for row in INPUT_ROWS]
    rows += [_row(f"`{caffe}`", _kinds_cell(kind), NOTES.get(caffe, ""))
             for caffe, kind in foreign.CAFFE_KINDS.items()]
    loss = foreign.caffe_loss()
    rows.append(_row(f"`{foreign.CAFFE_LOSS}`", f"train `loss {loss}`",
                     f"not a layer: {loss} applies the softmax itself; a `loss_weight` other "
                     "than 1 is refused (with one loss it scales the lr)"))
    rows += [_row(f"`{caffe}`", "left out", f"{why}; said in the header")
             for caffe, why in foreign.CAFFE_LEFT_OUT.items()]
    rows += [_row(f"`{caffe}`", "error", why) for caffe, (_, why) in foreign.CAFFE_REPLACED.items()]
    rows.append(_row("anything else", "error", "the error lists the types cnnspec imports"))
    return "\n".join(rows)


def _kinds_cell(kind: str) -> str:
    """The kinds a type becomes: a merge's with the layers it takes; a pool's by its `pool`
    (CAFFE_POOLS, whose MAX is the kind CAFFE_KINDS names)."""
    if kind in foreign.CAFFE_POOLS.values():
        return ", ".join(f"`{pool}` (`{method}`)" for method, pool in foreign.CAFFE_POOLS.items())
    return f"`{kind}(a, b)`" if KINDS[kind].merge else f"`{kind}`"


def _row(*cells: str) -> str:
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"
