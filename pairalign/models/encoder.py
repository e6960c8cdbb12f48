"""Encoder: convolutional subsampling of log-mel frames, then Transformer layers.

Its output frame sequence is the continuous condition `c` that the quantizer and the decoder read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn


@dataclass(frozen=True)
class EncoderConfig:
    n_mels: int = 80
    dim: int = 128
    layers: int = 2
    heads: int = 4
    ff_mult: int = 4
    dropout: float = 0.1
    subsample: int = 2  # log-mel frames (10 ms) per encoder frame: 2 -> 50 frames/s, 4 -> 25
    max_frames: int = 2048
    # absolute: learned embeddings of the frame index (the encoder knows where in the clip a frame
    # is); conv: a depthwise convolution over ~0.3 s adds relative position only; none: neither
    positions: Literal["absolute", "conv", "none"] = "conv"


class Encoder(nn.Module):
    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        if config.subsample not in (2, 4):
            raise ValueError(f"encoder.subsample must be 2 or 4, got {config.subsample}")
        self.config = config
        convs: list[nn.Module] = []
        channels = config.n_mels
        for _ in range(int(math.log2(config.subsample))):
            convs += [nn.Conv1d(channels, config.dim, 3, stride=2, padding=1), nn.GELU()]
            channels = config.dim
        self.subsample = nn.Sequential(*convs)
        if config.positions == "absolute":
            self.position = nn.Embedding(config.max_frames, config.dim)
        elif config.positions == "conv":  # odd width, ~0.32 s at any frame rate
            width = 2 * round(16 / config.subsample) + 1
            self.position = nn.Conv1d(
                config.dim, config.dim, width, padding=width // 2, groups=config.dim
            )
        layer = nn.TransformerEncoderLayer(
            config.dim,
            config.heads,
            config.dim * config.ff_mult,
            config.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.layers = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, logmel: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, n_mels) -> (B, T', dim) with T' = ceil(T / subsample); `mask` (B, T') True on
        frames of real audio: attention never reads the others (their outputs are not used)."""
        x = self.subsample(logmel.transpose(1, 2)).transpose(1, 2)  # (B, T', D)
        if mask is not None:  # padding frames hold nothing a convolution could carry inward
            x = x * mask[..., None]
        if self.config.positions == "absolute":
            x = x + self.position(torch.arange(x.shape[1], device=x.device))[None]
        elif self.config.positions == "conv":
            x = x + nn.functional.gelu(self.position(x.transpose(1, 2))).transpose(1, 2)
        padding = None if mask is None else ~mask
        return self.norm(self.layers(x, src_key_padding_mask=padding))
