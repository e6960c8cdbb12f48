"""Three tokenizers behind one interface, as the archive job and the evaluation suite use them.

    tok = load_tokenizer(TokenizerSpec(name="pa", kind="pairalign", checkpoint="runs/refine-tiny/..."))
    tok(waveforms, seconds)        # -> list of token lists
    tok.timed(waveforms, seconds)  # -> per clip (tokens, centre time in seconds of each token)

- `pairalign`: strings decoded by a stage-2 checkpoint (timing from its timing head);
- `vq`: collapsed frame codes of a stage-1 or stage-2 checkpoint (the VQ baseline of the same model),
  read with the checkpoint's `VQStringConfig` or the spec's `strings` (e.g. a stage-2 target scheme:
  `strings: {rate: 12.5, reduce: index}` gives the VQ-derived targets of `objectives/targets.py`);
- `dense`: k-means on log-mel frames, one token per pooled frame (pairalign/tokenizing/dense.py).

`collapses` says whether adjacent equal tokens merge (VQ strings): stitching windows of a long
utterance re-collapses after joining (pairalign/tokenizing/windows.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from pairalign.config import PathStr
from pairalign.tokenizing.tokenizer import Tokenizer, VQStringConfig
from pairalign.tokenizing.tokenizer_kind import TokenizerKind

KINDS = tuple(k.value for k in TokenizerKind)
Timed = tuple[np.ndarray, np.ndarray]  # tokens (L,) int64, centre times (L,) seconds


@dataclass(frozen=True)
class TokenizerSpec:
    name: str  # what the archive and the figures call it, e.g. "pairalign" or "dense-k8-p1"
    kind: TokenizerKind  # pairalign, vq or dense (a string is checked and converted here)
    checkpoint: PathStr  # a refine/vq checkpoint directory, or a dense.pt file
    strings: VQStringConfig | None = None  # vq only: these string settings, not the checkpoint's

    def __post_init__(self) -> None:
        kind = TokenizerKind.parse(self.kind, f"tokenizer {self.name!r}: kind")
        object.__setattr__(self, "kind", kind)
        if self.strings is not None and kind != TokenizerKind.VQ:
            raise ValueError(f"tokenizer {self.name!r}: strings= applies to kind vq only")


class StringTokenizer(Protocol):
    name: str
    kind: TokenizerKind
    checkpoint_id: str
    vocab_size: int
    collapses: bool

    def __call__(self, waveforms, seconds: Sequence[float] | None = None) -> list[list[int]]: ...

    def timed(self, waveforms, seconds: Sequence[float] | None = None) -> list[Timed]: ...


class PairAlignStrings:
    kind, collapses = TokenizerKind.PAIRALIGN, False

    def __init__(self, tokenizer: Tokenizer, name: str = "pairalign") -> None:
        if tokenizer.decoder is None:
            raise ValueError(f"{tokenizer.checkpoint_id}: not a refine checkpoint (no decoder)")
        self.tokenizer, self.name = tokenizer, name
        self.checkpoint_id, self.vocab_size = tokenizer.checkpoint_id, tokenizer.vocab_size

    def __call__(self, waveforms, seconds=None) -> list[list[int]]:
        return self.tokenizer.pairalign_strings(waveforms, seconds)

    def timed(self, waveforms, seconds=None) -> list[Timed]:
        decoded = self.tokenizer.decode(waveforms, seconds)
        span = self.tokenizer.timing_seconds
        return [
            (np.asarray(s, dtype=np.int64), (t.numpy().astype(np.float64).mean(axis=1) * span))
            for s, t in zip(decoded.strings, decoded.timing, strict=True)
        ]


class VQStrings:
    kind, collapses = TokenizerKind.VQ, True

    def __init__(self, tokenizer: Tokenizer, name: str = "vq") -> None:
        self.tokenizer, self.name = tokenizer, name
        self.vocab_size = tokenizer.vq_vocab_size
        settings = tokenizer.strings  # other string settings make other strings: another id
        default = type(settings)()
        suffix = f"+min_run{settings.min_run_frames}+groups{settings.groups}"
        if (settings.rate, settings.reduce) != (default.rate, default.reduce):
            suffix += f"+rate{settings.rate:g}+{settings.reduce}"
        self.checkpoint_id = tokenizer.checkpoint_id + (suffix if settings != default else "")

    def __call__(self, waveforms, seconds=None) -> list[list[int]]:
        return self.tokenizer.vq_strings(waveforms, seconds)

    def timed(self, waveforms, seconds=None) -> list[Timed]:
        """Each run's code, at the centre of its frames."""
        frame = self.tokenizer.config.frame_seconds
        return [
            (values.astype(np.int64), (starts + ends) / 2 * frame)
            for values, starts, ends in self.tokenizer.string_runs(waveforms, seconds)
        ]


def load_tokenizer(spec: TokenizerSpec, device: str = "cpu") -> StringTokenizer:
    if spec.kind == TokenizerKind.DENSE:
        from pairalign.tokenizing.dense import DenseTokenizer

        dense = DenseTokenizer.load(spec.checkpoint, device=device)
        dense.name = spec.name
        return dense
    tokenizer = Tokenizer.from_checkpoint(spec.checkpoint, device=device)
    if spec.kind == TokenizerKind.PAIRALIGN:
        return PairAlignStrings(tokenizer, spec.name)
    if spec.strings is not None:
        tokenizer = tokenizer.with_strings(spec.strings)
    return VQStrings(tokenizer, spec.name)
