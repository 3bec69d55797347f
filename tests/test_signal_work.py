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
def test_pair_weights_are_the_sum_over_every_pair_of_outputs(mode):
    """Run by run on short axes, and from two short axes past ``reach + PAIR_PIXELS``
    pixels (sizes 12 to 30 here)."""
    def resample(size):
        return upsampling_reads(size, factor, mode)

    for size, factor, reach in itertools.product((1, 2, 3, 8, 12, 13, 30), (1, 2, 3, 7, 16),
                                                 (0, 1, 3)):
        reads = resample(size)
        exact = _pair_weights_output_by_output(reads, reach)
        found = _pair_weights(resample, size, reach, len(reads))
        assert [sorted(table) for table in found] == [sorted(table) for table in exact]
        for table, expected in zip(found, exact):
            assert table == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("size, factor", [(8, 10_000), (100_000, 20)])
def test_pair_weights_of_a_large_nearest_upsampling_are_its_closed_form(size, factor):
    """8 rows upsampled 10,000 times, 10^5 rows 20 times: the outputs ``d = q s + r`` apart
    read pixels ``q + 1`` apart for ``r`` of each ``s`` pairs but the last block's, ``q``
    apart for the rest. The sum over every pair of outputs took hours (10^9 pairs per
    reach), run by run over 10^5 runs minutes."""
    length = size * factor
    tables = _pair_weights(lambda n: upsampling_reads(n, factor, "nearest"), size, 1, length)
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


def _common_ancestor_list_by_list(parts):
    """The oracle: ``_common_ancestor`` as it was, the whole list searched at each step (a
    concat of 2,000 inputs: 1.4 s)."""
    climbing = list(parts)
    while True:
        if all(node is climbing[0] for node in climbing):
            return climbing[0]
        climbing = [node for node in climbing if node.parent is not None]
        if not climbing:
            return None  # a root of none of the parts
        deepest = max(range(len(climbing)), key=lambda i: climbing[i].depth)
        climbing[deepest] = climbing[deepest].parent


def test_the_common_ancestor_of_a_merge_is_the_one_the_list_search_finds():
    """Random forests of factors (several roots, chains and forks), random picks of parts
    (repeats among them): the heap's climb ends where the list's did."""
    import random

    rng = random.Random(0)
    for _ in range(300):
        nodes = [signal._LogFactors.zero() for _ in range(rng.randint(1, 3))]
        for i in range(rng.randint(0, 40)):
            parent = rng.choice(nodes)
            nodes.append(signal._LogFactors(parent, 1.0, {f"d{i}": 1.0}, 1.0, 0.0,
                                            parent.depth + 1))
        parts = [rng.choice(nodes) for _ in range(rng.randint(1, 8))]
        expected = _common_ancestor_list_by_list(parts)
        found = signal._common_ancestor(parts)
        if expected is None:
            assert found.parent is None and not found.own
        else:
            assert found is expected


def test_a_merge_asks_its_signal_rule_once_for_each_shape_of_input(monkeypatch):
    """Each input's share of a concat of 300 inputs of two widths, from one weight a width:
    asking the rule once for each input took k^2 steps (2,000 inputs: 1 s of 1.5)."""
    widths = [1 + i % 2 for i in range(300)]
    text = ("input 1x8x8\nstem: conv 4 3x3 pad same relu\n"
            + "".join(f"b{i}: conv {w} 1x1 <- stem\n" for i, w in enumerate(widths))
            + "cat: concat(" + ", ".join(f"b{i}" for i in range(len(widths))) + ")\n"
            + "gap: global_avgpool\nfc: dense 10\n")
    checked = check(parse(text, path="cat.cnn"), for_training=False)
    merge = checked.by_name["cat"]
    second = {f"b{i}": 1.0 + i / 100 for i in range(len(widths))}  # each input its own scale
    asked = []
    rule = signal.kind_signal
    monkeypatch.setattr(signal, "kind_signal", lambda *args: asked.append(args) or rule(*args))
    shares = signal._merge_shares(merge, second)
    assert len(asked) == 3  # the whole, then one weight for each width
    total = sum(w * q for w, q in zip(widths, second.values()))
    assert shares == pytest.approx([w * q / total for w, q in zip(widths, second.values())],
                                   rel=1e-12)
