"""The signal estimate's work grows with what a spec says, not with the square of a map's side:
an upsampling's pair weights summed run by run, and every map's table of near displacements
held within ``NEAR_BUDGET``, each against the sum it stands for."""
import itertools

import pytest

from cnnspec.check import check, signal
from cnnspec.check.signal import NEAR_BUDGET, _near_extent, _pair_weights, second_moments
from cnnspec.lang import parse
from cnnspec.shapes import upsampling_reads


def _pair_weights_output_by_output(reads: tuple, reach: int) -> list[dict[int, float]]:
    """The oracle: ``_pair_weights`` summed over every pair of outputs, as it was (an
    upsampling by 4000 of 8 rows took minutes)."""
    tables = []
    for d in range(len(reads)):
        table: dict[int, float] = {}
        pairs = len(reads) - d
        for y in range(pairs):
            for i, a in reads[y]:
                for j, b in reads[y + d]:
                    table[abs(i - j)] = table.get(abs(i - j), 0.0) + a * b / pairs
        if min(table) > reach:
            break
        tables.append(table)
    return tables


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_pair_weights_run_by_run_are_the_sum_over_every_pair_of_outputs(mode):
    for size, factor, reach in itertools.product((1, 2, 3, 8), (1, 2, 3, 7, 16), (0, 1, 3)):
        reads = upsampling_reads(size, factor, mode)
        exact = _pair_weights_output_by_output(reads, reach)
        found = _pair_weights(reads, reach, len(reads))
        assert [sorted(table) for table in found] == [sorted(table) for table in exact]
        for table, expected in zip(found, exact):
            assert table == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_pair_weights_of_a_large_nearest_upsampling_are_its_closed_form():
    """8 rows upsampled 10,000 times: the outputs ``d = q s + r`` apart read pixels ``q + 1``
    apart for ``r`` of each ``s`` pairs but the last block's, ``q`` apart for the rest. The
    sum over every pair of outputs took hours here (10^9 pairs per reach)."""
    size, factor = 8, 10_000
    length = size * factor
    tables = _pair_weights(upsampling_reads(size, factor, "nearest"), 1, length)
    assert len(tables) == 2 * factor  # up to d = 2 s - 1, whose pairs are 1 or 2 pixels apart
    for d in (1, 2, factor - 1, factor, factor + 1, 2 * factor - 1):
        q, r = divmod(d, factor)
        expected = {q: (size - q) * (factor - r) / (length - d)}
        if r:
            expected[q + 1] = (size - q - 1) * r / (length - d)
        assert tables[d] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("rows, columns, kept", [
    (100, 100, (100, 100)),  # within the budget: all
    (80_000, 2, (NEAR_BUDGET // 2, 2)),  # an upsampling along one axis keeps the other's all
    (3, 10**6, (3, NEAR_BUDGET // 3)),
    (2048, 2048, (256, 256)),
])
def test_a_near_table_is_kept_within_its_budget(rows, columns, kept):
    assert _near_extent(rows, columns) == kept
    assert kept[0] * kept[1] <= NEAR_BUDGET


UPSAMPLED = ("input 1x8x8\ndefault weight he_normal, bias zeros\nc1: conv 4 3x3 pad same relu\n"
             "up: {}\nc2: conv 4 3x3 pad same relu\ngap: global_avgpool\nfc: dense 10\n")


def _estimate(layer: str) -> dict[str, float]:
    """The estimate of :data:`UPSAMPLED` with ``layer``, as ``summary`` checks it (a training
    step that does not fit is a warning)."""
    checked = check(parse(UPSAMPLED.format(layer), path="up.cnn"), for_training=False)
    return second_moments(checked.layers)


def test_a_budgeted_near_table_keeps_the_estimate_of_a_pool_over_the_whole_map(monkeypatch):
    """Displacements past the budget are taken as alike as any two of the channel: upsampled
    128x128, the global mean pool's estimate with a table of 64x64 displacements is 0.6%
    below the one with all 256x256 (the pool's pairs are mostly far apart)."""
    monkeypatch.setattr(signal, "NEAR_BUDGET", 10**6)
    whole = _estimate("upsample 128")
    monkeypatch.setattr(signal, "NEAR_BUDGET", 64 * 64)
    kept = _estimate("upsample 128")
    assert kept["c2"] == whole["c2"]  # a conv's sums: their weights' scale, not the table's
    assert kept["gap"] == pytest.approx(whole["gap"], rel=1e-2)
    assert kept["gap"] != whole["gap"]  # the budget did cut the table


@pytest.mark.parametrize("layer, smaller", [
    ("upsample 40000x1", "upsample 400x1"),  # pair weights over 320,000 rows: hours
    ("upsample 40000x1 bilinear", "upsample 400x1 bilinear"),
    # 4 * 10^6 displacements carried by every layer after: minutes, gigabytes
    ("upsample 2000", "upsample 100"),
    ("conv_transpose 4 2x2 stride 2000", "conv_transpose 4 2x2 stride 100"),
])
def test_a_huge_upsampling_is_estimated_as_a_smaller_one(layer, smaller):
    """Each of these ran for minutes (or hours) in ``check`` and ``summary``; the estimate
    now stops at ``NEAR_BUDGET`` displacements a map. What the global mean pool keeps of
    its ReLU values' scale is within 2% of what it keeps after a factor (or stride) 20 to
    100 times smaller, whose table fits the budget whole (the copies' share of the pool's
    pairs, about one pixel's in eight, is what decides it)."""
    huge, small = _estimate(layer), _estimate(smaller)
    assert huge["gap"] / huge["c2_relu"] == pytest.approx(small["gap"] / small["c2_relu"],
                                                          rel=2e-2)
