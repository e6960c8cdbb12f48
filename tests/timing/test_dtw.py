"""The banded DTW: the same cost and path as a plain O(T_a x T_b) reference, the band and the
rejection rule, silence trimming, and a known piecewise-linear stretch recovered within 2 frames
on log-mel frames."""

from __future__ import annotations

import numpy as np
import pytest

from pairalign.timing import DTWConfig, TimeMap, align, dtw_path, frame_levels_db, trim_silence
from pairalign.timing.dtw import band_bounds, cost_matrix
from pairalign.tokenizing.dense import clip_log_mel
from pairalign.units import SAMPLE_RATE


def reference_dtw(cost: np.ndarray, allowed: np.ndarray) -> tuple[float, np.ndarray]:
    """The textbook recursion, one cell at a time, and its backtrack (ties: diagonal first)."""
    t_a, t_b = cost.shape
    total = np.full((t_a, t_b), np.inf)
    for i in range(t_a):
        for j in range(t_b):
            if not allowed[i, j]:
                continue
            if i == 0 and j == 0:
                total[i, j] = cost[i, j]
                continue
            before = [
                total[i - 1, j - 1] if i and j else np.inf,
                total[i - 1, j] if i else np.inf,
                total[i, j - 1] if j else np.inf,
            ]
            total[i, j] = cost[i, j] + min(before)
    i, j, path = t_a - 1, t_b - 1, [(t_a - 1, t_b - 1)]
    while i or j:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            best = int(np.argmin([total[i - 1, j - 1], total[i - 1, j], total[i, j - 1]]))
            i, j = [(i - 1, j - 1), (i - 1, j), (i, j - 1)][best]
        path.append((i, j))
    return float(total[-1, -1]), np.asarray(path[::-1])


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize(("t_a", "t_b", "band"), [(17, 23, None), (23, 17, 0.3), (30, 30, 0.1)])
def test_dtw_matches_the_reference(metric, t_a, t_b, band):
    rng = np.random.default_rng(t_a * 100 + t_b)
    a, b = rng.standard_normal((t_a, 5)), rng.standard_normal((t_b, 5))
    lo, hi = band_bounds(t_a, t_b, band)
    allowed = (np.arange(t_b)[None] >= lo[:, None]) & (np.arange(t_b)[None] < hi[:, None])
    total, path = reference_dtw(cost_matrix(a, b, metric), allowed)
    found = dtw_path(a, b, band=band, metric=metric)
    assert found.total == pytest.approx(total, rel=1e-9)
    np.testing.assert_array_equal(found.path, path)
    assert found.cost == pytest.approx(total / len(path))
    assert not found.rejected


def test_the_band_keeps_the_path_near_the_scaled_diagonal():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((40, 4)), rng.standard_normal((60, 4))
    path = dtw_path(a, b, band=0.1).path
    lo, hi = band_bounds(40, 60, 0.1)
    assert np.all((path[:, 1] >= lo[path[:, 0]]) & (path[:, 1] < hi[path[:, 0]]))
    assert np.all(np.diff(path, axis=0) >= 0) and np.all(np.diff(path, axis=0).sum(1) >= 1)
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (39, 59)
    assert np.all(hi[:-1] >= lo[1:])  # each row's band touches the next: a path always exists


@pytest.mark.parametrize("band", [0.2, None])
def test_a_single_frame_aligns_with_every_frame(band):
    rng = np.random.default_rng(5)
    one, five = rng.standard_normal((1, 3)), rng.standard_normal((5, 3))
    np.testing.assert_array_equal(dtw_path(one, five, band).path, [[0, j] for j in range(5)])
    np.testing.assert_array_equal(dtw_path(five, one, band).path, [[i, 0] for i in range(5)])
    with pytest.raises(ValueError, match="empty"):
        dtw_path(one[:0], five)


def test_a_costly_path_is_reported_not_raised():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((20, 8))
    same = dtw_path(a, a, max_cost=0.1)
    other = dtw_path(a, rng.standard_normal((25, 8)), max_cost=0.1)
    assert same.cost == pytest.approx(0.0, abs=1e-9) and not same.rejected
    assert other.rejected and other.cost > 0.1
    assert not other.judged(None).rejected


