"""The summary of a checked spec: per layer its shape, parameters and exact init, plus totals.

``summary_dict`` is the data (what ``cnnspec summary --format json`` prints); ``summary_table``
renders it like Keras' ``model.summary()``, with what Keras does not show: the window of every
conv and pooling layer, each init's distribution with its concrete scale and fans, the formula
that gave the scale, and the estimated scale of the signal after each layer, its root mean
square relative to the input's (see :mod:`cnnspec.check.signal`).
"""
from __future__ import annotations

import dataclasses
import math

from cnnspec.check.memory import bytes_text, calibration_text, data_text
from cnnspec.check.model import CheckedSpec, LayerInfo
from cnnspec.check.signal import LARGEST_LOG, LIMIT, estimate, log_spreads
from cnnspec.diagnostics import WIDTH, wrapped
from cnnspec.errors import LIBRARY_NAMES, count_text, literal, rounded_text, worded
from cnnspec.held import HELD, HELD_MEANS, NON_TRAINABLE, held_text
from cnnspec.init.info import InitInfo
from cnnspec.kinds import KINDS
from cnnspec.kinds.fields import BIAS_INIT_KEY, WEIGHT_INIT_KEY
from cnnspec.kinds.text import step_text
from cnnspec.shapes import shape_text


def window_text(info: LayerInfo) -> str:
    """``5x5 s1 valid``, ``3x3 s2 same d2``, ``2x2 s2 pad 1x1``, ``3x3 s1 same g32`` (32
    groups), ``3x3 s2 pad 0x1x0x1 ceil`` (ceil mode); empty for other layers."""
    ir = info.ir
    size = ir.get("kernel") or ir.get("size")
    if size is None:
        return ""
    padding = ir["padding"]
    pad = padding if isinstance(padding, str) else f"pad {shape_text(padding)}"
    text = f"{shape_text(size)} s{step_text(ir['stride'])} {pad}"
    if ir.get("dilation", [1, 1]) != [1, 1]:
        text += f" d{step_text(ir['dilation'])}"
    if ir.get("groups", 1) > 1:
        text += f" g{ir['groups']}"
    if ir.get("ceil_mode"):
        text += " ceil"
    if ir.get("count_include_pad") is False:
        text += " pad uncounted"
    return text


def init_dict(init: InitInfo | None, ir: dict | None) -> dict | None:
    """An InitInfo as JSON data, with the IR init it describes."""
    if init is None:
        return None
    return {**dataclasses.asdict(init), "ir": ir}


def layer_dict(info: LayerInfo, signal_rms: float, signal_log_variance: float) -> dict:
    """One layer's row as JSON data: ``signal_rms`` is the Signal column (the estimated root
    mean square of its output relative to the input's), ``signal_log_variance`` the variance
    over weight draws of the log of its mean square (:func:`cnnspec.check.signal.log_spreads`)."""
    ir = info.ir
    return {
        "name": info.name,
        "kind": info.kind,
        "inputs": info.inputs,
        "group": ir.get("group"),
        "window": window_text(info) or None,
        "output_shape": list(info.output_shape),
        "params": info.params,
        "trainable_params": info.trainable_params,
        "weight_shape": list(info.weight_shape) if info.weight_shape else None,
        "bias_shape": list(info.bias_shape) if info.bias_shape else None,
        "fan_in": info.fan_in,
        "fan_out": info.fan_out,
        "macs": info.macs,
        "init": {"weight": init_dict(info.weight_init, ir.get(WEIGHT_INIT_KEY)),
                 "bias": init_dict(info.bias_init, ir.get(BIAS_INIT_KEY))},
        "signal_rms": signal_rms,
        "signal_log_variance": signal_log_variance,
    }


def summary_dict(checked: CheckedSpec) -> dict:
    """Everything the summary shows, as JSON-ready data (shapes as CHW lists). A warning's
    ``lint``: the name of the lint that found it (:mod:`cnnspec.check.lint_catalogue`); its
    ``copies``: the layers of the repeat block's copies it holds for, when it is said once
    for several (:mod:`cnnspec.check.copies`), else empty."""
    estimated = estimate(checked.layers, biases=True)
    second, spread = estimated[0], log_spreads(checked.layers, estimated)
    return {
        "name": checked.ir["name"],
        "input_shape": list(checked.input_shape),
        "output_shape": list(checked.output_shape),
        "output": checked.ir["output"],
        "total_params": checked.total_params,
        "trainable_params": checked.trainable_params,
        "non_trainable_params": checked.frozen_params,
        "macs": checked.macs,
        "dtype": checked.dtype,
        "activation_memory_bytes": checked.activation_memory,
        "step_memory": _step_memory_dict(checked.step_memory),
        "layers": [layer_dict(info, math.sqrt(second[info.name]), spread[info.name])
                   for info in checked.layers],
        # the layer from which the Signal column does not hold (signal.dying_sums), or None
        "signal_dies": checked.signal_dies,
        "warnings": [{"lint": w.lint, "message": w.message, "hint": w.hint,
                      "json_path": w.json_path,
                      "line": w.span.line if w.span else None,
                      "column": w.span.column if w.span else None,
                      "copies": list(w.copies)}
                     for w in checked.warnings],
    }


