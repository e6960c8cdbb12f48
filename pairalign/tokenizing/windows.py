"""Tokenize clips of any length: short clips whole, long ones by overlapping windows, stitched.

Stitching: a clip longer than `window` seconds is cut into windows of exactly `window` seconds
whose starts are `window - overlap` apart (the last window ends at the clip's end). Each window
owns the time from the middle of its overlap with the previous window to the middle of its
overlap with the next, so every instant belongs to exactly one window; a token is kept from the
window that owns its centre time, and the windows' kept tokens are joined window after window,
each in the order it was emitted (a decoder's timing estimates need not increase monotonically, so
time only decides ownership, never order). A token whose estimated centre falls on the wrong side
of a boundary can be kept twice or not at all; the 1 s overlap keeps that to the cut's edges.
Tokenizers whose strings collapse repeats (VQ) collapse the joined string again, which merges a run
cut by a boundary.

Every piece is zero-padded to the window length (longer clips are windowed, so none is longer),
as training pads views to its clip length: the encoder normalises and attends over its whole
input, so a fixed padded length makes a clip's string independent of the batch it is in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from pairalign.strings.runs import collapse_runs
from pairalign.tokenizing.kinds import StringTokenizer


@dataclass(frozen=True)
class Piece:
    clip: int  # index of the clip it comes from
    start: int  # first sample
    stop: int  # one past the last sample
    owns_from: float  # seconds (clip time) this window owns: [owns_from, owns_to)
    owns_to: float


def cut(
    num_samples: int, sample_rate: int, window: float, overlap: float, clip: int = 0
) -> list[Piece]:
    """The windows of one clip; a clip no longer than `window` is a single piece."""
    size = round(window * sample_rate)
    if num_samples <= size:
        return [Piece(clip, 0, num_samples, 0.0, float("inf"))]
    check_windows(window, overlap, sample_rate)
    hop = size - round(overlap * sample_rate)
    starts = [*range(0, num_samples - size, hop), num_samples - size]
    middles = [(nxt + prev + size) / 2 / sample_rate for prev, nxt in pairwise(starts)]
    bounds = [0.0, *middles, float("inf")]  # a boundary in the middle of each overlap
    return [Piece(clip, s, s + size, bounds[i], bounds[i + 1]) for i, s in enumerate(starts)]


def check_windows(window: float, overlap: float, sample_rate: int) -> None:
    """Refuse a window/overlap pair that cannot step through a clip."""
    if window <= 0 or overlap < 0 or round(window * sample_rate) - round(overlap * sample_rate) < 1:
        raise ValueError(f"window {window} s and overlap {overlap} s: need 0 <= overlap < window")


def tokenize_clips(
    tokenizer: StringTokenizer,
    audio: list[np.ndarray],
    sample_rate: int,
    *,
    window: float = 3.0,
    overlap: float = 1.0,
    batch_size: int = 32,
) -> list[list[int]]:
    """Token strings of 1-D waveforms of any length (see the module docstring)."""
    pieces = [p for i, x in enumerate(audio) for p in cut(len(x), sample_rate, window, overlap, i)]
    if all(p.owns_to == float("inf") for p in pieces):  # no clip needs stitching
        return _batched(tokenizer, audio, sample_rate, window, batch_size, timed=False)
    timed = _batched(
        tokenizer,
        [audio[p.clip][p.start : p.stop] for p in pieces],
        sample_rate,
        window,
        batch_size,
        timed=True,
    )
    strings: list[list[int]] = [[] for _ in audio]
    for piece, (tokens, centres) in zip(
        pieces, timed, strict=True
    ):  # a clip's pieces in time order
        at = piece.start / sample_rate + centres
        strings[piece.clip] += tokens[(at >= piece.owns_from) & (at < piece.owns_to)].tolist()
    return [collapse_runs(s) for s in strings] if tokenizer.collapses else strings


def tokenize_clips_timed(
    tokenizer: StringTokenizer,
    audio: list[np.ndarray],
    sample_rate: int,
    *,
    window: float = 3.0,
    overlap: float = 1.0,
    batch_size: int = 32,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`tokenize_clips` with each token's centre time: per clip (tokens (L,), centres (L,) seconds
    of clip time), stitched the same way; a collapsed run cut by a window boundary becomes one
    token at the mean of its pieces' centres."""
    pieces = [p for i, x in enumerate(audio) for p in cut(len(x), sample_rate, window, overlap, i)]
    timed = _batched(
        tokenizer,
        [audio[p.clip][p.start : p.stop] for p in pieces],
        sample_rate,
        window,
        batch_size,
        timed=True,
    )
    tokens: list[list[np.ndarray]] = [[] for _ in audio]
    centres: list[list[np.ndarray]] = [[] for _ in audio]
    for piece, (piece_tokens, piece_centres) in zip(pieces, timed, strict=True):
        at = piece.start / sample_rate + np.asarray(piece_centres, dtype=np.float64)
        owned = (at >= piece.owns_from) & (at < piece.owns_to)
        tokens[piece.clip].append(np.asarray(piece_tokens, dtype=np.int64)[owned])
        centres[piece.clip].append(at[owned])
    out = []
    for clip_tokens, clip_centres in zip(tokens, centres, strict=True):
        joined = np.concatenate(clip_tokens) if clip_tokens else np.zeros(0, np.int64)
        times = np.concatenate(clip_centres) if clip_centres else np.zeros(0)
        out.append(_collapse_timed(joined, times) if tokenizer.collapses else (joined, times))
    return out


