"""Window geometry warnings: kernel taps that never meet the input, and input rows and
columns that no window reads.

Output ``y`` of a convolution reads input position ``p = y*s + i*d - pad`` with tap ``i``
(stride ``s``, dilation ``d``, ``pad`` before the input), and only ``0 <= p < H`` is the input.
A kernel wider than what its input and padding let it reach (``conv 16 3x3 pad same`` on a 1x1
map, a 100x100 kernel on 8x8 images) has taps for which no output finds such a ``p``: their
weights multiply zeros at every position, so their gradient is 0 at every step and they never
change (weight decay only shrinks them), while the parameter count and the init's fan_in count
them. The layer computes what a kernel of the taps that do meet the input computes, with the
padding cut to match.

The other way round, an input position no pair ``(y, i)`` reaches is never read: the output
size rounds down (Dumoulin & Visin 2016, eq. 15; PyTorch's and Caffe's floor), so a stride
that does not fit the input steps past its last rows (``conv 8 3x3 stride 2`` on 28x28 reads
rows 0..26), and a window narrower than its stride, or taps a dilation apart that the stride
keeps to, leave rows between windows (the 1x1 stride-2 shortcut "ignores three-quarters of
the input feature map", He et al. 2019, Bag of Tricks, ResNet-D). Nothing of such a position
reaches the output and its gradient is 0, unless another layer reading the same map reads it.
"""
from __future__ import annotations

from cnnspec.check.model import LayerInfo
from cnnspec.errors import SpecError, counted, listed
from cnnspec.ir.spec import Spec
from cnnspec.ir.training_catalogue import is_trained
from cnnspec.kinds import KINDS, is_weighted
from cnnspec.kinds.kind import KindError
from cnnspec.kinds.text import pads_text, step_text
from cnnspec.shapes import shape_text, tap_reads


def unreached_taps(spec: Spec, layers: list[LayerInfo]) -> list[SpecError]:
    """A warning at the kernel of each trainable convolution (``Kind.zero_padded`` with a
    weight) some of whose taps never meet the input, with how many do."""
    out = []
    for info in layers:
        if not (KINDS[info.kind].zero_padded and is_weighted(info.kind) and info.pads
                and is_trained(info.ir)):
            continue
        kernel = tuple(info.ir["kernel"])
        met = [_met_taps(k, s, d, before, size, out_size) for k, s, d, before, size, out_size
               in zip(kernel, info.ir["stride"], info.ir["dilation"], info.pads[::2],
                      info.input_shapes[0][1:], info.output_shape[1:])]
        used = len(met[0]) * len(met[1])
        if used == kernel[0] * kernel[1]:
            continue
        span = tuple(taps[-1] - taps[0] + 1 if taps else 0 for taps in met)
        out.append(spec.error(_message(info, kernel, used), info.name, "kernel",
                              severity="warning", hint=_hint(span, kernel)))
    return out


def _met_taps(k: int, stride: int, dilation: int, before: int, size: int,
              out_size: int) -> list[int]:
    """The taps ``i`` of a kernel of ``k`` along one axis that read the input at some output
    ``y < out_size``: ``0 <= y*stride + i*dilation - before < size`` for some ``y >= 0``
    (:func:`cnnspec.shapes.tap_reads`: a 100000x1 kernel over 8 rows has 100000 taps, and 8
    or so that can)."""
    return sorted(tap_reads(size, out_size, k, stride, dilation, before))


def _message(info: LayerInfo, kernel: tuple[int, int], used: int) -> str:
    total, where = kernel[0] * kernel[1], shape_text(info.input_shapes[0][1:])
    if used == 0:
        return (f"{info.kind} '{info.name}': none of the {total:,} taps of its "
                f"{shape_text(kernel)} kernel meets its {where} input, only the padding's "
                "zeros: its output holds its bias alone, and its weights never change")
    return (f"{info.kind} '{info.name}': only {used:,} of the {total:,} taps of its "
            f"{shape_text(kernel)} kernel meet its {where} input; the other {total - used:,} "
            "only ever multiply the padding's zeros, so their weights get no gradient and never "
            "change, though its parameters and its init's fan_in count them")


def _hint(span: tuple[int, int], kernel: tuple[int, int]) -> str:
    """A kernel of the taps that meet the input, or none where no tap does."""
    if 0 in span:
        return "no tap meets the input: a smaller kernel or less padding lets the layer read it"
    return (f"a {shape_text(span)} kernel (the taps that meet the input), with its padding "
            f"cut to match, computes the same outputs with "
            f"{kernel[0] * kernel[1] - span[0] * span[1]:,} fewer weights per input channel")


AXES = ("row", "column")


