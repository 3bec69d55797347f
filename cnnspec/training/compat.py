"""Does the data fit the network? Checked before anything is trained or evaluated."""
from __future__ import annotations

from cnnspec.check.model import CheckedSpec


def _shape(shape) -> str:
    return "x".join(str(int(d)) for d in shape)


def _input_hint(data_shape: tuple, spec_shape: tuple) -> str:
    """What to change when images of ``data_shape`` (C, H, W) meet a spec input of
    ``spec_shape``. Images stored channels-last (H, W, C) look like C, H, W = H, W, C; the
    fix then is to transpose the data, not to copy its shape into the spec."""
    c, h, w = data_shape
    if w in (1, 3, 4) and c not in (1, 3, 4):
        transposed = (w, c, h)
        then = "" if transposed == spec_shape else f", and write `input {_shape(transposed)}`"
        return (f"the images look stored channels-last (N, H, W, C): store them as "
                f"(N, C, H, W), e.g. x.transpose(0, 3, 1, 2), which gives "
                f"{_shape(transposed)}{then}")
    return (f"write `input {_shape(data_shape)}` in the spec, or train on data of shape "
            f"{_shape(spec_shape)} (--data)")


def check_data_fits(checked: CheckedSpec, input_shape, classes: list[str], data_name: str
                    ) -> None:
    """Raise a :class:`SpecError` at the spec's input (or output) when images of
    ``input_shape`` (C, H, W) or ``len(classes)`` labels do not fit the network."""
    spec = checked.spec
    if tuple(input_shape) != tuple(checked.input_shape):
        raise spec.error(
            f"the data '{data_name}' has images of shape {_shape(input_shape)} but the spec's "
            f"input is {_shape(checked.input_shape)}", "input",
            hint=_input_hint(tuple(input_shape), tuple(checked.input_shape)))
    output = checked.ir["output"]
    if len(checked.output_shape) != 1:
        raise spec.error(
            f"the network's output '{output}' has shape {_shape(checked.output_shape)}; "
            f"classification needs one score per class ({len(classes)},)", output,
            hint="end the network with flatten (or global_avgpool) and a dense layer with one "
            "unit per class")
    if checked.output_shape[0] != len(classes):
        raise spec.error(
            f"the network's output '{output}' has {checked.output_shape[0]} units but the data "
            f"'{data_name}' has {len(classes)} classes", output,
            hint=f"give the last dense layer {len(classes)} units")
