"""Which filters and channels of a checked net start alike: the facts the symmetry warnings
(:mod:`cnnspec.check.lints`, :mod:`cnnspec.check.twins`) and the diagram read, and
:class:`cnnspec.check.signal.Estimate` keeps once per check (its ``alike``)."""
from __future__ import annotations

from cnnspec.check.graph import INPUT
from cnnspec.check.model import LayerInfo
from cnnspec.kinds import KINDS, is_weighted


def weight_axes(info: LayerInfo) -> tuple[int, int]:
    """``(filter axis, input axis)`` of a conv or dense weight: (0, 1), except a transposed
    convolution's ``(C, F/G, kh, kw)``, whose filters run along axis 1."""
    return (1, 0) if KINDS[info.kind].transposed else (0, 1)


def init_alike_along(init, axis: int) -> bool:
    """Whether every slice of a parameter along ``axis`` starts the same."""
    return init.constant or axis in init.alike_axes


def groups_of(info: LayerInfo) -> int:
    """How many groups a conv's filters and input channels are split into (1: none)."""
    return info.ir.get("groups", 1)


def identical_filter_count(info: LayerInfo) -> int:
    """How many filters (units) of a conv/dense layer start exactly alike, biases too: those
    of :func:`alike_filters` where the biases are alike, none where they are drawn (their
    outputs then differ by channel)."""
    return 0 if drawn_biases(info) else alike_filters(info)


def drawn_biases(info: LayerInfo) -> bool:
    """Whether the biases of a conv/dense layer start at values that differ by filter."""
    return info.bias_init is not None and not info.bias_init.constant


def biases_apart(info: LayerInfo) -> str | None:
    """What alone sets apart the filters of a conv/dense layer whose weights start alike, where
    its biases are drawn (:func:`drawn_biases`): "only their biases, drawn N(0, 1^2),
    differ"; None where they are not."""
    if not drawn_biases(info):
        return None
    return f"only their biases, drawn {info.bias_init.short}, differ"


def alike_filters(info: LayerInfo) -> int:
    """How many filters (units) of a conv/dense layer start with exactly alike weights: all
    of them under a constant init or a fixed kernel written once for every filter (sobel_x, a
    2-D literal), or in a grouped conv those of one group (each group reads channels of its
    own, which differ after a drawn layer; a depthwise conv has none alike); under
    ``identity``, those beyond the input's channels (filter i is a delta on channel i only
    for i < in, so a 1 -> 8 channel conv starts with 7 all-zero filters)."""
    out = info.output_shape[0]
    if init_alike_along(info.weight_init, weight_axes(info)[0]):
        return out // groups_of(info)
    if info.weight_init.distribution == "identity":
        return max(0, out - info.weight_shape[1])
    return 0


def alike_channels(input_channels: int, layers: list[LayerInfo]) -> set[str]:
    """The layers whose output channels (a flat output's features) all start with equal
    values, whatever the input: a conv/dense layer all of whose filters start alike (an
    ungrouped one: :func:`identical_filter_count` of all), and a layer without weights other than
    dropout and concat (whose parts may differ) reading such layers only; the input too, with
    one channel. Adding one to channels that start alike keeps them alike."""
    alike = {INPUT} if input_channels == 1 else set()
    for info in layers:
        if is_weighted(info.kind):
            same = groups_of(info) == 1 and identical_filter_count(info) == info.output_shape[0]
        else:
            same = (KINDS[info.kind].family != "dropout" and info.kind != "concat"
                    and all(name in alike for name in info.inputs))
        if same:
            alike.add(info.name)
    return alike
