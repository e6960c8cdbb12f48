"""Audio shards: a manifest with its audio embedded round-trips through Parquet shards."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairalign.data.audio import AudioError, load_row_audio
from pairalign.data.corpora import list_shards, load_corpus, read_audio_shards, write_audio_shards
from pairalign.data.manifest import MANIFEST_SCHEMA, ManifestError, manifest_table

FORMATS = [("WAV", "wav"), ("FLAC", "flac"), ("OGG", "ogg"), ("NIST", "WAV")]


@pytest.fixture
def manifest(tmp_path, write_tone):
    """Seven utterances in four formats and three sample rates."""
    rows = []
    for i in range(7):
        fmt, ext = FORMATS[i % len(FORMATS)]
        path = tmp_path / "audio" / f"u{i}.{ext}"
        path.parent.mkdir(exist_ok=True)
        rate = (8_000, 16_000, 44_100)[i % 3]
        write_tone(
            path, seconds=0.1 * (i + 1), sample_rate=rate, format=fmt, frequency=200 + 50 * i
        )
        rows.append(
            {"utterance_id": f"u{i}", "path": str(path), "speaker": f"s{i % 2}", "split": "train"}
        )
    return manifest_table(rows)


def test_round_trip_embeds_audio(tmp_path, manifest):
    out = str(tmp_path / "shards")
    written = write_audio_shards(manifest, out, rows_per_shard=3)
    assert [p.rsplit("/", 1)[-1] for p in written] == [
        "shard-00000.parquet",
        "shard-00001.parquet",
        "shard-00002.parquet",
    ]
    assert list_shards(out) == written
    assert [pq.read_metadata(p).num_rows for p in written] == [3, 3, 1]
    back = read_audio_shards(out)
    assert back.schema == MANIFEST_SCHEMA
    assert back.column("path").null_count == len(back) == len(manifest)
    assert back.drop_columns(["path", "audio"]).equals(manifest.drop_columns(["path", "audio"]))
    for original, embedded in zip(manifest.to_pylist(), back.to_pylist(), strict=True):
        with open(original["path"], "rb") as f:
            assert embedded["audio"] == f.read()
        np.testing.assert_array_equal(load_row_audio(embedded), load_row_audio(original))


def test_one_shard_file_and_corpus_kind(tmp_path, manifest):
    written = write_audio_shards(manifest, str(tmp_path / "s"), rows_per_shard=4)
    assert read_audio_shards(written[1]).column("utterance_id").to_pylist() == ["u4", "u5", "u6"]
    assert len(load_corpus("shards", str(tmp_path / "s"))) == 7


def test_rewrite_removes_stale_shards(tmp_path, manifest):
    out = str(tmp_path / "s")
    write_audio_shards(manifest, out, rows_per_shard=2)
    written = write_audio_shards(manifest.slice(0, 3), out, rows_per_shard=2)
    assert list_shards(out) == written and len(written) == 2
    assert len(read_audio_shards(out)) == 3


def test_missing_audio_is_named(tmp_path, manifest):
    gone = tmp_path / "audio" / "u3.WAV"
    gone.unlink()
    with pytest.raises(AudioError, match=r"u3\.WAV: file not found"):
        write_audio_shards(manifest, str(tmp_path / "s"))


def test_bad_shard_is_named(tmp_path, manifest):
    out = tmp_path / "s"
    write_audio_shards(manifest, str(out), rows_per_shard=4)
    pq.write_table(pa.table({"speaker": ["x"]}), out / "shard-00002.parquet")
    with pytest.raises(ManifestError, match=r"shard-00002\.parquet: missing required column"):
        read_audio_shards(str(out))
    (out / "shard-00002.parquet").write_bytes(b"not parquet")
    with pytest.raises(ManifestError, match=r"shard-00002\.parquet: not a readable Parquet"):
        read_audio_shards(str(out))


def test_duplicate_ids_across_shards(tmp_path, manifest):
    out = tmp_path / "s"
    write_audio_shards(manifest, str(out), rows_per_shard=4)
    pq.write_table(pq.read_table(out / "shard-00000.parquet"), out / "shard-00009.parquet")
    with pytest.raises(ManifestError, match="duplicate utterance_id"):
        read_audio_shards(str(out))


def test_no_shards(tmp_path):
    with pytest.raises(ManifestError, match="no Parquet shards found"):
        read_audio_shards(str(tmp_path))
    with pytest.raises(ValueError, match="rows_per_shard"):
        write_audio_shards(manifest_table([]), str(tmp_path), rows_per_shard=0)
