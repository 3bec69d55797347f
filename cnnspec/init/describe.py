"""``describe``: what an init will produce for one parameter, computed without drawing it.

Numbers are written as a spec writes them (``1e39``, not ``1e+39``): the values an init was
given whole (:func:`~cnnspec.errors.float_text`), results in ``short`` and ``formula`` to 3
significant digits, gains to 4 (:func:`~cnnspec.errors.rounded_text`). ``std`` is the
theoretical std of the values produced, so for a truncated normal it is the truncated std, not
the std parameter. ``bound`` is ``a`` of a symmetric U(-a, a), or for a truncated normal the
half-width (``2 sigma`` by default) of a cut centred on the normal's mean. ``constant`` is
true only when every element gets one value (zeros, ones, constant, a box filter, a literal of
one repeated number) — a checker can warn that such a layer's filters all receive the same
gradient. Fixed kernels (literals, named kernels, identity)
have ``std=None``: their spread is not a scale chosen from the fans.
"""
from __future__ import annotations

import dataclasses
import itertools
import math

from cnnspec.errors import SpecError, float_text, rounded_text
from cnnspec.init.catalogue import BY_NAME, KERNEL_NAMES, PARAMS, canonical
from cnnspec.init.fans import fans as fans_of
from cnnspec.init.gains import gain, gain_text
from cnnspec.init.info import LAG_REACH, InitInfo, KernelSums, TapSquares
from cnnspec.init.kernels import LAYOUTS, alike_along, flat, kernel_values, nested_shape
from cnnspec.init.presets import PRESETS, scheme_for_mode
from cnnspec.init.scaling import VarianceScaling
from cnnspec.init.truncation import TRUNCATED_STD, TRUNCATION, at_two_sigma, truncation
from cnnspec.shapes import shape_text


def num(x: float) -> str:
    """A result for display: 3 significant digits (``0.118``, ``1e-5``), written as a spec
    writes numbers (:func:`~cnnspec.errors.rounded_text`)."""
    return rounded_text(x, 3)


def init_text(init: dict) -> str:
    """An IR init as the language writes it, its defaults left out: ``he_normal(mode=fan_out)``,
    ``normal(std=0.01)``, ``zeros``, ``literal(values=[[0, 1], [1, 0]])``; the inits the
    catalogue marks ``defaults_shown`` (``variance_scaling``) in full. Numbers read back
    exactly (:func:`~cnnspec.errors.float_text`)."""
    init = canonical(init)
    shown = BY_NAME[init["name"]].defaults_shown
    args = []
    for name, default in PARAMS[init["name"]].items():
        value = init[name]
        if value == default and not shown:
            continue
        args.append(f"{name}={_arg_text(name, value)}")
    return f"{init['name']}({', '.join(args)})" if args else init["name"]


def init_json(init: dict) -> str:
    """An IR init as a JSON IR writes it, every parameter given (the IR is resolved):
    ``{"name": "he_uniform", "mode": "fan_in", "gain": {"nonlinearity": "relu"}}``."""
    import json  # for a JSON IR's hint alone, not for every check's start-up

    return json.dumps(canonical(init))


def mode_hint(init: dict, json_ir: bool = False) -> str | None:
    """The hint for a fan mode ``init``'s scheme does not take where another named scheme
    draws what it asks (:func:`cnnspec.init.presets.scheme_for_mode`): ``he_uniform`` over
    fan_avg is ``glorot_uniform(gain=relu)``, with the gain ``init`` carries; None where no
    scheme does. ``json_ir``: written for a JSON IR, whose schema holds the hint once for
    every gain (:mod:`cnnspec.init.schema`), so that scheme's init with the gain left to
    copy."""
    other = scheme_for_mode(init)
    if other is None:
        return None
    said = (f"{init['name']} over {init['mode']} is {BY_NAME[other['name']].source}'s scheme "
            f"with {init['name']}'s gain")
    if json_ir:
        return f'{said}: write {{"name": "{other["name"]}", "gain": <the same gain>}}'
    return f"{said}, {gain_text(init['gain'])}: write `{init_text(other)}`"


