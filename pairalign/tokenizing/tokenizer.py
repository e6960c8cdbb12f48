"""`Tokenizer`: load a checkpoint, call it on waveforms, get token strings.

    tok = Tokenizer.from_checkpoint("runs/refine-tiny/checkpoint_...")
    strings = tok(waveform)             # (N,) or (B, N) float at 16 kHz -> list of token lists
    tok.vq_strings(waveform)            # the VQ baseline of the same checkpoint

A stage-1 checkpoint gives VQ strings (runs of frame codes made by the VQ-string rule,
`pairalign.strings.rule.string_runs`, under the checkpoint's `VQStringConfig`: codes optionally
grouped, runs shorter than `min_run_frames` merged into a neighbour, then optionally cut down to
`rate` tokens per second; or, with `reduce="dpdp"`, a duration-penalised segmentation of the
frames' code costs within that budget); a stage-2 checkpoint gives PairAlign strings (greedy, as
the checkpoint's decoder makes them: `Decoder.greedy`).
An exported tokenizer may record which of its kinds was measured best (`tok.default_kind`, with
`tok.kind_note` saying by what measurement): `kind: auto` (`pairalign.tokenizing.kinds`) uses it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pairalign.models.checkpoint import (
    CheckpointError,
    checkpoint_model_config,
    load_checkpoint,
    resolve_checkpoint,
)
from pairalign.models.decoder_kinds import Decoder
from pairalign.models.decoding import Decoded
from pairalign.models.pairalign_model import PairAlignModel
from pairalign.models.quantizer import group_codes
from pairalign.models.vq_model import Encoded, VQModel
from pairalign.strings.rule import VQStringConfig, string_runs
from pairalign.strings.runs import Runs
from pairalign.tokenizing.tokenizer_kind import TokenizerKind


class Tokenizer:
    """Token strings of waveforms from a stage-1 `VQModel` (VQ strings) or a stage-2
    `PairAlignModel` (PairAlign strings by `PairAlignModel.decode`, and the VQ strings of its
    stage-1 part). The model is put in eval mode on `device`."""

    def __init__(
        self,
        model: VQModel | PairAlignModel,
        *,
        checkpoint_id: str = "",
        device: str = "cpu",
        strings: VQStringConfig | None = None,
        default_kind: TokenizerKind | str | None = None,
        kind_note: str = "",
    ) -> None:
        model = model.to(device).eval()
        self.pairalign = model if isinstance(model, PairAlignModel) else None
        self.model: VQModel = model.vq if isinstance(model, PairAlignModel) else model
        self.config = self.model.config
        self.checkpoint_id = checkpoint_id
        self.device = torch.device(device)
        self.strings = strings or VQStringConfig()
        self.code_map = (
            group_codes(self.model.quantizer.codebook, self.strings.groups)
            if self.strings.groups
            else None
        )  # (K,) code -> group
        # the kind its export records as measured best (`kind: auto` uses it), and the measurement
        self.default_kind = _default_kind(default_kind, self.pairalign is not None, checkpoint_id)
        self.kind_note = kind_note

    @classmethod
    def from_checkpoint(cls, path: str, device: str = "cpu") -> Tokenizer:
        """A checkpoint directory or file, a run directory (its latest checkpoint) or an exported
        tokenizer file; anything else raises `CheckpointError` saying what was expected."""
        path = resolve_checkpoint(path)
        payload = load_checkpoint(path, map_location=device)
        config = checkpoint_model_config(payload)
        checkpoint_id = f"{path}@step{payload['step']}"
        strings = VQStringConfig(**payload.get("vq_strings", {}))
        model = PairAlignModel(config) if payload["stage"] == "refine" else VQModel(config)
        model.load_state_dict(payload["model"])
        return cls(
            model,
            checkpoint_id=checkpoint_id,
            device=device,
            strings=strings,
            default_kind=payload.get("default_kind"),
            kind_note=payload.get("kind_note", ""),
        )

    @property
    def decoder(self) -> Decoder | None:
        return self.pairalign.decoder if self.pairalign is not None else None

    @property
    def timing_seconds(self) -> float:
        """PairAlign timing fractions are of this many seconds (the training clip)."""
        if self.pairalign is None:
            raise ValueError(f"{self.checkpoint_id}: a stage-1 checkpoint has no decoder timing")
        return self.pairalign.config.decoding.timing_seconds

    @property
    def kind(self) -> TokenizerKind:
        return TokenizerKind.PAIRALIGN if self.pairalign is not None else TokenizerKind.VQ

    @property
    def vocab_size(self) -> int:
        return self.config.quantizer.codebook_size

    @property
    def vq_vocab_size(self) -> int:
        """Distinct tokens of the VQ strings: the codes, or their groups."""
        return self.strings.groups or self.vocab_size

    def with_strings(self, strings: VQStringConfig) -> Tokenizer:
        """The same model with other VQ-string settings (e.g. to compare them)."""
        return Tokenizer(
            self.pairalign or self.model,
            checkpoint_id=self.checkpoint_id,
            device=str(self.device),
            strings=strings,
            default_kind=self.default_kind,
            kind_note=self.kind_note,
        )

    def _waves(self, waveforms, seconds) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N) float on the device, a copy, and (B,) seconds of real audio (on the CPU)."""
        wave = torch.from_numpy(np.array(waveforms, dtype=np.float32)).to(self.device)  # a copy
        if wave.ndim == 1:
            wave = wave[None]
        if seconds is None:
            secs = torch.full((len(wave),), wave.shape[1] / self.config.sample_rate)
        else:
            secs = torch.as_tensor(seconds, dtype=torch.float32)
        return wave, secs

    def _encode(self, waveforms, seconds) -> tuple[Encoded, torch.Tensor]:
        wave, secs = self._waves(waveforms, seconds)
        return self.model(wave, secs), secs

    @torch.no_grad()
    def frame_codes(self, waveforms, seconds: Sequence[float] | None = None) -> list[np.ndarray]:
        """Per-frame codes of each waveform, trimmed to its real audio.  # [(T_i,)]"""
        encoded, secs = self._encode(waveforms, seconds)
        return [c.codes for c in self.model.string_contexts(encoded, VQStringConfig(), secs)]

    @torch.no_grad()
    def string_runs(self, waveforms, seconds: Sequence[float] | None = None) -> list[Runs]:
        """The runs the VQ strings are made of, per clip: (values, starts, ends) in frames, by the
        VQ-string rule (`strings.rule.string_runs`) under `self.strings`, of the contexts
        `VQModel.string_contexts` makes (as the segment decoder's prior reads them)."""
        encoded, secs = self._encode(waveforms, seconds)
        contexts = self.model.string_contexts(encoded, self.strings, secs, self.code_map)
        return [string_runs(context, self.strings) for context in contexts]

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
        """PairAlign strings with per-token (start, end) timing as fractions of `timing_seconds`
        (`PairAlignModel.decode`: the free decoder's within its budget)."""
        if self.pairalign is None:
            raise ValueError(
                f"{self.checkpoint_id}: a stage-1 checkpoint has no decoder; use vq_strings"
            )
        wave, secs = self._waves(waveforms, seconds)
        return self.pairalign.decode(wave, secs, use_cache=use_cache)

    @torch.no_grad()
    def condition(
        self, waveforms, seconds: Sequence[float] | None = None
    ) -> tuple[Encoded, torch.Tensor]:
        """(encoding whose `frames` are what the decoder reads, seconds): the training path's
        condition (`PairAlignModel.forward`)."""
        wave, secs = self._waves(waveforms, seconds)
        return self.pairalign(wave, secs), secs

    def pairalign_strings(
        self, waveforms, seconds: Sequence[float] | None = None
    ) -> list[list[int]]:
        return self.decode(waveforms, seconds).strings

    def __call__(self, waveforms, seconds: Sequence[float] | None = None) -> list[list[int]]:
        if self.pairalign is None:
            return self.vq_strings(waveforms, seconds)
        return self.pairalign_strings(waveforms, seconds)


def _default_kind(
    value: TokenizerKind | str | None, has_decoder: bool, where: str
) -> TokenizerKind | None:
    """A recorded default kind, checked (`TokenizerKind.of_model`); or None."""
    if value is None:
        return None
    try:
        return TokenizerKind.of_model(value, has_decoder, f"{where}: default_kind")
    except ValueError as err:
        raise CheckpointError(str(err)) from None
