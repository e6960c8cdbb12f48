"""Log-mel front end: 16 kHz mono waveform -> normalised log-mel frames."""

from __future__ import annotations

import torch
import torchaudio
from torch import nn

from pairalign.units import SAMPLE_RATE, Hertz


class LogMel(nn.Module):
    """80 log-mel bins, 25 ms window, 10 ms hop, normalised per utterance and bin."""

    def __init__(self, sample_rate: Hertz = SAMPLE_RATE, n_mels: int = 80) -> None:
        super().__init__()
        self.hop_length = sample_rate // 100
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=sample_rate // 40,
            win_length=sample_rate // 40,
            hop_length=self.hop_length,
            n_mels=n_mels,
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """(B, N) samples -> (B, T, n_mels) with T = N // hop + 1."""
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            mel = self.mel(waveform.float())  # (B, M, T)
            logmel = torch.log(mel + 1e-6)
            mean = logmel.mean(dim=-1, keepdim=True)
            std = logmel.std(dim=-1, keepdim=True)
            return ((logmel - mean) / (std + 1e-5)).transpose(1, 2)  # (B, T, M)
