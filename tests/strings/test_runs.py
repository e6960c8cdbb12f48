"""Run collapsing, short-run merging, rate reduction and code grouping: the steps from frame codes
to VQ strings."""

import numpy as np
import pytest
import torch

from pairalign.models.quantizer import group_codes
from pairalign.strings.runs import collapse_runs, merge_short_runs, reduce_runs, runs


def test_runs_and_collapse_agree():
    codes = [5, 5, 2, 2, 2, 5]
    values, starts, ends = runs(codes)
    assert values.tolist() == collapse_runs(codes) == [5, 2, 5]
    assert starts.tolist() == [0, 2, 5] and ends.tolist() == [2, 5, 6]


def test_a_flicker_between_two_halves_of_one_sound_disappears():
    assert merge_short_runs([1, 1, 1, 2, 1, 1, 1], 2).tolist() == [1] * 7
    assert collapse_runs(merge_short_runs([3, 3, 3, 1, 2, 2, 2], 2)) == [3, 2]


def test_a_short_run_joins_its_longer_neighbour():
    assert merge_short_runs([1, 1, 2, 3, 3, 3], 2).tolist() == [1, 1, 3, 3, 3, 3]
    assert merge_short_runs([1, 1, 2, 3, 3], 2).tolist() == [1, 1, 1, 3, 3]  # a tie: left


@pytest.mark.parametrize("min_frames", [1, 2, 3, 5])
def test_every_run_reaches_the_minimum_and_nothing_is_lost(min_frames):
    rng = np.random.default_rng(min_frames)
    for _ in range(50):
        codes = rng.integers(0, 4, rng.integers(1, 60))
        out = merge_short_runs(codes, min_frames)
        assert len(out) == len(codes) and set(out.tolist()) <= set(codes.tolist())
        _, starts, ends = runs(out)
        if len(out) >= min_frames:
            assert (ends - starts).min() >= min_frames
        else:
            assert len(starts) == 1  # too short to hold one full run: one code for all of it


def test_groups_cluster_the_codebook_into_nearby_codes():
    centres = torch.nn.functional.normalize(
        torch.randn(4, 8, generator=torch.Generator().manual_seed(0)), dim=-1
    )
    noise = 0.05 * torch.randn(32, 8, generator=torch.Generator().manual_seed(1))
    codebook = torch.nn.functional.normalize(centres.repeat_interleave(8, dim=0) + noise, dim=-1)
    assign = group_codes(codebook, 4)
    assert len(set(assign.tolist())) == 4
    for g in range(4):  # the 8 codes made around one centre share one group
        assert len(set(assign[g * 8 : (g + 1) * 8].tolist())) == 1
    np.testing.assert_array_equal(assign, group_codes(codebook, 4))  # seeded: the same again
    with pytest.raises(ValueError, match="groups"):
        group_codes(codebook, 33)


def index_thinning(codes, budget):
    """The rule vq_targets used before reduce_runs: evenly spaced run indices."""
    codes = np.asarray(codes)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    if len(starts) > budget:
        starts = starts[np.round(np.linspace(0, len(starts) - 1, budget)).astype(int)]
    return codes[starts].tolist(), starts.tolist(), np.r_[starts[1:], len(codes)].tolist()


@pytest.mark.parametrize("reduce", ["merge", "index"])
def test_reduction_keeps_at_most_the_budget_and_tiles_the_frames(reduce):
    rng = np.random.default_rng(0)
    for _ in range(200):
        codes = rng.integers(0, rng.integers(2, 8), rng.integers(1, 120))
        seconds, rate = float(rng.uniform(0.2, 3.0)), float(rng.choice([1.0, 5.0, 12.5]))
        values, starts, ends = reduce_runs(codes, seconds, rate, reduce)
        assert 1 <= len(values) <= max(1, round(seconds * rate))
        assert starts[0] == 0 and ends[-1] == len(codes) and (starts[1:] == ends[:-1]).all()
        assert (ends > starts).all() and set(values.tolist()) <= set(codes.tolist())
        if reduce == "merge":  # fused neighbours: never two runs of one code side by side
            assert (values[1:] != values[:-1]).all()
            # merging keeps every kept run's own code on some of its frames
            assert all(v in codes[s:e] for v, s, e in zip(values, starts, ends, strict=True))
        else:
            assert [x.tolist() for x in (values, starts, ends)] == list(
                index_thinning(codes, max(1, round(seconds * rate)))
            )


def test_rate_zero_or_enough_budget_keeps_every_run():
    codes = [5, 5, 2, 2, 2, 5, 1]
    for reduce in ("merge", "index"):
        for rate in (0.0, 100.0):
            out = reduce_runs(codes, 1.0, rate, reduce)
            assert [x.tolist() for x in out] == [x.tolist() for x in runs(codes)]


def test_merge_folds_the_shortest_run_into_its_longer_neighbour():
    codes = [1, 1, 1, 2, 3, 3, 4, 4, 4, 4]
    values, starts, _ = reduce_runs(codes, 1.0, 3.0, "merge")  # 4 runs -> 3: the 1-frame 2 goes
    assert values.tolist() == [1, 3, 4] and starts.tolist() == [0, 4, 6]  # left (3) > right (2)
    assert reduce_runs([1, 1, 2, 1, 1, 3, 3, 3], 1.0, 2.0, "merge")[0].tolist() == [1, 3]  # fused
    assert reduce_runs([1, 1, 2, 2, 3], 1.0, 2.0, "merge")[0].tolist() == [1, 2]  # 3 joins left


def test_a_short_run_inserted_early_moves_index_choices_but_not_merged_ones():
    lengths = [5, 7, 3, 9, 4, 6, 8, 2, 5, 7, 3, 6, 9, 4, 5, 8, 3, 7, 6, 4] * 2
    codes = np.repeat([i % 7 for i in range(len(lengths))], lengths)  # 40 runs, 216 frames
    flicker = np.r_[codes[:5], [9], codes[5:]]  # one extra 1-frame run after the first run
    merged, merged_flicker = (reduce_runs(c, 1.0, 15.0, "merge") for c in (codes, flicker))
    assert merged[0].tolist() == merged_flicker[0].tolist()  # the same string ...
    np.testing.assert_array_equal(merged[1][1:] + 1, merged_flicker[1][1:])  # ... 1 frame later
    index, index_flicker = (reduce_runs(c, 1.0, 15.0, "index")[0] for c in (codes, flicker))
    assert len(index) == len(index_flicker) == 15
    changed = sum(x != y for x, y in zip(index, index_flicker, strict=True))
    assert changed >= 15 // 3  # every later choice moves: a third of the tokens or more differ
