"""The continuous-sweep probe: a window slides over longer speech in small steps.

A stable tokenizer changes its string a little per step (high neighbour overlap), keeps a steady
length, and drifts from the first window's string in proportion to how far the window has moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from pairalign.tokenizing.strings import normalized_edit_distance


def sweep_windows(
    audio: np.ndarray, sample_rate: int, window: float, step: float
) -> list[np.ndarray]:
    """Windows of `window` seconds starting every `step` seconds, all inside the clip."""
    size, hop = round(window * sample_rate), round(step * sample_rate)
    if len(audio) < size:
        raise ValueError(
            f"a {len(audio) / sample_rate:.2f} s clip is shorter than the {window} s window"
        )
    return [audio[s : s + size] for s in range(0, len(audio) - size + 1, hop)]


def drift(strings: Sequence[Sequence[int]]) -> np.ndarray:
    """Normalised edit distance of each window's string from the first window's.  # (W,)"""
    return np.array([normalized_edit_distance(strings[0], s) for s in strings])


def sweep_figures(utterances: Sequence[Sequence[Sequence[int]]], step: float,
                  shifts: Sequence[float], prefix: str) -> dict[str, float]:  # fmt: skip
    """Figures over utterances, each a list of window strings in order of their start.

    - `sweep_overlap`: 1 - normalised edit distance between neighbouring windows, averaged;
    - `sweep_length_cv`: the spread of string length over one utterance's windows (std / mean);
    - `sweep_drift_<shift>s`: distance from the first window's string at that shift.
    """
    overlaps, spreads = [], []
    for strings in utterances:
        overlaps += [1 - normalized_edit_distance(a, b) for a, b in pairwise(strings)]
        lengths = np.array([len(s) for s in strings], dtype=np.float64)
        spreads.append(lengths.std() / lengths.mean() if lengths.mean() else float("nan"))
    figures = {
        f"{prefix}/sweep_overlap": float(np.mean(overlaps)),
        f"{prefix}/sweep_length_cv": float(np.mean(spreads)),
    }
    curves = mean_drift(utterances)
    for shift in shifts:
        at = round(shift / step)
        if at < len(curves):
            figures[f"{prefix}/sweep_drift_{shift:g}s"] = float(curves[at])
    return figures


def mean_drift(utterances: Sequence[Sequence[Sequence[int]]]) -> np.ndarray:
    """The drift curve averaged over utterances, up to the shortest one's length.  # (W,)"""
    curves = [drift(strings) for strings in utterances]
    n = min(len(c) for c in curves)
    return np.mean([c[:n] for c in curves], axis=0)
