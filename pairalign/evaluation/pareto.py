"""Choosing among trained tokenizers: a score with a token-rate bound, and the Pareto front.

A sweep ranks its trials by one number, `bounded_score`: the figure to maximise (retrieval MAP by
default) when the token rate is within the bound, and otherwise minus the relative excess, which is
below any feasible figure in [0, 1]. So every trial within the bound beats every trial over it,
and among those over it the one closest to the bound wins. `pareto_front` marks the trials that no
other trial beats on every axis at once (e.g. fewer tokens per second *and* a higher MAP).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

Sense = Literal["min", "max"]


def bounded_score(value: float, rate: float, max_rate: float) -> float:
    """`value` if `rate <= max_rate` (or there is no bound, max_rate <= 0), else
    -(rate - max_rate) / max_rate. A NaN value, or a NaN rate under a bound, scores -inf (a trial
    that measured nothing)."""
    if math.isnan(value):
        return -math.inf
    if max_rate <= 0:
        return value
    if math.isnan(rate):
        return -math.inf
    if rate <= max_rate:
        return value
    return -(rate - max_rate) / max_rate


def dominates(a: Sequence[float], b: Sequence[float], senses: Sequence[Sense]) -> bool:
    """Whether point `a` is at least as good as `b` on every axis and better on one."""
    if not len(a) == len(b) == len(senses):
        raise ValueError(f"points of {len(a)} and {len(b)} values for {len(senses)} senses")
    signs = [1.0 if s == "max" else -1.0 for s in senses]
    better = [s * x > s * y for s, x, y in zip(signs, a, b, strict=True)]
    worse = [s * x < s * y for s, x, y in zip(signs, a, b, strict=True)]
    return any(better) and not any(worse)


def pareto_front(points: Sequence[Sequence[float]], senses: Sequence[Sense]) -> list[int]:
    """Indices (in input order) of the points no other point dominates; points with a NaN are
    never on the front. Equal points are all on it."""
    valid = [i for i, p in enumerate(points) if not any(math.isnan(v) for v in p)]
    return [
        i
        for i in valid
        if not any(dominates(points[j], points[i], senses) for j in valid if j != i)
    ]