def unread_input(spec: Spec, layers: list[LayerInfo]) -> list[SpecError]:
    """A warning at each window layer (``Kind.reads_input``) that leaves rows or columns of
    its input unread, but where another layer reading the same map reads all of it (a
    residual block's 1x1 stride-2 shortcut beside a 3x3 stride-2 conv that reads every
    pixel: what the shortcut skips reaches the output through the conv), and where it reads
    none of it (a conv whose every tap meets only padding: :func:`unreached_taps` says so)."""
    reads = {info.name: _rows_and_columns_read(info) for info in layers}
    # the maps some layer reads whole: what one layer skips of them reaches the output
    read_whole = {name for info in layers if _reads_all(info, reads[info.name])
                  for name in info.inputs}
    out = []
    for info in layers:
        read = reads[info.name]
        if (read is None or _reads_all(info, read) or not all(read)
                or info.inputs[0] in read_whole):
            continue
        out.append(spec.error(_unread_message(info, read), info.name, _caret_field(spec, info),
                              severity="warning", hint=_unread_hint(info)))
    return out


def _rows_and_columns_read(info: LayerInfo, ir: dict | None = None, out_shape=None,
                           pads=None) -> tuple | None:
    """The runs of input rows and of input columns some output of ``info``'s layer reads
    (with ``ir``, ``out_shape`` and ``pads`` in place of its own, for a changed layer); None
    for a layer that reads every position."""
    reads = KINDS[info.kind].reads_input
    if reads is None:
        return None
    return reads(ir or info.ir, info.input_shapes[0], out_shape or info.output_shape,
                 pads or info.pads)


def _reads_all(info: LayerInfo, read: tuple | None, axes=(0, 1)) -> bool:
    return read is None or all(_count(read[axis]) == info.input_shapes[0][1 + axis]
                               for axis in axes)


def _count(runs: tuple[range, ...]) -> int:
    return sum(len(run) for run in runs)


def _unread_message(info: LayerInfo, read: tuple) -> str:
    in_hw = info.input_shapes[0][1:]
    phrases = [_unread_text(runs, size, noun) for runs, size, noun in zip(read, in_hw, AXES)]
    return (f"{info.kind} '{info.name}' never reads "
            f"{' and '.join(phrase for phrase in phrases if phrase)} of its {shape_text(in_hw)} "
            f"input: {_why_unread(info, read)}; nothing of them reaches the output, and their "
            "gradient is 0")


def _unread_text(runs: tuple[range, ...], size: int, noun: str) -> str | None:
    """``the last row``, ``the first 2 columns``, ``14 of the 28 rows``; None if every
    position is read."""
    unread = size - _count(runs)
    if not unread:
        return None
    edge = _edge(runs, size)
    if edge:
        return f"the {edge} " + (noun if unread == 1 else counted(unread, noun))
    return f"{unread:,} of the {counted(size, noun)}"


def _edge(runs: tuple[range, ...], size: int) -> str | None:
    """``last`` where the positions read are the first ones and leave some after them,
    ``first`` where they are the last ones and leave some before; else None (every position
    read, none, or some between those read)."""
    unread = size - _count(runs)
    if not runs or not unread:
        return None
    if unread == size - 1 - max(run[-1] for run in runs):
        return "last"
    return "first" if unread == min(run.start for run in runs) else None


def _why_unread(info: LayerInfo, read: tuple) -> str:
    """What leaves them out: a transposed conv's padding crops the outputs they reach; a
    window's stride steps past the last ones (the output size rounds down), or between the
    windows."""
    ir = info.ir
    if _transposed(info):
        return (f"its padding {pads_text(ir['padding'], info.pads)} crops away every output "
                "they reach")
    steps = f"its stride {step_text(ir['stride'])} steps past them"
    in_hw = info.input_shapes[0][1:]
    edges = [_edge(runs, size) for runs, size in zip(read, in_hw)]
    if all(edge or _count(runs) == size for edge, runs, size in zip(edges, read, in_hw)):
        ends = [f"{AXES[axis]} {max(run[-1] for run in read[axis]) + 1:,} of {in_hw[axis]:,}"
                for axis, edge in enumerate(edges) if edge == "last"]
        if ends:
            return (f"{steps} (its last window ends at {listed(ends)}: the output size, "
                    f"{shape_text(info.output_shape[1:])}, rounds down)")
        return steps
    kernel, dilation = _window(info)
    apart = f", taps {step_text(dilation)} apart" if list(dilation) != [1, 1] else ""
    return (f"they lie between the positions its {shape_text(kernel)} windows (stride "
            f"{step_text(ir['stride'])}{apart}) read")


def _window(info: LayerInfo) -> tuple[list[int], list[int]]:
    """A conv's kernel and dilation, a pool's window size and a dilation of 1."""
    return info.ir.get("kernel") or info.ir["size"], info.ir.get("dilation", [1, 1])