def _arg_text(name: str, value) -> str:
    """An init's argument as the language writes it: a gain by its name or number, a word
    as it is, numbers (a literal's nested lists of them too) exactly."""
    if name == "gain":
        return gain_text(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_arg_text(name, each) for each in value) + "]"
    return float_text(value)


# The descriptions made so far, by the init's repr, the shape and the fans: a net of many alike
# layers (a 200-layer stack) has one or two, each described 40-60 us. An InitInfo is frozen, so
# every layer may share it. Inits of long text (a large literal kernel) are described each
# time, and the table is emptied when it has DESCRIBED_KEPT.
_described: dict[tuple, InitInfo] = {}
DESCRIBED_KEPT = 256
DESCRIBED_TEXT = 1000  # the most characters of an init's repr that are kept as a key


def describe(init: dict, shape: tuple[int, ...],
             fans: tuple[int, int] | None = None) -> InitInfo:
    """Describe ``init`` on a parameter of ``shape`` (OIHW conv, (out, in) dense, (out,) bias).

    ``fans`` overrides the parameter's own fans: a scaled scheme on a bias should be given its
    layer's weight fans. Raises :class:`SpecError` (without a location; the caller adds it)
    for inits that cannot apply to this shape or have bad parameters. Made once for an init
    of a few words on a shape (:data:`_described`).
    """
    shape = tuple(int(n) for n in shape)
    text = repr(init)  # equal reprs: equal values of plain data, as an IR's
    if len(text) > DESCRIBED_TEXT:
        return _describe(init, shape, fans)
    key = (text, shape, None if fans is None else tuple(fans))
    info = _described.get(key)
    if info is None:
        info = _describe(init, shape, fans)
        if len(_described) >= DESCRIBED_KEPT:
            _described.clear()
        _described[key] = info
    return info


def _describe(init: dict, shape: tuple[int, ...], fans: tuple[int, int] | None) -> InitInfo:
    """:func:`describe`, worked out."""
    init = canonical(init)
    fan_in, fan_out = fans if fans is not None else fans_of(shape)
    name = init["name"]
    if BY_NAME[name].check is not None:  # an IR's init, not read by the language's checks
        BY_NAME[name].check(init)
    if name in PRESETS:
        info = _scaled(init, PRESETS[name](init), fan_in, fan_out)
    elif name in KERNEL_NAMES:
        info = _kernel(init, shape, fan_in, fan_out)
    else:
        info = _DESCRIBERS[name](init, shape, fan_in, fan_out)
    return dataclasses.replace(info, source=BY_NAME[name].source)


def _constant(init, shape, fan_in, fan_out) -> InitInfo:
    named = BY_NAME[init["name"]].value
    value = float(init["value"] if named is None else named)
    return InitInfo(init["name"], "constant", f"constant {float_text(value)}",
                    f"every element = {float_text(value)}",
                    mean=value, std=0.0, fan_in=fan_in, fan_out=fan_out, constant=True,
                    alike_axes=(0, 1), sums=_constant_sums(value, shape))


def _constant_sums(value: float, shape: tuple[int, ...]) -> KernelSums | None:
    """:func:`kernel_sums` of a weight whose every value is ``value``: one filter's taps."""
    taps = math.prod(shape[2:])
    return kernel_sums([value] * taps, (1, 1, *shape[2:]), shape)


def _against_fans(shape, fan_in: int, mean: float, std: float) -> str:
    """For a weight drawn at a fixed scale, what that scale is for this layer: ``fan_in *
    E[w^2]``, the factor by which the layer multiplies its input's second moment (Glorot &
    Bengio 2010, eq. 5; He et al. 2015, eq. 7), beside the 2 of He's scheme before a ReLU and
    the 1 of LeCun's. Empty for a bias, which has no fan of its own."""
    if len(shape) < 2:
        return ""
    moment = std * std + mean * mean
    return (f"; fan_in * E[w^2] = {fan_in} * {num(moment)} = {num(fan_in * moment)} (He's 2 "
            f"keeps a ReLU layer's signal, LeCun's 1 a linear one's)")


