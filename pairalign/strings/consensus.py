"""Consensus strings: the runs of one rendition's VQ string that other renditions of the same
content share, the rest merged into their neighbours (issue 28, item 5: consensus targets).

    runs = consensus_runs(codes_a, codes_b, partner, valid)    # (values, starts, ends) of A

Inputs are frame codes: A's (T_a,) and B's (T_b,), and for each frame i of A its aligned frame
`partner[i]` in B, trusted where `valid[i]` (what `objectives.alignment.align_frames` gives per
row; or a DTW time map between two recordings). The rule, in three steps:

1. **A's runs** as the default VQ-string rule makes them: runs shorter than `min_run_frames`
   merged into a neighbour (`runs.merge_short_runs`), no rate. B's codes get the same merge, so
   each side is compared as its VQ string spreads it over its frames.
2. **Agreement** of a run with B (`run_agreement`): the share of the run's valid frames whose
   partner in B, or a frame of B within `slack` frames of it, holds the run's code. The run
   agrees when that share is at least `threshold`. A run with no valid frame is not seen by B:
   there is no evidence against it, and it is kept.
3. **Merging** (`merge_disagreeing`): the runs that do not agree are dropped and their frames
   go to the nearest kept runs: a stretch of dropped runs between two kept runs is split at its
   middle (the left run takes the odd frame), one before the first or after the last kept run
   joins it, and two kept runs that become neighbours with one code fuse. Splitting at the
   middle puts the boundary where the content most likely changes, and keeps every frame
   covered, so the runs' seconds stay the clip's. If no run agrees, the best-agreeing one (the
   longest, then the earliest, on a tie) is kept over the whole clip: a string is never empty.

So with every run agreeing the result is A's VQ string unchanged; the result is always A's
string with some runs removed (never a code A did not emit). Against several renditions
(`consensus_runs_multi`, the oracle's form) a run is kept when at least `quorum` of the
renditions that see it agree with it. The stage-2 batches use `batch_consensus_runs`.
Pure numpy; deterministic (no randomness, ties broken by position).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from pairalign.strings.runs import Runs, merge_short_runs, runs


@dataclass(frozen=True)
class ConsensusConfig:
    """Which of A's runs another rendition shares (see the module docstring)."""

    min_run_frames: int = 1  # A's (and B's) runs shorter than this merge first (VQ-string rule)
    threshold: float = 0.5  # a run agrees with B when this share of its valid frames agree
    slack: int = 0  # a frame agrees when B holds the run's code within this many frames
    quorum: float = 0.5  # several renditions: keep a run when this share of those seeing it agree

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0 or not 0.0 <= self.quorum <= 1.0:
            raise ValueError(f"threshold and quorum are shares in [0, 1]: {self}")
        if self.slack < 0 or self.min_run_frames < 1:
            raise ValueError(f"slack >= 0 and min_run_frames >= 1: {self}")


class Rendition(NamedTuple):
    """Another rendition of A's content, seen from A's frames."""

    codes: np.ndarray  # (T_b,) its frame codes
    partner: np.ndarray  # (T_a,) int: the frame of B aligned with each frame of A
    valid: np.ndarray  # (T_a,) bool: where that partner is trusted


