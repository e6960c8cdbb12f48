"""Banded dynamic time warping between two feature sequences, numpy only.

`dtw_path(a, b)` finds the monotone path from (0, 0) to (T_a - 1, T_b - 1), with steps (1, 0),
(0, 1) and (1, 1), that minimises the summed frame cost (cosine or Euclidean), inside a
Sakoe-Chiba band around the diagonal scaled to the length ratio. The forward pass loops over A's
frames only: within a row, D[i, j] = P[j] + min over k <= j of (up[k] - P[k - 1]), with P the
row's running cost sum and up[k] = min(D[i - 1, k], D[i - 1, k - 1]), a cumulative minimum. A path
whose mean cost per step is above `max_cost`, or above the floor (each frame's cost to its nearest
frame of the other sequence, in any order) by more than `max_excess`, is returned marked
`rejected`, never raised: the caller counts it. The excess tells mismatched content from a change
of voice far better than the cost itself, which a distant voice raises as much as other words do
(BENCHMARKS.md, issue 28). `trim_silence` cuts the quiet frames at both ends before the alignment
(`align` does both and reports the path in the untrimmed frames).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from pairalign.units import Decibels

Metric = Literal["cosine", "euclidean"]
_EPS = 1e-12


@dataclass(frozen=True)
class DTWConfig:
    """How two renditions are aligned. `band`: how far (a fraction of B's length) the path may
    leave the diagonal scaled to the length ratio, None for no band; `max_cost`: the mean cost per
    step above which a path is rejected, None to keep every one; `max_excess`: the same for the
    mean cost per step above the floor (`Alignment.excess`); `trim_db`: frames quieter than the
    loudest by more than this are trimmed at both ends, None to keep them; `features`: the frames
    two recordings are aligned on (`pairalign.timing.features.dtw_features`)."""

    metric: Metric = "cosine"
    band: float | None = 0.2
    max_cost: float | None = None
    trim_db: Decibels | None = 40.0
    features: Literal["mfcc", "logmel"] = "mfcc"  # what the frames are (`timing.features`)
    max_excess: float | None = None


@dataclass(frozen=True)
class Alignment:
    """A warping path and what it cost."""

    path: np.ndarray  # (P, 2) int64: (frame of A, frame of B), both non-decreasing
    total: float  # summed frame cost along the path
    rejected: bool = False  # mean cost per step above the threshold it was judged by
    # The mean, over the frames of A and of B (halves), of each frame's cost to its nearest frame
    # of the other, in any order: what a path costs per step at best.
    floor: float = 0.0

    @property
    def cost(self) -> float:
        """Mean cost per step."""
        return self.total / len(self.path)

    @property
    def excess(self) -> float:
        """Mean cost per step above the floor: what keeping the content's order costs."""
        return self.cost - self.floor

    def judged(self, max_cost: float | None, max_excess: float | None = None) -> Alignment:
        """The same path, rejected when its mean cost per step exceeds `max_cost` or its
        excess exceeds `max_excess`."""
        rejected = (max_cost is not None and not self.cost <= max_cost) or (
            max_excess is not None and not self.excess <= max_excess
        )
        return Alignment(self.path, self.total, rejected, self.floor)


def cost_matrix(a: np.ndarray, b: np.ndarray, metric: Metric = "cosine") -> np.ndarray:
    """Frame-to-frame costs.  # (T_a, D), (T_b, D) -> (T_a, T_b) float64"""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if metric == "cosine":
        a = a / (np.linalg.norm(a, axis=1, keepdims=True) + _EPS)
        b = b / (np.linalg.norm(b, axis=1, keepdims=True) + _EPS)
        return np.clip(1.0 - _inner(a, b), 0.0, 2.0)
    if metric == "euclidean":
        square = (a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2.0 * _inner(a, b)
        return np.sqrt(np.maximum(square, 0.0))
    raise ValueError(f"unknown DTW metric {metric!r} (cosine or euclidean)")


def _inner(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b.T without BLAS: on a loaded machine a multi-threaded BLAS call on these small
    matrices spins for tens of milliseconds where einsum's own loop takes one.
    # (T_a, D), (T_b, D) -> (T_a, T_b)"""
    return np.einsum("id,jd->ij", a, b)


def band_bounds(t_a: int, t_b: int, band: float | None) -> tuple[np.ndarray, np.ndarray]:
    """For each frame i of A, the frames [lo_i, hi_i) of B the path may visit: within
    band * t_b of the diagonal j = i * (t_b - 1) / (t_a - 1), never so narrow that the path breaks
    (at least the slope, and one frame).  # -> (T_a,), (T_a,) int64"""
    if band is None:
        return np.zeros(t_a, np.int64), np.full(t_a, t_b, np.int64)
    slope = (t_b - 1) / (t_a - 1) if t_a > 1 else 0.0
    radius = max(band * t_b, slope, 1.0)
    centre = np.arange(t_a) * slope
    lo = np.maximum(np.ceil(centre - radius - 1e-9), 0).astype(np.int64)
    hi = np.minimum(np.floor(centre + radius + 1e-9) + 1, t_b).astype(np.int64)
    lo[0], hi[-1] = 0, t_b  # the path starts and ends at the corners
    return lo, hi


def accumulated_cost(cost: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """D[i, j]: the least summed cost of a path from (0, 0) to (i, j), inf outside the band.
    # (T_a, T_b) -> (T_a, T_b)"""
    t_a, t_b = cost.shape
    total = np.full((t_a, t_b), np.inf)
    previous = np.full(t_b + 1, np.inf)  # D[i - 1, j - 1] at index j: index 0 is column -1
    for i in range(t_a):
        s, e = lo[i], hi[i]
        up = np.minimum(previous[s + 1 : e + 1], previous[s:e])  # from (i-1, j) or (i-1, j-1)
        if i == 0:
            up[0] = 0.0  # the path starts at (0, 0)
        row = cost[i, s:e]
        running = np.cumsum(row)
        total[i, s:e] = running + np.minimum.accumulate(up - (running - row))
        previous = np.full(t_b + 1, np.inf)
        previous[s + 1 : e + 1] = total[i, s:e]
    return total


def backtrack(total: np.ndarray) -> np.ndarray:
    """The path that `total` (from `accumulated_cost`) ends, from (T_a - 1, T_b - 1) back to
    (0, 0); ties go to the diagonal step, then to the step in A.  # -> (P, 2) int64"""
    i, j = total.shape[0] - 1, total.shape[1] - 1
    steps = [(i, j)]
    while i > 0 or j > 0:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            options = (total[i - 1, j - 1], total[i - 1, j], total[i, j - 1])
            best = int(np.argmin(options))
            i, j = (i - 1, j - 1) if best == 0 else (i - 1, j) if best == 1 else (i, j - 1)
        steps.append((i, j))
    return np.asarray(steps[::-1], np.int64)


def dtw_path(
    a: np.ndarray,
    b: np.ndarray,
    band: float | None = 0.2,
    metric: Metric = "cosine",
    max_cost: float | None = None,
    max_excess: float | None = None,
) -> Alignment:
    """The least-cost warping path between two feature sequences within the band.
    # (T_a, D), (T_b, D) -> Alignment"""
    if len(a) == 0 or len(b) == 0:
        raise ValueError(f"cannot align an empty sequence ({len(a)} and {len(b)} frames)")
    cost = cost_matrix(a, b, metric)
    total = accumulated_cost(cost, *band_bounds(len(a), len(b), band))
    floor = 0.5 * (float(cost.min(1).mean()) + float(cost.min(0).mean()))
    return Alignment(backtrack(total), float(total[-1, -1]), floor=floor).judged(
        max_cost, max_excess
    )


def frame_levels_db(
    samples: np.ndarray, frame_length: int = 400, hop_length: int = 160
) -> np.ndarray:
    """Each frame's power in dB (frame i starts at sample i * hop_length; the last frames are
    zero-padded).  # (N,) -> (ceil(N / hop_length),)"""
    samples = np.asarray(samples, np.float64)
    frames = max(math.ceil(len(samples) / hop_length), 0)
    padded = np.pad(samples, (0, frames * hop_length + frame_length - len(samples)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, frame_length)[::hop_length]
    return 10.0 * np.log10(np.mean(windows[:frames] ** 2, axis=1) + 1e-10)


def trim_silence(levels_db: np.ndarray, below_peak: Decibels = 40.0) -> slice:
    """The frames from the first to the last whose level is within `below_peak` dB of the
    loudest (all of them when every frame is that quiet, e.g. a silent clip).  # (T,) -> slice"""
    levels = np.asarray(levels_db, np.float64)
    if len(levels) == 0:
        return slice(0, 0)
    loud = np.flatnonzero(levels >= levels.max() - below_peak)
    return slice(int(loud[0]), int(loud[-1]) + 1)


def align(
    a: np.ndarray,
    b: np.ndarray,
    config: DTWConfig = DTWConfig(),
    levels_a: np.ndarray | None = None,
    levels_b: np.ndarray | None = None,
) -> Alignment:
    """`dtw_path` on the frames between the silences at either end (when `config.trim_db` is
    set and the frame levels in dB are given), the path in the untrimmed frames.
    # (T_a, D), (T_b, D), (T_a,), (T_b,) -> Alignment"""
    keep_a, keep_b = slice(0, len(a)), slice(0, len(b))
    if config.trim_db is not None and levels_a is not None and levels_b is not None:
        keep_a = trim_silence(levels_a[: len(a)], config.trim_db)
        keep_b = trim_silence(levels_b[: len(b)], config.trim_db)
    found = dtw_path(
        a[keep_a], b[keep_b], config.band, config.metric, config.max_cost, config.max_excess
    )
    offset = np.asarray([keep_a.start, keep_b.start], np.int64)
    return Alignment(found.path + offset, found.total, found.rejected, found.floor)
