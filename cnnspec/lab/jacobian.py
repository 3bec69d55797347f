"""``cnnspec init-report SPEC --jacobian``: the singular values of the input-output Jacobian at
initialisation, per init variant.

Dynamical isometry (Saxe et al. 2014; Pennington et al. 2017, "Resurrecting the sigmoid in deep
learning through dynamical isometry"; Xiao et al. 2018, "Dynamical isometry and a mean field
theory of CNNs"): a deep network trains fast when every singular value of its input-output
Jacobian ``J`` is near 1, not only their mean square (which criticality, ``chi_1 = 1``, fixes).
Orthogonal (for conv: delta-orthogonal) weights at the critical point keep the spectrum
concentrated as depth grows; Gaussian weights spread it, the more the deeper.

``J`` maps the input (``D`` values) to the output of one layer (``M`` values): by default the
last layer with a feature map (before pooling or flattening into the head), else the last
hidden layer. The engine has reverse mode only, so each backward pass from a direction ``u`` of
the output space gives one row ``u^T J``:

- exact, when ``M <= rows``: ``u`` runs over the ``M`` unit vectors (batched, every copy of
  the input in one forward and one backward pass), giving ``J`` itself;
- estimated otherwise: ``u`` runs over ``K = rows`` orthonormal directions ``U`` drawn
  uniformly (Haar), giving ``U^T J`` (K, D). Since ``E[U U^T] = (K / M) I``, ``(M / K)
  ||U^T J||_F^2`` is an unbiased estimate of ``||J||_F^2`` (the Hutchinson-style trace
  estimate of ``tr(J J^T)``), and the mean squared singular value of ``J``, over its
  ``min(M, D)`` singular values, is ``||J||_F^2 / min(M, D)``. ``U^T J`` has ``min(K, D)``
  singular values, so each squared one is scaled by :func:`estimate_scale`, ``(M / K)
  min(K, D) / min(M, D)``, for their mean to be that estimate. Unscaled, the mean was low by
  ``K / M`` wherever ``D < M`` (deep_tanh200: D = 64 inputs, M = 256 outputs).
  Their quantiles cannot be made unbiased this way (:func:`quantiles_note`): where ``M <= D``
  the scale is 1 and the values, those of a random compression of ``J J^T``, lie within the
  range of ``J``'s by Cauchy interlacing, so the spread is a lower bound and an isometry
  (``J J^T = I``) gives exactly 1s; where ``D < M`` they are those of the sketch ``(M / K) J^T
  U U^T J`` of ``J^T J``, whose sampling noise spreads them (most at the low end, and the more
  the nearer K is to D), so the spread is then no bound either way.

Singular values are pooled over a few inputs (``J`` depends on the input through the
nonlinearities).

Resolution: ``J`` and its SVD are computed in float64, whose rounding perturbs ``J`` by about
``eps ||J||``, so singular values below ``sigma_max * max(K, D) * eps`` (NumPy's ``matrix_rank``
tolerance, after Press et al., Numerical Recipes, 2.6) are noise: after 200 Gaussian layers a
quarter of the spectrum lies there, and its digits differ from one machine's BLAS to another's.
The report gives that floor, prints what lies below it as ``<floor``, and measures the spread
with those values raised to the floor, a lower bound of the true spread.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from cnnspec.check.memory import WARN_SHARE, bytes_text, machine_memory, room_text
from cnnspec.check.model import CheckedSpec
from cnnspec.compiler import compile_spec
from cnnspec.engine.model import Model
from cnnspec.errors import (
    LIBRARY_NAMES,
    WordedInputError,
    closest,
    counted,
    literal,
    rounded_text,
    worded,
)
from cnnspec.kinds import is_weighted, layer_flops
from cnnspec.lab.batch import given_input_kind, make_batch
from cnnspec.lab.defaults import ROWS
from cnnspec.lab.lsuv import lsuv
from cnnspec.lab.memory import SMALLER_NETWORK, refuse_beyond_memory
from cnnspec.lab.variants import load_variants
from cnnspec.records import record

CHUNK = 64  # backward directions per pass


def _no_progress(passes: int) -> None:
    """The silent ``advance`` of :func:`jacobian_report`."""


def end_layer(checked: CheckedSpec, name: str | None = None) -> str:
    """The layer whose output ends the Jacobian: ``name`` (checked), else the last layer with
    a (C, H, W) output, else the input of the last conv/dense layer."""
    names = [layer.name for layer in checked.layers]
    # A mistake in what was asked, not in the spec (which has no line to point at): an
    # InputError naming the spec, as the filters' and feature maps' --layer does.
    if name is not None:
        if name not in names:
            close = closest(name, names)
            raise WordedInputError(
                "{layer}: " + literal(f"{checked.spec.name} has no layer {name!r}"),
                hint=literal(f"did you mean {close}?" if close else "layers: "
                             + ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")))
        return name
    maps = [layer.name for layer in checked.layers if len(layer.output_shape) == 3]
    if maps:
        return maps[-1]
    weighted = [layer for layer in checked.layers if is_weighted(layer.kind)]
    if len(weighted) < 2:
        raise WordedInputError(literal(f"the Jacobian needs a hidden layer: "
                                       f"{checked.spec.name} has fewer than two conv/dense "
                                       "layers"),
                               hint="name the end of the Jacobian with {layer}")
    return weighted[-1].inputs[0]


def directions_bytes(m: int, d: int, rows: int) -> int:
    """The bytes (float64) of the arrays :func:`singular_values` holds beside the network, for
    ``m`` output units, ``d`` input values and ``rows`` directions: the directions (M, K) and,
    estimated, the Gaussian matrix and R of their QR; the Jacobian's rows (K, D) as chunks and
    joined; the SVD's copy and workspace, about one more (K, D) and a (K, K)."""
    k = min(m, rows)
    directions = m * k * (1 if m <= rows else 2) + (0 if m <= rows else k * k)
    return 8 * (directions + 3 * k * d + k * k)


