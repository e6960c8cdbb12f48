"""Content-preserving augmentations: small seeded dataclasses `(clip, rng) -> clip`.

Each augmentation is frozen, serialisable with `dataclasses.asdict`, takes its randomness only from
the `numpy.random.Generator` it is handed, and applies itself with probability `p`. Augmentations
that move audio in time (speed, time shift) record it in the clip's time map, so a frame of one
view can be aligned with the matching frame of the other view.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import scipy.fft
import torch
import torchaudio.functional as AF

from pairalign.units import Decibels, Hertz, Seconds, Semitones

_EPS = 1e-12


@dataclass(frozen=True)
class Clip:
    """Mono float32 samples plus the map from source time to this clip's time.

    A sound at source time `t` (seconds) is heard at `t / warp + shift` in this clip.
    """

    samples: np.ndarray  # (N,) float32
    sample_rate: Hertz
    warp: float = 1.0
    shift: Seconds = 0.0
    applied: tuple[str, ...] = ()  # what was done to it, in order, e.g. ("pitch -1.30 st", ...)

    def replace(
        self, samples: np.ndarray, *, speed: float = 1.0, delay: Seconds = 0.0, note: str = ""
    ) -> Clip:
        """New samples; `speed` > 1 plays faster, then `delay` moves the result later; `note`
        describes the change (with the values drawn) in `applied`."""
        return Clip(
            samples.astype(np.float32, copy=False),
            self.sample_rate,
            warp=self.warp * speed,
            shift=self.shift / speed + delay,
            applied=(*self.applied, note) if note else self.applied,
        )


@dataclass(frozen=True)
class Gain:
    """Scale by a random gain in decibels."""

    min_db: Decibels = -6.0
    max_db: Decibels = 6.0
    p: float = 1.0

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        db = rng.uniform(self.min_db, self.max_db)
        if rng.random() >= self.p:
            return clip
        return clip.replace(clip.samples * np.float32(10 ** (db / 20)), note=f"gain {db:+.1f} dB")


@dataclass(frozen=True)
class Noise:
    """Add coloured noise at a random signal-to-noise ratio (relative to the clip's own power).

    The colour exponent `alpha` gives a 1/f^alpha power spectrum: 0 white, 1 pink, 2 brown.
    Silence stays silence: noise power follows signal power.
    """

    min_snr_db: Decibels = 5.0
    max_snr_db: Decibels = 30.0
    min_alpha: float = 0.0
    max_alpha: float = 2.0
    p: float = 1.0

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        snr_db = rng.uniform(self.min_snr_db, self.max_snr_db)
        alpha = rng.uniform(self.min_alpha, self.max_alpha)
        n = len(clip.samples)
        white = rng.standard_normal((2, n // 2 + 1), dtype=np.float32)  # a white spectrum
        if rng.random() >= self.p:
            return clip
        noise = _coloured_noise(white, alpha, n)
        signal_power = float(np.mean(clip.samples**2))
        noise_power = float(np.mean(noise**2)) + _EPS
        scale = math.sqrt(signal_power / noise_power / 10 ** (snr_db / 10))
        return clip.replace(
            clip.samples + np.float32(scale) * noise,
            note=f"noise {snr_db:.1f} dB SNR, 1/f^{alpha:.2f}",
        )


@dataclass(frozen=True)
class Speed:
    """Play faster or slower (tempo and pitch together); the factor is recorded as the warp.

    The factor is rounded to a multiple of 1/`resolution` so resampling is exact and cheap.
    """

    min_factor: float = 0.9
    max_factor: float = 1.1
    resolution: int = 100
    p: float = 1.0

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        factor = rng.uniform(self.min_factor, self.max_factor)
        if rng.random() >= self.p:
            return clip
        num = round(factor * self.resolution)
        if num == self.resolution:
            return clip
        samples = _resample(clip.samples, num, self.resolution)
        return clip.replace(
            samples, speed=num / self.resolution, note=f"speed x{num / self.resolution:.2f}"
        )


@dataclass(frozen=True)
class PitchShift:
    """Shift pitch by a few semitones without changing timing.

    Phase-vocoder time stretch by the pitch ratio, then resampling back to the original length.
    The ratio is rounded to a multiple of 1/`resolution` so the resampling is exact and cheap.
    """

    min_semitones: Semitones = -2.0
    max_semitones: Semitones = 2.0
    n_fft: int = 512
    resolution: int = 100
    p: float = 0.5

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        semitones = rng.uniform(self.min_semitones, self.max_semitones)
        if rng.random() >= self.p:
            return clip
        num = round(2 ** (semitones / 12) * self.resolution)
        if num == self.resolution:
            return clip
        stretched = _phase_vocoder(clip.samples, self.resolution / num, self.n_fft)
        samples = _resample(stretched, num, self.resolution)
        return clip.replace(
            _fit(samples, len(clip.samples)),
            note=f"pitch {12 * math.log2(num / self.resolution):+.2f} st",
        )


@dataclass(frozen=True)
class TimeShift:
    """Delay (or advance) the audio by up to `max_seconds`, zero-filled; kept in the time map."""

    max_seconds: Seconds = 0.1
    p: float = 1.0

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        seconds = rng.uniform(-self.max_seconds, self.max_seconds)
        if rng.random() >= self.p:
            return clip
        n = round(seconds * clip.sample_rate)
        out = np.zeros_like(clip.samples)
        if n >= 0:
            out[n:] = clip.samples[: len(out) - n]
        else:
            out[:n] = clip.samples[-n:]
        return clip.replace(
            out, delay=n / clip.sample_rate, note=f"shift {n / clip.sample_rate:+.3f} s"
        )


@dataclass(frozen=True)
class Reverb:
    """Convolve with a synthetic room impulse response (direct path + decaying noise)."""

    min_rt60: Seconds = 0.15
    max_rt60: Seconds = 0.6
    max_length: Seconds = 0.4
    min_wet: float = 0.2
    max_wet: float = 0.7
    p: float = 0.5

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        rt60 = rng.uniform(self.min_rt60, self.max_rt60)
        wet = rng.uniform(self.min_wet, self.max_wet)
        n = max(2, round(min(rt60, self.max_length) * clip.sample_rate))
        tail = rng.standard_normal(n).astype(np.float32)
        if rng.random() >= self.p:
            return clip
        t = np.arange(n, dtype=np.float32) / clip.sample_rate
        tail *= np.exp(-6.91 * t / rt60)  # -60 dB at rt60
        tail[0] = 0.0
        tail *= wet / (np.sqrt(np.sum(tail**2)) + _EPS)
        tail[0] = 1.0 - wet  # direct path
        reverberant = _fft_convolve(clip.samples, tail)
        # keep the clip's level: rescale to the dry RMS
        dry_rms = np.sqrt(np.mean(clip.samples**2))
        wet_rms = np.sqrt(np.mean(reverberant**2)) + _EPS
        return clip.replace(
            reverberant * np.float32(dry_rms / wet_rms),
            note=f"reverb rt60 {rt60:.2f} s, wet {wet:.2f}",
        )


@dataclass(frozen=True)
class BandLimit:
    """Band-pass with random edges, as telephone lines and cheap microphones do."""

    min_low: Hertz = 50
    max_low: Hertz = 400
    min_high: Hertz = 3400
    max_high: Hertz = 7600
    p: float = 0.5

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        low = rng.uniform(self.min_low, self.max_low)
        high = rng.uniform(self.min_high, self.max_high)
        if rng.random() >= self.p:
            return clip
        n = len(clip.samples)
        octaves = np.log2(np.fft.rfftfreq(n, 1 / clip.sample_rate) + 1.0).astype(np.float32)
        # raised-cosine edges one sixth of an octave wide
        gain = _smooth_step(octaves, math.log2(low), 1 / 6)
        gain *= 1.0 - _smooth_step(octaves, math.log2(high), 1 / 6)
        return clip.replace(
            scipy.fft.irfft(scipy.fft.rfft(clip.samples) * gain, n),
            note=f"band {low:.0f}-{high:.0f} Hz",
        )


@dataclass(frozen=True)
class FormantShift:
    """Move the spectral envelope (formants: vocal-tract length) by a factor, keeping pitch and
    timing: each frame's spectrum is divided into an all-pole (LPC) envelope and its fine
    structure (the harmonics), and the envelope alone is stretched along frequency. A factor above
    1 sounds like a shorter vocal tract (higher formants), below 1 a longer one."""

    min_factor: float = 0.85
    max_factor: float = 1.18
    lpc_order: int = 18  # poles of the envelope: two per formant up to 8 kHz, and a few spare
    n_fft: int = 512
    p: float = 0.0

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        factor = math.exp(rng.uniform(math.log(self.min_factor), math.log(self.max_factor)))
        if rng.random() >= self.p:
            return clip
        hop = self.n_fft // 4
        window = torch.hann_window(self.n_fft)
        x = torch.from_numpy(np.ascontiguousarray(clip.samples))
        spec = torch.stft(x, self.n_fft, hop, window=window, return_complex=True)  # (F, T)
        envelope = _lpc_log_envelope(spec.abs().numpy(), self.lpc_order)  # (F, T)
        source = np.minimum(np.arange(spec.shape[0]) / factor, spec.shape[0] - 1)  # f / factor
        i0 = np.floor(source).astype(np.int64)
        i1, frac = np.minimum(i0 + 1, spec.shape[0] - 1), (source - i0)[:, None]
        warped = envelope[i0] * (1 - frac) + envelope[i1] * frac  # the envelope at f / factor
        gain = torch.from_numpy(np.exp(warped - envelope).astype(np.float32))
        out = torch.istft(spec * gain, self.n_fft, hop, window=window, length=len(x)).numpy()
        scale = np.sqrt(np.mean(clip.samples**2) / (np.mean(out**2) + _EPS))  # keep the level
        return clip.replace(out * np.float32(scale), note=f"formants x{factor:.3f}")


@dataclass(frozen=True)
class SpectralTilt:
    """Tilt the spectrum by a few dB per octave around 1 kHz (voice quality, microphones):
    negative is darker (breathy or distant), positive brighter (pressed or close)."""

    min_db_per_octave: Decibels = -3.0
    max_db_per_octave: Decibels = 3.0
    p: float = 0.0

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        tilt = rng.uniform(self.min_db_per_octave, self.max_db_per_octave)
        if rng.random() >= self.p:
            return clip
        n = len(clip.samples)
        freqs = np.fft.rfftfreq(n, 1 / clip.sample_rate).astype(np.float32)
        octaves = np.log2(np.maximum(freqs, 100.0) / 1000.0)  # flat below 100 Hz
        gain = (10 ** (tilt * octaves / 20)).astype(np.float32)
        out = scipy.fft.irfft(scipy.fft.rfft(clip.samples) * gain, n)
        scale = np.sqrt(np.mean(clip.samples**2) / (np.mean(out**2) + _EPS))
        return clip.replace(out * np.float32(scale), note=f"tilt {tilt:+.1f} dB/oct")


Augmentation = (
    Gain | Noise | Speed | PitchShift | TimeShift | Reverb | BandLimit | FormantShift | SpectralTilt
)


def describe(augmentation: Augmentation) -> dict:
    """A serialisable description: the class name and its parameters."""
    return {"name": type(augmentation).__name__, **dataclasses.asdict(augmentation)}


def _resample(samples: np.ndarray, orig: int, new: int) -> np.ndarray:
    g = math.gcd(orig, new)
    out = AF.resample(torch.from_numpy(np.ascontiguousarray(samples)), orig // g, new // g)
    return out.numpy()


def _phase_vocoder(x: np.ndarray, rate: float, n_fft: int) -> np.ndarray:
    """Time-stretch by 1/rate keeping pitch; output length round(len(x) / rate)."""
    hop = n_fft // 4
    window = torch.hann_window(n_fft)
    spec = torch.stft(torch.from_numpy(x), n_fft, hop, window=window, return_complex=True)  # (F, T)
    bins, frames = spec.shape
    steps = torch.arange(0, frames - 1, rate, dtype=torch.float32)
    steps = steps[steps < frames - 1]
    i0 = steps.long()
    magnitude, angle = spec.abs(), torch.angle(spec)
    magnitude = torch.lerp(magnitude[:, i0], magnitude[:, i0 + 1], steps - i0)  # (F, T')
    omega = torch.linspace(0, math.pi * hop, bins)[:, None]  # expected advance per hop
    advance = angle[:, i0 + 1] - angle[:, i0] - omega
    advance -= 2 * math.pi * torch.round(advance / (2 * math.pi))
    advance += omega
    phase = torch.cumsum(advance, dim=1) - advance + angle[:, :1]
    out = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
    return torch.istft(out, n_fft, hop, window=window, length=round(len(x) / rate)).numpy()


def _lpc_log_envelope(magnitude: np.ndarray, order: int) -> np.ndarray:
    """Log all-pole envelope of each frame from its power spectrum (autocorrelation method,
    Levinson-Durbin, all frames at once).  # (F, T) -> (F, T)"""
    power = magnitude.astype(np.float64) ** 2 + 1e-12
    autocorr = np.fft.irfft(power, axis=0)[: order + 1]  # (order + 1, T)
    autocorr[0] *= 1 + 1e-6  # a little white noise keeps the recursion stable
    frames = power.shape[1]
    a = np.zeros((order + 1, frames))
    a[0] = 1.0
    error = autocorr[0].copy()
    for i in range(1, order + 1):
        k = -(a[:i] * autocorr[i:0:-1]).sum(axis=0) / error
        a[: i + 1] = a[: i + 1] + k * a[i::-1]
        error *= 1 - k**2
    response = np.abs(np.fft.rfft(a, n=2 * (power.shape[0] - 1), axis=0)) ** 2  # |A|^2 (F, T)
    return 0.5 * (np.log(error + 1e-12) - np.log(response + 1e-12))


def _fft_convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Causal convolution truncated to len(x)."""
    n = len(x) + len(h) - 1
    size = scipy.fft.next_fast_len(n, real=True)
    y = scipy.fft.irfft(scipy.fft.rfft(x, size) * scipy.fft.rfft(h, size), size)
    return y[: len(x)]


def _smooth_step(x: np.ndarray, edge: float, width: float) -> np.ndarray:
    t = np.clip((x - edge) / width + 0.5, 0.0, 1.0)
    return (0.5 - 0.5 * np.cos(np.pi * t)).astype(np.float32)


def _coloured_noise(white: np.ndarray, alpha: float, n: int) -> np.ndarray:
    """Noise of length n with a 1/f^alpha power spectrum, from a (2, n//2+1) white spectrum."""
    freqs = np.arange(white.shape[1], dtype=np.float32)
    freqs[0] = 1.0
    spectrum = (white[0] + 1j * white[1]).astype(np.complex64) * freqs ** np.float32(-alpha / 2)
    return scipy.fft.irfft(spectrum, n)


def _fit(samples: np.ndarray, length: int) -> np.ndarray:
    """Crop or zero-pad at the end to exactly `length` samples."""
    if len(samples) >= length:
        return samples[:length]
    return np.pad(samples, (0, length - len(samples)))
