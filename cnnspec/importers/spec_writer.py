"""Writing an imported network as ``.cnn`` text, in the words of the layer-kind registry.

An importer describes each layer as a :class:`LayerLine`: a cnnspec kind and the IR values of
the fields its source sets. How a field is written (positional, ``stride 2``, ``nobias``,
``ceil_mode true``) and which value is its default (left out) are read off the kind's record
(:mod:`cnnspec.kinds`), so this module names no kind and restates no default. The text is then
laid out by the formatter of ``cnnspec fmt`` and checked (:func:`checked`) before it is
returned: an imported spec that does not check is an error, never a file.
"""
from __future__ import annotations

import math
import re
import textwrap
from collections import Counter
from dataclasses import field

from cnnspec.errors import InputError, Span, SpecError, SpecErrors
from cnnspec.init.describe import init_text
from cnnspec.init.scaling import TRUNCATED_STD
from cnnspec.ir.datasets import DATASETS, SHAPE_CLASSES, class_count, image_shape, with_defaults
from cnnspec.kinds import KINDS
from cnnspec.kinds.fields import BIAS_INIT_KEY, WEIGHT_INIT_KEY
from cnnspec.kinds.text import activation_text, value_text
from cnnspec.records import record
from cnnspec.shapes import shape_text

# The name errors give the imported spec, which is not a file until it is written.
IMPORTED_NAME = "imported.cnn"
HEADER_WIDTH = 96  # the header's comment lines, "# " included, fit the 100 columns of fmt


@record
class LayerLine:
    """One layer to write: its name and kind, the IR values its source sets (any field left
    out takes the kind's default), its inputs (None: the line before), an activation written
    on the same line (``dense 10 softmax``) and a trailing comment."""

    name: str
    kind: str
    fields: dict = field(default_factory=dict)
    inputs: list[str] | None = None
    activation: tuple[str, dict] | None = None
    comment: str | None = None

    @property
    def output(self) -> str:
        """The name of the layer holding what the line makes: the activation written on it,
        which the language names ``<name>_<activation>``, else the layer itself."""
        return f"{self.name}_{self.activation[0]}" if self.activation else self.name


def layer_text(line: LayerLine) -> str:
    """``name: kind POSITIONAL... OPTIONS... [ACTIVATION] [<- inputs]``, every option the
    kind's own word, defaults left out."""
    kind = KINDS[line.kind]
    by_name = kind.field_map
    words = [str(line.kind)]
    merge_inputs = kind.merge and line.inputs
    if merge_inputs:
        words = [f"{line.kind}({', '.join(line.inputs)})"]
    for name in kind.positional:
        if name not in line.fields:  # its default, and so are those after it (elu's alpha)
            break
        words.append(value_text(by_name[name], line.fields[name]))
    has_bias = line.fields.get("bias", True)
    for f in kind.fields:
        if f.name in kind.positional or f.name not in line.fields:
            continue
        value = line.fields[f.name]
        if f.type == "bias_init" and not has_bias:
            continue
        if f.type not in ("init", BIAS_INIT_KEY) and f.is_default(value, line.fields):
            continue
        if f.flag:
            if value == f.flag[1]:
                words.append(f.flag[0])
        elif f.type == "bool":
            words += [f.option[0], "true" if value else "false"]
        elif f.option:
            words += [f.option[0], value_text(f, value)]
    if line.activation:
        words.append(activation_text(*line.activation))
    if line.inputs and not merge_inputs:
        words.append("<- " + ", ".join(line.inputs))
    text = f"{line.name}: {' '.join(words)}"
    return f"{text}  # {line.comment}" if line.comment else text