def refuse_beyond_memory_of_rows(m: int, d: int, rows: int) -> None:
    """Refuse ``--rows`` whose arrays (:func:`directions_bytes`) would take more than the
    share of the machine's memory a step may take, before anything is allocated."""
    limit = machine_memory()
    need = directions_bytes(m, d, rows)
    if limit is None or need <= WARN_SHARE * limit:
        return
    fits = max(1, int(WARN_SHARE * limit / (8 * (2 * m + 3 * d))))
    raise WordedInputError(
        f"{{rows:{rows}}}: the Jacobian's {min(m, rows):,} rows of {d:,} inputs and their "
        f"directions in {m:,} outputs would take about {bytes_text(need)}, more than half of "
        f"{literal(room_text(limit))}",
        hint=f"use fewer {{rows}} (about {min(fits, rows):,} fit), or end the Jacobian at a "
             "smaller layer with {layer}")


def rows_of_jacobian(model: Model, x: np.ndarray, directions: np.ndarray,
                     advance: Callable[[int], None] = _no_progress) -> np.ndarray:
    """``directions^T J`` at the single input ``x`` (C, H, W): one backward pass per chunk of
    directions (each a column of ``directions`` (M, K)), each told to ``advance`` by the
    directions it ran; returns (K, D)."""
    out_rows = []
    for start in range(0, directions.shape[1], CHUNK):
        u = directions[:, start:start + CHUNK].T
        batch = np.repeat(x[None], len(u), axis=0)
        out = model.forward(batch)
        dx = model.backward(u.reshape(out.shape).astype(model.dtype))
        out_rows.append(dx.reshape(len(u), -1))
        advance(len(u))
    return np.concatenate(out_rows)


def output_directions(m: int, rows: int, rng: np.random.Generator) -> np.ndarray:
    """The identity (M, M) when ``m <= rows`` (exact), else ``rows`` Haar-random orthonormal
    columns (M, rows)."""
    if m <= rows:
        return np.eye(m)
    q, r = np.linalg.qr(rng.standard_normal((m, rows)))
    return q * np.sign(np.diag(r))