def _collapse_timed(tokens: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adjacent equal tokens as one, at the mean centre of the run."""
    if len(tokens) == 0:
        return tokens, centres
    starts = np.flatnonzero(np.r_[True, tokens[1:] != tokens[:-1]])
    sums = np.add.reduceat(centres, starts)
    counts = np.diff(np.r_[starts, len(tokens)])
    return tokens[starts], sums / counts


def token_spans(centres: np.ndarray, seconds: float) -> np.ndarray:
    """(start, end) seconds of each token from its centre time: boundaries halfway between
    neighbouring centres (made non-decreasing first), the first at 0 and the last at `seconds`.
    # (L,) -> (L, 2)"""
    centres = np.maximum.accumulate(np.clip(np.asarray(centres, dtype=np.float64), 0, seconds))
    if len(centres) == 0:
        return np.zeros((0, 2))
    bounds = np.r_[0.0, (centres[1:] + centres[:-1]) / 2, seconds]
    return np.stack([bounds[:-1], bounds[1:]], axis=1)


def padded_batches(
    audio: list[np.ndarray], sample_rate: int, window: float, batch_size: int
) -> Iterator[tuple[range, np.ndarray, list[float]]]:
    """Clips as a tokenizer is given them: batches of `batch_size`, each clip zero-padded to the
    window (or to the longest clip, if longer), with its seconds of real audio (one sample at
    least). Yields (the clips' indices, (B, width) float32, seconds)."""
    width = max([round(window * sample_rate), *(len(x) for x in audio)])
    for i in range(0, len(audio), batch_size):
        idx = range(i, min(i + batch_size, len(audio)))
        padded = np.zeros((len(idx), width), np.float32)
        for row, j in enumerate(idx):
            padded[row, : len(audio[j])] = audio[j]
        yield idx, padded, [max(len(audio[j]), 1) / sample_rate for j in idx]


def _batched(
    tokenizer: StringTokenizer,
    audio: list[np.ndarray],
    sample_rate: int,
    window: float,
    batch_size: int,
    *,
    timed: bool,
) -> list:
    out: list = [None] * len(audio)
    for idx, padded, seconds in padded_batches(audio, sample_rate, window, batch_size):
        results = tokenizer.timed(padded, seconds) if timed else tokenizer(padded, seconds)
        for j, result in zip(idx, results, strict=True):
            out[j] = result
    return out
