"""The held-out halves and the figures a sweep selects on."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import torch

from pairalign.data.splits import half_rows
from pairalign.evaluation.figures import ClipSet
from pairalign.evaluation.heldout import HeldoutConfig, heldout_figures
from pairalign.models.encoder import EncoderConfig
from pairalign.models.quantizer import QuantizerConfig
from pairalign.models.vq_model import ModelConfig, VQModel
from pairalign.tokenizing.kinds import VQStrings
from pairalign.tokenizing.tokenizer import Tokenizer
from pairalign.tokenizing.windows import tokenize_clips

SMALL = ModelConfig(
    encoder=EncoderConfig(dim=32, layers=1, heads=2),
    quantizer=QuantizerConfig(codebook_size=32, code_dim=8),
)


def _manifest(sentences: int = 6, voices: int = 3) -> pa.Table:
    rows = [
        {
            "utterance_id": f"v{v}_s{172 + s:04d}",
            "content_id": f"s{172 + s:04d}",
            "speaker": f"v{v}",
            "split": "test",
        }
        for s in range(sentences)
        for v in range(voices)
    ]
    rows.append(
        {"utterance_id": "v0_s0001", "content_id": "s0001", "speaker": "v0", "split": "train"}
    )
    return pa.Table.from_pylist(rows)


def test_halves_split_the_eval_sentences_with_all_their_voices():
    manifest = _manifest()
    dev, test = half_rows(manifest, "test", "dev"), half_rows(manifest, "test", "test")
    dev_ids, test_ids = set(dev["content_id"].to_pylist()), set(test["content_id"].to_pylist())
    assert dev_ids == {"s0172", "s0174", "s0176"} and test_ids == {"s0173", "s0175", "s0177"}
    assert len(dev) + len(test) == 18  # every test clip, no train clip, each in one half
    assert set(dev["utterance_id"].to_pylist()).isdisjoint(test["utterance_id"].to_pylist())
    assert len(half_rows(manifest, "test", "dev", sentences=2)) == 2 * 3  # every voice of 2
    with pytest.raises(ValueError, match="no sentences"):
        half_rows(manifest, "dev-clean", "dev")


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    torch.manual_seed(0)
    model = VQModel(SMALL).train()
    model(0.1 * torch.randn(2, 48_000))  # initialise the codebook
    return Tokenizer(model)


def test_a_clips_string_does_not_depend_on_its_batch(tokenizer):
    rng = np.random.default_rng(0)
    seconds = [1.2, 2.9, 0.7, 3.4, 2.0, 3.4, 1.6]  # two longer than the 3 s padding
    audio = [0.1 * rng.standard_normal(round(s * 16_000)).astype(np.float32) for s in seconds]
    alone = tokenize_clips(VQStrings(tokenizer), audio, 16_000, batch_size=1)
    batched = tokenize_clips(VQStrings(tokenizer), audio, 16_000, batch_size=4)
    assert batched == alone
    assert [len(s) > 0 for s in alone] == [True] * len(audio)


def test_figures_of_a_stage1_checkpoint_are_its_vq_strings(tokenizer):
    rng = np.random.default_rng(1)
    audio = [0.1 * rng.standard_normal(16_000 * 2).astype(np.float32) for _ in range(6)]
    data = ClipSet(
        name="dev",
        ids=[f"u{i}" for i in range(6)],
        audio=audio,
        seconds=[2.0] * 6,
        content=["a", "a", "b", "b", "c", "c"],
        speakers=["x", "y"] * 3,
        views=[],
    )
    figures = heldout_figures(tokenizer, data, HeldoutConfig())
    assert figures["dev/clips"] == 6 and figures["dev/vq/queries"] == 6  # one relevant each
    assert 0 <= figures["dev/vq/map"] <= 1 and "dev/vq/chance_map" in figures
    assert not any(k.startswith("dev/pairalign") for k in figures)
    assert "dev/vq/consistency" not in figures  # no views given
