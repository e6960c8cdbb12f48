"""The frames two renditions are aligned on, from the project's log-mel front end.

`dtw_features` takes the log-mel frames of `pairalign.models.frontend.LogMel` (80 bins, 25 ms
window, 10 ms hop, centred: frame i is centred at sample i * hop) normalised per utterance and
bin: `logmel`, the default, those frames as they are; `mfcc`, cepstral coefficients 1..`n_mfcc`
of their DCT (c0, the loudness, left out), each normalised over the utterance. On two built-in
voices of the same sentences, aligned by cosine DTW, log-mel frames put 95% of espeak-ng's word
boundaries within 20 ms of the other voice's and MFCC 89% (BENCHMARKS.md, issue 28,
`bench/experiments/dtw_words.py`). `dtw_levels` gives the same frames' levels in dB, for silence
trimming (`trim_silence`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import torch

from pairalign.timing.dtw import frame_levels_db
from pairalign.units import Hertz

FeatureKind = Literal["logmel", "mfcc"]
FRAME_SECONDS = 0.01  # the front end's hop


def dtw_features(
    samples: np.ndarray, sample_rate: Hertz, kind: FeatureKind = "logmel", n_mfcc: int = 12
) -> np.ndarray:
    """Frames of one recording's audio for DTW, frame i centred at sample i * hop.
    # (N,) -> (ceil(N / hop), D) float32: D = 80 (logmel) or n_mfcc (mfcc)"""
    if kind not in ("logmel", "mfcc"):
        raise ValueError(f"unknown DTW features {kind!r} (logmel or mfcc)")
    frontend = _frontend(int(sample_rate))
    wave = torch.as_tensor(np.asarray(samples, np.float32))
    frames = -(-len(wave) // frontend.hop_length)
    if frames == 0:
        raise ValueError("cannot make DTW features of an empty recording")
    n_fft = frontend.mel.n_fft  # a centred STFT reflects n_fft / 2: short clips are padded
    wave = torch.nn.functional.pad(wave, (0, max(0, n_fft - len(wave))))
    with torch.no_grad():
        logmel = frontend(wave[None])[0, :frames].double().numpy()  # (T, M), normalised
    if kind == "logmel":
        return logmel.astype(np.float32)
    cepstra = logmel @ dct_basis(logmel.shape[1], n_mfcc + 1)[:, 1:]  # (T, n_mfcc): c1..c_n
    mean, std = cepstra.mean(0, keepdims=True), cepstra.std(0, keepdims=True)
    return ((cepstra - mean) / (std + 1e-5)).astype(np.float32)


def dtw_levels(samples: np.ndarray, sample_rate: Hertz) -> np.ndarray:
    """Each of `dtw_features`' frames' power in dB, over its own 25 ms window (centred at sample
    i * hop, the start zero-padded).  # (N,) -> (ceil(N / hop),)"""
    hop, window = int(sample_rate) // 100, int(sample_rate) // 40
    frames = -(-len(samples) // hop)
    padded = np.pad(np.asarray(samples, np.float64), (window // 2, 0))
    return frame_levels_db(padded, window, hop)[:frames]


@lru_cache(maxsize=4)
def _frontend(sample_rate: int):
    from pairalign.models.frontend import LogMel  # torchaudio: imported when first used

    return LogMel(sample_rate)


@lru_cache(maxsize=4)
def dct_basis(n: int, k: int) -> np.ndarray:
    """Orthonormal DCT-II basis.  # -> (n, k)"""
    i = np.arange(n)[:, None] + 0.5
    basis = np.cos(np.pi / n * i * np.arange(k)[None]) * np.sqrt(2.0 / n)
    basis[:, 0] /= np.sqrt(2.0)
    return basis