def run_agreement(
    runs_a: Runs, codes_b: np.ndarray, partner: np.ndarray, valid: np.ndarray, slack: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(share, seen) per run of A: the share of the run's valid frames whose partner in B (or a
    frame of B within `slack` of it) holds the run's code, NaN where none is valid; and how many
    of its frames are valid. A partner outside B's frames is not valid.
    # runs of A (R,), (T_b,), (T_a,), (T_a,) -> (R,), (R,)"""
    values, starts, ends = runs_a
    codes_b = np.asarray(codes_b)
    partner = np.asarray(partner, dtype=np.int64)
    seen_frames = np.asarray(valid, dtype=bool) & (partner >= 0) & (partner < len(codes_b))
    if len(values) == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    own = np.repeat(values, ends - starts)  # (T_a,) each frame's run code
    match = np.zeros(len(own), dtype=bool)
    if len(codes_b):
        for offset in range(-slack, slack + 1):
            near = np.clip(partner + offset, 0, len(codes_b) - 1)
            match |= codes_b[near] == own
    match &= seen_frames
    seen = np.add.reduceat(seen_frames.astype(np.int64), starts)
    agree = np.add.reduceat(match.astype(np.int64), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(seen > 0, agree / np.maximum(seen, 1), np.nan)
    return share, seen


def merge_disagreeing(runs_a: Runs, keep: np.ndarray, score: np.ndarray | None = None) -> Runs:
    """The runs with `keep` false dropped, their frames given to the nearest kept runs (a stretch
    between two kept runs split at its middle, the left one taking the odd frame), kept
    neighbours with one code fused. None kept: the run of highest `score` (NaN lowest; then the
    longest, then the earliest) spans the clip.  # (R,) runs, (R,) bool, (R,) -> runs"""
    values, starts, ends = runs_a
    keep = np.asarray(keep, dtype=bool)
    if len(values) == 0:
        return values, starts, ends
    if not keep.any():
        score = np.zeros(len(values)) if score is None else np.nan_to_num(score, nan=-np.inf)
        order = np.lexsort((np.arange(len(values)), -(ends - starts), -np.asarray(score)))
        keep = np.zeros(len(values), dtype=bool)
        keep[order[0]] = True
    kept = np.flatnonzero(keep)
    new_values = values[kept]
    gap_from, gap_to = ends[kept[:-1]], starts[kept[1:]]  # dropped frames between kept runs
    middles = (gap_from + gap_to + 1) // 2
    new_starts = np.r_[starts[0], middles].astype(np.int64)
    new_ends = np.r_[middles, ends[-1]].astype(np.int64)
    first = np.r_[True, new_values[1:] != new_values[:-1]]  # fuse kept neighbours of one code
    fused_starts = new_starts[first]
    return new_values[first], fused_starts, np.r_[fused_starts[1:], new_ends[-1]].astype(np.int64)


def consensus_runs(
    codes_a: np.ndarray,
    codes_b: np.ndarray,
    partner: np.ndarray,
    valid: np.ndarray,
    config: ConsensusConfig = ConsensusConfig(),
) -> Runs:
    """A's VQ string with only the runs B shares: (values, starts, ends) in A's frames (ends
    exclusive), like `runs.runs`. `config.quorum` plays no part with one rendition.
    # (T_a,), (T_b,), (T_a,) int, (T_a,) bool -> runs"""
    return consensus_runs_multi(
        codes_a, [Rendition(codes_b, partner, valid)], replace(config, quorum=1.0)
    )


def consensus_runs_multi(
    codes_a: np.ndarray,
    renditions: Sequence[Rendition],
    config: ConsensusConfig = ConsensusConfig(),
) -> Runs:
    """A's VQ string with only the runs that at least `config.quorum` of the renditions that see
    them agree with (a run seen by none is kept; quorum 0 keeps every run). The oracle's
    consensus: each clip against every other rendition of its content."""
    runs_a = runs(merge_short_runs(np.asarray(codes_a), config.min_run_frames))
    votes = np.zeros(len(runs_a[0]))
    voters = np.zeros(len(runs_a[0]))
    for other in renditions:
        codes_b = merge_short_runs(np.asarray(other.codes), config.min_run_frames)
        share, seen = run_agreement(runs_a, codes_b, other.partner, other.valid, config.slack)
        voters += seen > 0
        votes += (seen > 0) & (np.nan_to_num(share, nan=0.0) >= config.threshold)
    support = np.where(voters > 0, votes / np.maximum(voters, 1), 1.0)
    keep = support >= config.quorum - 1e-9
    return merge_disagreeing(runs_a, keep, support)


def batch_consensus_runs(
    codes_a: Any,
    mask_a: Any,
    codes_b: Any,
    mask_b: Any,
    partner: Any,
    valid: Any,
    config: ConsensusConfig = ConsensusConfig(),
) -> list[Runs]:
    """`consensus_runs` of each row of a batch of paired views: codes and masks (B, T) of A and
    B, partner and valid (B, T_a) as `align_frames` gives them (numpy arrays or CPU/GPU torch
    tensors). Each row is trimmed to its valid frames (masks are prefixes, as the encoder makes
    them); a partner beyond B's valid frames is not valid. A row without valid frames is one
    frame of code 0, as `objectives.targets.vq_targets` makes it."""
    codes_a, mask_a, codes_b, mask_b, partner, valid = (
        _numpy(x) for x in (codes_a, mask_a, codes_b, mask_b, partner, valid)
    )
    out = []
    for i in range(len(codes_a)):
        row_a = codes_a[i][mask_a[i].astype(bool)]
        if len(row_a) == 0:
            zero = np.zeros(1, dtype=np.int64)
            out.append((zero, zero.copy(), np.ones(1, dtype=np.int64)))
            continue
        row_b = codes_b[i][mask_b[i].astype(bool)]
        seen = valid[i][: len(row_a)].astype(bool)
        out.append(consensus_runs(row_a, row_b, partner[i][: len(row_a)], seen, config))
    return out


def _numpy(x: Any) -> np.ndarray:
    """A numpy array of `x` (a torch tensor is detached and moved to the CPU)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)
