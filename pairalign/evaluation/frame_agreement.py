"""Aligned-frame code agreement across voices: how often two speakers' renditions of one
sentence carry the same stage-1 code at the frames that hear the same content.

For every pair of clips with the same content and different speakers (each unordered pair
once), the two clean recordings are aligned by DTW on their MFCC frames
(`pairalign.data.time_maps.RenditionAligner`: the same alignment for every model measured), each
frame of A (centred at (i + 0.5) * h) is mapped to B's time, and the share of frames whose B
frame carries A's code is counted over every pair (`aligned_code_agreement`, frames inside both
clips only; `aligned_code_frames` counts them; a pair whose path is rejected is left out and
counted in `aligned_code_rejected`). Codes are a tokenizer's frame codes (`Tokenizer.frame_codes`,
each clip encoded whole), before runs are made: the figure issue 28's stage 1 is judged by.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from pairalign.data.time_maps import RenditionAligner
from pairalign.data.views import ViewConfig
from pairalign.timing import DTWConfig

FrameCodes = Callable[[list[np.ndarray], list[float]], list[np.ndarray]]


def cross_voice_pairs(content: Sequence[str], speakers: Sequence[str]) -> list[tuple[int, int]]:
    """Index pairs (i < j) of clips with one content and two speakers."""
    c, s = np.asarray(list(content)), np.asarray(list(speakers))
    first, second = np.nonzero(np.triu((c[:, None] == c[None]) & (s[:, None] != s[None]), k=1))
    return list(zip(first.tolist(), second.tolist(), strict=True))


def aligned_code_agreement(
    codes: Sequence[np.ndarray],
    frame_seconds: float,
    audio: Sequence[np.ndarray],
    sample_rate: int,
    content: Sequence[str],
    speakers: Sequence[str],
    prefix: str,
    *,
    dtw: DTWConfig | None = None,
    max_pairs: int = 1000,
) -> dict[str, float]:
    """The figure over the cross-voice pairs of a set of clips (at most `max_pairs`, evenly
    spaced in index order, when > 0); NaN with no pairs. `codes[i]` (T_i,) are clip i's frame
    codes; `dtw` defaults to the training views' (`ViewConfig().dtw`)."""
    aligner = RenditionAligner(dtw or ViewConfig().dtw, sample_rate)
    pairs = cross_voice_pairs(content, speakers)
    if 0 < max_pairs < len(pairs):
        pairs = [pairs[k] for k in np.linspace(0, len(pairs) - 1, max_pairs).round().astype(int)]
    same = total = rejected = 0
    frames = {k: aligner.frames(audio[k]) for k in sorted({k for pair in pairs for k in pair})}
    for i, j in pairs:  # each clip's frames computed once, whatever its number of partners
        found = aligner.align_frames(frames[i], frames[j])
        if found.time_map is None:
            rejected += 1
            continue
        a, b = np.asarray(codes[i]), np.asarray(codes[j])
        mapped = found.time_map((np.arange(len(a)) + 0.5) * frame_seconds)
        partner = np.floor(mapped / frame_seconds).astype(np.int64)
        inside = (partner >= 0) & (partner < len(b))
        same += int((a[inside] == b[partner[inside]]).sum())
        total += int(inside.sum())
    return {
        f"{prefix}/aligned_code_agreement": same / total if total else float("nan"),
        f"{prefix}/aligned_code_frames": float(total),
        f"{prefix}/aligned_code_rejected": float(rejected),
    }


def clip_frame_codes(
    frame_codes: FrameCodes, audio: Sequence[np.ndarray], sample_rate: int, batch_size: int = 16
) -> list[np.ndarray]:
    """Each clip's frame codes, the clip encoded whole (padded to the longest of its batch,
    trimmed to its own audio by `frame_codes`)."""
    order = np.argsort([len(x) for x in audio], kind="stable")  # similar lengths batch together
    found: dict[int, np.ndarray] = {}
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        n = max(len(audio[r]) for r in rows)
        waves = [np.pad(np.asarray(audio[r], np.float32), (0, n - len(audio[r]))) for r in rows]
        seconds = [len(audio[r]) / sample_rate for r in rows]
        for r, c in zip(rows, frame_codes(waves, seconds), strict=True):
            found[int(r)] = np.asarray(c)
    return [found[i] for i in range(len(audio))]
