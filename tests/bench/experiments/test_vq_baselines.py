"""bench/experiments/vq_baselines.py: BPE of a checkpoint's collapsed codes meets each rate with
merges learned on other clips, and its strings are the collapsed strings encoded, for clips and
views alike."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.experiments.vq_baselines import BPEStrings, baseline_figures, map_at_rate
from pairalign.evaluation.figures import ClipSet
from pairalign.strings.bpe import apply_merges_all, learn_merges
from pairalign.tokenizing.kinds import VQStrings
from pairalign.tokenizing.tokenizer import Tokenizer


def clips(name: str, count: int, seed: int) -> ClipSet:
    """Noisy tones: two renditions (voices x, y) of each sentence."""
    rng = np.random.default_rng(seed)
    t = np.arange(32_000) / 16_000
    audio = [
        (
            0.3 * np.sin(2 * np.pi * (200 + 40 * (i // 2)) * t * (1 + t))
            + 0.05 * rng.standard_normal(len(t))
        ).astype(np.float32)
        for i in range(count)
    ]
    return ClipSet(
        name=name,
        ids=[f"u{i:02d}" for i in range(count)],
        seconds=[2.0] * count,
        content=[f"s{i // 2}" for i in range(count)],
        speakers=["x", "y"] * (count // 2),
        audio=audio,
        views=[],
    )


@pytest.fixture(scope="module")
def tokenizer(small_checkpoints) -> Tokenizer:
    return Tokenizer.from_checkpoint(small_checkpoints["vq"])


def test_bpe_meets_each_rate_with_fewest_merges_or_uses_them_all(tokenizer):
    data, train = clips("dev", 8, 0), clips("train", 16, 1)
    curve = baseline_figures(tokenizer, data, [20.0, 35.0, 40.0], reduces=("bpe",), train=train)
    assert set(curve) == {"collapsed", "vq", "bpe@20", "bpe@35", "bpe@40"}
    collapsed = curve["collapsed"]["token_rate"]
    assert collapsed > 40  # so every rate needs merges
    bpe = [curve[f"bpe@{r}"] for r in (40, 35, 20)]
    merges = [f["merges"] for f in bpe]
    assert merges == sorted(merges) and merges[0] > 0  # lower rates, more merges
    for rate, figures in zip((40, 35, 20), bpe, strict=True):
        assert figures["token_rate"] <= rate or figures["merges"] == max(merges)
        assert 0 <= figures["map"] <= 1
    # an untrained model's codes of noise share few pairs with other clips: 20/s is out of reach,
    # so every merge is used and the entry's rate says how far they got
    assert curve["bpe@40"]["token_rate"] <= 40 and curve["bpe@35"]["token_rate"] <= 35
    assert curve["bpe@20"]["token_rate"] > 20 and curve["bpe@20"]["merges"] == max(merges)
    inside = (curve["bpe@40"]["token_rate"] + curve["bpe@20"]["token_rate"]) / 2
    assert math.isfinite(map_at_rate(curve, "bpe", inside))
    assert math.isnan(map_at_rate(curve, "bpe", collapsed + 1))  # beyond the measured rates


def test_bpe_strings_of_views_are_the_collapsed_strings_encoded(tokenizer):
    collapsed = VQStrings(tokenizer)
    data = clips("dev", 4, 2)
    waves = np.stack(data.audio)
    strings = collapsed(waves)
    merges = learn_merges(collapsed(np.stack(clips("train", 8, 3).audio)), 16, 100)
    bpe = BPEStrings(collapsed, merges, len(merges))
    assert bpe(waves) == apply_merges_all(strings, merges, len(merges), 16)
    assert bpe.vocab_size == 16 + len(merges) and not bpe.collapses
    for (tokens, centres), string in zip(bpe.timed(waves), bpe(waves), strict=True):
        assert tokens.tolist() == string and np.all(np.diff(centres) > 0)


def test_bpe_without_training_clips_is_refused(tokenizer):
    with pytest.raises(ValueError, match="pass train="):
        baseline_figures(tokenizer, clips("dev", 4, 0), [10.0])