def estimate_scale(m: int, d: int, k: int) -> float:
    """The factor that makes the mean of the ``min(K, D)`` squared singular values of ``U^T J``
    (``U`` ``K`` Haar orthonormal directions of the ``M`` outputs, ``D`` inputs) an unbiased
    estimate of ``J``'s mean squared singular value ``||J||_F^2 / min(M, D)``: ``E ||U^T
    J||_F^2 = (K / M) ||J||_F^2``, so the factor is ``(M / K) min(K, D) / min(M, D)`` (1 where
    ``K <= M <= D``)."""
    return (m / k) * min(k, d) / min(m, d)


def quantiles_note(m: int, d: int, k: int) -> str | None:
    """What the quantiles of an estimate from ``k`` directions are (None when exact: ``m <=
    k``), a template naming the rows as the caller gives them (:class:`WordedError`); see
    the module docstring."""
    if m <= k:
        return None
    # K, M and D are defined where they are used: a reader of the footnote has not read this
    # module's docstring.
    measured = (f"J, from the input's D = {d} values to the layer's M = {m} outputs, is "
                f"measured along K = {k} random output directions ({{rows:{k}}})")
    exact = f"exact with {{rows:{m}}}, one direction per output"
    if m <= d:
        return (f"quantiles and spread those of a random compression: {measured}, so they lie "
                f"within J's range and the spread is a lower bound; {exact}")
    return (f"quantiles and spread approximate: {measured}, and that sampling's noise spreads "
            f"its singular values, most the smallest, the more so the nearer K is to D; {exact}")


def resolution(jacobian: np.ndarray, values: np.ndarray) -> float:
    """The singular value below which ``values`` (those of ``jacobian``, computed in float64)
    are rounding noise: ``sigma_max * max(K, D) * eps``, NumPy's ``matrix_rank`` tolerance."""
    return float(values.max(initial=0.0) * max(jacobian.shape) * np.finfo(np.float64).eps)


def singular_values(model: Model, layer: str, xs: np.ndarray, rows: int,
                    rng: np.random.Generator, advance: Callable[[int], None] = _no_progress
                    ) -> tuple[np.ndarray, float, str]:
    """The Jacobian's singular values from the input to ``layer``'s output, pooled over the
    inputs ``xs`` (N, C, H, W), the largest of their inputs' :func:`resolution`, and how they
    were found; ``advance`` is told of the passes as they run."""
    part = Model(model.nodes, layer, model.loss_name, model.dtype)  # shares the layers
    part.eval()
    m = math.prod(model.checked.by_name[layer].output_shape)
    directions = output_directions(m, rows, rng)
    # exact (the identity): 1
    scale = 1.0 if m <= rows else estimate_scale(m, math.prod(xs.shape[1:]), rows)
    values, floor = [], 0.0
    for x in xs:
        jacobian = rows_of_jacobian(part, x, directions, advance)
        values.append(np.linalg.svd(jacobian, compute_uv=False) * math.sqrt(scale))
        floor = max(floor, resolution(jacobian, values[-1]))  # relative: scaled alike
    method = (f"exact, {counted(m, 'output')}" if m <= rows else
              f"estimated from {rows} random orthonormal directions of {counted(m, 'output')}")
    return np.concatenate(values), floor, method


@record(frozen=True)
class JacobianWork:
    """What :func:`jacobian_report` computes, known before it starts: for each init variant
    and input, a forward and a backward pass of each of ``directions`` copies of the input
    (``CHUNK`` to a batch) through the ``layers`` layers the end layer's output depends on,
    each copy ``pass_flops`` FLOPs (:func:`cnnspec.kinds.layer_flops`, input gradients
    included). The SVDs and LSUV's few passes are left out: beside the passes they are
    small."""

    variants: int
    inputs: int
    directions: int
    layers: int
    pass_flops: int

    @property
    def passes(self) -> int:
        """Forward and backward passes of one copy of an input each."""
        return self.variants * self.inputs * self.directions

    @property
    def flops(self) -> int:
        return self.passes * self.pass_flops


def upstream_layers(checked: CheckedSpec, end: str) -> list[str]:
    """The layers whose outputs ``end``'s output depends on, ``end`` included, in the spec's
    order: those a pass to ``end`` runs."""
    needed, stack = set(), [end]
    while stack:
        name = stack.pop()
        if name in needed or name not in checked.by_name:  # the input is no layer
            continue
        needed.add(name)
        stack.extend(checked.by_name[name].inputs)
    return [layer.name for layer in checked.layers if layer.name in needed]


