"""Fixed kernels: hand-written literals and the named classics, as plain nested lists (the
engine builds them as arrays from the same pieces: :func:`cnnspec.init.draw.fixed_kernel`).

A conv weight is (out, in, kh, kw). A kernel given as 2-D ``[kh][kw]`` goes on every filter and
input channel, 3-D ``[out][kh][kw]`` gives each filter its own kernel for every channel, and
4-D ``[out][in][kh][kw]`` gives every value. Any other parameter (a dense weight (out, in), a
bias (out,)) takes a literal of exactly its own shape. The named kernels (docs/ir.md) are 2-D
and go on every filter and channel. Pure Python, so the checker can use them without NumPy.
"""
from __future__ import annotations

import functools
import itertools
import math

from cnnspec.errors import SpecError, float_text
from cnnspec.init.catalogue import SAME_NAME_ELSEWHERE
from cnnspec.shapes import shape_text

SOBEL_X = [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]
SOBEL_Y = [list(row) for row in zip(*SOBEL_X)]
LAPLACIAN = [[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]

LAYOUTS = {2: "every filter and channel", 3: "one per filter, every channel",
           4: "one per filter and channel"}


def nested_shape(values) -> tuple[int, ...]:
    """The shape of a rectangular nested list of numbers; SpecError if ragged or not numeric."""
    if isinstance(values, bool) or not isinstance(values, (list, tuple)):
        if isinstance(values, (int, float)) and not isinstance(values, bool):
            return ()
        raise SpecError(f"a kernel literal holds numbers, not {values!r}",
                        hint="write rows of numbers, e.g. [[1, 0, -1], [2, 0, -2], [1, 0, -1]]")
    if not values:
        raise SpecError("a kernel literal cannot be empty", hint="write at least one row")
    inner = [nested_shape(v) for v in values]
    if any(s != inner[0] for s in inner):
        raise SpecError("the rows of a kernel literal differ in length",
                        hint="every row of a kernel needs the same number of values")
    return (len(values),) + inner[0]


def flat(values) -> list[float]:
    """All numbers of a rectangular nested list (:func:`nested_shape`'s), in row-major order:
    a level at a time, not a call per row (a 100000x1 kernel has 10^5 rows)."""
    if not isinstance(values, (list, tuple)):
        return [float(values)]
    while values and isinstance(values[0], (list, tuple)):
        values = list(itertools.chain.from_iterable(values))
    return [float(v) for v in values]


def literal_placement(vshape: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape ``values`` broadcasts from onto a parameter of ``shape`` (checked)."""
    if len(shape) == 4:
        out, cin, kh, kw = shape
        dims = len(vshape)
        if dims not in LAYOUTS:
            raise SpecError(f"a kernel literal is 2-D, 3-D or 4-D, not {dims}-D",
                            hint="write [kh][kw], [filters][kh][kw] or [filters][in][kh][kw]")
        expected = {2: (kh, kw), 3: (out, kh, kw), 4: (out, cin, kh, kw)}[dims]
        if vshape != expected:
            raise SpecError(
                f"the kernel literal is {shape_words(vshape)} but this layer needs "
                f"{shape_words(expected)}",
                hint=f"a {dims}-D literal here is {shape_words(expected)} "
                     f"({'filters x in x ' if dims == 4 else 'filters x ' if dims == 3 else ''}"
                     f"kernel height x width)")
        return {2: (1, 1, kh, kw), 3: (out, 1, kh, kw), 4: shape}[dims]
    if vshape != shape:
        raise SpecError(f"the literal is {shape_words(vshape)} but the parameter is "
                        f"{shape_words(shape)}",
                        hint="outside conv weights a literal gives every value, in the "
                             "parameter's own shape")
    return shape


def named_kernel(init: dict, kh: int, kw: int) -> list[list[float]]:
    """The (kh, kw) values of a named kernel: sobel_x/y, laplacian, gaussian, box, x_kernel,
    bilinear (of a size :func:`check_named_kernel` allows)."""
    name = init["name"]
    if name in FIXED:
        return FIXED[name]
    if name == "gaussian":
        return gaussian(float(init["sigma"]), kh, kw)
    if name == "box":
        return [[box_value(kh, kw)] * kw for _ in range(kh)]
    if name == "x_kernel":
        return x_kernel(kh, kw)
    if name == "bilinear":
        return bilinear(kh, kw)
    raise ValueError(f"{name} is not a named kernel")


# The named kernels of one size, by name.
FIXED = {"sobel_x": SOBEL_X, "sobel_y": SOBEL_Y, "laplacian": LAPLACIAN}


def check_named_kernel(init: dict, kh: int, kw: int) -> None:
    """SpecError where named kernel ``init`` cannot be (kh, kw): a 3x3 kernel of another
    size, a gaussian's sigma not above 0, an x_kernel not square."""
    name = init["name"]
    if name in FIXED and (kh, kw) != (3, 3):
        raise SpecError(f"{name} is a 3x3 kernel, but this layer's kernel is {kh}x{kw}",
                        hint="use kernel 3x3 or write the kernel as a literal")
    if name == "gaussian":
        _check_sigma(float(init["sigma"]))
    if name == "x_kernel":
        _check_square(kh, kw)


def box_value(kh: int, kw: int) -> float:
    """Every tap of a ``box`` kernel: the mean of the kh*kw values under it."""
    return 1.0 / (kh * kw)


def gaussian(sigma: float, kh: int, kw: int) -> list[list[float]]:
    """``exp(-((y - cy)^2 + (x - cx)^2) / (2 sigma^2))`` about the exact centre, summing to 1."""
    _check_sigma(sigma)
    return list(map(list, _gaussian_rows(sigma, kh, kw)))


def _check_sigma(sigma: float) -> None:
    if not sigma > 0:
        raise SpecError(f"gaussian needs sigma > 0, not {float_text(float(sigma))}",
                        hint="e.g. gaussian(1.0)")


def gaussian_exponent(square, nearest, sigma: float):
    """The exponent of a gaussian kernel's tap at ``square`` (its squared distance from the
    centre, a float or an array of them), measured from the taps nearest the centre
    (``nearest``, a factor the sum divides out again), and divided by sigma twice rather than
    by its square: for a sigma small beside the taps' distances (0.01 on an even kernel, whose
    centre is between taps) every tap's exp() was 0, and for sigma < 1e-154 its square was,
    where now the nearest taps share the weight."""
    return -((square - nearest) / (2 * sigma)) / sigma


@functools.lru_cache(maxsize=16)
def _gaussian_rows(sigma: float, kh: int, kw: int) -> tuple[tuple[float, ...], ...]:
    """:func:`gaussian`'s rows, worked out once for the layers that share them. The rows as far
    above the centre as below it are alike: each is worked out once, a tap at a time in one
    pass over them all and grouped into rows by ``zip`` (a 100000x1 kernel has 50,000 rows of
    one tap), in the formula and the order of additions of a construction tap by tap, so the
    values are that construction's to the last bit."""
    cy, cx = (kh - 1) / 2, (kw - 1) / 2
    down = [(y - cy) ** 2 for y in range(kh)]
    across = [(x - cx) ** 2 for x in range(kw)]
    # the least of the sums is the sum of the least: rounding keeps sums in order
    nearest = min(down) + min(across)
    distinct = list(dict.fromkeys(down))
    raw = [math.exp(gaussian_exponent(dy + dx, nearest, sigma))
           for dy in distinct for dx in across]
    row_sums = dict(zip(distinct, map(sum, zip(*[iter(raw)] * kw))))
    total = sum(map(row_sums.__getitem__, down))  # row by row, as the rows add up
    rows = dict(zip(distinct, zip(*[iter([v / total for v in raw])] * kw)))
    return tuple(map(rows.__getitem__, down))


def bilinear_tap(x, k: int):
    """One axis of Caffe's BilinearFiller (include/caffe/filler.hpp): ``f = ceil(k / 2)``,
    ``c = (k - 1) / (2 f)``, tap ``x`` (0 to k - 1) gets ``1 - |x / f - c|``: the weights of
    linear interpolation at upsampling factor f, centred on the kernel. (Caffe before 1.0 wrote
    ``c = (2f - 1 - f % 2) / (2f)``, equal for the kernel sizes ``2f - f % 2`` its recipe uses.)
    ``x`` is a tap's position or an array of them: the same exact IEEE operations on each."""
    f = math.ceil(k / 2)
    c = (k - 1) / (2 * f)
    return 1 - abs(x / f - c)


def bilinear(kh: int, kw: int) -> list[list[float]]:
    """Caffe's ``bilinear`` filler: the outer product of :func:`bilinear_tap` on each axis.
    Caffe accepts only square kernels; on a square one the values are Caffe's, and an oblong
    one gets each axis's own factor."""
    rows = [bilinear_tap(y, kh) for y in range(kh)]
    cols = [bilinear_tap(x, kw) for x in range(kw)]
    return [[r * c for c in cols] for r in rows]


def x_kernel(kh: int, kw: int) -> list[list[float]]:
    """1 on both diagonals of a square kernel, 0 elsewhere."""
    _check_square(kh, kw)
    return [[1.0 if x in (y, kw - 1 - y) else 0.0 for x in range(kw)] for y in range(kh)]


def _check_square(kh: int, kw: int) -> None:
    if kh != kw:
        raise SpecError(f"x_kernel needs a square kernel, not {kh}x{kw}",
                        hint="use a square kernel or write the kernel as a literal")


def kernel_values(init: dict, shape: tuple[int, ...]) -> tuple[list, tuple[int, ...]]:
    """``(values, placement)``: the nested values of a fixed kernel and the shape they broadcast
    from onto ``shape`` (see :func:`literal_placement`)."""
    placement = kernel_placement(init, shape)
    if init["name"] == "literal":
        return init["values"], placement
    return named_kernel(init, shape[2], shape[3]), placement


def kernel_placement(init: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape a fixed kernel's values broadcast from onto ``shape`` (see
    :func:`literal_placement`), checked (a SpecError where the kernel cannot apply), without
    making its values: a named kernel's are (kh, kw) on every filter and channel."""
    if init["name"] == "literal":
        return literal_placement(nested_shape(init["values"]), shape)
    if len(shape) != 4:
        clash = SAME_NAME_ELSEWHERE.get(init["name"])
        raise SpecError(f"{init['name']} is a conv kernel and cannot initialise a parameter of "
                        f"shape {shape_words(shape)}",
                        hint="use it as a conv layer's weight init" + (f"; {clash}" if clash
                                                                       else ""))
    check_named_kernel(init, shape[2], shape[3])
    return (1, 1, shape[2], shape[3])


def alike_along(values, placement: tuple[int, ...], axis: int) -> bool:
    """Whether a fixed kernel's slices along ``axis`` (0: filters or units, 1: input channels)
    are all the same, given its nested ``values`` and the ``placement`` they broadcast from
    (:func:`kernel_values`): a 2-D ``[kh][kw]`` kernel is alike along both, a 3-D
    ``[out][kh][kw]`` one along the channels, a 4-D or dense literal where its values say so."""
    if placement[axis] == 1:
        return True
    if axis == 0:
        return all(v == values[0] for v in values)
    return all(all(v == row[0] for v in row) for row in values)


def shape_words(shape: tuple[int, ...]) -> str:
    """The shape of a (nested) literal in words: ``3x3``, or ``a single number`` for ``()``."""
    return shape_text(shape) or "a single number"
