"""PyTorch versions of the initializers ``torch.nn.init`` has no function for, drawing what
:mod:`cnnspec.init.draw` draws (the same distributions, from PyTorch's generator).

Like :mod:`cnnspec.kinds.torch_layers`, this file is PyTorch source that the tests import
(where PyTorch is installed) and that ``cnnspec export --format torch`` copies, below the
marker line, into the module it writes; each init's ``torch`` code in
:mod:`cnnspec.init.catalogue` calls these by name.
"""
import torch

# ---- copied into exported modules from here on ----


def rows_view(w):
    """``w`` as (units, inputs): a filter's in·kh·kw or a dense row's in."""
    return w.view(w.shape[0], -1)


def sparse_(w, nonzero, std):
    """Each unit gets ``nonzero`` incoming weights N(0, std²) at random positions, the rest
    0 (Martens 2010, section 5)."""
    rows = rows_view(w)
    k = min(int(nonzero), rows.shape[1])
    keep = torch.rand(rows.shape).argsort(dim=1)[:, :k]
    rows.zero_().scatter_(1, keep, std * torch.randn(rows.shape[0], k, dtype=w.dtype))
    return w


def positive_unitball_(w):
    """U(0, 1), each unit's incoming weights then divided by their sum (Caffe's filler)."""
    rows = rows_view(w)
    rows.uniform_(0.0, 1.0)
    rows.div_(rows.sum(dim=1, keepdim=True))
    return w


def centre(w):
    """The centre tap of a kernel: (k - 1) // 2 on each axis (``same`` padding's)."""
    return tuple((k - 1) // 2 for k in w.shape[2:])


def identity_(w):
    """Dense: eye(out, in); conv: filter i is 1 at the centre of channel i."""
    w.zero_()
    n = min(w.shape[0], w.shape[1])
    index = torch.arange(n)
    w[(index, index, *centre(w))] = 1.0
    return w


def delta_orthogonal_(w, gain):
    """An orthogonal (out, in) matrix times ``gain`` at the kernel centre, 0 at every other
    tap (Xiao et al. 2018); a dense weight is the 1x1 case."""
    matrix = torch.empty(w.shape[0], w.shape[1], dtype=w.dtype)
    torch.nn.init.orthogonal_(matrix, gain)
    w.zero_()
    w[(slice(None), slice(None), *centre(w))] = matrix
    return w


def kernel_(w, values, placement):
    """A fixed kernel: ``values`` (nested lists) shaped ``placement`` and repeated over
    ``w``."""
    w.copy_(torch.tensor(values, dtype=w.dtype).reshape(placement).expand_as(w))
    return w