def jacobian_work(checked: CheckedSpec, end: str, variants: int, inputs: int,
                  rows: int) -> JacobianWork:
    """The :class:`JacobianWork` of the Jacobian from the input to ``end``'s output, for
    ``variants`` inits at ``inputs`` inputs with up to ``rows`` directions."""
    layers = upstream_layers(checked, end)
    pass_flops = sum(sum(layer_flops(checked.by_name[name])) for name in layers)
    return JacobianWork(variants, inputs, min(math.prod(checked.by_name[end].output_shape), rows),
                        len(layers), pass_flops)


@record
class JacobianVariant:
    """One init's singular values, and the one below which they are noise (``floor``)."""

    label: str
    singular_values: list[float]
    floor: float = 0.0

    @property
    def squares(self) -> np.ndarray:
        return np.asarray(self.singular_values) ** 2

    @property
    def mean_sq(self) -> float:
        """The mean squared singular value (``chi_1`` to the power of the depth, in theory)."""
        return float(self.squares.mean())

    @property
    def floor_sq(self) -> float:
        """The squared singular value below which the squares are noise."""
        return self.floor ** 2

    @property
    def unresolved(self) -> int:
        """How many singular values lie below the floor (exact zeros not counted)."""
        s = np.asarray(self.singular_values)
        return int(((s > 0) & (s < self.floor)).sum())

    @property
    def spread(self) -> float:
        """The std of ``log10 sigma^2`` in decades: 0 for an isometry; a spectrum spread over
        orders of magnitude (Gaussian weights at depth) has a spread of several. Values below
        the floor count as the floor (their own digits are noise), so that with any of them
        the spread is a lower bound (raising a low tail narrows it). Singular values of
        exactly 0 (a rank-deficient Jacobian) count as infinitely far: the spread is inf."""
        s2 = self.squares
        if (s2 <= 0).any():
            return math.inf
        return float(np.log10(np.maximum(s2, self.floor_sq)).std())

    @property
    def spread_text(self) -> str:
        """:attr:`spread` as the table and the picture write it: to 3 digits, or to 2 as a
        bound (``>=8.7``) where values lie below the floor (those just above it carry some of
        its noise)."""
        if self.unresolved:
            return f">={rounded_text(self.spread, 2)}"
        return rounded_text(self.spread, 3)

    def to_dict(self) -> dict:
        s2 = self.squares
        q = np.quantile(s2, [0.05, 0.5, 0.95])
        return {"init": self.label, "mean_sq": self.mean_sq, "spread_decades": self.spread,
                "min_sq": float(s2.min()), "max_sq": float(s2.max()), "q05_sq": float(q[0]),
                "median_sq": float(q[1]), "q95_sq": float(q[2]), "floor_sq": self.floor_sq,
                "unresolved": self.unresolved,
                "singular_values": list(map(float, self.singular_values))}


@record
class JacobianReport:
    spec_name: str
    layer: str
    method: str
    inputs: int
    variants: list[JacobianVariant]
    # what an estimate's quantiles are (None: exact), a template (quantiles_note)
    quantiles_template: str | None = None

    @property
    def quantiles(self) -> str | None:
        """What an estimate's quantiles are, in the library's words (None: exact)."""
        return self.worded_quantiles(LIBRARY_NAMES)

    def worded_quantiles(self, names: dict) -> str | None:
        """What an estimate's quantiles are, the rows named as ``names`` calls them (a front
        end's); None where exact."""
        return None if self.quantiles_template is None else worded(self.quantiles_template,
                                                                   names)

    def to_dict(self, names: dict = LIBRARY_NAMES) -> dict:
        """The report as JSON, its quantiles' note worded by ``names`` (a front end's)."""
        quantiles = self.worded_quantiles(names)
        return {"spec": self.spec_name, "layer": self.layer, "method": self.method,
                **({} if quantiles is None else {"quantiles": quantiles}),
                "inputs": self.inputs, "variants": [v.to_dict() for v in self.variants]}


