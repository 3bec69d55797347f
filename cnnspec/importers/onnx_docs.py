"""The ONNX table of docs/importing.md, generated from the tables the importer reads: its
readers by op (:data:`cnnspec.importers.onnx_model.READERS`, with the notes below on what
each reads) and the activations read off the kind registry's exports
(:func:`cnnspec.importers.onnx_model.activation_ops`). ``python tools/generate.py`` writes it
between its marker lines; a test fails when the page is stale.
"""
from __future__ import annotations

from cnnspec.importers import onnx_model
from cnnspec.kinds.docs import markers
from cnnspec.markdown import row
from cnnspec.records import record

OP_MARKERS = markers("ONNX ops", "cnnspec/importers/onnx_model.py and "
                     "cnnspec/importers/onnx_docs.py")


@record(frozen=True)
class Note:
    """A reader's row: the cnnspec it writes, and what it reads of the node."""

    written: str
    said: str


NOTES = {
    onnx_model.read_conv: Note("`conv`, `conv_transpose`",
                               "filters from the weight's shape, `kernel_shape`, `strides`, "
                               "`pads` (per side), `auto_pad` (`SAME_UPPER`, `SAME_LOWER`, "
                               "`VALID`), `dilations`, `group`; no bias input: `nobias`; "
                               "ConvTranspose's `output_padding` (`output_shape` is refused)"),
    onnx_model.read_dense: Note("`dense`",
                                "units from the weight's shape (`transB`); Gemm's C the bias, "
                                "`alpha` and `beta` only at 1; MatMul has no bias, an Add of a "
                                "constant after it is its bias"),
    onnx_model.read_bias_add: Note("`add(a, b)`, or a dense layer's bias",
                                   "of two values an `add`; of a constant, the bias of the "
                                   "MatMul before it"),
    onnx_model.read_merge: Note("`add(a, b)`, `concat(a, b)`",
                                "Concat along axis 1 only"),
    onnx_model.read_pool: Note("`maxpool`, `avgpool`",
                               "`kernel_shape`, `strides`, `pads`, `auto_pad`, `ceil_mode`, "
                               "`count_include_pad`; a last ceil-mode window that ONNX keeps "
                               "and cnnspec drops (one starting in the trailing padding) must "
                               "be cut off by a Slice, as cnnspec's export writes it"),
    onnx_model.read_slice: Note("nothing",
                                "only the cut of a ceil-mode pool's last windows (above)"),
    onnx_model.read_global_pool: Note("`global_avgpool`, `global_maxpool`",
                                      "ONNX's (N, C, 1, 1) is cnnspec's (N, C): a Flatten after "
                                      "it writes nothing"),
    onnx_model.read_mean: Note("`global_avgpool`",
                               "over axes 2 and 3 (PyTorch's `x.mean((2, 3))`)"),
    onnx_model.read_flatten: Note("`flatten`",
                                  "Flatten at axis 1; Reshape to (N, -1) or (N, C·H·W), its "
                                  "target a constant or computed from Shape (PyTorch's "
                                  "`x.view(x.size(0), -1)`)"),
    onnx_model.read_batchnorm: Note("`batchnorm`",
                                    "`epsilon`; `momentum` m (the share ONNX keeps) as "
                                    "`momentum 1 - m` (the batch's weight, PyTorch's meaning): "
                                    "PyTorch's 0.1 exports as 0.9 and comes back 0.1"),
    onnx_model.read_norm: Note("`layernorm`, `instancenorm`",
                               "LayerNormalization at axis 1; `epsilon`"),
    onnx_model.read_dropout: Note("`dropout`",
                                  "the ratio (an input from opset 12); PyTorch exports none in "
                                  "evaluation mode"),
    onnx_model.read_identity: Note("nothing",
                                   "the value passes through"),
    onnx_model.read_resize: Note("`upsample F nearest`, `upsample F bilinear`",
                                 "whole scales (or sizes) of H and W; `nearest` with "
                                 "`asymmetric` coordinates (PyTorch's), `linear` with "
                                 "`half_pixel` or `pytorch_half_pixel` (align_corners=False); "
                                 "opset 7-9's `Upsample` in mode `linear` (asymmetric) is "
                                 "refused: export at opset 11 or later"),
    onnx_model.read_gelu: Note("`gelu`",
                               "opset 20's op (PyTorch's nn.GELU); `approximate` the field"),
    onnx_model.read_mish: Note("`mish`", "opset 18's op"),
    onnx_model.read_softmax: Note("train `loss cross_entropy`, `softmax`, `log_softmax`",
                                  "over axis 1; a Softmax giving the model's output is the "
                                  "loss's (cross_entropy reads the scores before it); a "
                                  "LogSoftmax there sets `loss nll`"),
}


def _activation_row() -> str:
    """One row for the activations: each op and the kind it reads as."""
    ops, said = [], []
    for op, readings in onnx_model.ACTIVATION_OPS.items():
        if op in ("Softmax", "LogSoftmax"):
            continue
        ops.append(f"`{op}`")
        for reading in readings:
            fields = ", ".join(f"`{a}` as `{f}`" for a, f in reading.fields.items())
            consts = ", ".join(f"{c:g}" for c in reading.consts)
            said.append(f"`{op}`: `{reading.kind}`" + (f" ({fields})" if fields else "")
                        + (f" (inputs {consts})" if consts else ""))
    return row(", ".join(ops), "the activation", "; ".join(said) + "; written on the line "
               "of the layer it reads where that layer takes an activation and nothing else "
               "reads it; a Sigmoid giving the model's output of one score is the loss's, "
               "train `loss bce` (which reads the logit before it, as PyTorch's "
               "BCEWithLogitsLoss), and the data's classes 2")


def op_table() -> str:
    """| ONNX op | cnnspec | notes |, one row per reader, one for the activation ops, one
    for the kinds read from several nodes."""
    rows = ["| ONNX op | cnnspec | notes |", "|---|---|---|",
            row("graph input (N, C, H, W)", "`input CxHxW`", "N free or fixed; C, H, W "
                "fixed")]
    ops: dict = {}
    for op, reader in onnx_model.READERS.items():
        if reader is not onnx_model.read_activation:
            ops.setdefault(reader, []).append(f"`{op}`")
    for reader, names in ops.items():
        rows.append(row(", ".join(names), NOTES[reader].written, NOTES[reader].said))
    rows.append(_activation_row())
    patterns = [f"`{p.kind}`" + (f" ({p.ir['approximate']})" if "approximate" in p.ir else "")
                + ": " + ", ".join(op for op, _, _ in p.nodes)
                for p in onnx_model.PATTERNS]
    rows.append(row("several nodes", "the kind whose export they are", "; ".join(patterns)
                    + "; in that order, as cnnspec's export writes them"))
    computed = ", ".join(f"`{op}`" for op in sorted(onnx_model.EVALUATED - {"Constant", "Shape"}))
    rows.append(row("`Constant`, `Shape`, and of constants " + computed, "nothing",
                    "computed by ONNX's reference evaluator (`Shape` from the shapes followed) "
                    "and read where a layer needs them; another op of constants is read as "
                    "its layer, which refuses them"))
    refused = ", ".join(f"`{op}`" for op in onnx_model.REFUSED)
    rows.append(row(f"{refused}, anything else", "error", "at the node, every such node "
                    "listed at once"))
    return "\n".join(rows)