def _step_memory_dict(memory) -> dict | None:
    if memory is None:
        return None
    return {"total_bytes": memory.total, "parameter_bytes": memory.parameters,
            "activation_bytes": memory.activations, "work_bytes": memory.work,
            "runtime_bytes": memory.runtime, "slack_bytes": memory.slack,
            "data_bytes": memory.data, "calibration_bytes": memory.calibration,
            "ending_bytes": memory.ending, "process_bytes": memory.process,
            "batch_size": memory.batch_size, "heaviest_layer": memory.heaviest}


# --- the table ---------------------------------------------------------------------------------

HEADER = ("Layer", "Kind", "Window", "Output (CxHxW)", "Params", "Signal", "Init")


def _init_text(init: dict | None) -> str:
    """``he_normal  N(0, 0.118^2)``."""
    if init is None:
        return ""
    if init["short"].startswith(init["name"]):  # "sobel_x 3x3" already names itself
        return init["short"]
    return f"{init['name']}  {init['short']}"


def _fans(init: dict) -> list[str]:
    """``fan_in=144 fan_out=288`` where the fans set the scale (not for U(-0.1, 0.1) or a
    fixed kernel)."""
    return [f"fan_in={init['fan_in']} fan_out={init['fan_out']}"] \
        if "fan_" in init["formula"] else []


def _cited(init: dict) -> list[str]:
    """The init's formula and, where the formula does not name it, the paper it comes
    from, as the pieces of its lines under the layer's row."""
    source = init["source"]
    if not source or source in init["formula"]:
        return [init["formula"]]
    return [init["formula"], f"({source})"]


def _params_text(layer: dict) -> str:
    """``9`` where every parameter trains, ``9 held`` where none does, ``40 (36 held)``
    where some are held (:func:`cnnspec.held.held_text`)."""
    text = count_text(layer["params"])
    held = held_text(layer["params"], layer["trainable_params"])
    if held == HELD:
        return f"{text} {held}"
    return f"{text} ({held})" if held else text


# The most characters the Window column holds: a longer window (`3x3 s1 pad 1x1 pad
# uncounted`) goes on a line under its row, where it leaves the row room for its init.
WINDOW_CHARS = 20


def _row(layer: dict) -> tuple[str, ...]:
    """The layer's row of the table."""
    window = layer["window"] or ""
    return (layer["name"], layer["kind"], window if len(window) <= WINDOW_CHARS else "",
            shape_text(layer["output_shape"]), _params_text(layer),
            rounded_text(layer["signal_rms"]), _init_text(layer["init"]["weight"]))


def _details(layer: dict) -> list[list[str]]:
    """What the lines under a layer's row say, each line as its pieces: a window too long
    for its column; for a layer with parameters, the weight init's formula (and paper) and
    fans, the bias init."""
    window = layer["window"] or ""
    lines = [[f"window: {window}"]] if len(window) > WINDOW_CHARS else []
    weight, bias = layer["init"]["weight"], layer["init"]["bias"]
    start = KINDS[layer["kind"]].fixed_start
    if KINDS[layer["kind"]].fixed_inits is not None:  # batchnorm, prelu: no formula to show
        # the Init column names the weight's init alone (a norm's `ones`): say what each
        # part starts at, the shift too
        return lines + ([[f"starts at {start}"]] if start else [])
    lines += [] if weight is None else [[*_cited(weight), *_fans(weight)]]
    return lines + ([] if bias is None else [[f"bias: {_init_text(bias)}"]])


def _layer_lines(layer: dict, row: tuple[str, ...], line, indent: int) -> list[str]:
    """The layer's row, as ``line`` lays it out, and its details under it, ``indent``
    deep (:func:`_details`): a row that would run past the width names its init alone, its
    distribution heading the details, or, still too long, leaves both to them."""
    details = _details(layer)
    weight = layer["init"]["weight"]
    if len(line(row)) > WIDTH and weight is not None and row[-1]:
        shorter = (*row[:-1], weight["name"])
        fits = len(line(shorter)) <= WIDTH and row[-1] != weight["name"]
        row = shorter if fits else (*row[:-1], "")
        details = [[weight["short"] if fits else _init_text(weight)], *details]
    return [line(row), *(text for pieces in details for text in packed(pieces, indent))]