def test_the_excess_tells_other_order_from_other_timing():
    """Four segments of A, B the same segments held for other lengths, C them in another order:
    every frame of C has an exact twin in A, so its floor is as low as B's, but keeping the order
    costs C alone: its excess, not B's, is rejected."""
    rng = np.random.default_rng(6)
    segments = [
        rng.standard_normal((1, 6)) + rng.standard_normal((n, 6)) * 0.05 for n in (12, 9, 15, 10)
    ]
    a = np.concatenate(segments)
    b = np.concatenate([np.repeat(x, 2, axis=0)[: len(x) + 4] for x in segments])
    c = np.concatenate([segments[k] for k in (2, 0, 3, 1)])
    same, other = dtw_path(a, b, max_excess=0.1), dtw_path(a, c, max_excess=0.1)
    assert same.floor == pytest.approx(other.floor, abs=0.05) and same.floor < 0.05
    assert same.excess < 0.02 and not same.rejected
    assert other.excess > 0.3 and other.rejected
    assert not other.judged(None).rejected and other.judged(None, 0.5 * other.excess).rejected
    config = DTWConfig(max_excess=0.1, trim_db=None)
    assert align(a, c, config).floor == other.floor and align(a, c, config).rejected


def test_silence_is_trimmed_at_both_ends_only():
    rng = np.random.default_rng(2)
    tone = np.sin(2 * np.pi * 220 * np.arange(8000) / SAMPLE_RATE)
    samples = np.concatenate([np.zeros(3200), tone, np.zeros(1600), tone, np.zeros(4800)])
    samples = samples + 1e-5 * rng.standard_normal(len(samples))
    levels = frame_levels_db(samples)
    assert len(levels) == -(-len(samples) // 160)
    kept = trim_silence(levels, 40.0)
    assert abs(kept.start - 20) <= 3 and abs(kept.stop - (20 + 50 + 10 + 50)) <= 3
    assert trim_silence(np.full(7, -100.0)) == slice(0, 7)


def _content(tau: np.ndarray, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (3, N) in Hz and amplitudes (3, N) of three gliding partials at content time
    tau: smooth random trajectories, so that no two moments sound alike."""
    rng = np.random.default_rng(seed)
    rates, phases = rng.uniform(0.4, 3.0, (3, 4)), rng.uniform(0, 2 * np.pi, (3, 4))
    wobble = np.sin(2 * np.pi * rates[..., None] * tau + phases[..., None]).sum(1)  # (3, N)
    freqs = np.array([300.0, 900.0, 2200.0])[:, None] * 2 ** (0.4 * wobble)
    amps = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(2, 5, (3, 1)) * tau + phases[:, :1])
    return freqs, amps


def _render(content_time: np.ndarray) -> np.ndarray:
    """Samples whose content at each sample is that of `content_time` (seconds), the pitch
    kept: the phase runs at the content's frequency in real time."""
    freqs, amps = _content(content_time)
    phase = 2 * np.pi * np.cumsum(freqs, axis=1) / SAMPLE_RATE
    return (amps * np.sin(phase)).sum(0).astype(np.float32) / 3


def test_a_known_piecewise_linear_stretch_is_recovered_within_two_frames():
    """A against B = A stretched by a known map with five speeds, each between silences of other
    lengths: the DTW time map recovers the stretch within 2 frames (20 ms) at every frame of A's
    sound (the silences trimmed first)."""
    content_knots = np.array([0.0, 0.5, 1.1, 1.6, 2.3, 3.0])  # seconds of content
    speeds = np.array([1.0, 0.7, 1.4, 0.8, 1.25])  # B's seconds per second of content
    b_knots = np.concatenate([[0.0], np.cumsum(np.diff(content_knots) * speeds)])
    rng = np.random.default_rng(4)

    def recording(content_time: np.ndarray, lead: float, tail: float) -> np.ndarray:
        pad = [np.zeros(round(s * SAMPLE_RATE), np.float32) for s in (lead, tail)]
        samples = np.concatenate([pad[0], _render(content_time), pad[1]])
        return samples + 1e-4 * rng.standard_normal(len(samples)).astype(np.float32)

    a = recording(np.arange(round(3.0 * SAMPLE_RATE)) / SAMPLE_RATE, 0.2, 0.1)
    b_time = np.arange(round(b_knots[-1] * SAMPLE_RATE)) / SAMPLE_RATE
    b = recording(np.interp(b_time, b_knots, content_knots), 0.35, 0.3)
    frames_a, frames_b = clip_log_mel(a), clip_log_mel(b)
    found = align(frames_a, frames_b, DTWConfig(), frame_levels_db(a), frame_levels_db(b))
    assert not found.rejected
    time_map = TimeMap.from_path(found.path, frame_seconds=0.01)
    seconds_a = np.arange(20, 320) * 0.01  # the frames of A's sound
    truth = np.interp(seconds_a - 0.2, content_knots, b_knots) + 0.35
    assert np.abs(time_map(seconds_a) - truth).max() <= 0.02
    back = time_map.inverse()(time_map(seconds_a))
    np.testing.assert_allclose(back, seconds_a, atol=1e-9)
