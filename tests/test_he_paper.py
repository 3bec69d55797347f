"""He et al. 2015, sec. 2.2, reproduced on ``specs/plain30.cnn`` (30 conv layers of 16 3x3
filters with ReLU, 16x16 input) on a seeded unit-Gaussian batch.

The paper's forward analysis: ``Var[y_l] = n_l Var[w_l] Var[y_{l-1}] / 2`` for a ReLU net, so the
std of a layer's output changes by ``sqrt(n_l Var[w_l] / 2)`` per layer:

- He init, ``Var[w] = 2 / n``: factor 1, the scale is kept;
- Glorot init with fan_in = fan_out = n = 144, ``Var[w] = 2 / (n + n) = 1 / n``: factor
  ``1/sqrt(2)``, so over the 29 steps from the first layer to the 30th, ``2^-14.5``;
- ``normal(0, 0.01)``: factor ``sqrt(144 * 1e-4 / 2) = 0.085``, a collapse to ~1e-31.

The analysis is in expectation over the weights. One draw of a net only 16 filters wide also
drifts: each layer's gain is a random variable whose log has a negative mean of order 1/width
(Hanin & Rolnick 2018), about 0.87 per layer here for any init scale (PyTorch's conv shows the
same). Because a ReLU net without bias is positively homogeneous, and the normal inits scale the
same standard-normal draws, that drift cancels exactly in the ratio of two inits' signals on
the same seed — which is where the paper's factors can be checked to three digits. The absolute
bands below include the drift.
"""
import math
from pathlib import Path

import pytest

from cnnspec.lab.report import init_report
from cnnspec.lab.stats import per_layer_factor, weighted

SPEC = Path(__file__).resolve().parent.parent / "specs" / "plain30.cnn"
BATCH = 4
CONV_LAYERS = 30
SQRT_HALF = 1 / math.sqrt(2)

GLOROT = "glorot_normal"
HE = "he_normal"
SMALL = "normal(0, 0.01)"
# Inits a buggy fan or gain would produce in place of Glorot's: the ReLU gain sqrt(2) applied
# to Glorot (= He), and the fan counted as the input channels alone (std 1/sqrt(16)).
WRONG_GAIN = "glorot_normal(gain=relu)"
WRONG_FAN = "normal(0, 0.25)"


@pytest.fixture(scope="module")
def layers():
    """Per variant, the stats of every layer."""
    report = init_report(SPEC, [HE, GLOROT, SMALL, WRONG_GAIN, WRONG_FAN],
                         input_kind="gaussian", batch_size=BATCH, seed=0)
    return {v.label: v.layers for v in report.variants}


@pytest.fixture(scope="module")
def depth(layers):
    """Per variant, the stats of the 30 conv layers (the dense head left out)."""
    return {label: weighted(stats)[:CONV_LAYERS] for label, stats in layers.items()}


def _stds(stats) -> list[float]:
    return [s.act_std for s in stats]


def _ratio_to_he(depth, label) -> list[float]:
    return [a / b for a, b in zip(_stds(depth[label]), _stds(depth[HE]))]


def test_plain30_is_the_net_of_the_analysis(depth):
    convs = depth[HE]
    assert len(convs) == CONV_LAYERS and all(s.kind == "conv" for s in convs)
    # Every body layer: 16 in, 16 out, 3x3, so fan_in = fan_out = 144 and Glorot's variance is
    # 2 / (144 + 144) = 1/144, He's 2/144.
    assert convs[1].weight_std_expected == pytest.approx(math.sqrt(2 / 144))
    assert depth[GLOROT][1].weight_std_expected == pytest.approx(math.sqrt(1 / 144))


