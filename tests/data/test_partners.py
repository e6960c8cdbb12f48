"""Cross-voice partners: the content index, the seeded draw, and pairs made from two renditions."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf

from pairalign.data.pair_batches import CROSS_COLUMNS, PARTNER_COLUMNS, make_pair_batch
from pairalign.data.partners import (
    ContentIndex,
    announce_fallback,
    fallback_message,
    partner_of,
)
from pairalign.data.views import ViewConfig, make_views, pair_rng

SR = 16_000


def rendition(content: int, speaker: int) -> tuple[np.ndarray, np.ndarray]:
    """A content (a melody of 7 notes, drawn by `content`) as `speaker` renders it: each note
    held for its own share of a speaker-drawn time, pitch raised 4% per speaker, a lead-in of
    silence of its own; and the seconds of its note boundaries (lead-in end, ..., last note end).
    # -> (N,) float32, (8,)"""
    notes = np.random.default_rng(content).uniform(180.0, 1400.0, 7)
    held = np.random.default_rng(content + 1).uniform(0.15, 0.45, 7)
    held *= np.random.default_rng(100 + 10 * speaker + content).uniform(0.75, 1.35, 7)
    lead = 0.05 + 0.07 * speaker
    parts = [np.zeros(round(lead * SR), np.float32)]
    for f, d in zip(notes * (1.0 + 0.04 * speaker), held, strict=True):
        t = np.arange(round(d * SR)) / SR
        parts.append(sum(np.sin(2 * np.pi * k * f * t) / k for k in (1, 2, 3)).astype(np.float32))
    parts.append(np.zeros(round(0.1 * SR), np.float32))
    samples = 0.2 * np.concatenate(parts)
    samples += 0.002 * np.random.default_rng(speaker).standard_normal(len(samples))
    return samples.astype(np.float32), lead + np.concatenate([[0.0], np.cumsum(held)])


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
        path = tmp_path / f"{row['utterance_id']}.wav"
        if "content_id" in row:
            samples, _ = rendition(int(row["content_id"][1:]), int(row["speaker"][3:]))
        else:
            samples = (0.1 * np.random.default_rng(i).standard_normal(SR * 2)).astype(np.float32)
        sf.write(path, samples, SR)
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
    assert set(indexed) - set(plain) == {*PARTNER_COLUMNS, *CROSS_COLUMNS}
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
        assert 0.5 < out["source_seconds_b"][i] <= min(3.0, info.duration) + 1e-6
    assert np.all(out["cross"][crossed] == 1) and np.all(out["cross"][~crossed] == 0)
    assert np.all(np.diff(out["time_b"], axis=1) > 0)  # each pair's map is increasing
    again = make_pair_batch(recorded, views=views, rejects_dir=str(tmp_path / "r"), partners=index)
    np.testing.assert_array_equal(again["view_b"], out["view_b"])  # reproducible


def test_a_cross_voice_pair_maps_the_crops_content_to_content(tmp_path):
    """B is cropped where A's crop begins in content, and `time_b` takes A's note boundaries to
    B's within 2 frames of 20 ms (inside a held note every frame is alike: only the boundaries
    are fixed points of a true map)."""
    rows, truth = [], {}
    for speaker in (0, 1):
        samples, bounds = rendition(5, speaker)
        path = tmp_path / f"s{speaker}.wav"
        sf.write(path, samples, SR, subtype="FLOAT")
        truth[speaker] = bounds
        row = {"utterance_id": f"s{speaker}", "path": str(path), "speaker": f"spk{speaker}"}
        rows.append({**row, "content_id": "c5", "epoch": 0})
    views = ViewConfig(seed=1, clip_seconds=1.5, cross_voice=1.0)
    table = pa.Table.from_pylist(rows)
    maps = str(tmp_path / "maps")
    out = make_pair_batch(
        table,
        views=views,
        rejects_dir=str(tmp_path / "r"),
        with_clean=True,
        partners=ContentIndex.from_rows(table),
        maps_dir=maps,
    )
    assert out["cross"].tolist() == [1.0, 1.0] and np.all(out["dtw_cost"] < 0.6)
    errors = []
    for i, (a, b) in enumerate([(0, 1), (1, 0)]):
        start_a = _find(rendition(5, a)[0], out["clean"][i])
        end_a = start_a + min(out["source_seconds"][i], out["source_seconds_b"][i])
        inside = (truth[a] > start_a + 0.05) & (truth[a] < end_a - 0.05)
        mapped = np.interp(truth[a][inside] - start_a, views.time_grid, out["time_b"][i])
        offsets = truth[b][inside] - mapped  # where B's crop begins, once per boundary
        errors += list(np.abs(offsets - np.median(offsets)))
        assert abs(np.median(offsets) - np.interp(start_a, truth[a], truth[b])) < 0.04
    assert len(errors) >= 4 and max(errors) < 0.04, errors
    assert len(list((tmp_path / "maps").rglob("*.npz"))) == 2  # one path per pair of recordings
    again = make_pair_batch(
        table,
        views=views,
        rejects_dir=str(tmp_path / "r"),
        partners=ContentIndex.from_rows(table),
        maps_dir=maps,
    )
    np.testing.assert_array_equal(again["time_b"], out["time_b"])  # read back, the same


def _find(recording: np.ndarray, crop: np.ndarray) -> float:
    """Where `crop` begins in `recording`, in seconds."""
    n = 2000
    for start in range(len(recording) - n):
        if np.array_equal(recording[start : start + n], crop[:n]):
            return start / SR
    raise AssertionError("crop not found")


def test_a_path_that_costs_too_much_leaves_the_row_an_ordinary_pair(recorded, tmp_path):
    from pairalign.timing import DTWConfig

    views = ViewConfig(seed=3, cross_voice=1.0, dtw=DTWConfig(max_cost=0.0))
    index = ContentIndex.from_rows(recorded)
    out = make_pair_batch(recorded, views=views, rejects_dir=str(tmp_path / "r"), partners=index)
    drawn = out["content_id"] != ""
    assert np.all(out["cross"] == 0) and np.all(out["utterance_b"] == out["utterance_id"])
    assert np.all(out["dtw_cost"][drawn] > 0) and np.all(np.isnan(out["dtw_cost"][~drawn]))
    np.testing.assert_allclose(out["time_b"], np.tile(views.time_grid, (len(drawn), 1)), atol=1e-6)
