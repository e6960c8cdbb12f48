"""Run collapsing, short-run merging and code grouping: the steps from frame codes to VQ strings."""

import numpy as np
import pytest
import torch

from pairalign.tokenizing.strings import collapse_runs, merge_short_runs, runs
from pairalign.tokenizing.tokenizer import group_codes


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