def _uniform(init, shape, fan_in, fan_out) -> InitInfo:
    low, high = float(init["low"]), float(init["high"])
    if not math.isfinite(high - low):  # NumPy draws low + (high - low) u, and refuses this
        raise SpecError(f"uniform's range high - low, {float_text(high)} - "
                        f"({float_text(low)}), is beyond floating point's range",
                        hint="a range of at most 1.7e308; weights rarely exceed 10")
    std = (high - low) / math.sqrt(12)
    low_text = f"({float_text(low)})" if low < 0 else float_text(low)
    formula = (f"std = (high - low) / sqrt(12) = ({float_text(high)} - {low_text}) / sqrt(12) "
               f"= {num(std)}"
               + _against_fans(shape, fan_in, (low + high) / 2, std))
    return InitInfo("uniform", "uniform", f"U({float_text(low)}, {float_text(high)})", formula,
                    mean=(low + high) / 2, std=std, bound=high if low == -high else None,
                    fan_in=fan_in, fan_out=fan_out, random=True,
                    sums=drawn_sums((low + high) / 2, std, shape))


def _positive_std(init) -> tuple[float, float]:
    mean, std = float(init["mean"]), float(init["std"])
    if not std > 0:
        raise SpecError(f"{init['name']} needs std > 0, not {float_text(std)}",
                        hint="for one value everywhere use constant(value)")
    return mean, std


def _normal(init, shape, fan_in, fan_out) -> InitInfo:
    mean, std = _positive_std(init)
    formula = f"std = {float_text(std)} (given)" + _against_fans(shape, fan_in, mean, std)
    return InitInfo("normal", "normal", f"N({float_text(mean)}, {num(std)}^2)", formula,
                    mean=mean, std=std, fan_in=fan_in, fan_out=fan_out, random=True,
                    sums=drawn_sums(mean, std, shape))


def _truncated_normal(init, shape, fan_in, fan_out) -> InitInfo:
    loc, sigma = _positive_std(init)
    cut = truncation(loc, sigma, init["low"], init["high"])
    mean, std = cut.mean, cut.std
    if cut.given:
        where = _cut_text(cut)
        short_cut = f"[{float_text(cut.low)}, {float_text(cut.high)}]"
    else:
        where = (f"N({float_text(loc)}, {float_text(sigma)}^2) redrawn outside mean +- 2 std; "
                 f"std of the values = "
                 f"std * {TRUNCATED_STD:.4f} = {num(std)}")
        short_cut = f"±{float_text(TRUNCATION)}σ"
    return InitInfo("truncated_normal", "truncated_normal",
                    f"TN({float_text(loc)}, {num(sigma)}^2, {short_cut})",
                    where + _against_fans(shape, fan_in, mean, std), mean=mean, std=std,
                    bound=cut.half_width, fan_in=fan_in, fan_out=fan_out, random=True,
                    truncation=cut, sums=drawn_sums(mean, std, shape))


def _cut_text(cut) -> str:
    """The formula of a normal cut at given bounds: the cut in units of std about the mean
    (alpha, beta), the share Z it keeps, and the mean and std of the values that follow from
    them (the formulas of :mod:`cnnspec.init.truncation`)."""
    a, b = num(cut.alpha), num(cut.beta)
    return (f"N({float_text(cut.loc)}, {float_text(cut.sigma)}^2) redrawn outside "
            f"[{float_text(cut.low)}, {float_text(cut.high)}] = "
            f"mean + [{a}, {b}] std, keeping Z = Phi({b}) - Phi({a}) = {num(cut.kept)} of it; "
            f"mean of the values = {num(cut.mean)}, std = std * {num(cut.std / cut.sigma)} = "
            f"{num(cut.std)} (a normal's moments cut at {a} and {b} std)")


