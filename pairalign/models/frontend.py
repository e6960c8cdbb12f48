"""Log-mel front end: 16 kHz mono waveform -> normalised log-mel frames."""

from __future__ import annotations

import torch
import torchaudio
from torch import nn

from pairalign.units import SAMPLE_RATE, Hertz


class LogMel(nn.Module):
    """80 log-mel bins, 25 ms window, 10 ms hop, normalised per utterance and bin.

    Without `seconds`, every frame of the input counts (the dense baseline feeds real audio only).
    With `seconds` (B,), the real audio of each row: the frames whose centre lies inside it are
    normalised over themselves alone and the others are set to 0, and the input is zero-extended
    past its end first, so a clip's frames are the same whatever padding follows it (alone, or
    batched beside longer clips).
    """

    def __init__(self, sample_rate: Hertz = SAMPLE_RATE, n_mels: int = 80) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.hop_length = sample_rate // 100
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=sample_rate // 40,
            win_length=sample_rate // 40,
            hop_length=self.hop_length,
            n_mels=n_mels,
        )

    def frame_mask(self, num_frames: int, seconds: torch.Tensor) -> torch.Tensor:
        """(B, T) True for the 10 ms frames whose centre lies inside the real audio."""
        centres = torch.arange(num_frames, device=seconds.device) * self.hop_length
        return centres[None] < (seconds * self.sample_rate)[:, None]

    def forward(self, waveform: torch.Tensor, seconds: torch.Tensor | None = None) -> torch.Tensor:
        """(B, N) samples -> (B, T, n_mels) with T = N // hop + 1."""
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            wave = waveform.float()
            num_frames = wave.shape[1] // self.hop_length + 1
            if seconds is not None:  # zeros past the end, never the STFT's reflection of it
                wave = nn.functional.pad(wave, (0, self.mel.n_fft))
            logmel = torch.log(self.mel(wave)[..., :num_frames] + 1e-6)  # (B, M, T)
            if seconds is None:
                mean = logmel.mean(dim=-1, keepdim=True)
                std = logmel.std(dim=-1, keepdim=True)
                return ((logmel - mean) / (std + 1e-5)).transpose(1, 2)  # (B, T, M)
            mask = self.frame_mask(num_frames, seconds.to(wave.device).float())[
                :, None
            ]  # (B, 1, T)
            count = mask.sum(dim=-1, keepdim=True).clamp(min=2)
            mean = (logmel * mask).sum(dim=-1, keepdim=True) / count
            var = (((logmel - mean) * mask) ** 2).sum(dim=-1, keepdim=True) / (count - 1)
            normed = (logmel - mean) / (var.sqrt() + 1e-5) * mask
            return normed.transpose(1, 2)  # (B, T, M)
