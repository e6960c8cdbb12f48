"""Paired views built once without Ray and cached per epoch, the cache reused and reshuffled."""

from __future__ import annotations

import pyarrow as pa
import torch

from pairalign.data.views import ViewConfig
from pairalign.training.local import ViewCache


def test_the_view_cache_builds_each_epoch_once_and_reshuffles(tone_rows, tmp_path):
    views = ViewConfig(clip_seconds=1.0)
    cache = ViewCache(tone_rows, views, str(tmp_path))
    cache.prepare(steps=3, batch_size=4)  # one whole batch per 6-row epoch: epochs 0, 1, 2
    assert sorted(p.name for p in (tmp_path / cache.dir.split("/")[-1]).glob("*.pt")) == [
        "epoch-0.pt",
        "epoch-1.pt",
        "epoch-2.pt",
    ]
    first = cache.epoch(1)
    assert torch.equal(
        ViewCache(tone_rows, views, str(tmp_path)).epoch(1)["view_a"], first["view_a"]
    )
    assert first["view_a"].shape == (6, 16_000)
    assert not torch.equal(cache.epoch(0)["view_a"], first["view_a"])  # new views each epoch
    batches = cache.batches(4, seed=0)
    assert [len(next(batches)["source_seconds"]) for _ in range(3)] == [4, 4, 4]


def test_the_view_cache_ships_partners_only_when_cross_voice_pairs_are_asked_for(
    tone_rows, tmp_path
):
    speakers = pa.array([f"s{i % 2}" for i in range(6)])
    parallel = tone_rows.set_column(
        tone_rows.schema.get_field_index("speaker"), "speaker", speakers
    )
    contents = pa.array([f"c{i // 2}" for i in range(6)])  # u0 (s0) and u1 (s1) read c0
    parallel = parallel.set_column(
        tone_rows.schema.get_field_index("content_id"), "content_id", contents
    )
    plain = ViewCache(parallel, ViewConfig(clip_seconds=1.0), str(tmp_path))
    assert plain.partners is None  # share 0: today's pipeline, no index built
    crossed = ViewCache(parallel, ViewConfig(clip_seconds=1.0, cross_voice=1.0), str(tmp_path))
    assert crossed.partners.of("u0") == ("u1",) and crossed.dir != plain.dir
    assert crossed.epoch(0)["view_b"].shape == (6, 16_000)
    assert not torch.equal(crossed.epoch(0)["view_b"], plain.epoch(0)["view_b"])
