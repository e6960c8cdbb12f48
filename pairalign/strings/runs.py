"""Runs of frame codes: run collapsing, short-run merging and rate reduction (pure numpy)."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

Reduce = Literal["merge", "index"]  # how runs of codes alone are cut down to a token rate
Runs = tuple[np.ndarray, np.ndarray, np.ndarray]  # values, starts, ends (exclusive), in frames


def collapse_runs(codes: Sequence[int] | np.ndarray) -> list[int]:
    """[5, 5, 2, 2, 2, 5] -> [5, 2, 5]: the VQ token string of a frame code sequence."""
    codes = np.asarray(codes)
    if codes.size == 0:
        return []
    keep = np.ones(len(codes), dtype=bool)
    keep[1:] = codes[1:] != codes[:-1]
    return codes[keep].tolist()


def runs(codes: Sequence[int] | np.ndarray) -> Runs:
    """(values, starts, ends) of the runs of equal codes; ends are exclusive."""
    codes = np.asarray(codes)
    if codes.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return codes[:0], empty, empty
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    return codes[starts], starts, ends


def merge_short_runs(codes: Sequence[int] | np.ndarray, min_frames: int) -> np.ndarray:
    """Frame codes whose runs are all at least `min_frames` long (unless the whole sequence is
    shorter): the shortest run below the minimum, the earliest first, joins its longer neighbour
    (the left one on a tie), and runs that become adjacent with one code merge. A flicker of one
    or two frames between two halves of one sound disappears instead of adding two tokens."""
    codes = np.asarray(codes)
    if min_frames <= 1 or codes.size == 0:
        return codes.copy()
    values, starts, ends = _merge_shortest(*runs(codes), lambda shortest, _: shortest < min_frames)
    return np.repeat(values, ends - starts)


def run_budget(seconds: float, rate: float) -> int:
    """The most tokens a clip of `seconds` gets at `rate` tokens per second: at least one."""
    return max(1, round(seconds * rate))


def reduce_runs(
    codes: Sequence[int] | np.ndarray, seconds: float, rate: float, reduce: Reduce = "merge"
) -> Runs:
    """The runs of `codes` (values, starts, ends in frames) cut down to at most
    `max(1, round(seconds * rate))` runs; `rate` <= 0 keeps every run.

    - `merge`: the shortest run (the earliest on a tie) joins its longer neighbour (the left one on
      a tie) and neighbours that then hold one code fuse, until the count fits. Duration-aware: an
      extra short run in one view of a clip changes the string only where it is.
    - `index`: the runs at evenly spaced run indices are kept; a kept run spans to the next kept
      run's start. One extra run anywhere shifts every later choice. Two kept neighbours can hold
      one code (they are not fused).

    (`dpdp`, a segmentation from per-frame code costs, is `strings.dpdp.budget_runs`: codes
    alone are not enough for it.) `strings.rule.string_runs` chooses among them."""
    if reduce == "dpdp":
        raise ValueError(
            "reduce='dpdp' needs per-frame code costs, not codes alone: "
            "strings.dpdp.budget_runs (strings.rule.string_runs calls it)"
        )
    if reduce not in ("merge", "index"):
        raise ValueError(f"reduce={reduce!r}: expected 'merge' or 'index'")
    values, starts, ends = runs(codes)
    budget = run_budget(seconds, rate)
    if rate <= 0 or len(values) <= budget:
        return values, starts, ends
    if reduce == "merge":
        return _merge_shortest(values, starts, ends, lambda _, count: count > budget)
    keep = np.round(np.linspace(0, len(values) - 1, budget)).astype(int)
    starts = starts[keep]
    return values[keep], starts, np.r_[starts[1:], ends[-1]]


def _merge_shortest(
    values: np.ndarray, starts: np.ndarray, ends: np.ndarray, more: Callable[[int, int], bool]
) -> Runs:
    """Merge runs while `more(shortest length, run count)`: the shortest run (the earliest on a
    tie) joins its longer neighbour (the left one on a tie); if its two neighbours then touch and
    hold one code they fuse. A heap over (length, start) and a linked list: O(n log n)."""
    n = len(values)
    start, length = starts.tolist(), (ends - starts).tolist()
    left, right = list(range(-1, n - 1)), [*range(1, n), -1]
    alive = [True] * n
    heap = [(length[i], start[i], i) for i in range(n)]
    heapq.heapify(heap)

    def unlink(i: int) -> None:
        alive[i] = False
        if left[i] >= 0:
            right[left[i]] = right[i]
        if right[i] >= 0:
            left[right[i]] = left[i]

    count = n
    while count > 1 and heap:
        size, begin, i = heap[0]
        if not alive[i] or (size, begin) != (length[i], start[i]):  # stale entry
            heapq.heappop(heap)
            continue
        if not more(size, count):
            break
        heapq.heappop(heap)
        lo, hi = left[i], right[i]
        j = lo if (length[lo] if lo >= 0 else -1) >= (length[hi] if hi >= 0 else -1) else hi
        length[j] += size
        start[j] = min(start[j], start[i])
        unlink(i)
        count -= 1
        if lo >= 0 and hi >= 0 and values[lo] == values[hi]:  # the neighbours now touch
            length[lo] += length[hi]
            unlink(hi)
            count -= 1
            j = lo
        heapq.heappush(heap, (length[j], start[j], j))
    kept = [i for i in range(n) if alive[i]]  # links keep the order of the original indices
    out_starts = np.asarray([start[i] for i in kept], dtype=np.int64)
    out_ends = out_starts + np.asarray([length[i] for i in kept], dtype=np.int64)
    return values[kept], out_starts, out_ends
