"""`Tokenizer`: load a checkpoint, call it on waveforms, get token strings.

    tok = Tokenizer.from_checkpoint("runs/refine-tiny/checkpoint_...")
    strings = tok(waveform)             # (N,) or (B, N) float at 16 kHz -> list of token lists
    tok.vq_strings(waveform)            # the VQ baseline of the same checkpoint

A stage-1 checkpoint gives VQ strings (collapsed runs of frame codes, after the checkpoint's
`VQStringConfig`: codes optionally grouped, runs shorter than `min_run_frames` merged into a
neighbour, then optionally cut down to `rate` tokens per second by `reduce_runs`); a stage-2 checkpoint gives PairAlign strings (greedy, KV-cached decoding bounded by
duration x target rate x slack).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pairalign.models.checkpoint import (
    checkpoint_model_config,
    load_checkpoint,
    resolve_checkpoint,
)
from pairalign.models.decoding import Decoded, greedy_decode, max_lengths
from pairalign.models.vq_model import TokenizerModel
from pairalign.strings import Reduce, Runs, merge_short_runs, reduce_runs


@dataclass(frozen=True)
class VQStringConfig:
    """How frame codes become a VQ string (stored with a checkpoint, under `vq_strings`)."""

    min_run_frames: int = 1  # runs shorter than this join a neighbour before runs collapse
    groups: int = 0  # > 0: codes clustered into this many groups (k-means on the codebook)
    rate: float = 0.0  # > 0: at most max(1, round(seconds x rate)) tokens (after the above)
    reduce: Reduce = "merge"  # how: merge the shortest runs, or keep evenly spaced run indices


class Tokenizer:
    def __init__(self, model: TokenizerModel, *, decoder=None, target_rate: float = 12.5,
                 decode_slack: float = 1.5, timing_seconds: float = 3.0, checkpoint_id: str = "",
                 device: str = "cpu", strings: VQStringConfig | None = None) -> None:  # fmt: skip
        self.model = model.to(device).eval()
        self.decoder = decoder.to(device).eval() if decoder is not None else None
        self.config = model.config
        self.target_rate, self.decode_slack = target_rate, decode_slack
        self.timing_seconds = timing_seconds  # timing-head fractions are of this many seconds
        self.checkpoint_id = checkpoint_id
        self.device = torch.device(device)
        self.strings = strings or VQStringConfig()
        self.code_map = (
            group_codes(self.model.quantizer.codebook, self.strings.groups)
            if self.strings.groups
            else None
        )  # (K,) code -> group

    @classmethod
    def from_checkpoint(cls, path: str, device: str = "cpu") -> Tokenizer:
        """A checkpoint directory or file, a run directory (its latest checkpoint) or an exported
        tokenizer file; anything else raises `CheckpointError` saying what was expected."""
        path = resolve_checkpoint(path)
        payload = load_checkpoint(path, map_location=device)
        config = checkpoint_model_config(payload)
        checkpoint_id = f"{path}@step{payload['step']}"
        strings = VQStringConfig(**payload.get("vq_strings", {}))
        if payload["stage"] != "refine":
            model = TokenizerModel(config)
            model.load_state_dict(payload["model"])
            return cls(model, checkpoint_id=checkpoint_id, device=device, strings=strings)
        from pairalign.models.pairalign_model import PairAlignModel

        full = PairAlignModel(config)
        full.load_state_dict(payload["model"])
        decoding = payload.get("decoding", {})
        return cls(full.tokenizer, decoder=full.decoder, checkpoint_id=checkpoint_id, device=device,
                   strings=strings, target_rate=decoding.get("target_rate", 12.5),
                   decode_slack=decoding.get("decode_slack", 1.5),
                   timing_seconds=decoding.get("clip_seconds", 3.0))  # fmt: skip

    @property
    def kind(self) -> str:
        return "pairalign" if self.decoder is not None else "vq"

    @property
    def vocab_size(self) -> int:
        return self.config.quantizer.codebook_size

    @property
    def vq_vocab_size(self) -> int:
        """Distinct tokens of the VQ strings: the codes, or their groups."""
        return self.strings.groups or self.vocab_size

    def with_strings(self, strings: VQStringConfig) -> Tokenizer:
        """The same model with other VQ-string settings (e.g. to compare them)."""
        return Tokenizer(self.model, decoder=self.decoder, target_rate=self.target_rate,
                         decode_slack=self.decode_slack, timing_seconds=self.timing_seconds,
                         checkpoint_id=self.checkpoint_id, device=str(self.device),
                         strings=strings)  # fmt: skip

    def _encode(self, waveforms, seconds):
        wave = torch.from_numpy(np.array(waveforms, dtype=np.float32)).to(self.device)  # a copy
        if wave.ndim == 1:
            wave = wave[None]
        if seconds is None:
            secs = torch.full((len(wave),), wave.shape[1] / self.config.sample_rate)
        else:
            secs = torch.as_tensor(seconds, dtype=torch.float32)
        return self.model(wave, secs), secs

    @torch.no_grad()
    def frame_codes(self, waveforms, seconds: Sequence[float] | None = None) -> list[np.ndarray]:
        """Per-frame codes of each waveform, trimmed to its real audio.  # [(T_i,)]"""
        return self._frame_codes(waveforms, seconds)[0]

    @torch.no_grad()
    def _frame_codes(self, waveforms, seconds) -> tuple[list[np.ndarray], list[float]]:
        encoded, secs = self._encode(waveforms, seconds)
        codes = encoded.quantized.codes.cpu().numpy()
        mask = encoded.mask.cpu().numpy()
        return [row[m] for row, m in zip(codes, mask, strict=True)], secs.tolist()

    def string_runs(self, waveforms, seconds: Sequence[float] | None = None) -> list[Runs]:
        """The runs the VQ strings are made of, per clip: (values, starts, ends) in frames, after
        code groups, short-run merging and rate reduction (`VQStringConfig`)."""
        out = []
        for codes, secs in zip(*self._frame_codes(waveforms, seconds), strict=True):
            if self.code_map is not None:
                codes = self.code_map[codes]
            codes = merge_short_runs(codes, self.strings.min_run_frames)
            out.append(reduce_runs(codes, secs, self.strings.rate, self.strings.reduce))
        return out

    def string_codes(self, waveforms, seconds: Sequence[float] | None = None) -> list[np.ndarray]:
        """Per-frame codes as the VQ strings see them: grouped, short runs merged, rate-reduced
        runs spread over their frames (index-thinned neighbours with one code show as one run
        here, not in `vq_strings`).  # [(T_i,)]"""
        return [np.repeat(v, e - s) for v, s, e in self.string_runs(waveforms, seconds)]

    def vq_strings(self, waveforms, seconds: Sequence[float] | None = None) -> list[list[int]]:
        return [values.tolist() for values, _, _ in self.string_runs(waveforms, seconds)]

    @torch.no_grad()
    def decode(
        self, waveforms, seconds: Sequence[float] | None = None, *, use_cache: bool = True
    ) -> Decoded:
        """PairAlign strings with per-token (start, end) timing as fractions of `timing_seconds`."""
        if self.decoder is None:
            raise ValueError(
                f"{self.checkpoint_id}: a stage-1 checkpoint has no decoder; use vq_strings"
            )
        encoded, secs = self.condition(waveforms, seconds)
        budget = max_lengths(secs, self.target_rate, self.decode_slack, self.decoder.config.max_len)
        return greedy_decode(
            self.decoder, encoded.frames, encoded.mask, budget, use_cache=use_cache
        )

    @torch.no_grad()
    def condition(self, waveforms, seconds: Sequence[float] | None = None):
        """(encoding whose `frames` are what the decoder reads, seconds): the training path's
        condition (`pairalign_model.decoder_condition`)."""
        from pairalign.models.pairalign_model import decoder_condition

        encoded, secs = self._encode(waveforms, seconds)
        return decoder_condition(self.model, encoded, self.decoder.config.memory_codes), secs

    def pairalign_strings(
        self, waveforms, seconds: Sequence[float] | None = None
    ) -> list[list[int]]:
        return self.decode(waveforms, seconds).strings

    def __call__(self, waveforms, seconds: Sequence[float] | None = None) -> list[list[int]]:
        if self.decoder is None:
            return self.vq_strings(waveforms, seconds)
        return self.pairalign_strings(waveforms, seconds)


