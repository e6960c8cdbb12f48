"""Duration-penalised dynamic programming (DPDP) segmentation of frames into coded segments.

After Kamper & van Niekerk (2021), simplified to one penalty per segment: each frame t has a cost
d[t, k] of being labelled with code k (for a VQ encoder, 1 - cosine similarity of the frame's
latent and code k); a segmentation labels consecutive frames with one code per segment and costs
the sum of its frames' costs plus `penalty` per segment. The optimum is found by an O(T x K)
Viterbi pass. With penalty 0 it is the per-frame argmin (the argmax code runs); a larger penalty
gives fewer, longer segments. `budget_runs` picks the penalty per clip by bisection so the
segment count comes as close to a token budget as it can without exceeding it. Pure numpy.
"""

from __future__ import annotations

import numpy as np

from pairalign.strings.runs import Runs, run_budget

BISECTION_STEPS = 50  # halvings of the penalty interval: far finer than any gap between costs


def segment(costs: np.ndarray, penalty: float) -> Runs:
    """The segmentation minimising sum of costs + penalty x segments, as (values, starts, ends)
    in frames (ends exclusive), like `strings.runs.runs`. Adjacent segments hold different codes (a
    new segment with the same code never beats continuing). Ties keep the current segment and
    take the lowest code.  # costs (T, K)"""
    costs = np.asarray(costs, dtype=np.float64)
    frames = len(costs)
    if frames == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    switch = np.zeros(costs.shape, dtype=bool)  # state (t, k) entered from another segment
    previous = np.zeros(frames, dtype=np.int64)  # argmin_j best[t - 1, j]
    best = costs[0].copy()  # (K,) best cost of frames 0..t ending in code k
    for t in range(1, frames):
        j = int(best.argmin())
        previous[t] = j
        enter = best[j] + penalty
        switch[t] = enter < best
        best = costs[t] + np.minimum(best, enter)
    return _backtrace(switch, previous, int(best.argmin()))


def _backtrace(switch: np.ndarray, previous: np.ndarray, last: int) -> Runs:
    values, starts = [last], []
    code = last
    for t in range(len(switch) - 1, 0, -1):
        if switch[t, code]:
            starts.append(t)
            code = int(previous[t])
            values.append(code)
    starts.append(0)
    starts_arr = np.asarray(starts[::-1], dtype=np.int64)
    ends = np.r_[starts_arr[1:], len(switch)].astype(np.int64)
    return np.asarray(values[::-1], dtype=np.int64), starts_arr, ends


def budget_runs(costs: np.ndarray, seconds: float, rate: float) -> Runs:
    """`segment` with the penalty chosen by bisection: the segmentation with the most segments
    that is at most `max(1, round(seconds x rate))` (the count falls as the penalty grows; counts
    that no penalty reaches are skipped, so it may stay below the budget). Penalty 0 (the argmax
    runs) when those already fit or `rate` <= 0.  # costs (T, K)"""
    costs = np.asarray(costs, dtype=np.float64)
    found = segment(costs, 0.0)
    budget = run_budget(seconds, rate)
    if rate <= 0 or len(found[0]) <= budget:
        return found
    # one segment is optimal once the penalty exceeds the summed per-frame cost spans: any
    # segmentation saves at most that much cost over the best single code, for one more penalty
    lo, hi = 0.0, float((costs.max(axis=1) - costs.min(axis=1)).sum()) + 1.0
    found = segment(costs, hi)
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        trial = segment(costs, mid)
        if len(trial[0]) > budget:
            lo = mid
        else:
            hi, found = mid, trial
            if len(trial[0]) == budget:
                break
    return found
