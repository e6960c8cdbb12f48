"""`kind: auto`, chosen once (`choose_kind`) for the command line and the workflows alike."""

from __future__ import annotations

import numpy as np
import pytest

from pairalign.config import from_dict, to_dict
from pairalign.models.checkpoint import export_tokenizer
from pairalign.strings.rule import VQStringConfig
from pairalign.tokenizing.kinds import (
    AUTO,
    TokenizerSpec,
    choose_kind,
    load_tokenizer,
    resolve_spec,
)
from pairalign.tokenizing.tokenizer import Tokenizer
from pairalign.tokenizing.tokenizer_kind import TokenizerKind

NOTE = "retrieval MAP 0.93 (vq) vs 0.58 (pairalign)"


@pytest.fixture(scope="module")
def vq_default(small_checkpoints, tmp_path_factory) -> str:
    """The refine checkpoint exported with a recorded choice of vq strings."""
    out = tmp_path_factory.mktemp("export") / "vq-default.pt"
    return export_tokenizer(
        small_checkpoints["refine"], str(out), default_kind="vq", kind_note=NOTE
    )


def test_auto_takes_the_recorded_choice_else_pairalign_with_a_decoder_else_vq(
    small_checkpoints, vq_default
):
    refine = Tokenizer.from_checkpoint(small_checkpoints["refine"])
    stage1 = Tokenizer.from_checkpoint(small_checkpoints["vq"])
    chosen = choose_kind(AUTO, Tokenizer.from_checkpoint(vq_default))
    assert chosen.kind is TokenizerKind.VQ and chosen.reason == (
        f"auto: the export's measured choice: {NOTE}"
    )
    assert choose_kind(AUTO, refine).kind is TokenizerKind.PAIRALIGN
    assert "decoder" in choose_kind(AUTO, refine).reason
    assert choose_kind(AUTO, stage1).kind is TokenizerKind.VQ
    # a named kind is taken as named, whatever the export recorded
    named = choose_kind("pairalign", Tokenizer.from_checkpoint(vq_default))
    assert (named.kind, named.reason) == (TokenizerKind.PAIRALIGN, "")
    with pytest.raises(ValueError, match="no decoder"):
        choose_kind("pairalign", stage1)


def test_resolve_spec_names_an_unnamed_spec_after_the_kind_it_chose(small_checkpoints, vq_default):
    spec = from_dict(TokenizerSpec, {"name": "", "kind": "auto", "checkpoint": vq_default})
    assert spec.kind == AUTO and to_dict(spec)["kind"] == "auto"
    resolved, choice = resolve_spec(spec)
    assert (resolved.name, resolved.kind, resolved.checkpoint) == (
        "vq",
        TokenizerKind.VQ,
        vq_default,
    )
    assert NOTE in choice.reason
    refine, _ = resolve_spec(TokenizerSpec("", AUTO, small_checkpoints["refine"]))
    assert (refine.name, refine.kind) == ("pairalign", TokenizerKind.PAIRALIGN)
    kept, choice = resolve_spec(TokenizerSpec("mine", "vq", small_checkpoints["refine"]))
    assert (kept.name, kept.kind, choice.reason) == ("mine", TokenizerKind.VQ, "")
    with pytest.raises(ValueError, match="strings= applies to kind vq only"):
        resolve_spec(TokenizerSpec("s", AUTO, small_checkpoints["refine"], VQStringConfig()))


def test_an_auto_spec_loads_the_strings_of_the_kind_it_resolves_to(small_checkpoints, vq_default):
    wave = 0.1 * np.random.default_rng(3).standard_normal((2, 32_000)).astype(np.float32)
    auto = load_tokenizer(TokenizerSpec("", AUTO, vq_default))
    named = load_tokenizer(TokenizerSpec("vq", "vq", small_checkpoints["refine"]))
    assert (auto.kind, auto.name) == (TokenizerKind.VQ, "vq")
    assert auto(wave) == named(wave)
    plain = load_tokenizer(TokenizerSpec("", AUTO, small_checkpoints["refine"]))
    assert plain.kind is TokenizerKind.PAIRALIGN and plain.name == "pairalign"