def shape_made(input_shape: tuple[int, int, int], lines: list[LayerLine], name: str
               ) -> tuple[int, ...]:
    """The shape, ``(C, H, W)`` or ``(F,)``, of what the layer ``name`` makes (or the
    activation written on its line) among ``lines`` read so far on an input of
    ``input_shape``, as the checker infers it from each kind's registry rule: for a source that
    leaves a shape to its reader (Keras 2's depthwise convolution, its input's channels).
    Lines that do not parse or infer raise their first error, located in their text."""
    from cnnspec.check.graph import INPUT  # the checker and Lark load when an import runs
    from cnnspec.check.layers import infer
    from cnnspec.lang import parse

    known = {INPUT: tuple(input_shape)}
    if name in known:  # no layer to write (a spec has one at least)
        return known[name]
    text = "\n".join([f"input {shape_text(input_shape)}", *map(layer_text, lines)])
    spec = parse(text, path=IMPORTED_NAME)
    for layer in spec.ir["layers"]:
        known[layer["name"]] = infer(spec, layer, [known[i] for i in layer["inputs"]]).output_shape
    return known[name]


def output_units(lines: list[LayerLine], output: str | None = None) -> int | None:
    """How many scores the network gives: the units of the dense layer that sets the width of
    ``output`` (default: the last line), back through layers that keep the width (activations,
    dropout, norms, add); None when no dense layer does."""
    made = {}
    for i, line in enumerate(lines):
        made[line.name] = i
        made[line.output] = i
    i = made.get(output, len(lines) - 1) if output else len(lines) - 1
    while 0 <= i < len(lines):
        line = lines[i]
        if line.kind == "dense":
            return line.fields["units"]
        if KINDS[line.kind].family not in ("activation", "dropout", "norm") and line.kind != "add":
            return None
        i = made.get(line.inputs[0], -1) if line.inputs else i - 1
    return None


def common_inits(lines: list[LayerLine]) -> dict[str, dict]:
    """The weight and bias init most weighted layers share, to write once as the model's
    ``default``; taken out of those layers' fields."""
    chosen = {}
    for key in (WEIGHT_INIT_KEY, BIAS_INIT_KEY):
        counts = Counter(init_text(line.fields[key]) for line in lines if line.fields.get(key))
        if not counts:
            continue
        text = counts.most_common(1)[0][0]
        for line in lines:
            if line.fields.get(key) and init_text(line.fields[key]) == text:
                chosen[key] = line.fields.pop(key)
    return chosen


@record
class Setting:
    """One line of the train block: its key, the value as the language writes it, a comment."""

    key: str
    value: str
    comment: str | None = None


def fitting_data(shape: tuple[int, int, int], classes: int | None,
                 prefer: str | None = None) -> tuple[str, str]:
    """A dataset whose images are ``shape`` (C, H, W) with ``classes`` classes, as the
    ``data`` setting writes it, and a comment on the choice. ``prefer`` names a dataset the
    source hints at. Without a fit: ``npz`` arrays of the user's own."""
    names = [prefer] if prefer in DATASETS else []
    names += [name for name in DATASETS if name not in names]
    for name in names:
        kind = DATASETS[name]
        if kind.image is None:
            continue
        data = with_defaults({"name": name})
        if image_shape(data) == tuple(shape) and class_count(data) == classes:
            return name, kind.description
    c, h, w = shape
    if c in (1, 3) and h == w and h >= DATASETS["shapes"].arg("size").minimum and \
            classes is not None and 2 <= classes <= len(SHAPE_CLASSES):
        args = [f"size={h}"]
        if classes < len(SHAPE_CLASSES):
            args.append(f"classes=[{', '.join(SHAPE_CLASSES[:classes])}]")
        if c == 3:
            args.append("colour=true")
        return (f"shapes({', '.join(args)})", (f"synthetic {shape_text(shape)} images of {classes} "
                "classes, to train offline; write your own data here"))
    return ('npz(path="data.npz")', (f"your arrays: x of shape (N, {c}, {h}, {w}) and integer "
            f"labels y"))


