"""Physical properties of each augmentation: shape, bounds, determinism, silence, timing."""

import dataclasses

import numpy as np
import pytest

from pairalign.data.augment import (
    BandLimit,
    Clip,
    FormantShift,
    Gain,
    Noise,
    PitchShift,
    Reverb,
    SpectralTilt,
    Speed,
    TimeShift,
    describe,
)

SR = 16_000
ALL = [
    Gain(),
    Noise(),
    Speed(),
    PitchShift(),
    TimeShift(),
    Reverb(),
    BandLimit(),
    FormantShift(p=1.0),
    SpectralTilt(p=1.0),
]


def sine(freq: float, seconds: float = 3.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / SR)[np.argmax(spectrum)])


def speechlike(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    envelope = np.repeat(rng.uniform(0, 1, 30), 1600)
    return (0.3 * envelope * rng.standard_normal(48_000)).astype(np.float32)


@pytest.mark.parametrize("aug", ALL, ids=lambda a: type(a).__name__)
def test_deterministic_finite_and_bounded(aug):
    clip = Clip(speechlike(), SR)
    out1 = aug(clip, np.random.default_rng(7))
    out2 = aug(clip, np.random.default_rng(7))
    np.testing.assert_array_equal(out1.samples, out2.samples)
    assert out1.samples.dtype == np.float32
    assert np.isfinite(out1.samples).all()
    # no augmentation may blow the level up by more than its gain range (6 dB) plus headroom
    assert np.max(np.abs(out1.samples)) < 4 * np.max(np.abs(clip.samples))


@pytest.mark.parametrize(
    "aug", [a for a in ALL if not isinstance(a, Speed)], ids=lambda a: type(a).__name__
)
def test_keeps_length(aug):
    clip = Clip(speechlike(1), SR)
    assert len(aug(clip, np.random.default_rng(3)).samples) == len(clip.samples)


@pytest.mark.parametrize("aug", ALL, ids=lambda a: type(a).__name__)
def test_silence_stays_silence(aug):
    out = aug(Clip(np.zeros(48_000, np.float32), SR), np.random.default_rng(0))
    assert np.max(np.abs(out.samples)) < 1e-6


@pytest.mark.parametrize("aug", ALL, ids=lambda a: type(a).__name__)
def test_probability_zero_is_identity(aug):
    clip = Clip(speechlike(2), SR)
    out = dataclasses.replace(aug, p=0.0)(clip, np.random.default_rng(0))
    np.testing.assert_array_equal(out.samples, clip.samples)
    assert (out.warp, out.shift) == (1.0, 0.0)


def test_different_seeds_differ():
    clip = Clip(speechlike(), SR)
    a = Noise()(clip, np.random.default_rng(1)).samples
    b = Noise()(clip, np.random.default_rng(2)).samples
    assert not np.allclose(a, b)


def click_times(x: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.abs(x) > 0.5 * np.max(np.abs(x))) / SR


def test_speed_records_warp_and_moves_events():
    x = np.zeros(48_000, np.float32)
    x[16_000] = 1.0  # a click at 1.0 s
    out = Speed(min_factor=1.1, max_factor=1.1)(Clip(x, SR), np.random.default_rng(0))
    assert out.warp == pytest.approx(1.1)
    assert len(out.samples) == pytest.approx(48_000 / 1.1, abs=1)
    assert click_times(out.samples).mean() == pytest.approx(1.0 / out.warp + out.shift, abs=2e-3)


def test_time_shift_then_speed_compose_in_the_time_map():
    x = np.zeros(48_000, np.float32)
    x[24_000] = 1.0  # 1.5 s
    clip = TimeShift(max_seconds=0.1)(Clip(x, SR), np.random.default_rng(4))
    assert clip.shift != 0.0
    clip = Speed(min_factor=0.9, max_factor=0.9)(clip, np.random.default_rng(0))
    assert click_times(clip.samples).mean() == pytest.approx(1.5 / clip.warp + clip.shift, abs=2e-3)


def test_pitch_shift_moves_frequency_not_time():
    out = PitchShift(min_semitones=2.0, max_semitones=2.0)(
        Clip(sine(440.0), SR), np.random.default_rng(0)
    )
    assert peak_hz(out.samples[4000:-4000]) == pytest.approx(440.0 * 1.12, rel=0.02)
    assert (out.warp, out.shift) == (1.0, 0.0)
    burst = np.zeros(48_000, np.float32)
    burst[20_000:24_000] = sine(300.0, 0.25)
    moved = PitchShift(min_semitones=-2.0, max_semitones=-2.0)(
        Clip(burst, SR), np.random.default_rng(0)
    )
    energy = moved.samples**2
    centroid = np.sum(np.arange(len(energy)) * energy) / np.sum(energy)
    assert abs(centroid - 22_000) < 800  # the burst's centre stays within 50 ms


def test_band_limit_removes_out_of_band_tones():
    x = sine(200.0, amp=0.3) + sine(1000.0, amp=0.3) + sine(7900.0, amp=0.3)
    aug = BandLimit(min_low=400, max_low=400, min_high=3400, max_high=3400)
    out = aug(Clip(x, SR), np.random.default_rng(0)).samples
    spectrum = np.abs(np.fft.rfft(out))
    freqs = np.fft.rfftfreq(len(out), 1 / SR)

    def level(f):
        return spectrum[np.argmin(np.abs(freqs - f))]

    assert level(1000.0) > 100 * level(7900.0)
    assert level(1000.0) > 10 * level(200.0)


def test_noise_hits_the_requested_snr():
    x = sine(500.0)
    out = Noise(min_snr_db=10.0, max_snr_db=10.0)(Clip(x, SR), np.random.default_rng(0)).samples
    snr = 10 * np.log10(np.mean(x**2) / np.mean((out - x) ** 2))
    assert snr == pytest.approx(10.0, abs=0.2)


def test_reverb_keeps_level_and_adds_a_tail():
    x = np.zeros(48_000, np.float32)
    x[8_000:8_800] = sine(300.0, 0.05)
    out = Reverb(min_rt60=0.5, max_rt60=0.5)(Clip(x, SR), np.random.default_rng(0)).samples
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(x**2)), rel=1e-3)
    assert np.abs(out[9_600:12_000]).max() > 1e-3  # energy after the burst ended


