"""`Tokenizer`: load a checkpoint, call it on waveforms, get token strings.

tok = Tokenizer.from_checkpoint("runs/vq-tiny/checkpoint_000003")
strings = tok(waveform)           # (N,) or (B, N) float at 16 kHz -> list of token lists
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pairalign.checkpoint import checkpoint_model_config, load_checkpoint
from pairalign.model import TokenizerModel
from pairalign.strings import collapse_runs


class Tokenizer:
    """VQ token strings (collapsed runs of frame codes) from a stage-1 checkpoint."""

    def __init__(
        self, model: TokenizerModel, *, checkpoint_id: str = "", device: str = "cpu"
    ) -> None:
        self.model = model.to(device).eval()
        self.config = model.config
        self.checkpoint_id = checkpoint_id
        self.device = torch.device(device)

    @classmethod
    def from_checkpoint(cls, path: str, device: str = "cpu") -> Tokenizer:
        payload = load_checkpoint(path, map_location=device)
        model = TokenizerModel(checkpoint_model_config(payload))
        model.load_state_dict(payload["model"])
        return cls(model, checkpoint_id=f"{path}@step{payload['step']}", device=device)

    @property
    def vocab_size(self) -> int:
        return self.config.quantizer.codebook_size

    @torch.no_grad()
    def frame_codes(
        self, waveforms: np.ndarray | torch.Tensor, seconds: Sequence[float] | None = None
    ) -> list[np.ndarray]:
        """Per-frame codes of each waveform, trimmed to its real audio.  # [(T_i,)]"""
        wave = torch.from_numpy(np.array(waveforms, dtype=np.float32)).to(self.device)  # a copy
        if wave.ndim == 1:
            wave = wave[None]
        secs = None if seconds is None else torch.as_tensor(seconds, dtype=torch.float32)
        encoded = self.model(wave, secs)
        codes = encoded.quantized.codes.cpu().numpy()
        mask = encoded.mask.cpu().numpy()
        return [row[m] for row, m in zip(codes, mask, strict=True)]

    def vq_strings(
        self, waveforms: np.ndarray | torch.Tensor, seconds: Sequence[float] | None = None
    ) -> list[list[int]]:
        return [collapse_runs(codes) for codes in self.frame_codes(waveforms, seconds)]

    __call__ = vq_strings