def _scaled(init: dict, vs: VarianceScaling, fan_in: int, fan_out: int) -> InitInfo:
    std = vs.std(fan_in, fan_out)
    bound = vs.bound(fan_in, fan_out)
    sigma = vs.sigma(fan_in, fan_out)
    short = {"uniform": f"U(-{num(bound)}, {num(bound)})" if bound is not None else "",
             "normal": f"N(0, {num(std)}^2)",
             "truncated_normal": f"TN(0, {num(sigma)}^2, ±{float_text(TRUNCATION)}σ)"
             }[vs.distribution]
    cut = at_two_sigma(0.0, sigma) if vs.distribution == "truncated_normal" else None
    return InitInfo(init["name"], vs.distribution, short, scaled_formula(init, vs, fan_in, fan_out),
                    mean=0.0, std=std, bound=bound, fan_in=fan_in, fan_out=fan_out, random=True,
                    truncation=cut)


def scaled_formula(init: dict, vs: VarianceScaling, fan_in: int, fan_out: int) -> str:
    """``std = gain / sqrt(fan_in) = 1.414 / sqrt(144) = 0.118`` and its uniform and truncated
    variants, written the way each preset's paper writes it: by the parameter the catalogue
    gives the scheme for its scale (``scale``, ``gain``), else by its fixed scale."""
    # n of "scale / n" as written: fan_avg is (fan_in + fan_out) / 2, so its 2 moves up.
    if vs.mode == "fan_avg":
        n_sym, n_num, factor = "(fan_in + fan_out)", f"({fan_in} + {fan_out})", 2
    else:
        n_sym, n_num, factor = vs.mode, str(fan_in if vs.mode == "fan_in" else fan_out), 1
    k = factor * (3 if vs.distribution == "uniform" else 1)
    if "scale" in init:
        # the scale as written: vs holds its square root, whose square may not be it again
        # (sqrt(2) ** 2 = 2.0000000000000004)
        scale = float_text(float(init["scale"]))
        top_sym = "scale" if k == 1 else f"{k} * scale"
        top_num = scale if k == 1 else f"{k} * {scale}"
        sym, val = f"sqrt({top_sym} / {n_sym})", f"sqrt({top_num} / {n_num})"
    elif "gain" in init:
        g = rounded_text(gain(init["gain"]), 4)
        if k == 1:
            sym, val = f"gain / sqrt({n_sym})", f"{g} / sqrt({n_num})"
        else:
            sym, val = f"gain * sqrt({k} / {n_sym})", f"{g} * sqrt({k} / {n_num})"
        if "nonlinearity" in init["gain"]:  # say which nonlinearity the gain is for
            sym = sym.replace("gain", f"gain({gain_text(init['gain'])})", 1)
    else:
        sym, val = _fixed_scale_text(k * vs.scale, n_sym, n_num)
    std = vs.std(fan_in, fan_out)
    if vs.distribution == "uniform":
        return f"bound = {sym} = {val} = {num(vs.bound(fan_in, fan_out))}"
    if vs.distribution == "truncated_normal":
        return (f"sigma = {sym} / {TRUNCATED_STD:.4f} = {val} / {TRUNCATED_STD:.4f} = "
                f"{num(vs.sigma(fan_in, fan_out))} (truncated at ±2 sigma: std {num(std)})")
    return f"std = {sym} = {val} = {num(std)}"


def _fixed_scale_text(top: float, n_sym: str, n_num: str) -> tuple[str, str]:
    """``sqrt(top / n)`` of a scheme whose scale is fixed (LeCun's 1, PyTorch's default 1/3),
    symbolic and with the fan's number; ``1 / sqrt(n)`` where ``top`` is 1 (PyTorch's default
    bound, ``1 / sqrt(fan_in)``). ``top`` is the scale times what the distribution and the
    fan's mode multiply it by, shown to 4 digits: the scale is held by its square root, whose
    square misses 1/3 in the last bit."""
    top_text = rounded_text(top, 4)
    if top_text == "1":
        return f"1 / sqrt({n_sym})", f"1 / sqrt({n_num})"
    return f"sqrt({top_text} / {n_sym})", f"sqrt({top_text} / {n_num})"


