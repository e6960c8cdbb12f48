"""Two content-preserving views of one clip, with the time maps that align them.

`make_views` crops (or pads) a decoded utterance to a fixed clip length, then passes two copies
through the augmentation chain with independent random draws. The random generator is derived
from (seed, epoch, utterance id), so the same seed gives the same views on any worker.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

import numpy as np

from pairalign.data.augment import (
    Augmentation,
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
)
from pairalign.timing import DTWConfig, TimeMap
from pairalign.units import SAMPLE_RATE, Hertz, Seconds

# A cross-voice pair's time map is carried as B's crop seconds at A's crop seconds 0, g, 2g, ...
TIME_GRID_SECONDS = 0.01


@dataclass(frozen=True)
class ViewConfig:
    """How paired views are made. The chain runs in the order of the fields below."""

    clip_seconds: Seconds = 3.0
    sample_rate: Hertz = SAMPLE_RATE
    seed: int = 0
    peak: float = 0.99  # views are scaled down so that |x| <= peak
    time_shift: TimeShift = field(default_factory=TimeShift)
    speed: Speed = field(default_factory=Speed)
    pitch: PitchShift = field(default_factory=PitchShift)
    formant: FormantShift = field(default_factory=FormantShift)  # voice: vocal-tract length
    tilt: SpectralTilt = field(default_factory=SpectralTilt)  # voice quality, microphone
    reverb: Reverb = field(default_factory=Reverb)
    band: BandLimit = field(default_factory=BandLimit)
    noise: Noise = field(default_factory=Noise)
    gain: Gain = field(default_factory=Gain)
    # share of pairs whose view B is another speaker's rendition of the same content
    # (`pairalign.data.partners`); 0 = every pair is two views of one recording
    cross_voice: float = 0.0
    # how a cross-voice pair's two recordings are aligned (`pairalign.timing`, on MFCC frames)
    dtw: DTWConfig = field(default_factory=lambda: DTWConfig(max_cost=0.7))

    def __post_init__(self) -> None:
        if not 0.0 <= self.cross_voice <= 1.0:
            raise ValueError(f"views.cross_voice must be in [0, 1], got {self.cross_voice}")

    @property
    def clip_samples(self) -> int:
        return round(self.clip_seconds * self.sample_rate)

    @property
    def time_grid(self) -> np.ndarray:
        """A's crop seconds at which a pair's time map is sampled (`PairedViews.time_b`)."""
        return np.arange(round(self.clip_seconds / TIME_GRID_SECONDS) + 1) * TIME_GRID_SECONDS

    def chain(self) -> tuple[Augmentation, ...]:
        return (
            self.time_shift,
            self.speed,
            self.pitch,
            self.formant,
            self.tilt,
            self.reverb,
            self.band,
            self.noise,
            self.gain,
        )


@dataclass(frozen=True)
class PairedViews:
    """Two views of the same crop. Source times are measured from the start of the crop."""

    a: Clip
    b: Clip
    crop_start: Seconds  # where the crop begins in the utterance
    source_seconds: Seconds  # how much of the crop is real audio (the rest is padding)
    clean: np.ndarray | None = None  # (N,) the crop itself, before any augmentation
    source_seconds_b: Seconds | None = None  # B's real audio when B is another recording
    # B's crop seconds at A's crop seconds `ViewConfig.time_grid` (None: the same, one recording)
    time_b: np.ndarray | None = None


def pair_rng(seed: int, epoch: int, utterance_id: str) -> np.random.Generator:
    """A generator that depends only on (seed, epoch, utterance id), not on worker or order."""
    return np.random.default_rng([seed, epoch, utterance_key(utterance_id)])


def utterance_key(utterance_id: str) -> int:
    """A stable 64-bit integer for an utterance id (the same on every worker and run)."""
    digest = hashlib.blake2b(utterance_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def make_views(samples: np.ndarray, config: ViewConfig, rng: np.random.Generator) -> PairedViews:
    """Crop/pad `samples` (mono, at config.sample_rate) to the clip length and make two views."""
    n = config.clip_samples
    start = int(rng.integers(0, len(samples) - n + 1)) if len(samples) > n else 0
    crop, valid = _crop(samples, start, n)
    views = tuple(_augment(Clip(crop, config.sample_rate), config, rng) for _ in range(2))
    return PairedViews(
        views[0], views[1], start / config.sample_rate, valid / config.sample_rate, clean=crop
    )


def make_cross_views(
    samples_a: np.ndarray,
    samples_b: np.ndarray,
    config: ViewConfig,
    rng: np.random.Generator,
    time_map: TimeMap,
) -> PairedViews:
    """Views of two renditions of one content: A cropped as `make_views` crops; B cropped where
    `time_map` (A's seconds -> B's, e.g. from DTW) puts the start of A's crop, so both crops hold
    the same content; each augmented as today. `clean`, `crop_start` and `source_seconds` are A's;
    `time_b` carries the map between the two crops."""
    n, sr = config.clip_samples, config.sample_rate
    start_a = int(rng.integers(0, len(samples_a) - n + 1)) if len(samples_a) > n else 0
    crop_a, valid_a = _crop(samples_a, start_a, n)
    at = float(time_map(start_a / sr))
    start_b = int(np.clip(round(at * sr), 0, max(0, len(samples_b) - n)))
    crop_b, valid_b = _crop(samples_b, start_b, n)
    time_b = time_map(start_a / sr + config.time_grid) - start_b / sr
    a = _augment(Clip(crop_a, sr), config, rng)
    b = _augment(Clip(crop_b, sr), config, rng)
    return PairedViews(
        a,
        b,
        start_a / sr,
        valid_a / sr,
        clean=crop_a,
        source_seconds_b=valid_b / sr,
        time_b=time_b.astype(np.float32),
    )


def _crop(samples: np.ndarray, start: int, n: int) -> tuple[np.ndarray, int]:
    """`n` samples from `start` (zero-padded at the end) and how many of them are real audio."""
    crop = samples[start : start + n].astype(np.float32, copy=False)
    return _fit(crop, n), len(crop)


def _augment(clip: Clip, config: ViewConfig, rng: np.random.Generator) -> Clip:
    n = len(clip.samples)
    for augmentation in config.chain():
        clip = augmentation(clip, rng)
        if len(clip.samples) != n:  # speed changes length: back to the clip length at once
            clip = dataclasses.replace(clip, samples=_fit(clip.samples, n))
    samples = clip.samples
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    if peak > config.peak:
        samples = samples * np.float32(config.peak / peak)
    return Clip(samples.astype(np.float32, copy=False), clip.sample_rate, clip.warp, clip.shift)


def _fit(samples: np.ndarray, length: int) -> np.ndarray:
    """Crop or zero-pad at the end to exactly `length` samples."""
    if len(samples) >= length:
        return samples[:length]
    return np.pad(samples, (0, length - len(samples)))
