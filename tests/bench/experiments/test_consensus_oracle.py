"""bench/experiments/consensus_oracle.py: a DTW path becomes each model frame's partner, frames
stitched across windows are the clip's frames, and the oracle with a rendition identical to the
clip keeps the clip's VQ string at every quorum."""

from __future__ import annotations

import numpy as np
import pytest

from bench.experiments.consensus_oracle import (
    ConsensusOracle,
    clip_frames,
    first_sentences,
    oracle_set,
    partners,
)
from pairalign.evaluation.figures import ClipSet
from pairalign.tokenizing.tokenizer import Tokenizer


def twins(seconds: float = 2.0, sentences: int = 3) -> ClipSet:
    """Each sentence a tone sweep said twice, identically, by voices x and y."""
    rng = np.random.default_rng(0)
    t = np.arange(round(seconds * 16_000)) / 16_000
    audio = []
    for s in range(sentences):
        wave = 0.3 * np.sin(2 * np.pi * (200 + 60 * s) * t * (1 + t))
        wave = (wave + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
        audio += [wave, wave.copy()]
    count = 2 * sentences
    return ClipSet(
        name="test",
        ids=[f"u{i:02d}" for i in range(count)],
        seconds=[seconds] * count,
        content=[f"s{i // 2}" for i in range(count)],
        speakers=["x", "y"] * sentences,
        audio=audio,
        views=[],
    )


@pytest.fixture(scope="module")
def tokenizer(small_checkpoints) -> Tokenizer:
    return Tokenizer.from_checkpoint(small_checkpoints["vq"])


def test_a_diagonal_path_pairs_each_frame_with_itself():
    path = np.stack([np.arange(200), np.arange(200)], axis=1)  # 10 ms log-mel frames
    partner, valid = partners(path, 0.01, 0.0, 0.02, 100, 100)
    assert partner.tolist() == list(range(100)) and valid.all()
    later = np.stack([np.arange(100), np.arange(100) + 50], axis=1)  # B 0.5 s later
    partner, valid = partners(later, 0.01, 0.0, 0.02, 100, 100)
    assert partner[:50].tolist() == list(range(25, 75)) and valid[:50].all()
    assert not valid[51:].any()  # beyond the path's stretch of A: no partner


def test_frames_stitched_across_windows_cover_the_clip(tokenizer):
    short, long = twins(2.0, 1), twins(5.0, 1)
    frames = clip_frames(tokenizer, short, batch_size=4)
    direct = tokenizer.frame_codes(short.audio[0][None], [2.0])[0]
    np.testing.assert_array_equal(frames[0].codes, direct)
    stitched = clip_frames(tokenizer, long, batch_size=4)[0]
    frame = tokenizer.config.frame_seconds
    assert abs(len(stitched.codes) - 5.0 / frame) <= 2
    assert stitched.latents.shape == (len(stitched.codes), tokenizer.config.quantizer.code_dim)


def test_identical_renditions_keep_the_vq_strings_at_every_quorum(tokenizer):
    clips = twins()
    args = ConsensusOracle(checkpoint="", quorums=(0.0, 1.0), baselines=())
    found = oracle_set(tokenizer, clips, args)
    assert found["dtw"]["dtw_pairs"] == 6 and found["dtw"]["aligned_frame_code_agreement"] > 0.95
    strings = found["strings"]
    vq = tokenizer.vq_strings(np.stack(clips.audio), clips.seconds)
    rate = sum(len(s) for s in vq) / sum(clips.seconds)
    assert strings["oracle@0"]["token_rate"] == pytest.approx(rate, abs=1e-3)
    assert strings["oracle@1"]["token_rate"] == pytest.approx(rate, abs=1e-3)
    assert first_sentences(clips, 2).content == ["s0", "s0", "s1", "s1"]
