"""The frames two renditions are aligned on: MFCC from the project's log-mel front end.

`dtw_features` takes the normalised log-mel frames (`pairalign.models.frontend.LogMel`: 25 ms
window, 10 ms hop, normalised per utterance and bin), keeps cepstral coefficients 1..`n_mfcc`
of their DCT (c0, the loudness, is left out: two voices differ in it more than in content) and
normalises each over the utterance. Frame i starts at sample i * hop, as `frame_levels_db`
counts them, so the two line up for silence trimming.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import torch

from pairalign.units import Hertz

FeatureKind = Literal["mfcc", "logmel"]
FRAME_SECONDS = 0.01  # the front end's hop


def dtw_features(
    samples: np.ndarray, sample_rate: Hertz, kind: FeatureKind = "mfcc", n_mfcc: int = 12
) -> np.ndarray:
    """Frames of one recording's audio for DTW.  # (N,) -> (ceil(N / hop), D) float32"""
    frontend = _frontend(int(sample_rate))
    wave = torch.as_tensor(np.asarray(samples, np.float32))
    frames = -(-len(wave) // frontend.hop_length)
    if frames == 0:
        raise ValueError("cannot make DTW features of an empty recording")
    n_fft = frontend.mel.n_fft
    wave = torch.nn.functional.pad(wave, (0, max(0, n_fft - len(wave))))
    with torch.no_grad():
        logmel = frontend(wave[None])[0, :frames].double().numpy()  # (T, M), normalised
    if kind == "logmel":
        return logmel.astype(np.float32)
    if kind != "mfcc":
        raise ValueError(f"unknown DTW features {kind!r} (mfcc or logmel)")
    cepstra = logmel @ _dct(logmel.shape[1], n_mfcc + 1)[:, 1:]  # (T, n_mfcc): c1..c_n
    mean, std = cepstra.mean(0, keepdims=True), cepstra.std(0, keepdims=True)
    return ((cepstra - mean) / (std + 1e-5)).astype(np.float32)


@lru_cache(maxsize=4)
def _frontend(sample_rate: int):
    from pairalign.models.frontend import LogMel

    return LogMel(sample_rate)


@lru_cache(maxsize=4)
def _dct(n: int, k: int) -> np.ndarray:
    """Orthonormal DCT-II basis.  # -> (n, k)"""
    i = np.arange(n)[:, None] + 0.5
    basis = np.cos(np.pi / n * i * np.arange(k)[None]) * np.sqrt(2.0 / n)
    basis[:, 0] /= np.sqrt(2.0)
    return basis
