"""Consensus strings on hand-made pairs of renditions: the run on which two renditions disagree is
merged away, agreement everywhere leaves A's VQ string as it is, frames without a partner are no
evidence, and the result depends on nothing but its inputs."""

import numpy as np
import pytest
import torch

from pairalign.strings.consensus import (
    ConsensusConfig,
    Rendition,
    batch_consensus_runs,
    consensus_runs,
    consensus_runs_multi,
    merge_disagreeing,
    run_agreement,
)
from pairalign.strings.rule import StringContext, VQStringConfig, string_runs
from pairalign.strings.runs import runs

# A: runs 1 (4 frames), 7 (2), 2 (4); B says the same content slower, with 3 where A has 7
A = np.asarray([1, 1, 1, 1, 7, 7, 2, 2, 2, 2])
B = np.asarray([1, 1, 1, 1, 1, 3, 3, 3, 2, 2, 2, 2, 2])
PARTNER = np.asarray([0, 1, 2, 4, 5, 7, 8, 9, 11, 12])  # a monotone DTW-like map, A -> B
ALL = np.ones(len(A), dtype=bool)


def as_lists(found):
    return [part.tolist() for part in found]


def test_the_run_on_which_the_two_renditions_disagree_is_merged_away():
    found = consensus_runs(A, B, PARTNER, ALL)
    # the 7-run is dropped; its two frames split between its neighbours at its middle
    assert as_lists(found) == [[1, 2], [0, 5], [5, 10]]
    share, seen = run_agreement(runs(A), B, PARTNER, ALL)
    np.testing.assert_allclose(share, [1.0, 0.0, 1.0])
    assert seen.tolist() == [4, 2, 4]


def test_when_every_run_agrees_a_keeps_its_vq_string():
    codes_b = np.repeat([1, 7, 2], [5, 3, 5])  # B holds 7 where A's 7 run is aligned
    found = consensus_runs(A, codes_b, PARTNER, ALL)
    assert as_lists(found) == [[1, 7, 2], [0, 4, 6], [4, 6, 10]]
    # with min_run_frames, A's runs are the VQ-string rule's runs (and B's are merged alike)
    codes = np.asarray([3, 3, 3, 5, 4, 4, 4, 4])
    config = ConsensusConfig(min_run_frames=2)
    same = consensus_runs(codes, codes, np.arange(8), np.ones(8, bool), config)
    rule = string_runs(StringContext(codes), VQStringConfig(min_run_frames=2))
    assert as_lists(same) == as_lists(rule)


def test_invalid_frames_are_no_evidence_for_or_against_a_run():
    valid = ALL.copy()
    valid[4:6] = False  # B never heard the 7 run (outside its crop)
    assert consensus_runs(A, B, PARTNER, valid)[0].tolist() == [1, 7, 2]
    # partners outside B's frames are not valid either, whatever `valid` says
    beyond = PARTNER.copy()
    beyond[4:6] = [40, -1]
    share, seen = run_agreement(runs(A), B, beyond, ALL)
    assert seen.tolist() == [4, 0, 4] and np.isnan(share[1])
    assert consensus_runs(A, B, beyond, ALL)[0].tolist() == [1, 7, 2]
    # a run seen in part is judged on the frames seen
    half = ALL.copy()
    half[4] = False
    assert consensus_runs(A, B, PARTNER, half)[0].tolist() == [1, 2]


def test_threshold_and_slack_decide_agreement():
    shifted = np.asarray([1, 1, 1, 1, 1, 1, 7, 2, 2, 2, 2, 2, 2])  # B's 7 one frame late
    assert consensus_runs(A, shifted, PARTNER, ALL)[0].tolist() == [1, 2]  # 0 of 2 frames
    slack = ConsensusConfig(slack=1)
    assert consensus_runs(A, shifted, PARTNER, ALL, slack)[0].tolist() == [1, 7, 2]
    everything = ConsensusConfig(threshold=0.0)
    assert consensus_runs(A, B, PARTNER, ALL, everything)[0].tolist() == [1, 7, 2]
    with pytest.raises(ValueError, match="threshold"):
        ConsensusConfig(threshold=1.5)


