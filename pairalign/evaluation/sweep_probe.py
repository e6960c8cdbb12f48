"""The continuous-sweep probe: a window slides over longer speech in small steps.

A stable tokenizer changes its string a little per step (high neighbour overlap), keeps a steady
length, and drifts from the first window's string in proportion to how far the window has moved.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pyarrow as pa

from pairalign.data.audio import AudioError, load_row_audio
from pairalign.progress import Progress
from pairalign.strings.distance import normalized_edit_distance
from pairalign.units import SAMPLE_RATE


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


def sweep_figures(
    utterances: Sequence[Sequence[Sequence[int]]], step: float, shifts: Sequence[float], prefix: str
) -> dict[str, float]:
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


@dataclass(frozen=True)
class SweepProbeConfig:
    utterances: int = 8  # long utterances, one per voice
    clips_per_utterance: int = 3  # clips of one voice joined into each
    window: float = 3.0  # seconds
    step: float = 0.1  # seconds between window starts
    shifts: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0)  # drift reported at these shifts


def long_utterances(rows: pa.Table, sweep: SweepProbeConfig) -> list[np.ndarray]:
    """Clips of one voice joined end to end, one utterance per voice (voices in name order)."""
    by_voice: dict[str, list[dict]] = {}
    for row in rows.to_pylist():
        by_voice.setdefault(row["speaker"] or "", []).append(row)
    out = []
    for voice in sorted(by_voice)[: sweep.utterances]:
        audio = []
        for row in by_voice[voice]:
            try:
                audio.append(load_row_audio(row, sample_rate=SAMPLE_RATE))
            except AudioError:
                continue
            if len(audio) == sweep.clips_per_utterance:
                break
        joined = np.concatenate(audio) if audio else np.zeros(0, np.float32)
        if len(joined) >= round((sweep.window + max(sweep.shifts)) * SAMPLE_RATE):
            out.append(joined)
    return out


def sweep_strings(
    tokenizer, utterances: list[np.ndarray], sweep: SweepProbeConfig
) -> list[list[list[int]]]:
    out = []
    progress = Progress(
        f"sweep probe {getattr(tokenizer, 'name', '')}".rstrip(),
        total=len(utterances),
        unit="utterances",
        log=logging.getLogger("pairalign.evaluate").info,
        every_seconds=20.0,
    )
    for audio in utterances:
        windows = np.stack(sweep_windows(audio, SAMPLE_RATE, sweep.window, sweep.step))
        strings = []
        for i in range(0, len(windows), 64):
            strings += tokenizer(windows[i : i + 64], [sweep.window] * len(windows[i : i + 64]))
        out.append(strings)
        progress.update(len(out))
    return out
