"""The tokenizer model: log-mel front end, encoder, VQ codebook and a frame-synchronous prior.

Stage 1 (VQ) trains all of it; stage 2 adds an autoregressive decoder on top of the same encoder.
Checkpoints carry the `ModelConfig`, so a model is rebuilt from its checkpoint alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from pairalign.models.encoder import Encoder, EncoderConfig
from pairalign.models.frontend import LogMel
from pairalign.models.quantizer import Quantized, QuantizerConfig, VectorQuantizer, group_codes
from pairalign.strings.rule import StringContext, VQStringConfig, batch_contexts
from pairalign.units import SAMPLE_RATE, Hertz, Seconds


@dataclass(frozen=True)
class ModelConfig:
    sample_rate: Hertz = SAMPLE_RATE
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)
    label_classes: int = 0  # > 0: a head that predicts this many pseudo-label classes per frame

    @property
    def frame_seconds(self) -> Seconds:
        """Duration of one encoder frame (10 ms log-mel hop x subsampling)."""
        return 0.01 * self.encoder.subsample


MODEL_SIZES: dict[str, ModelConfig] = {
    # CPU runs and tests: ~0.6 M parameters.
    "tiny": ModelConfig(),
    # One GPU: ~20 M parameters.
    "base": ModelConfig(
        encoder=EncoderConfig(dim=384, layers=8, heads=6),
        quantizer=QuantizerConfig(codebook_size=512, code_dim=64),
    ),
}


def model_config(size: str) -> ModelConfig:
    """The named model size ("tiny" or "base")."""
    if size not in MODEL_SIZES:
        raise ValueError(f"unknown model size {size!r}; expected one of {sorted(MODEL_SIZES)}")
    return MODEL_SIZES[size]


@dataclass
class Encoded:
    frames: torch.Tensor  # (B, T, D) the continuous condition c
    mask: torch.Tensor  # (B, T) True where the frame covers real (unpadded) audio
    quantized: Quantized
    prior_logits: torch.Tensor  # (B, T, K) the prior head's code prediction for each frame
    label_logits: torch.Tensor | None = (
        None  # (B, T, L) pseudo-label classes, if the model has them
    )
    # per row, what the VQ-string rule reads (`VQModel.string_contexts`): set by the stage-2 model
    # for a decoder that copies the VQ strings (`PairAlignModel.forward`)
    contexts: list[StringContext] | None = None

    def split(self, n: int) -> tuple[Encoded, Encoded]:
        """Split a batch that stacked two views ([A; B]) into the first n rows and the rest."""
        q = self.quantized
        parts = []
        for rows in (slice(0, n), slice(n, None)):
            quantized = Quantized(
                q.codes[rows], q.quantized[rows], q.latents[rows], q.logits[rows], q.losses
            )
            labels = None if self.label_logits is None else self.label_logits[rows]
            contexts = None if self.contexts is None else self.contexts[rows]
            parts.append(
                Encoded(
                    self.frames[rows],
                    self.mask[rows],
                    quantized,
                    self.prior_logits[rows],
                    labels,
                    contexts,
                )
            )
        return parts[0], parts[1]


class VQModel(nn.Module):
    """Front end + encoder + quantizer + prior head (a frame's code guessed from the other view)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.frontend = LogMel(config.sample_rate, config.encoder.n_mels)
        self.encoder = Encoder(config.encoder)
        self.quantizer = VectorQuantizer(config.encoder.dim, config.quantizer)
        self.prior = nn.Sequential(
            nn.Linear(config.encoder.dim, config.encoder.dim),
            nn.GELU(),
            nn.Linear(config.encoder.dim, config.quantizer.codebook_size),
        )
        if config.label_classes:
            self.labeler = nn.Linear(config.encoder.dim, config.label_classes)

    def forward(self, waveform: torch.Tensor, seconds: torch.Tensor | None = None) -> Encoded:
        """waveform (B, N) at config.sample_rate; seconds (B,) of real audio in each row. Frames
        past the real audio are masked from the front end's normalisation and the encoder's
        attention, so a clip encodes the same alone or beside longer clips."""
        if seconds is None:
            seconds = torch.full((waveform.shape[0],), waveform.shape[1] / self.config.sample_rate)
        seconds = seconds.to(waveform.device).float()
        logmel = self.frontend(waveform, seconds)  # (B, T, M)
        num_frames = -(-logmel.shape[1] // self.config.encoder.subsample)
        mask = self.frame_mask(num_frames, seconds, waveform)  # (B, T')
        frames = self.encoder(logmel, mask)  # (B, T', D)
        labels = self.labeler(frames) if self.config.label_classes else None
        return Encoded(frames, mask, self.quantizer(frames, mask), self.prior(frames), labels)

    @torch.no_grad()
    def string_contexts(
        self,
        encoded: Encoded,
        strings: VQStringConfig,
        seconds: torch.Tensor | None = None,
        code_map: np.ndarray | None = None,
    ) -> list[StringContext]:
        """What the VQ-string rule reads of each row of `encoded` to make its VQ string under
        `strings` (`strings.rule.string_runs`): the codes of its valid frames; its `seconds` of
        real audio (without them: its valid frames x `frame_seconds`); the frames' code costs
        (`quantizer.costs`) and the codes' groups (`code_map`, else `group_codes` of the codebook)
        where `strings` needs them. The one place a context is made of the model's output: the
        `Tokenizer`'s VQ strings and the segment decoder's prior both come from here."""
        mask = encoded.mask.cpu().numpy()
        if seconds is None:
            seconds = encoded.mask.sum(1) * self.config.frame_seconds
        needs = strings.needs
        costs = self.quantizer.costs(encoded.quantized) if "costs" in needs else None
        if code_map is None and "code_map" in needs:
            code_map = group_codes(self.quantizer.codebook, strings.groups)
        return batch_contexts(
            encoded.quantized.codes.cpu().numpy(),
            mask,
            seconds.tolist(),
            None if costs is None else costs.cpu().numpy(),
            code_map,
        )

    def frame_mask(
        self, num_frames: int, seconds: torch.Tensor | None, waveform: torch.Tensor
    ) -> torch.Tensor:
        """(B, T) True for frames that start inside the real audio."""
        if seconds is None:
            seconds = torch.full((waveform.shape[0],), waveform.shape[1] / self.config.sample_rate)
        starts = torch.arange(num_frames, device=waveform.device) * self.config.frame_seconds
        return starts[None] < seconds.to(waveform.device)[:, None]