def test_merging_splits_dropped_stretches_and_fuses_neighbours_of_one_code():
    values = np.asarray([4, 8, 9, 4, 6])
    starts = np.asarray([0, 3, 4, 7, 9])
    ends = np.asarray([3, 4, 7, 9, 12])
    keep = np.asarray([True, False, False, True, False])
    # 8 and 9 dropped between two 4 runs: they fuse into one; the trailing 6 joins the last kept
    assert as_lists(merge_disagreeing((values, starts, ends), keep)) == [[4], [0], [12]]
    keep = np.asarray([True, False, True, False, True])
    # one dropped frame (3..4) goes left; two (7..9) split one each
    assert as_lists(merge_disagreeing((values, starts, ends), keep)) == [
        [4, 9, 6],
        [0, 4, 8],
        [4, 8, 12],
    ]
    # nothing kept: the best-scoring run spans the clip; on a tie the longest, then the earliest
    none = np.zeros(5, dtype=bool)
    assert as_lists(merge_disagreeing((values, starts, ends), none)) == [[4], [0], [12]]
    scored = merge_disagreeing((values, starts, ends), none, np.asarray([0, 0.5, 0, 0, 0]))
    assert scored[0].tolist() == [8]


def test_several_renditions_keep_the_runs_a_quorum_shares():
    agrees = np.repeat([1, 7, 2], [5, 3, 5])
    others = [Rendition(B, PARTNER, ALL), Rendition(agrees, PARTNER, ALL)]
    others.append(Rendition(B, PARTNER, ALL))
    # the 7 run: one of three renditions agrees
    assert consensus_runs_multi(A, others, ConsensusConfig(quorum=0.3))[0].tolist() == [1, 7, 2]
    assert consensus_runs_multi(A, others, ConsensusConfig(quorum=0.5))[0].tolist() == [1, 2]
    assert consensus_runs_multi(A, others, ConsensusConfig(quorum=0.0))[0].tolist() == [1, 7, 2]
    # renditions that do not see a run do not vote on it
    blind = ALL.copy()
    blind[4:6] = False
    votes = [Rendition(B, PARTNER, blind), Rendition(agrees, PARTNER, ALL)]
    assert consensus_runs_multi(A, votes, ConsensusConfig(quorum=1.0))[0].tolist() == [1, 7, 2]
    assert consensus_runs_multi(A, [])[0].tolist() == [1, 7, 2]  # nobody to disagree


def test_consensus_is_deterministic_and_leaves_its_inputs_alone():
    rng = np.random.default_rng(0)
    codes_a = rng.integers(0, 6, 80)
    codes_b = rng.integers(0, 6, 90)
    partner = np.sort(rng.integers(0, 90, 80))
    valid = rng.random(80) > 0.1
    copies = [x.copy() for x in (codes_a, codes_b, partner, valid)]
    config = ConsensusConfig(min_run_frames=2, slack=1)
    first = consensus_runs(codes_a, codes_b, partner, valid, config)
    again = consensus_runs(codes_a, codes_b, partner, valid, config)
    assert as_lists(first) == as_lists(again)
    for x, y in zip((codes_a, codes_b, partner, valid), copies, strict=True):
        np.testing.assert_array_equal(x, y)
    values, starts, ends = first
    assert starts[0] == 0 and ends[-1] == 80 and np.all(starts[1:] == ends[:-1])
    assert np.all(values[1:] != values[:-1]) and len(values) >= 1
    a_runs = runs(codes_a)
    for value, start, end in zip(values, starts, ends, strict=True):  # each covers a run of A's
        inside = (a_runs[1] >= start) & (a_runs[2] <= end)
        assert value in a_runs[0][inside]


def test_the_batched_form_is_the_rows_consensus():
    codes_a = torch.tensor(np.stack([np.r_[A, 0, 0, 0], np.r_[A[::-1], 5, 5, 5]]))
    mask_a = torch.tensor([[True] * 10 + [False] * 3, [True] * 13])
    codes_b = torch.tensor(np.stack([B, B]))
    mask_b = torch.ones(2, 13, dtype=torch.bool)
    partner = torch.tensor(np.stack([np.r_[PARTNER, 12, 12, 12], np.r_[PARTNER, 12, 12, 12]]))
    valid = torch.ones(2, 13, dtype=torch.bool)
    found = batch_consensus_runs(codes_a, mask_a, codes_b, mask_b, partner, valid)
    assert as_lists(found[0]) == as_lists(consensus_runs(A, B, PARTNER, ALL))
    row = np.r_[A[::-1], 5, 5, 5]
    expected = consensus_runs(row, B, np.r_[PARTNER, 12, 12, 12], np.ones(13, bool))
    assert as_lists(found[1]) == as_lists(expected)
    empty = batch_consensus_runs(
        codes_a[:1], torch.zeros(1, 13, dtype=torch.bool), codes_b[:1], mask_b[:1], partner, valid
    )
    assert as_lists(empty[0]) == [[0], [0], [1]]
