"""Token strings: run collapsing and edit distances."""

from __future__ import annotations

from collections.abc import Sequence

import editdistance
import numpy as np


def collapse_runs(codes: Sequence[int] | np.ndarray) -> list[int]:
    """[5, 5, 2, 2, 2, 5] -> [5, 2, 5]: the VQ token string of a frame code sequence."""
    codes = np.asarray(codes)
    if codes.size == 0:
        return []
    keep = np.ones(len(codes), dtype=bool)
    keep[1:] = codes[1:] != codes[:-1]
    return codes[keep].tolist()


def edit_distance(a: Sequence[int], b: Sequence[int]) -> int:
    return int(editdistance.eval(list(a), list(b)))


def normalized_edit_distance(a: Sequence[int], b: Sequence[int]) -> float:
    """Levenshtein distance over the longer length; 0 for two empty strings."""
    longest = max(len(a), len(b))
    return edit_distance(a, b) / longest if longest else 0.0