def test_gain_range_in_decibels():
    x = sine(300.0, amp=0.1)
    out = Gain(min_db=6.0, max_db=6.0)(Clip(x, SR), np.random.default_rng(0)).samples
    assert 20 * np.log10(np.max(np.abs(out)) / np.max(np.abs(x))) == pytest.approx(6.0, abs=0.01)


def test_describe_is_serialisable():
    d = describe(Noise(min_snr_db=3.0))
    assert d["name"] == "Noise" and d["min_snr_db"] == 3.0


def voiced(f0: float = 120.0, formant: float = 1000.0, seconds: float = 1.0) -> np.ndarray:
    """A pulse train at `f0` through one resonance at `formant` Hz (a vowel-like sound)."""
    n = round(seconds * SR)
    pulses = np.zeros(n, np.float32)
    pulses[:: round(SR / f0)] = 1.0
    r, theta = 0.97, 2 * np.pi * formant / SR
    from scipy.signal import lfilter

    return (0.1 * lfilter([1.0], [1.0, -2 * r * np.cos(theta), r * r], pulses)).astype(np.float32)


def harmonic_peak(x: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    band = (freqs >= low) & (freqs <= high)
    return float(freqs[band][np.argmax(spectrum[band])])


def test_formant_shift_moves_the_resonance_not_the_pitch():
    x = voiced(f0=120.0, formant=1000.0)
    out = FormantShift(min_factor=1.2, max_factor=1.2, p=1.0)(Clip(x, SR), np.random.default_rng(0))
    # the strongest harmonic follows the resonance up (1000 -> ~1200 Hz) ...
    assert harmonic_peak(x, 500, 2500) == pytest.approx(960, abs=70)
    assert harmonic_peak(out.samples, 500, 2500) == pytest.approx(1200, abs=70)
    # ... while the harmonics stay multiples of 120 Hz (the pitch) and time does not move
    assert harmonic_peak(out.samples, 80, 170) == pytest.approx(120, abs=4)
    assert (out.warp, out.shift) == (1.0, 0.0) and out.applied == ("formants x1.200",)
    assert np.sqrt(np.mean(out.samples**2)) == pytest.approx(np.sqrt(np.mean(x**2)), rel=1e-3)


def test_spectral_tilt_brightens_or_darkens_by_its_slope():
    x = sine(250.0, amp=0.2) + sine(4000.0, amp=0.2)  # 4 octaves apart
    for tilt in (-3.0, 3.0):
        aug = SpectralTilt(min_db_per_octave=tilt, max_db_per_octave=tilt, p=1.0)
        out = aug(Clip(x, SR), np.random.default_rng(0)).samples
        spectrum = np.abs(np.fft.rfft(out))
        freqs = np.fft.rfftfreq(len(out), 1 / SR)
        ratio = spectrum[np.argmin(np.abs(freqs - 4000))] / spectrum[np.argmin(np.abs(freqs - 250))]
        assert 20 * np.log10(ratio) == pytest.approx(4 * tilt, abs=0.1)


def test_a_view_records_what_was_done_to_it_in_order():
    clip = Clip(speechlike(3), SR)
    rng = np.random.default_rng(0)
    for aug in (TimeShift(), Speed(), FormantShift(p=1.0), Gain()):
        clip = aug(clip, rng)
    kinds = [note.split()[0] for note in clip.applied]
    assert kinds == ["shift", "speed", "formants", "gain"]
