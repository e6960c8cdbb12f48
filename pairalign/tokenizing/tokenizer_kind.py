"""The kinds of tokenizer, checked once where a name becomes a `TokenizerKind`."""

from __future__ import annotations

from enum import StrEnum


class TokenizerKind(StrEnum):
    """What makes the strings: a stage-2 decoder, stage-1 frame codes, or dense k-means."""

    PAIRALIGN = "pairalign"  # greedy strings of a stage-2 checkpoint's decoder
    VQ = "vq"  # collapsed frame codes of a stage-1 (or stage-2) checkpoint
    DENSE = "dense"  # k-means of log-mel frames (pairalign/tokenizing/dense.py)

    @classmethod
    def parse(cls, value: str | TokenizerKind, where: str = "kind") -> TokenizerKind:
        """`value` as a kind, or a ValueError naming `where` and the kinds there are."""
        try:
            return cls(value)
        except ValueError:
            kinds = [k.value for k in cls]
            raise ValueError(f"{where}: {value!r} is not one of {kinds}") from None

    @classmethod
    def of_model(
        cls, value: str | TokenizerKind, has_decoder: bool, where: str = "kind"
    ) -> TokenizerKind:
        """`value` as a kind of a model checkpoint's strings: vq, or pairalign when it has a
        decoder; a ValueError naming `where` otherwise."""
        kind = cls.parse(value, where)
        if kind == cls.DENSE or (kind == cls.PAIRALIGN and not has_decoder):
            allowed = "pairalign or vq" if has_decoder else "vq: a stage-1 tokenizer has no decoder"
            raise ValueError(f"{where} {kind.value!r} is not a kind of its strings ({allowed})")
        return kind