def glorot_band_holds(depth, label) -> bool:
    """Does ``label`` shrink the signal as Glorot init must in a ReLU net: by 1/sqrt(2) +- 3%
    per layer against He's, and by 2^-14.5 (within a factor 2) from layer 1 to layer 30?"""
    ratio = _ratio_to_he(depth, label)
    steps = [ratio[i + 1] / ratio[i] for i in range(1, CONV_LAYERS - 1)]
    per_layer_ok = all(abs(step - SQRT_HALF) < 0.03 * SQRT_HALF for step in steps)
    overall = ratio[-1] / ratio[0]
    return per_layer_ok and 2 ** -15.5 < overall < 2 ** -13.5


def test_glorot_loses_a_factor_sqrt2_per_layer(depth):
    assert glorot_band_holds(depth, GLOROT)
    # Measured on its own (drift included) the factor is below 1/sqrt(2), never near He's 1.
    assert 0.55 < per_layer_factor(depth[GLOROT]) < SQRT_HALF
    overall = depth[GLOROT][-1].act_std / depth[GLOROT][0].act_std
    assert 2 ** -21 < overall < 2 ** -14


@pytest.mark.parametrize("wrong", [WRONG_GAIN, WRONG_FAN])
def test_a_wrong_gain_or_fan_fails_the_glorot_band(depth, wrong):
    assert not glorot_band_holds(depth, wrong)


def test_he_keeps_the_scale(depth):
    # Against Glorot's 0.6 and the small normal's 0.07, He's per-layer factor is the
    # finite-width drift alone (about 0.87).
    assert 0.8 < per_layer_factor(depth[HE]) < 1.05


def test_he_relus_switch_off_half_the_units(layers):
    """The weights are symmetric about zero, so about half of each ReLU's inputs are negative
    (the factor 1/2 of the analysis)."""
    relus = [s for s in layers[HE] if s.kind == "relu"]
    assert len(relus) == CONV_LAYERS
    mean_dead = sum(s.dead_frac for s in relus) / len(relus)
    assert 0.4 < mean_dead < 0.6


def test_small_normal_collapses(depth):
    assert per_layer_factor(depth[SMALL]) < 0.1
    stds = _stds(depth[SMALL])
    assert stds[-1] / stds[0] < 1e-25
    # ... while He's last layer still carries a usable signal on the same batch.
    assert depth[HE][-1].act_std > 1e-3


def test_gradients_follow_the_same_law_backwards(depth):
    """He et al. 2015 eq. 13: backwards, the gradient std changes by sqrt(n_l Var[w_l] / 2) per
    layer as well (n here is fan_out = fan_in), so Glorot's gradients shrink towards the input
    by 1/sqrt(2) per layer relative to He's."""
    grads = [g.grad_std / h.grad_std for g, h in zip(depth[GLOROT], depth[HE])]
    steps = [grads[i] / grads[i + 1] for i in range(1, CONV_LAYERS - 1)]
    assert all(abs(step - SQRT_HALF) < 0.03 for step in steps)


def test_the_drift_is_the_network_not_the_engine():
    """The same weights in PyTorch give the same per-layer stds, so the slow drift under He
    init (about 0.87 per layer) belongs to a 16-filter net, not to a bug of ours."""
    torch = pytest.importorskip("torch")
    import numpy as np

    from cnnspec.compiler import compile_spec
    from cnnspec.lab.probe import probe
    from cnnspec.lab.variants import load_variant

    model = compile_spec(load_variant(SPEC, HE).checked, seed=0, dtype="float64")
    x = np.random.default_rng(0).standard_normal((BATCH, 1, 16, 16))
    ours = [s.act_std for s in weighted(probe(model, x, np.zeros(BATCH, dtype=np.int64)))]
    params = model.params()
    h = torch.from_numpy(x)
    theirs = []
    for info in model.checked.layers:
        if info.kind != "conv":
            continue
        w = torch.from_numpy(params[f"{info.name}.weight"])
        b = torch.from_numpy(params[f"{info.name}.bias"])
        out = torch.nn.functional.conv2d(h, w, b, padding=1)
        theirs.append(out.std(unbiased=False).item())
        h = torch.relu(out)
    assert np.allclose(ours[:CONV_LAYERS], theirs, rtol=1e-9)
