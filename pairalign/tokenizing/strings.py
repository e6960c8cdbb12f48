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


def runs(codes: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    values, starts, ends = runs(codes)
    values, lengths = values.tolist(), (ends - starts).tolist()
    while len(values) > 1:
        short = [i for i, n in enumerate(lengths) if n < min_frames]
        if not short:
            break
        i = min(short, key=lambda j: (lengths[j], j))
        left = lengths[i - 1] if i > 0 else -1
        right = lengths[i + 1] if i + 1 < len(values) else -1
        j = i - 1 if left >= right else i + 1
        lengths[j] += lengths[i]
        del values[i], lengths[i]
        k = min(i, j)  # merge the neighbours that now touch, if they hold one code
        for a in (k - 1, k):
            if 0 <= a < len(values) - 1 and values[a] == values[a + 1]:
                lengths[a] += lengths[a + 1]
                del values[a + 1], lengths[a + 1]
                break
    return np.repeat(np.asarray(values, dtype=codes.dtype), lengths)
