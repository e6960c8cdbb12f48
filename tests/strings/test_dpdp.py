"""DPDP segmentation: the Viterbi pass finds the optimum, penalty 0 is the argmax, and the budget
search never exceeds the budget while coming as close as any penalty can."""

import itertools

import numpy as np
import pytest

from pairalign.strings.dpdp import budget_runs, segment
from pairalign.strings.runs import reduce_runs, runs


def cost_of(costs: np.ndarray, values, starts, ends, penalty: float) -> float:
    frames = sum(costs[s:e, v].sum() for v, s, e in zip(values, starts, ends, strict=True))
    return float(frames + penalty * len(values))


def brute_force(costs: np.ndarray, penalty: float) -> float:
    """The least cost over every segmentation (every set of boundaries, each segment with its
    best code; adjacent segments may even share a code)."""
    frames = len(costs)
    best = np.inf
    for cuts in itertools.product((False, True), repeat=frames - 1):
        starts = [0, *(t + 1 for t, cut in enumerate(cuts) if cut)]
        ends = [*starts[1:], frames]
        total = sum(costs[s:e].sum(axis=0).min() for s, e in zip(starts, ends, strict=True))
        best = min(best, total + penalty * len(starts))
    return float(best)


def check_segmentation(values, starts, ends, frames: int) -> None:
    assert starts[0] == 0 and ends[-1] == frames
    assert (starts[1:] == ends[:-1]).all() and (ends > starts).all()
    assert (values[1:] != values[:-1]).all()  # adjacent segments hold different codes


def test_a_flicker_costs_more_than_it_saves():
    costs = np.array([[0, 1], [0.6, 0.4], [0, 1], [1, 0], [1, 0], [1, 0]], dtype=float)
    values, starts, ends = segment(costs, 0.0)
    assert values.tolist() == [0, 1, 0, 1] and starts.tolist() == [0, 1, 2, 3]
    values, starts, ends = segment(costs, 0.5)  # 0.6 + 2 x 0.5 beats 0.4 + 4 x 0.5
    assert values.tolist() == [0, 1] and starts.tolist() == [0, 3] and ends.tolist() == [3, 6]
    assert cost_of(costs, values, starts, ends, 0.5) == pytest.approx(1.6)
    assert segment(costs, 10.0)[0].tolist() == [1]  # one segment: code 1 costs 2.6, code 0 3.0


@pytest.mark.parametrize("frames", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("codes", [1, 2, 3])
def test_the_dp_finds_the_brute_force_optimum(frames, codes):
    rng = np.random.default_rng(10 * frames + codes)
    for _ in range(20):
        costs = rng.uniform(0, 2, (frames, codes))
        for penalty in (0.0, 0.1, 0.5, 1.0, 3.0):
            values, starts, ends = segment(costs, penalty)
            check_segmentation(values, starts, ends, frames)
            found = cost_of(costs, values, starts, ends, penalty)
            assert found == pytest.approx(brute_force(costs, penalty), abs=1e-9)


def test_penalty_zero_gives_the_argmax_runs():
    rng = np.random.default_rng(0)
    for _ in range(50):
        similarity = rng.uniform(-1, 1, (rng.integers(1, 80), 8))
        got = segment(1 - similarity, 0.0)
        expected = runs(similarity.argmax(axis=1))
        for a, b in zip(got, expected, strict=True):
            assert a.tolist() == b.tolist()


def test_more_penalty_never_gives_more_segments():
    costs = np.random.default_rng(1).uniform(0, 2, (60, 6))
    span = (costs.max(axis=1) - costs.min(axis=1)).sum()  # above this, one segment is optimal
    counts = [len(segment(costs, p)[0]) for p in np.linspace(0, span + 1, 60)]
    assert counts == sorted(counts, reverse=True) and counts[-1] == 1


@pytest.mark.parametrize("rate", [0.5, 2.0, 5.0, 12.5, 30.0])
def test_the_budget_is_never_exceeded_and_no_penalty_comes_closer(rate):
    rng = np.random.default_rng(int(rate * 10))
    for _ in range(10):
        frames = int(rng.integers(1, 120))
        costs = 1 - rng.uniform(-1, 1, (frames, 5))
        seconds = frames / 50
        budget = max(1, round(seconds * rate))
        values, starts, ends = budget_runs(costs, seconds, rate)
        check_segmentation(values, starts, ends, frames)
        plain = len(runs(costs.argmin(axis=1))[0])
        assert len(values) == plain if plain <= budget else len(values) <= budget
        penalties = np.linspace(0, (costs.max(axis=1) - costs.min(axis=1)).sum() + 1, 200)
        fitting = [n for p in penalties if (n := len(segment(costs, p)[0])) <= budget]
        assert len(values) >= max(fitting)  # no penalty on a fine grid comes closer


def test_without_a_rate_every_argmax_run_is_kept():
    costs = np.random.default_rng(2).uniform(0, 2, (50, 4))
    assert len(budget_runs(costs, 1.0, 0.0)[0]) == len(runs(costs.argmin(axis=1))[0])


def test_codes_alone_cannot_be_segmented_by_dpdp():
    with pytest.raises(ValueError, match="per-frame code costs"):
        reduce_runs([1, 2, 3], 1.0, 1.0, "dpdp")  # type: ignore[arg-type]
