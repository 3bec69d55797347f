"""PyTorch modules for the layers that ``torch.nn`` has no single module for: padding that
differs per side, pooling cut to cnnspec's size, merges. Each keeps its parameters under
``weight``/``bias`` as cnnspec does, so a state dict's keys are cnnspec's ``<layer>.weight``.

This file is PyTorch source in two ways: the cross-check tests import it (where PyTorch is
installed), and ``cnnspec export --format torch`` copies its text, below the marker line,
into the module it writes, so the exported network and the tested one are the same code.
Nothing in cnnspec imports it without PyTorch.
"""
import torch
import torch.nn.functional as F
from torch import nn

# ---- copied into exported modules from here on ----


def pad_sides(x, pads, value=0.0):
    """``x`` (N, C, H, W) padded by (top, bottom, left, right) with ``value``."""
    top, bottom, left, right = pads
    return F.pad(x, (left, right, top, bottom), value=value)


class PaddedConv2d(nn.Conv2d):
    """nn.Conv2d after zero padding that may differ per side, (top, bottom, left, right)."""

    def __init__(self, *args, pads, **kwargs):
        super().__init__(*args, **kwargs)
        self.pads = tuple(pads)

    def forward(self, x):
        return super().forward(pad_sides(x, self.pads))


class CroppedConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d whose output is cropped by (top, bottom, left, right) that may
    differ per side and extended to ``size`` (output padding), before the bias is added (the
    rows output padding adds hold the bias too, as in nn.ConvTranspose2d)."""

    def __init__(self, *args, pads, size, **kwargs):
        super().__init__(*args, **kwargs)
        self.pads, self.size = tuple(pads), tuple(size)

    def forward(self, x):
        full = F.conv_transpose2d(x, self.weight, None, self.stride, 0, 0, self.groups,
                                  self.dilation)
        top, _, left, _ = self.pads
        h, w = self.size
        out = F.pad(full, (-left, w + left - full.shape[3], -top, h + top - full.shape[2]))
        return out if self.bias is None else out + self.bias[:, None, None]


class PaddedPool2d(nn.Module):
    """Max or average pooling after padding with ``value`` (top, bottom, left, right), cut to
    ``size``: PyTorch's own rule for ceil mode would see the padding as input. With
    ``count_include_pad`` false, window sums are divided by each window's count of input
    pixels."""

    def __init__(self, kind, kernel_size, stride, pads, size, ceil_mode=False,
                 count_include_pad=True, value=0.0):
        super().__init__()
        self.kind, self.kernel_size, self.stride = kind, tuple(kernel_size), tuple(stride)
        self.pads, self.size, self.ceil_mode = tuple(pads), tuple(size), ceil_mode
        self.count_include_pad, self.value = count_include_pad, value

    def _pool(self, x, divisor_override=None):
        x = pad_sides(x, self.pads, self.value)
        if self.kind == "max":
            out = F.max_pool2d(x, self.kernel_size, self.stride, ceil_mode=self.ceil_mode)
        else:
            out = F.avg_pool2d(x, self.kernel_size, self.stride, ceil_mode=self.ceil_mode,
                               divisor_override=divisor_override)
        return out[..., :self.size[0], :self.size[1]]

    def forward(self, x):
        if self.kind == "max" or self.count_include_pad:
            return self._pool(x)
        return self._pool(x, divisor_override=1) / self._pool(torch.ones_like(x[:1, :1]), 1)


class Add(nn.Module):
    """The elementwise sum of its inputs."""

    def forward(self, *xs):
        return sum(xs[1:], xs[0])


class Concat(nn.Module):
    """Its inputs joined along the channels (features)."""

    def forward(self, *xs):
        return torch.cat(xs, 1)


class GlobalPool(nn.Module):
    """(N, C, H, W) -> (N, C): the mean (``avg``) or the largest value (``max``) of each
    channel (on a tie the gradient goes to the first, as cnnspec's)."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def forward(self, x):
        if self.kind == "avg":
            return x.mean(dim=(2, 3))
        return F.adaptive_max_pool2d(x, 1).flatten(1)