def _transposed(info: LayerInfo) -> bool:
    """A transposed conv (``Kind.transposed``): its windows spread each input over the
    output, so what it leaves out is what its padding crops, not what a stride steps past."""
    return KINDS[info.kind].transposed


def _caret_field(spec: Spec, info: LayerInfo) -> str:
    """The padding of a transposed conv; else the stride where the spec writes it (a JSON
    IR always does), else the window's size (a pool's stride is its size unless written)."""
    if _transposed(info):
        return "padding"
    if spec.text is None or (info.name, "stride") in spec.spans:
        return "stride"
    return "kernel" if "kernel" in info.ir else "size"


def _unread_hint(info: LayerInfo) -> str:
    """The settings that make the layer read every row and column, with the output each
    gives, worked out by the kind's own shape inference."""
    fixes = [f"`{text}` (output {shape_text(out_hw)})"
             for text, out_hw in (_padding_fix(info), _ceil_fix(info),
                                  _between_fix(info, "stride"), _between_fix(info, "dilation"))
             if text]
    if not fixes and _transposed(info):  # its stride spreads the inputs, the padding crops
        return "less padding reads every row and column"
    if not fixes:
        return ("a smaller stride or dilation, or padding that lets the last window reach the "
                "end, reads every row and column")
    return f"{listed(fixes, 'or')} reads every row and column"


def _changed(info: LayerInfo, changes: dict) -> tuple[tuple | None, tuple | None]:
    """The runs read and the (H, W) output of ``info``'s layer with ``changes`` to its IR;
    (None, None) where its kind refuses them (a pool's padding past half its window)."""
    ir = {**info.ir, **changes}
    try:
        inferred = KINDS[info.kind].infer(ir, info.input_shapes)
    except KindError:
        return None, None
    return (_rows_and_columns_read(info, ir, inferred.output, inferred.pads),
            inferred.output[1:])


def _axis_search(info: LayerInfo, field: str, candidates) -> tuple[str | None, tuple | None]:
    """On each axis, the layer's ``field`` there where it reads every position of that axis
    already, else the first of ``candidates(axis, value)`` that lets it; with the output both
    give. (None, None) where an axis has none."""
    current = list(info.ir[field]) if field != "padding" else [info.pads[0], info.pads[2]]
    own = _rows_and_columns_read(info)
    chosen = []
    for axis in (0, 1):
        if _reads_all(info, own, (axis,)):
            chosen.append(current[axis])
            continue
        for value in candidates(axis, current[axis]):
            tried = current.copy()
            tried[axis] = value
            read, _ = _changed(info, {field: tried})
            if read is not None and _reads_all(info, read, (axis,)):
                chosen.append(value)
                break
        else:
            return None, None
    read, out_hw = _changed(info, {field: chosen})
    if read is None or not _reads_all(info, read):
        return None, None
    return f"{'pad' if field == 'padding' else field} {step_text(chosen)}", out_hw


def _padding_fix(info: LayerInfo) -> tuple[str | None, tuple | None]:
    """The least even padding (more for a window, less for a transposed conv's crop) that
    reads every row and column, where the spec pads each axis evenly: past the stride a
    window gains no more positions, past the kernel's reach padding adds only zeros."""
    if not (info.ir["padding"] == "valid" or len(info.ir["padding"]) == 2):
        return None, None
    if _transposed(info):
        return _axis_search(info, "padding", lambda axis, pad: range(pad - 1, -1, -1))
    reach = [(k - 1) * d for k, d in zip(*_window(info))]
    return _axis_search(info, "padding", lambda axis, pad: range(
        pad + 1, min(pad + info.ir["stride"][axis], reach[axis]) + 1))


def _ceil_fix(info: LayerInfo) -> tuple[str | None, tuple | None]:
    """``ceil_mode true`` for a pool that rounds down, where the overhang reads the rest."""
    if "ceil_mode" not in info.ir or info.ir["ceil_mode"]:
        return None, None
    read, out_hw = _changed(info, {"ceil_mode": True})
    return (("ceil_mode true", out_hw) if read is not None and _reads_all(info, read)
            else (None, None))


def _between_fix(info: LayerInfo, field: str) -> tuple[str | None, tuple | None]:
    """The largest smaller ``field`` (stride, dilation) that reads every row and column, for
    a window that leaves positions between windows; a stride beyond the window's span always
    does, so none larger is tried."""
    read = _rows_and_columns_read(info)
    if _transposed(info) or field not in info.ir or all(
            _edge(runs, size) or _count(runs) == size
            for runs, size in zip(read, info.input_shapes[0][1:])):
        return None, None
    span = [(k - 1) * d + 1 for k, d in zip(*_window(info))]
    return _axis_search(info, field, lambda axis, value: range(
        min(value - 1, span[axis]), 0, -1))