def packed(pieces: list[str], indent: int, width: int = WIDTH) -> list[str]:
    """``pieces`` two spaces apart on lines indented by ``indent`` and ``width`` wide at most:
    as many whole pieces on a line as fit, a piece too long for a line of its own wrapped
    at its spaces (its lines after the first indented 2 more)."""
    lines: list[str] = []
    for piece in pieces:
        if lines and len(lines[-1]) + 2 + len(piece) <= width:
            lines[-1] += "  " + piece
        else:
            lines += wrapped(piece, width, indent + 2, indent)
    return lines


def summary_table(checked: CheckedSpec, names: dict = LIBRARY_NAMES,
                  explain: bool = False) -> str:
    """The Keras-like table with init columns and totals (no trailing newline), within
    :data:`~cnnspec.diagnostics.WIDTH` columns (a layer's row alone may run past it, where
    its layer names, kinds and windows are that long); the commands its note suggests worded
    as ``names`` word them (a front end's, :func:`cnnspec.errors.worded`). Its Signal note says what
    the column is in a few lines, and, with ``explain``, how it is estimated in full."""
    data = summary_dict(checked)
    rows = [HEADER] + [_row(layer) for layer in data["layers"]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER) - 1)]

    def line(row: tuple[str, ...]) -> str:
        cells = [cell.rjust(w) if i in (4, 5) else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths))]
        return "  ".join(cells + [row[-1]]).rstrip()

    # a layer's details start under its kind, clear of the names
    indent = widths[0] + 2
    body = [text for layer, row in zip(data["layers"], rows[1:])
            for text in _layer_lines(layer, row, line, indent)]
    rule = "-" * min(WIDTH, max(len(text) for text in [line(HEADER), *body]))
    totals = [
        f"Total params: {count_text(data['total_params'])}",
        f"Trainable params: {count_text(data['trainable_params'])}",
        f"{NON_TRAINABLE.capitalize()} params: {count_text(data['non_trainable_params'])}",
        f"Multiply-adds per image: {count_text(data['macs'])}",
        (f"Activation memory per image: {bytes_text(data['activation_memory_bytes'])} "
         f"({data['dtype']}, all layer outputs)"),
    ]
    step = data["step_memory"]
    if step is not None:
        totals.append(
            f"Training step memory: at most about {bytes_text(step['total_bytes'])} at batch "
            f"{step['batch_size']}, {data['dtype']} "
            f"({bytes_text(step['parameter_bytes'])} parameters, "
            f"gradients and optimizer state, {bytes_text(step['activation_bytes'])} "
            f"activations, {bytes_text(step['work_bytes'])} convolution work buffers)")
        totals.append(
            f"Training process memory: up to about {bytes_text(step['process_bytes'])} (the "
            f"step, {data_text(step['data_bytes'])}, "
            f"{bytes_text(step['runtime_bytes'])} for Python, its libraries and their "
            f"buffers, {bytes_text(step['slack_bytes'])} the allocator keeps"
            + f", {bytes_text(step['ending_bytes'])} to save and read back the weights as it "
              "ends"
            + (f", {calibration_text(step['calibration_bytes'])}"
               if step["calibration_bytes"] else "") + ")")
    title = (f"Model: {data['name']}   input {shape_text(data['input_shape'])}   "
             f"output '{data['output']}' {shape_text(data['output_shape'])}")
    notes = _signal_notes(data, checked.spec.path, explain)
    if data["non_trainable_params"]:
        notes.insert(0, f"{HELD.capitalize()}: a parameter {HELD_MEANS}; the "
                        f"{NON_TRAINABLE} params are those.")
    paragraphs = [*totals, *(worded(note, names) for note in notes)]
    note_lines = [text for paragraph in paragraphs for text in packed([paragraph], 0)]
    return "\n".join([title, rule, line(HEADER), rule, *body, rule, *note_lines])


# What a reader wants of the column first: which values are good. He et al.'s init keeps it
# near 1 through the layers; check's signal-scale lint warns beyond its limit either way.
_GOOD_SIGNAL = f"near 1 the signal keeps its scale; `check` warns at {LIMIT:g}x or 1/{LIMIT:g}"


def _signal_notes(data: dict, path: str | None, explain: bool) -> list[str]:
    """The notes under the table on its Signal column: what it is, and where this net
    gives cause, how far a typical net's scale lies below it and what a softmax's means;
    in a sentence each, or with ``explain`` in full (:func:`_explained`)."""
    spread = _spread(data)
    own = [layer["name"] for layer in data["layers"] if KINDS[layer["kind"]].sets_scale]
    if explain:
        return _explained(path, spread, own) + _dying_notes(data)
    note = ("Signal: the estimated scale of each layer's output at init, its root mean "
            f"square relative to the input's (He et al. 2015, eq. 7): {_GOOD_SIGNAL}")
    if spread:
        below, layer = spread
        note += (f"; one net's lies about {below}x below it, at '{layer}' "
                 "(the column is the mean over weight draws)")
    if own:
        note += f"; probabilities ({', '.join(own)}) set their own"
    return [(f"{note}. `{_command('explain', path)}` says how it is estimated, "
            f"`{_command('init_report', path)}` measures it on the data."), *_dying_notes(data)]