def jacobian_report(path, inits: list[str] | None = None, layer: str | None = None,
                    rows: int = ROWS, inputs: int = 2, input_kind: str = "gaussian",
                    seed: int = 0, data_dir=None,
                    start: Callable[[JacobianWork], None] | None = None,
                    advance: Callable[[int], None] = _no_progress,
                    data=None) -> JacobianReport:
    """The Jacobian's singular values for each init variant of the spec at ``path``, all at
    the same ``inputs`` inputs and with the same seed (float64; LSUV applied where asked);
    with ``input_kind`` "data", images of ``data`` in place of the spec's dataset where given
    (as :class:`cnnspec.Settings` takes it).
    A front end showing progress passes ``start``, told the :class:`JacobianWork` once the
    options are checked and before any pass runs, and ``advance``, told of each batch of
    passes as it finishes (their count)."""
    input_kind = given_input_kind(input_kind)
    variants = load_variants(path, inits, data=data)
    checked = variants[0].checked
    end = end_layer(checked, layer)
    refuse_beyond_memory_of_rows(math.prod(checked.by_name[end].output_shape),
                                 math.prod(checked.input_shape), rows)
    refuse_beyond_memory(checked, CHUNK, "float64", recording=False, data=input_kind == "data",
                         smaller=SMALLER_NETWORK)
    if start is not None:
        start(jacobian_work(checked, end, len(variants), inputs, rows))
    batch = make_batch(checked, input_kind, inputs, seed, data_dir, "float64")
    results, method = [], ""
    for variant in variants:
        model = compile_spec(variant.checked, seed=seed, dtype="float64")
        lsuv(model, batch.x)
        values, floor, method = singular_values(model, end, batch.x, rows,
                                                np.random.default_rng(seed), advance)
        results.append(JacobianVariant(variant.label, values.tolist(), floor))
    m, d = math.prod(checked.by_name[end].output_shape), math.prod(checked.input_shape)
    return JacobianReport(checked.ir["name"], end, method, inputs, results,
                          quantiles_note(m, d, rows))


def format_jacobian(report: JacobianReport, names: dict = LIBRARY_NAMES) -> str:
    """One row per init: mean, spread and quantiles of the squared singular values; its
    note of an estimate's quantiles worded by ``names`` (a front end's)."""
    # sigma^2: the picture's σ² in ASCII
    lines = [(f"{report.spec_name}: squared singular values sigma^2 of the Jacobian from the "
             f"input to '{report.layer}' ({report.method}; {counted(report.inputs, 'input')}): "
             f"their mean, spread and quantiles"),
             (f"  {'mean sigma^2':>12}  {'spread':>8}  {'min':>9}  {'5%':>9}  {'median':>9}  "
             f"{'95%':>9}  {'max':>9}  init")]
    for v in report.variants:
        d = v.to_dict()
        shown = [_resolved(d[key], v.floor_sq) for key in ("min_sq", "q05_sq", "median_sq",
                                                             "q95_sq", "max_sq")]
        lines.append(f"  {rounded_text(d['mean_sq'], 3):>12}  {v.spread_text:>8}  "
                     + "  ".join(shown)
                     + f"  {v.label}")
    lines.append("spread: std of log10 sigma^2, in decades; an isometry has every sigma^2 = 1 "
                 "(spread 0): dynamical isometry, Xiao et al. 2018")
    if report.quantiles_template:
        lines.append(f"estimated: mean sigma^2 unbiased; {report.worded_quantiles(names)}")
    if any(v.unresolved for v in report.variants):
        lines.append("<F: below float64's resolution of the Jacobian's SVD (sigma_max * "
                     "max(K, D) * eps, squared), where the digits are rounding noise; >=: the "
                     "spread with those values at F, a lower bound")
    return "\n".join(lines)


def _resolved(value: float, floor_sq: float) -> str:
    """``value`` (a squared singular value) for the table, ``<F`` below the floor ``F``."""
    if 0 < value < floor_sq:
        return f"{'<' + rounded_text(floor_sq, 1):>9}"
    return f"{rounded_text(value, 3):>9}"
