"""Cross-voice partners: the content index, the seeded draw, and pairs made from two renditions."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf

from pairalign.data.pair_batches import PARTNER_COLUMNS, make_pair_batch
from pairalign.data.partners import (
    ContentIndex,
    announce_fallback,
    fallback_message,
    partner_of,
)
from pairalign.data.views import ViewConfig, make_views, pair_rng

SR = 16_000


def parallel_rows(speakers: int = 3, contents: int = 4) -> list[dict]:
    """Every content read by every speaker, plus one row without a content id."""
    rows = [
        {"utterance_id": f"{s}-{c}", "path": f"/a/{s}-{c}.wav", "speaker": s, "content_id": c}
        for s in [f"spk{i}" for i in range(speakers)]
        for c in [f"c{j}" for j in range(contents)]
    ]
    return [*rows, {"utterance_id": "lone", "path": "/a/lone.wav", "speaker": "spk0"}]


def test_index_lists_other_speakers_of_the_same_content():
    index = ContentIndex.from_rows(pa.Table.from_pylist(parallel_rows()))
    assert index.of("spk0-c1") == ("spk1-c1", "spk2-c1")
    assert index.of("lone") == () and len(index) == 12
    assert index.paths["spk1-c1"] == "/a/spk1-c1.wav" and index.speakers["spk2-c1"] == "spk2"
    assert ContentIndex.from_json(index.to_json()) == index


def test_the_draw_is_seeded_by_seed_epoch_and_id():
    index = ContentIndex.from_rows(parallel_rows(speakers=8, contents=2))
    ids = sorted(index.partners)
    draw = [partner_of(u, 0, 7, index, 0.5) for u in ids]
    assert draw == [partner_of(u, 0, 7, index, 0.5) for u in ids]
    assert any(d is None for d in draw) and any(d is not None for d in draw)
    assert draw != [partner_of(u, 1, 7, index, 0.5) for u in ids]  # another epoch differs
    assert draw != [partner_of(u, 0, 8, index, 0.5) for u in ids]  # so does another seed


def test_share_zero_never_pairs_and_share_one_always_crosses_voices():
    rows = parallel_rows()
    index = ContentIndex.from_rows(rows)
    by_id = {r["utterance_id"]: r for r in rows}
    for epoch in range(3):
        for row in rows:
            assert partner_of(row["utterance_id"], epoch, 0, index, 0.0) is None
            partner = partner_of(row["utterance_id"], epoch, 0, index, 1.0)
            if row["utterance_id"] == "lone":
                assert partner is None
                continue
            assert by_id[partner]["speaker"] != row["speaker"]
            assert by_id[partner]["content_id"] == row["content_id"]


def test_a_corpus_without_repeated_content_falls_back_and_says_so():
    rows = [
        {"utterance_id": f"u{i}", "path": f"/a/{i}.wav", "speaker": f"s{i}", "content_id": f"c{i}"}
        for i in range(4)
    ]
    index = ContentIndex.from_rows(rows)
    assert all(partner_of(r["utterance_id"], 0, 0, index, 1.0) is None for r in rows)
    said = []
    assert announce_fallback(index, 0.5, log=said.append) == said[0]
    assert "no content" in said[0] and len(said) == 1
    assert fallback_message(index, 0.0) is None  # not asked for: nothing to say
    assert fallback_message(ContentIndex.from_rows(parallel_rows()), 0.5) is None


def test_cross_voice_share_is_checked():
    with pytest.raises(ValueError, match=r"views\.cross_voice"):
        ViewConfig(cross_voice=1.5)


@pytest.fixture
def recorded(tmp_path: Path) -> pa.Table:
    """Two speakers x two contents (+ one row without content), as WAV files of 2-4 s."""
    rows = []
    for i, row in enumerate(parallel_rows(speakers=2, contents=2)):
        rng = np.random.default_rng(i)
        path = tmp_path / f"{row['utterance_id']}.wav"
        sf.write(path, (0.1 * rng.standard_normal(SR * (2 + i % 3))).astype(np.float32), SR)
        rows.append({**row, "path": str(path), "epoch": i % 2})
    return pa.Table.from_pylist(rows)


def test_share_zero_leaves_the_pair_batch_as_it_was(recorded, tmp_path):
    views = ViewConfig(seed=3)
    rejects = str(tmp_path / "rejects")
    plain = make_pair_batch(recorded, views=views, rejects_dir=rejects, with_clean=True)
    indexed = make_pair_batch(
        recorded,
        views=views,
        rejects_dir=rejects,
        with_clean=True,
        partners=ContentIndex.from_rows(recorded),
    )
    assert set(indexed) - set(plain) == set(PARTNER_COLUMNS)
    for key, value in plain.items():
        np.testing.assert_array_equal(indexed[key], value)
    np.testing.assert_array_equal(indexed["utterance_b"], plain["utterance_id"])
    for i, row in enumerate(recorded.to_pylist()):  # today's pair: make_views of the row alone
        samples, _ = sf.read(row["path"], dtype="float32")
        pair = make_views(samples, views, pair_rng(3, row["epoch"], row["utterance_id"]))
        np.testing.assert_array_equal(plain["view_a"][i], pair.a.samples)
        np.testing.assert_array_equal(plain["view_b"][i], pair.b.samples)


def test_with_cross_voice_at_one_every_pair_has_two_speakers_and_one_content(recorded, tmp_path):
    index = ContentIndex.from_rows(recorded)
    views = ViewConfig(seed=3, cross_voice=1.0)
    out = make_pair_batch(recorded, views=views, rejects_dir=str(tmp_path / "r"), partners=index)
    crossed = out["content_id"] != ""
    assert crossed.sum() == 4
    assert np.all(out["speaker_b"][crossed] != out["speaker"][crossed])
    assert np.all(out["content_id_b"] == out["content_id"])
    assert np.all(out["utterance_b"][crossed] != out["utterance_id"][crossed])
    assert out["utterance_b"][~crossed].tolist() == ["lone"]  # no partner: today's pair
    assert out["view_b"].shape == out["view_a"].shape and np.isfinite(out["view_b"]).all()
    lengths = {r["utterance_id"]: r for r in recorded.to_pylist()}
    for i in np.flatnonzero(crossed):  # B's real audio is its own recording's
        info = sf.info(lengths[out["utterance_b"][i]]["path"])
        assert out["source_seconds_b"][i] == pytest.approx(min(3.0, info.duration), abs=1e-3)
    again = make_pair_batch(recorded, views=views, rejects_dir=str(tmp_path / "r"), partners=index)
    np.testing.assert_array_equal(again["view_b"], out["view_b"])  # reproducible
