"""Aligned-frame code agreement across voices, on renditions whose notes are known."""

import numpy as np
import pytest

from pairalign.evaluation.frame_agreement import (
    aligned_code_agreement,
    clip_frame_codes,
    cross_voice_pairs,
)

SR = 16_000
FRAME = 0.02


def rendition(content: int, speaker: int) -> tuple[np.ndarray, np.ndarray]:
    """A melody of 6 notes (drawn by `content`), each held for a speaker-drawn time after a
    speaker's own lead-in of silence; and its note boundaries in seconds."""
    notes = np.random.default_rng(content).uniform(200.0, 1400.0, 6)
    held = np.random.default_rng(100 + 10 * speaker + content).uniform(0.12, 0.4, 6)
    lead = 0.05 + 0.06 * speaker
    parts = [np.zeros(round(lead * SR), np.float32)]
    for f, d in zip(notes * (1.0 + 0.04 * speaker), held, strict=True):
        t = np.arange(round(d * SR)) / SR
        parts.append(sum(np.sin(2 * np.pi * k * f * t) / k for k in (1, 2, 3)).astype(np.float32))
    samples = 0.2 * np.concatenate([*parts, np.zeros(round(0.1 * SR), np.float32)])
    samples += 0.002 * np.random.default_rng(speaker).standard_normal(len(samples))
    return samples.astype(np.float32), lead + np.concatenate([[0.0], np.cumsum(held)])


def note_codes(samples: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Frame codes that name the note each frame hears (0: silence): a voice-invariant code."""
    centres = (np.arange(int(len(samples) / SR / FRAME)) + 0.5) * FRAME
    inside = (centres >= bounds[0]) & (centres < bounds[-1])
    return np.where(inside, np.searchsorted(bounds, centres, side="right"), 0)


@pytest.fixture(scope="module")
def clips():
    audio, codes, content, speakers = [], [], [], []
    for c in range(2):
        for s in range(3):
            samples, bounds = rendition(c, s)
            audio.append(samples)
            codes.append(note_codes(samples, bounds))
            content.append(f"c{c}")
            speakers.append(f"s{s}")
    return audio, codes, content, speakers


def test_pairs_are_one_content_two_speakers():
    pairs = cross_voice_pairs(["a", "a", "b", "a"], ["x", "y", "x", "x"])
    assert pairs == [(0, 1), (1, 3)]


def test_codes_that_name_the_content_agree_and_voice_codes_do_not(clips):
    audio, codes, content, speakers = clips
    found = aligned_code_agreement(codes, FRAME, audio, SR, content, speakers, "vq")
    assert found["vq/aligned_code_frames"] > 500 and found["vq/aligned_code_rejected"] == 0
    assert found["vq/aligned_code_agreement"] > 0.9
    # the same notes, numbered apart per speaker: nothing agrees except silence
    by_voice = [c + 10 * int(s[1:]) * (c > 0) for c, s in zip(codes, speakers, strict=True)]
    other = aligned_code_agreement(by_voice, FRAME, audio, SR, content, speakers, "vq")
    assert other["vq/aligned_code_agreement"] < 0.2
    assert np.isnan(
        aligned_code_agreement(codes, FRAME, audio, SR, content, content, "x")[
            "x/aligned_code_agreement"
        ]
    )  # no two speakers of one content


def test_clip_frame_codes_keeps_clip_order(clips):
    audio = clips[0]
    seen = []

    def frame_codes(waves, seconds):
        seen.append(len(waves))
        return [np.full(round(s / FRAME), round(s * 1000)) for s in seconds]

    codes = clip_frame_codes(frame_codes, audio, SR, batch_size=4)
    assert seen == [4, 2]
    assert [int(c[0]) for c in codes] == [round(len(x) / SR * 1000) for x in audio]
