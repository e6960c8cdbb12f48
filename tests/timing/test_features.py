"""DTW frames: their shape and clock (frame i centred at sample i * hop, the levels on the same
frames), determinism, indifference to loudness, and two renditions of one content at different
pitches aligned on them."""

from __future__ import annotations

import numpy as np
import pytest

from pairalign.timing import DTWConfig, TimeMap, align
from pairalign.timing.features import dtw_features, dtw_levels
from pairalign.units import SAMPLE_RATE


def _noise(seconds: float, seed: int = 0) -> np.ndarray:
    return 0.1 * np.random.default_rng(seed).standard_normal(round(seconds * SAMPLE_RATE))


@pytest.mark.parametrize(("kind", "width"), [("logmel", 80), ("mfcc", 12)])
@pytest.mark.parametrize("samples", [16_000, 16_001, 250])
def test_shape_and_determinism(kind, width, samples):
    audio = _noise(samples / SAMPLE_RATE)[:samples].astype(np.float32)
    frames = dtw_features(audio, SAMPLE_RATE, kind)
    assert frames.shape == (-(-samples // 160), width) and frames.dtype == np.float32
    assert np.isfinite(frames).all()
    np.testing.assert_array_equal(frames, dtw_features(audio.copy(), SAMPLE_RATE, kind))
    assert dtw_levels(audio, SAMPLE_RATE).shape == (len(frames),)


def test_unknown_kind_and_empty_audio_are_refused():
    with pytest.raises(ValueError, match="unknown"):
        dtw_features(_noise(0.1), SAMPLE_RATE, "wav2vec")
    with pytest.raises(ValueError, match="empty"):
        dtw_features(np.zeros(0, np.float32), SAMPLE_RATE)


@pytest.mark.parametrize("kind", ["logmel", "mfcc"])
def test_loudness_does_not_change_the_frames(kind):
    audio = _noise(1.0, seed=1) * np.linspace(0.2, 1.0, SAMPLE_RATE)
    loud, quiet = dtw_features(audio, SAMPLE_RATE, kind), dtw_features(audio / 4, SAMPLE_RATE, kind)
    np.testing.assert_allclose(loud, quiet, atol=0.05)  # up to the log's floor in the lowest bin


@pytest.mark.parametrize(("onset", "first"), [(8000, 49), (8100, 50)])
def test_frame_i_is_centred_at_sample_i_times_hop(onset, first):
    """A tone from sample `onset`: the first frame that hears it is the first whose 25 ms window
    centred at i * 160 reaches it (ceil((onset - 200) / 160); frames starting at i * 160 would
    hear it a frame earlier), and the levels' frame centred on the onset holds half the power."""
    n = np.arange(SAMPLE_RATE)
    tone = (n >= onset) & (n < 12_800)
    audio = np.where(tone, np.sin(2 * np.pi * 440 * n / SAMPLE_RATE), 0.0) + 1e-3 * _noise(1.0, 2)
    frames = dtw_features(audio, SAMPLE_RATE, "logmel")
    change = np.linalg.norm(np.diff(frames, axis=0), axis=1)[:70]  # [i]: frame i -> i + 1
    assert np.flatnonzero(change > 4 * np.median(change))[0] + 1 == first
    levels = dtw_levels(audio, SAMPLE_RATE)
    plateau = np.median(levels[60:75])
    if onset % 160 == 0:
        assert levels[onset // 160] - plateau == pytest.approx(-3.01, abs=0.05)
        assert levels[onset // 160 - 2] < plateau - 20 and levels[onset // 160 + 2] > plateau - 1


def _vowels(pitch: float, seconds_per: list[float]) -> np.ndarray:
    """A source at `pitch` Hz through a sequence of formant pairs, each held for its seconds."""
    formants = [(300, 2300), (700, 1200), (500, 900), (350, 1900), (650, 1700)]
    out = []
    phase = 0.0
    for (f1, f2), seconds in zip(formants, seconds_per, strict=True):
        t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        harmonics = np.arange(1, int(4000 // pitch))
        gain = sum(1 / (1 + ((harmonics * pitch - f) / 80.0) ** 2) for f in (f1, f2))
        wave = (gain[:, None] * np.sin(2 * np.pi * harmonics[:, None] * pitch * t + phase)).sum(0)
        phase += 2 * np.pi * pitch * len(t) / SAMPLE_RATE
        out.append(wave / np.abs(wave).max())
    return 0.3 * np.concatenate(out)


def test_two_pitches_of_one_content_align_at_their_changes():
    """Five vowels at 110 Hz and at 220 Hz, held for other durations: mapped through the DTW on
    log-mel frames, each change of vowel of A lands within 2 frames of B's."""
    held_a, held_b = [0.3, 0.2, 0.4, 0.25, 0.3], [0.2, 0.35, 0.25, 0.4, 0.2]
    a, b = _vowels(110.0, held_a), _vowels(220.0, held_b)
    found = align(
        dtw_features(a, SAMPLE_RATE),
        dtw_features(b, SAMPLE_RATE),
        DTWConfig(),
        dtw_levels(a, SAMPLE_RATE),
        dtw_levels(b, SAMPLE_RATE),
    )
    time_map = TimeMap.from_path(found.path, frame_seconds=0.01)
    changes_a, changes_b = np.cumsum(held_a)[:-1], np.cumsum(held_b)[:-1]
    assert np.abs(time_map(changes_a) - changes_b).max() <= 0.02
