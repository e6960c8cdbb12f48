"""Paired views: fixed shape, bounded, reproducible per (seed, epoch, id), aligned by time maps."""

import dataclasses

import numpy as np
import pytest

from pairalign.data.views import ViewConfig, make_views, pair_rng

SR = 16_000


def speech(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = round(seconds * SR)
    envelope = np.repeat(rng.uniform(0, 1, n // 1600 + 1), 1600)[:n]
    return (0.5 * envelope * rng.standard_normal(n)).astype(np.float32)


@pytest.mark.parametrize("seconds", [1.2, 3.0, 5.5])
def test_views_have_clip_shape_and_are_bounded(seconds):
    config = ViewConfig()
    pair = make_views(speech(seconds), config, pair_rng(0, 0, "u"))
    for view in (pair.a, pair.b):
        assert view.samples.shape == (config.clip_samples,)
        assert view.samples.dtype == np.float32
        assert np.isfinite(view.samples).all()
        assert np.max(np.abs(view.samples)) <= config.peak + 1e-6
    assert pair.source_seconds == pytest.approx(min(seconds, 3.0), abs=1 / SR)


def test_same_seed_same_views_other_seed_or_epoch_differs():
    config = ViewConfig()
    x = speech(4.0)
    p1 = make_views(x, config, pair_rng(0, 0, "utt-1"))
    p2 = make_views(x, config, pair_rng(0, 0, "utt-1"))
    np.testing.assert_array_equal(p1.a.samples, p2.a.samples)
    np.testing.assert_array_equal(p1.b.samples, p2.b.samples)
    assert not np.allclose(p1.a.samples, p1.b.samples)  # the two views differ
    for rng in (pair_rng(1, 0, "utt-1"), pair_rng(0, 1, "utt-1"), pair_rng(0, 0, "utt-2")):
        assert not np.allclose(make_views(x, config, rng).a.samples, p1.a.samples)


def test_silence_stays_near_silence():
    pair = make_views(np.zeros(48_000, np.float32), ViewConfig(), pair_rng(0, 0, "s"))
    assert np.max(np.abs(pair.a.samples)) < 1e-6 and np.max(np.abs(pair.b.samples)) < 1e-6


def test_time_maps_align_an_event_in_both_views():
    x = np.zeros(48_000, np.float32)
    x[20_000:20_160] = 1.0  # a 10 ms burst at 1.25 s
    config = ViewConfig(
        noise=dataclasses.replace(ViewConfig().noise, p=0.0),
        reverb=dataclasses.replace(ViewConfig().reverb, p=0.0),
    )
    for i in range(5):
        pair = make_views(x, config, pair_rng(0, 0, f"u{i}"))
        for view in (pair.a, pair.b):
            energy = np.convolve(view.samples**2, np.ones(160), "same")
            found = np.argmax(energy) / SR
            expected = (20_080 / SR) / view.warp + view.shift
            assert found == pytest.approx(expected, abs=0.02)


def test_a_pair_batch_can_carry_the_clean_crop():
    import pyarrow as pa

    from pairalign.data.pair_batches import CLEAN, make_pair_batch
    from pairalign.data.views import ViewConfig

    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(32_000)).astype(np.float32)
    import io

    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, audio, 16_000, format="WAV", subtype="FLOAT")
    rows = pa.Table.from_pylist([{"utterance_id": "u1", "path": None, "audio": buffer.getvalue()}])
    plain = make_pair_batch(rows, views=ViewConfig(), rejects_dir="/nonexistent")
    kept = make_pair_batch(rows, views=ViewConfig(), rejects_dir="/nonexistent", with_clean=True)
    assert CLEAN not in plain and kept[CLEAN].shape == (1, 48_000)
    np.testing.assert_allclose(kept[CLEAN][0, :32_000], audio, atol=1e-6)  # the crop, untouched
    assert np.all(kept[CLEAN][0, 32_000:] == 0)  # padded like the views
    np.testing.assert_array_equal(kept["view_a"], plain["view_a"])  # the same views either way
