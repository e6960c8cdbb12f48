"""The dense baseline: k-means finds planted clusters, pooling arithmetic, token counts and times,
padding never changes a clip's tokens, and save/load (local and S3) gives identical tokens."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from pairalign.tokenizing.dense import (
    DenseConfig,
    DenseTokenizer,
    batch_log_mel,
    fit_dense,
    kmeans,
    pool_frames,
    pooled_length,
    share_log_mel,
    token_centres,
)

SR = 16_000


def planted(
    n_clusters: int, clips: int, seed: int = 0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Clips of 80-dim frames around `n_clusters` far-apart centres, and each frame's label."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (n_clusters, 80))
    labels = [rng.integers(n_clusters, size=rng.integers(20, 60)) for _ in range(clips)]
    feats = [(centres[y] + rng.normal(0, 0.5, (len(y), 80))).astype(np.float32) for y in labels]
    return feats, labels


def sounds(seconds: list[float], seed: int = 0) -> list[np.ndarray]:
    """Noisy tone sweeps, different per clip, so tokens vary within and between clips."""
    rng = np.random.default_rng(seed)
    out = []
    for s in seconds:
        t = np.arange(round(s * SR)) / SR
        f = rng.uniform(200, 800) * (1 + t)  # a rising tone
        wave = 0.3 * np.sin(2 * np.pi * np.cumsum(f) / SR) + 0.02 * rng.normal(size=len(t))
        out.append(wave.astype(np.float32))
    return out


@pytest.fixture(scope="module")
def tokenizer() -> DenseTokenizer:
    feats = batch_log_mel(sounds([1.5, 2.0, 1.2, 2.5], seed=1))
    return fit_dense(feats, DenseConfig(k=16, pool=2, iters=20))


def test_kmeans_recovers_planted_clusters_up_to_permutation():
    feats, labels = planted(6, clips=40)
    tok = fit_dense(feats, DenseConfig(k=6, pool=1, max_frames=1000, iters=30))
    codes = np.concatenate([tok.encode_features(f) for f in feats])
    truth = np.concatenate(labels)
    pairs = set(zip(truth.tolist(), codes.tolist(), strict=True))
    assert len(pairs) == 6  # one code per planted label ...
    assert len({c for _, c in pairs}) == 6  # ... and a different one for each
    assert tok.fit_stats["dense/frames"] == 1000  # the sample cap held
    assert tok.fit_stats["dense/inertia"] < 80 * 0.5**2 * 1.2  # the noise variance, no more


def test_fit_is_reproducible_and_takes_an_iterator():
    feats, _ = planted(5, clips=30, seed=3)
    config = DenseConfig(k=5, max_frames=500, iters=10, seed=7)
    a = fit_dense(feats, config)
    b = fit_dense(iter(feats), config)
    c = fit_dense(feats, DenseConfig(k=5, max_frames=500, iters=10, seed=8))
    assert torch.equal(a.centroids, b.centroids) and a.checkpoint_id == b.checkpoint_id
    assert a.fit_stats["dense/frames"] == 500
    assert not torch.equal(a.centroids, c.centroids)  # the seed picks the sample and the init


def test_every_cluster_is_used_when_points_repeat():
    # 4 distinct points, many copies: k-means++ must find all 4, none left empty
    x = torch.eye(4).repeat(50, 1) * 5
    result = kmeans(x, 4, iters=10, seed=0)
    assert sorted(map(tuple, result.centroids.tolist())) == sorted(
        map(tuple, (torch.eye(4) * 5).tolist())
    )
    assert result.inertia == 0


def test_pooling_keeps_a_last_group_of_at_least_half_a_pool():
    frames = np.arange(7, dtype=np.float32)[:, None].repeat(3, 1)  # (7, 3): frame t holds t
    np.testing.assert_allclose(pool_frames(frames, 4)[:, 0], [1.5, 5.0])  # 3 of 4 left: kept
    np.testing.assert_allclose(pool_frames(frames[:5], 4)[:, 0], [1.5])  # 1 of 4 left: dropped
    np.testing.assert_allclose(pool_frames(frames[:6], 4)[:, 0], [1.5, 4.5])  # 2 of 4: kept
    np.testing.assert_array_equal(pool_frames(frames, 1), frames)
    assert [pooled_length(n, 8) for n in (0, 3, 4, 8, 11, 12)] == [0, 0, 1, 1, 1, 2]
    np.testing.assert_allclose(token_centres(7, 4), [0.015, 0.05])  # frames 0-3 and 4-6


@pytest.mark.parametrize("pool", [1, 2, 4, 8])
def test_token_count_is_duration_x_100_over_pool(pool):
    tok = DenseTokenizer(torch.randn(8, 80), DenseConfig(k=8, pool=pool))
    durations = [0.37, 1.0, 1.234, 2.5]
    strings = tok(sounds(durations))
    for seconds, tokens in zip(durations, strings, strict=True):
        assert abs(len(tokens) - seconds * 100 / pool) <= 1
        assert all(0 <= t < 8 for t in tokens)
    assert tok([np.zeros(0, np.float32)]) == [[]]  # no audio, no tokens


def test_padded_batch_gives_each_clip_its_own_tokens(tokenizer):
    clips = sounds([0.8, 1.7, 1.1], seed=5)
    batch = np.random.default_rng(0).normal(0, 0.3, (3, int(1.7 * SR) + 500)).astype(np.float32)
    for row, clip in zip(batch, clips, strict=True):
        row[: len(clip)] = clip  # the padding is loud noise: it must be ignored, not just quiet
    seconds = [len(c) / SR for c in clips]
    padded = tokenizer(batch, seconds)
    alone = [tokenizer(clip)[0] for clip in clips]
    assert padded == alone
    assert len(set(map(tuple, alone))) == 3 and len(set(alone[1])) > 2  # not a constant string
    timed_padded, timed_alone = tokenizer.timed(batch, seconds), tokenizer.timed(clips)
    for (tok_a, t_a), (tok_b, t_b) in zip(timed_padded, timed_alone, strict=True):
        np.testing.assert_array_equal(tok_a, tok_b)
        np.testing.assert_array_equal(t_a, t_b)
    assert tokenizer(batch)[1] != alone[1]  # without `seconds` the noise is part of each clip


def test_a_grid_sharing_log_mel_frames_computes_each_clip_once_with_the_same_strings(tokenizer):
    other = fit_dense(batch_log_mel(sounds([1.5, 2.0], seed=2)), DenseConfig(k=4, pool=1, iters=5))
    clips = sounds([0.8, 1.7], seed=6)
    alone = [tokenizer(clips), other(clips)]
    cache = share_log_mel([tokenizer, other])
    try:
        assert [tokenizer(clips), other(clips)] == alone
        assert len(cache._frames) == 2  # both clips, once for both tokenizers
    finally:
        tokenizer.log_mel_cache = None  # the module's fixture is shared


def test_timed_centres_increase_and_lie_inside_the_clip(tokenizer):
    clips = sounds([0.55, 2.03])
    for clip, (tokens, centres) in zip(clips, tokenizer.timed(clips), strict=True):
        assert tokens.dtype == np.int64 and len(tokens) == len(centres) > 0
        steps = np.diff(centres)
        np.testing.assert_allclose(steps[:-1], 0.02)  # pool 2: one token per 20 ms ...
        assert 0.01 <= steps[-1] <= 0.02  # ... and a last one that may hold a single frame
        assert centres[0] >= 0 and centres[-1] < len(clip) / SR


def test_names_and_interface(tokenizer):
    assert (tokenizer.kind, tokenizer.name, tokenizer.vocab_size) == ("dense", "dense-k16-p2", 16)
    assert tokenizer.collapses is False  # one token per pooled frame, runs kept
    assert DenseConfig(k=8, pool=8).token_rate == 12.5
    assert tokenizer.checkpoint_id.startswith("unsaved@")


def _round_trip(tokenizer: DenseTokenizer, directory: str) -> DenseTokenizer:
    url = tokenizer.save(f"{directory}/{tokenizer.name}")
    assert url.endswith(f"{tokenizer.name}/dense.pt")
    loaded = DenseTokenizer.load(f"{directory}/{tokenizer.name}")  # the directory or ...
    assert DenseTokenizer.load(url).checkpoint_id == loaded.checkpoint_id  # ... the file itself
    assert loaded.checkpoint_id == f"{url}@{tokenizer.checkpoint_id.split('@')[1]}"
    assert loaded.config == tokenizer.config and loaded.fit_stats == tokenizer.fit_stats
    clips = sounds([1.3, 0.9], seed=9)
    assert loaded(clips) == tokenizer(clips)
    return loaded


def test_save_load_round_trip(tokenizer, tmp_path):
    _round_trip(tokenizer, str(tmp_path))
    assert sorted(p.name for p in (tmp_path / tokenizer.name).iterdir()) == ["dense.pt"]


def test_save_load_round_trip_through_s3(tokenizer, s3_server):
    _round_trip(tokenizer, f"{s3_server}/dense-roundtrip")


def test_load_refuses_other_files(tmp_path):
    path = tmp_path / "dense.pt"
    buffer = io.BytesIO()
    torch.save({"format": "pairalign-checkpoint", "version": 1}, buffer)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="not a dense tokenizer"):
        DenseTokenizer.load(str(tmp_path))
    torch.save({"format": "pairalign-dense", "version": 99}, path)
    with pytest.raises(ValueError, match="version 99"):
        DenseTokenizer.load(str(path))
    with pytest.raises(FileNotFoundError):
        DenseTokenizer.load(str(tmp_path / "nothing"))