def _dying_notes(data: dict) -> list[str]:
    """Where a ReLU starts mostly dead, that the column does not hold from there on."""
    if data["signal_dies"] is None:
        return []
    return [(f"From '{data['signal_dies']}' on the Signal column does not hold: most of the "
             "inputs of the ReLU after it start below 0, so most of its units start at 0 and "
             "the signal dies out layer by layer, where the column's Gaussian sums keep or "
             "grow it (check warns at that layer).")]


def _explained(path: str | None, spread: tuple[float, str] | None,
               own: list[str]) -> list[str]:
    """The Signal notes in full: how the column is estimated, layer by layer; with
    ``spread`` (how far below it, at which layer), the log-normal spread of one net's scale
    about it; with ``own`` (the layers of probabilities), what their column means."""
    note = ("Signal: estimated scale of each layer's output at init while training, its "
            "root mean square sqrt(E[x^2]) = sqrt(mean^2 + std^2) relative to the input's (He "
            "et al. 2015, eq. 7), for inputs of unit mean square: after a ReLU above the std, "
            "the mean being no longer 0; biases counted (a constant one adds its square, a "
            "drawn one its variance); after a max pool the largest of its window's values, "
            "after a mean pool their mean, a window's values alike only in what their "
            "channel shares (its bias, its input's mean; on images, whose neighbouring "
            "pixels are alike, pools change it less); dropout's mean square is 1 / (1 - p) "
            f"times its input's; {_GOOD_SIGNAL}. `{_command('init_report', path)}` "
            "measures each layer's mean and std on the data.")
    notes = [note]
    if spread:
        below, layer = spread
        notes.append(
            "The Signal column is the mean over weight draws; one net's scale is spread about "
            "it log-normally, the more the narrower its layers (Hanin & Rolnick 2018: the "
            "variance of the log of the mean square grows by about 5 / n a dense ReLU layer "
            "of n channels, less in a conv, whose positions average out what they do not "
            f"share): here a typical net's scale lies about {below}x below the "
            f"column, at '{layer}', deep in a ReLU stack further (plain30's 16 channels: "
            "4.1x at its 24th layer, where this says 2.5x).")
    if own:
        notes.append(
            f"Probabilities set their own scale ({', '.join(own)}): a softmax's values sum "
            "to 1 over its C channels, so their root mean square lies between 1/C (logits all "
            "alike) and 1/sqrt(C) (one value near 1); a log_softmax's are about -ln C, "
            "their root mean square at least ln C, whatever the scale of its input.")
    return notes


def _command(command: str, path: str | None) -> str:
    """The template of ``command`` (``init_report``) for the spec at ``path`` (the command
    alone for a spec read from no file), named as the program was started (the template's
    ``init_report_command``, as every hint names a command)."""
    return "{" + command + "_command" + (f":{literal(path)}" if path else "") + "}"


# A typical net's scale this far below the column or more is worth a sentence.
SPREAD_WORTH_SAYING = 1.25


def _spread(data: dict) -> tuple[str, str] | None:
    """How far a typical net's scale lies below the Signal column (its mean over weight
    draws, :func:`cnnspec.check.signal.log_spreads`) where it lies furthest, in words, and
    at which layer; None where that is too little to say."""
    # the output's few scores spread by their own count: the scores' lint speaks of them
    inner = [layer for layer in data["layers"] if layer["name"] != data["output"]]
    widest = max(inner, key=lambda layer: layer["signal_log_variance"], default=None)
    if widest is None or widest["signal_log_variance"] / 4 < math.log(SPREAD_WORTH_SAYING):
        return None
    return _factor_text(widest["signal_log_variance"] / 4), widest["name"]


def _factor_text(log_factor: float) -> str:
    """The factor ``exp(log_factor)`` as :func:`rounded_text` writes it, also beyond a float's
    range (a 2x2 conv_transpose of stride 1000 on a 1x1 map: a log-variance of 31,251, whose
    factor exp(7813) ended summary in an OverflowError), from its decimal exponent."""
    if log_factor < LARGEST_LOG:
        return rounded_text(math.exp(log_factor))
    decimal = log_factor / math.log(10)
    exponent = math.floor(decimal)
    mantissa = rounded_text(10 ** (decimal - exponent))
    return f"{mantissa}e{exponent}" if mantissa != "10" else f"1e{exponent + 1}"