def spec_text(*, header: list[str], model: str, input_shape: tuple[int, int, int],
              layers: list[LayerLine], defaults: dict, training: list[Setting],
              output: str | None = None, origin: str = "the source") -> str:
    """The whole spec, in canonical layout (``cnnspec fmt``'s); ``output`` names the output
    layer when it is not the last."""
    from cnnspec.lang import format_source  # the formatter parses with Lark

    out = [f"# {part}".rstrip() for line in header
           for part in textwrap.wrap(line, HEADER_WIDTH, subsequent_indent="  "
                                     if line.startswith("- ") else "")]
    out += [f"model {model}", f"input {shape_text(input_shape)}"]
    parts = [f"{key.split('_')[0]} {init_text(init)}" for key, init in defaults.items()]
    if parts:
        out.append("default " + ", ".join(parts))
    if output:
        out.append(f"output {output}")
    out.append("")
    out += [layer_text(line) for line in layers]
    if training:
        out += ["", "train {"]
        out += [f"  {s.key} {s.value}" + (f"  # {s.comment}" if s.comment else "")
                for s in training]
        out.append("}")
    text = "\n".join(out) + "\n"
    try:
        return format_source(text, path=IMPORTED_NAME)
    except (SpecError, SpecErrors) as exc:
        raise _not_written(exc, text, origin) from None


def checked(text: str, origin: str, places: dict[str, Span | str] | None = None,
            path: str | None = None):
    """The checked spec of imported ``text``; an :class:`InputError` naming ``origin`` with every
    error when it does not check (a combination the importer does not map yet). ``places``
    holds where in the source file ``path`` each layer and setting of the text comes from, by
    its name or key (a span of a text file; a binary model's JSON path, an ONNX node's
    ``graph.node[1] '/Softmax' (Softmax)``): when every error is placed, they are raised
    there (:class:`SpecErrors`), as the importer's own, since the user wrote that file and
    not the imported spec."""
    from cnnspec.check import check  # the checker and Lark load when an import runs
    from cnnspec.lang import parse

    try:
        return check(parse(text, path=IMPORTED_NAME))
    except (SpecError, SpecErrors) as exc:
        errors = exc.errors if isinstance(exc, SpecErrors) else [exc]
        placed = [_placed(err, text, places or {}, path) for err in errors]
        if all(placed):
            raise SpecErrors(placed) from None
        raise _not_written(exc, text, origin) from None


# The name or key a line of the imported text starts with: `conv0: conv 8 3x3`'s conv0,
# `  batch 32`'s batch.
_WRITTEN = re.compile(r"\s*([A-Za-z_]\w*)")


def _placed(err: SpecError, text: str, places: dict[str, Span | str], path: str | None
            ) -> SpecError | None:
    """``err`` at the source's place of a layer it is about (the activation on a line, where
    the source placed it apart: ``c_softmax`` of ``c: conv 4 3x3 softmax``), else of the
    layer or setting on its line; None where the source placed none."""
    where = next((places[name] for name in err.about if name in places), None)
    lines = text.splitlines()
    if where is None and err.span is not None and 0 < err.span.line <= len(lines):
        written = _WRITTEN.match(lines[err.span.line - 1])
        where = places.get(written[1]) if written else None
    if where is None:
        return None
    if isinstance(where, str):
        return SpecError(err.message, json_path=where, hint=err.hint, file=path)
    return SpecError(err.message, span=where, hint=err.hint, file=path)


def _not_written(exc, text: str, origin: str) -> InputError:
    """The error for imported text that does not parse or check, with every mistake shown: a
    mistake in the source network as far as the user can tell (exit 2, as a spec's)."""
    from cnnspec.diagnostics import format_error

    errors = exc.errors if isinstance(exc, SpecErrors) else [exc]
    shown = "\n".join(format_error(err, text) for err in errors)
    return InputError(f"the spec imported from {origin} does not check:\n{shown}",
                      hint="the source network may not be valid as written (a value out of "
                      "range, a kernel larger than its input); if it is, cnnspec cannot "
                      "express it yet")


def per_bias(n: float, scale: float, distribution: str) -> dict:
    """An init of variance ``scale / n`` drawn as ``distribution``, with its numbers written
    out: a bias has no weight fans of its own, so a framework that computes a bias's fans from
    its own shape (Caffe, Keras) draws a fixed distribution that cnnspec writes explicitly."""
    std = math.sqrt(scale / n)
    if distribution == "uniform":
        bound = math.sqrt(3.0) * std
        return {"name": "uniform", "low": -bound, "high": bound}
    if distribution == "truncated_normal":  # the std before truncation, as Keras draws it
        return {"name": "truncated_normal", "mean": 0.0, "std": std / TRUNCATED_STD}
    return {"name": "normal", "mean": 0.0, "std": std}