def _matrix_sides(init, shape) -> tuple[int, int]:
    if len(shape) < 2:
        raise SpecError(f"{init['name']} needs a weight of at least 2 dimensions, not "
                        f"shape {shape}", hint="initialise biases with zeros or a constant")
    return shape[0], math.prod(shape[1:])


def _orthogonal(init, shape, fan_in, fan_out) -> InitInfo:
    rows, cols = _matrix_sides(init, shape)
    g = gain(init["gain"])
    std = abs(g) / math.sqrt(max(rows, cols))
    formula = (f"W as a {rows}x{cols} matrix with orthonormal "
               f"{'rows' if rows <= cols else 'columns'}, times gain; "
               f"std = gain / sqrt(max(rows, cols)) = {rounded_text(g, 4)} / "
               f"sqrt({max(rows, cols)}) = {num(std)}")
    return InitInfo("orthogonal", "orthogonal",
                    f"orthogonal {rows}x{cols}, gain {rounded_text(g, 4)}", formula,
                    mean=0.0, std=std, fan_in=fan_in, fan_out=fan_out, random=True)


def delta_shape(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """``(out, in, kh, kw)`` of a conv weight, or of a dense weight read as a 1x1 kernel."""
    return tuple(shape) if len(shape) == 4 else (shape[0], shape[1], 1, 1)


def _delta_orthogonal(init, shape, fan_in, fan_out) -> InitInfo:
    if len(shape) not in (2, 4):
        raise SpecError(f"delta_orthogonal needs a conv or dense weight, not a parameter of "
                        f"shape {shape_text(shape)}",
                        hint="initialise biases with zeros or a constant")
    out, cin, kh, kw = delta_shape(shape)
    g = gain(init["gain"])
    # min(out, in) unit vectors times gain, spread over out*in*kh*kw values
    std = abs(g) / math.sqrt(max(out, cin) * kh * kw)
    sides = "columns (out >= in)" if out >= cin else "rows (out < in)"
    where = (f"W[:, :, {(kh - 1) // 2}, {(kw - 1) // 2}] = " if len(shape) == 4 else
             "W (dense: the only tap of a 1x1 kernel) = ")
    formula = (f"{where}gain * a {out}x{cin} matrix with orthonormal {sides}, 0 at the other "
               f"taps; std = gain / sqrt(max(out, in) * kh * kw) = {rounded_text(g, 4)} / "
               f"sqrt({max(out, cin)} * {kh * kw}) = {num(std)}")
    return InitInfo("delta_orthogonal", "delta_orthogonal",
                    f"delta orthogonal {out}x{cin}, gain {rounded_text(g, 4)}", formula,
                    mean=0.0, std=std,
                    fan_in=fan_in, fan_out=fan_out, random=True,
                    nonzero_scale=abs(g) / math.sqrt(max(out, cin)))


def _sparse(init, shape, fan_in, fan_out) -> InitInfo:
    _, cols = _matrix_sides(init, shape)
    k, sigma = min(int(init["nonzero"]), cols), float(init["std"])
    std = sigma * math.sqrt(k / cols)  # k of the cols values of a unit are N(0, sigma^2)
    formula = (f"{k} of the {cols} incoming weights of each unit N(0, {float_text(sigma)}^2), "
               f"the rest 0; std = std * sqrt(k / fan_in) = {float_text(sigma)} * "
               f"sqrt({k} / {cols}) = {num(std)}")
    return InitInfo("sparse", "sparse", f"sparse {k}/{cols}, N(0, {num(sigma)}^2)", formula,
                    mean=0.0, std=std, fan_in=fan_in, fan_out=fan_out, random=True,
                    nonzero_scale=sigma)


def positive_unitball_std(n: int) -> float:
    """The std of one of ``n`` U(0, 1) values divided by their sum, approximately.

    With ``S = u_1 + ... + u_n``, ``u_i / S ~ (2 / n)(u_i - (S - n/2) / n)`` (the delta method
    about E[S] = n/2), whose variance is ``(4 / n^2)(1/12)(1 - 1/n) = (n - 1) / (3 n^3)``; the
    factor ``1 + 1/(2n)`` is an empirical correction for the next order. Exact for n = 1
    (std 0); within 1% of the sampled std for n >= 4, 2% for n = 3.
    """
    return math.sqrt((n - 1) / (3 * n)) / n * (1 + 1 / (2 * n))


def _positive_unitball(init, shape, fan_in, fan_out) -> InitInfo:
    _, n = _matrix_sides(init, shape)
    std = positive_unitball_std(n)
    formula = (f"U(0, 1), each unit's {n} incoming weights divided by their sum; mean 1 / {n} "
               f"= {num(1 / n)}, std ~ sqrt((n - 1) / (3n)) / n * (1 + 1/(2n)) = {num(std)}")
    return InitInfo("positive_unitball", "positive_unitball", f"positive unit sum over {n}",
                    formula, mean=1 / n, std=std, fan_in=fan_in, fan_out=fan_out,
                    constant=n == 1, random=n > 1,
                    # each unit sums to 1: its values' covariance cancels their variance there
                    sums=drawn_sums(1 / n, std, shape, -std * std / (n - 1) if n > 1 else 0.0))


def _identity(init, shape, fan_in, fan_out) -> InitInfo:
    rows, cols = _matrix_sides(init, shape)
    ones = min(shape[0], shape[1])
    if len(shape) == 2:
        short, formula = f"eye {rows}x{cols}", f"W[i, i] = 1 for i < min(out, in) = {ones}"
    else:
        kernel = shape_text(shape[2:])
        short = f"identity {kernel}"
        formula = (f"filter i = 1 at the kernel centre of channel i, for i < min(out, in) = "
                   f"{ones}; 0 elsewhere")
    return InitInfo("identity", "identity", short, formula, mean=ones / (rows * cols),
                    fan_in=fan_in, fan_out=fan_out, constant=rows * cols == 1)


def _lsuv(init, shape, fan_in, fan_out) -> InitInfo:
    _matrix_sides(init, shape)
    formula = (f"orthogonal start (Saxe et al. 2014), then rescaled on a data batch until each "
               f"layer's output variance is 1 ± {float_text(float(init['tol']))} "
               f"(at most {int(init['max_iter'])} rounds; Mishkin & Matas 2016)")
    return InitInfo("lsuv", "lsuv", "LSUV (orthogonal, rescaled on data)", formula, mean=0.0,
                    fan_in=fan_in, fan_out=fan_out, random=True)


def _kernel(init, shape, fan_in, fan_out) -> InitInfo:
    values, placement = kernel_values(init, shape)  # validates the kernel against the shape
    numbers = flat(values)
    name = init["name"]
    size = shape_text(shape[2:] if len(shape) == 4 else shape)
    if name == "literal":
        depth = len(nested_shape(values))
        layout = LAYOUTS[depth] if len(shape) == 4 else "every value given"
        # one matrix for every filter, and small: the summary's line stays readable
        small = len(shape) == 4 and depth == 2 and len(numbers) <= SHOWN_KERNEL_VALUES
        shown = f"{_matrix_text(values)} " if small else ""
        short, formula = f"literal {size}", f"{shown}as written, {layout}"
    elif name == "gaussian":
        short = f"gaussian(σ={float_text(float(init['sigma']))}) {size}"
        formula = ("exp(-r^2 / (2 sigma^2)) about the centre, normalised to sum 1, "
                   f"sigma = {float_text(float(init['sigma']))}; every filter and channel")
    elif name == "bilinear":
        short = f"bilinear {size}"
        axes = sorted({shape[2], shape[3]})
        each = "; ".join(f"k={k}: f={math.ceil(k / 2)}, c={num((k - 1) / (2 * math.ceil(k / 2)))}"
                         for k in axes)
        formula = (f"(1 - |x/f - c|) * (1 - |y/f - c|), f = ceil(k / 2), c = (k - 1) / (2f) "
                   f"({each}); every filter and channel (Caffe's bilinear filler)")
    elif name == "box":
        short = f"box {size}"
        formula = f"1 / (kh * kw) = 1 / {shape[2] * shape[3]} = {num(numbers[0])} everywhere"
    else:
        short, formula = f"{name} {size}", f"{_matrix_text(values)} on every filter and channel"
    largest = max(map(abs, numbers))
    squares = [(v / largest) ** 2 for v in numbers] if largest else [0.0] * len(numbers)
    return InitInfo(name, "literal", short, formula, mean=sum(numbers) / len(numbers),
                    fan_in=fan_in, fan_out=fan_out, nonzero_scale=largest,
                    constant=all(map(numbers[0].__eq__, numbers)),
                    alike_axes=tuple(axis for axis in range(min(2, len(shape)))
                                     if alike_along(values, placement, axis)),
                    relative_square=sum(squares) / len(squares),
                    tap_squares=_tap_squares(squares, shape) if len(shape) == 4 else None,
                    sums=kernel_sums(numbers, placement, shape))


def kernel_sums(numbers: list[float], placement: tuple[int, ...],
                shape: tuple[int, ...]) -> KernelSums | None:
    """:class:`KernelSums` of a fixed weight of ``shape`` (OIHW, or a dense one's (out, in))
    whose ``numbers`` (row-major) broadcast from ``placement`` onto it; None for a bias. A
    value placed once for all of ``repeat`` input channels counts in each of their sums."""
    if len(shape) < 2:
        return None
    filters, placed, taps = placement[0], placement[1], math.prod(placement[2:])
    repeat = shape[1] // placed
    # the autocorrelation needs the kernel's own rows and columns of taps
    spatial = tuple(shape[2:]) if len(shape) == 4 and placement[2:] == shape[2:] else None
    whole = channels = tap_sums = mean = 0.0
    lags: dict[tuple[int, int], float] = {}
    tap_lags: dict[tuple[int, int], float] = {}
    for f in range(filters):
        rows = [numbers[(f * placed + c) * taps:(f * placed + c + 1) * taps]
                for c in range(placed)]
        total = repeat * sum(map(sum, rows))
        whole, mean = whole + total * total, mean + total
        # products, not ** 2, which raises OverflowError beyond float64's range (a kernel of
        # 1e200, which float64 weights hold), where a product gives inf
        channels += repeat * sum(sum(row) * sum(row) for row in rows)
        tap_sums += sum(repeat * sum(column) * repeat * sum(column) for column in zip(*rows))
        if spatial is not None:
            for row in rows:
                _add_lags(lags, row, spatial, repeat / filters)
            _add_lags(tap_lags, [repeat * sum(column) for column in zip(*rows)], spatial,
                      1 / filters)
    return KernelSums(whole / filters, channels / filters, tap_sums / filters, mean / filters,
                      tuple(sorted(lags.items())), tuple(sorted(tap_lags.items())))


def drawn_sums(mean: float, std: float, shape: tuple[int, ...], covariance: float = 0.0
               ) -> KernelSums | None:
    """The expectation over the draws of :func:`kernel_sums` for a drawn weight of ``shape``
    whose values have ``mean`` and ``std``, any two of one unit (filter or dense row) a
    ``covariance`` (0 where they are drawn independently). Of ``n`` such values,
    ``E[(sum w)^2] = n (mean^2 + std^2) + n (n - 1) (mean^2 + covariance)``: a whole filter's
    ``n = fan_in`` (``fan_in^2 mean^2 + fan_in std^2`` for independent draws: the mean adds up
    over the filter, the spread only in its square), one channel's taps, the channels at one
    tap; two values apart, ``mean^2 + covariance``, for each pair of taps a displacement
    apart. None for a bias, or a mean of 0: the sums of values drawn about 0 add their
    input's mean in no direction, and ``fan_in * E[w^2]`` says their second moment."""
    if len(shape) < 2 or not mean:
        return None
    channels, taps = shape[1], math.prod(shape[2:])
    pair = mean * mean + covariance

    def square_of_sum(n: int) -> float:
        return n * (mean * mean + std * std) + n * (n - 1) * pair

    lags: dict[tuple[int, int], float] = {}
    tap_lags: dict[tuple[int, int], float] = {}
    if len(shape) == 4:
        kh, kw = shape[2:]
        for dy in range(min(kh, LAG_REACH)):
            for dx in range(min(kw, LAG_REACH)):
                if dy or dx:
                    pairs = (kh - dy) * (kw - dx)  # either way along a row: as many
                    lags[(dy, dx)] = channels * pairs * pair
                    tap_lags[(dy, dx)] = channels * channels * pairs * pair
    return KernelSums(square_of_sum(channels * taps), channels * square_of_sum(taps),
                      taps * square_of_sum(channels), channels * taps * mean,
                      tuple(sorted(lags.items())), tuple(sorted(tap_lags.items())))


def _add_lags(lags: dict[tuple[int, int], float], values: list[float],
              spatial: tuple[int, int], weight: float) -> None:
    """Add ``weight`` times a ``kh x kw`` kernel's autocorrelation (``values`` row-major) to
    ``lags``: at each ``(dy, dx)`` below :data:`LAG_REACH`, ``dy, dx >= 0`` not both 0, the
    products of its taps that far apart, ``(dy, dx)`` and ``(dy, -dx)`` averaged
    (:class:`KernelSums`). Each displacement is one pass over the taps (a 100000x1 kernel's
    all pairs would be 10^10)."""
    kh, kw = spatial
    for dy in range(min(kh, LAG_REACH)):
        for dx in range(min(kw, LAG_REACH)):
            if not dy and not dx:
                continue
            ways = (dx,) if not dy or not dx else (dx, -dx)
            products = 0.0
            for step in ways:
                offset = dy * kw + step  # taps (y, x) and (y + dy, x + step), row-major
                products += sum(values[i] * values[i + offset]
                                for i in range(max(0, -offset), len(values) - max(0, offset))
                                if 0 <= i % kw + step < kw)
            lags[(dy, dx)] = lags.get((dy, dx), 0.0) + weight * products / len(ways)


def _tap_squares(squares: list[float], shape: tuple[int, ...]) -> TapSquares:
    """A conv kernel's ``squares`` (its values' in row-major order, broadcast or not) summed
    over each of its ``kh`` rows and each of its ``kw`` columns of taps."""
    kh, kw = shape[2:]
    # each run of kw squares is a row of taps, the rows of a kernel kh such runs apart; each
    # sum adds its squares in their order
    runs = list(zip(*[iter(squares)] * kw))
    rows = (list(map(sum, runs)) if len(runs) == kh  # one kernel for every filter
            else [sum(itertools.chain.from_iterable(runs[row::kh])) for row in range(kh)])
    return TapSquares(tuple(rows), tuple(map(sum, zip(*runs))))


SHOWN_KERNEL_VALUES = 25  # a 5x5 kernel's numbers fit a summary line


def _matrix_text(rows) -> str:
    """A kernel matrix on one line: ``[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]``."""
    return "[" + ", ".join("[" + ", ".join(float_text(float(v)) for v in row) + "]"
                           for row in rows) + "]"


_DESCRIBERS = {
    "zeros": _constant,
    "ones": _constant,
    "constant": _constant,
    "uniform": _uniform,
    "normal": _normal,
    "truncated_normal": _truncated_normal,
    "orthogonal": _orthogonal,
    "identity": _identity,
    "delta_orthogonal": _delta_orthogonal,
    "sparse": _sparse,
    "positive_unitball": _positive_unitball,
    "lsuv": _lsuv,
}
