"""The sweep's score with a token-rate bound, and the Pareto front, on cases with known answers."""

import math
import random

import pytest

from pairalign.evaluation.pareto import bounded_score, dominates, pareto_front


def test_within_the_bound_the_score_is_the_figure():
    assert bounded_score(0.4, rate=10.0, max_rate=12.0) == 0.4
    assert bounded_score(0.4, rate=12.0, max_rate=12.0) == 0.4  # the bound is inclusive
    assert bounded_score(0.4, rate=50.0, max_rate=0.0) == 0.4  # no bound


def test_over_the_bound_every_trial_ranks_below_every_feasible_one():
    over_a_little = bounded_score(0.9, rate=13.0, max_rate=12.0)
    over_a_lot = bounded_score(0.9, rate=24.0, max_rate=12.0)
    assert over_a_little == pytest.approx(-1 / 12) and over_a_lot == pytest.approx(-1.0)
    assert over_a_lot < over_a_little < bounded_score(0.0, rate=12.0, max_rate=12.0)


def test_nothing_measured_scores_minus_infinity():
    assert bounded_score(math.nan, rate=10.0, max_rate=12.0) == -math.inf
    assert bounded_score(0.5, rate=math.nan, max_rate=12.0) == -math.inf
    assert bounded_score(0.5, rate=math.nan, max_rate=0.0) == 0.5  # no bound: the rate is unused


def test_dominance_follows_each_axis_sense():
    # (token rate: fewer is better, MAP: more is better)
    senses = ("min", "max")
    assert dominates((10, 0.5), (12, 0.5), senses)
    assert not dominates((10, 0.5), (10, 0.5), senses)  # equal: neither dominates
    assert not dominates((10, 0.4), (12, 0.5), senses)  # a trade-off
    with pytest.raises(ValueError):
        dominates((1, 2), (1, 2, 3), senses)


def test_front_of_a_known_trade_off():
    senses = ("min", "max")
    points = [(8, 0.30), (10, 0.45), (9, 0.20), (14, 0.50), (12, 0.44), (10, 0.45), (7, math.nan)]
    # (9, 0.20) loses to (8, 0.30); (12, 0.44) loses to (10, 0.45); NaN is never on the front
    assert pareto_front(points, senses) == [0, 1, 3, 5]
    assert pareto_front([], senses) == []


def test_front_points_are_mutually_non_dominated_and_cover_the_rest():
    rng = random.Random(0)
    senses = ("min", "max", "max")
    points = [(rng.uniform(5, 20), rng.random(), rng.random()) for _ in range(60)]
    front = pareto_front(points, senses)
    assert front
    for i in front:
        assert not any(dominates(points[j], points[i], senses) for j in range(len(points)))
    for i in set(range(len(points))) - set(front):
        assert any(dominates(points[j], points[i], senses) for j in front)
