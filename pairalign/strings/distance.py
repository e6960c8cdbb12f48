"""Edit distances between token strings."""

from __future__ import annotations

from collections.abc import Sequence

import editdistance


def edit_distance(a: Sequence[int], b: Sequence[int]) -> int:
    return int(editdistance.eval(list(a), list(b)))


def normalized_edit_distance(a: Sequence[int], b: Sequence[int]) -> float:
    """Levenshtein distance over the longer length; 0 for two empty strings."""
    longest = max(len(a), len(b))
    return edit_distance(a, b) / longest if longest else 0.0