def group_codes(codebook: torch.Tensor, groups: int, iters: int = 50, seed: int = 0) -> np.ndarray:
    """Spherical k-means of the codebook rows into `groups` clusters (k-means++ start, seeded):
    the group of each code.  # (K, C) -> (K,)"""
    rows = torch.nn.functional.normalize(codebook.detach().cpu().double(), dim=-1)
    k = len(rows)
    if not 0 < groups <= k:
        raise ValueError(f"groups={groups} must be in 1..{k} (the codebook size)")
    generator = torch.Generator().manual_seed(seed)
    centres = [int(torch.randint(k, (1,), generator=generator))]
    for _ in range(groups - 1):  # k-means++: next centre far from the chosen ones
        far = (1 - rows @ rows[centres].T).clamp(min=0).min(dim=1).values ** 2
        centres.append(int(torch.multinomial(far + 1e-12, 1, generator=generator)))
    means = rows[centres].clone()
    assign = (rows @ means.T).argmax(dim=1)
    for _ in range(iters):
        for g in range(groups):
            members = rows[assign == g]
            if len(members):
                means[g] = torch.nn.functional.normalize(members.sum(0), dim=0)
        new = (rows @ means.T).argmax(dim=1)
        if torch.equal(new, assign):
            break
        assign = new
    return assign.numpy().astype(np.int64)
