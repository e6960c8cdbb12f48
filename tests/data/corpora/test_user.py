"""read_user_manifest: CSV and Parquet manifests written by users, completed and validated."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairalign.data.audio import AudioError, load_row_audio
from pairalign.data.corpora import load_corpus, read_user_manifest
from pairalign.data.corpora.user import split_unreadable
from pairalign.data.manifest import MANIFEST_SCHEMA, ManifestError, manifest_table, write_manifest


@pytest.fixture
def audio_dir(tmp_path, write_tone):
    """data/clips/a.wav (0.5 s), data/clips/b.flac (0.25 s), elsewhere/c.wav (0.75 s)"""
    (tmp_path / "data/clips").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    write_tone(tmp_path / "data/clips/a.wav", seconds=0.5)
    write_tone(tmp_path / "data/clips/b.flac", seconds=0.25, format="FLAC")
    write_tone(tmp_path / "elsewhere/c.wav", seconds=0.75, sample_rate=8_000)
    return tmp_path


def test_csv_paths_resolved_and_columns_filled(audio_dir):
    absolute = audio_dir / "elsewhere/c.wav"
    csv = audio_dir / "data/manifest.csv"
    csv.write_text(
        "utterance_id,path,speaker,duration,split,notes\n"
        "0001,clips/a.wav,alice,,dev,ignored\n"
        "0002,./clips/../clips/b.flac,bob,9.5,,\n"
        f"0003,{absolute},,,test,\n"
    )
    table = read_user_manifest(str(csv))
    assert table.schema == MANIFEST_SCHEMA
    rows = {row["utterance_id"]: row for row in table.to_pylist()}
    assert sorted(rows) == ["0001", "0002", "0003"]  # ids stay text: no "1"
    assert rows["0001"]["path"] == str(audio_dir / "data/clips/a.wav")
    assert rows["0002"]["path"] == str(audio_dir / "data/clips/b.flac")
    assert rows["0003"]["path"] == str(absolute)
    assert [rows[i]["speaker"] for i in rows] == ["alice", "bob", None]
    assert [rows[i]["split"] for i in rows] == ["dev", "train", "test"]
    assert rows["0001"]["duration"] == pytest.approx(0.5)  # read from the header
    assert rows["0002"]["duration"] == 9.5  # given durations are kept
    assert rows["0003"]["duration"] == pytest.approx(0.75)
    assert all(row["audio"] is None and row["text"] is None for row in rows.values())
    samples = load_row_audio(rows["0003"])
    assert samples.dtype == np.float32 and len(samples) == 12_000


def test_parquet_with_only_required_columns(audio_dir):
    url = str(audio_dir / "data/m.parquet")
    pq.write_table(pa.table({"utterance_id": ["a"], "path": ["clips/a.wav"]}), url)
    row = load_corpus("manifest", url).to_pylist()[0]
    assert row["path"] == str(audio_dir / "data/clips/a.wav")
    assert row["duration"] == pytest.approx(0.5) and row["split"] == "train"
    assert len(load_row_audio(row)) == 8_000


def test_manifest_written_by_pairalign_reads_back(audio_dir):
    a = audio_dir / "data/clips/a.wav"
    table = manifest_table(
        [
            {"utterance_id": "x", "path": str(a), "duration": 0.5, "content_id": "c"},
            {"utterance_id": "y", "audio": a.read_bytes(), "split": "test"},
        ]
    )
    write_manifest(table, str(audio_dir / "out/manifest.parquet"))
    back = read_user_manifest(str(audio_dir / "out/manifest.parquet"))
    assert back.column("path").to_pylist() == [str(a), None]
    assert back.column("audio").to_pylist() == [None, a.read_bytes()]
    assert back.column("split").to_pylist() == ["train", "test"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("utterance_id,speaker\nu1,alice\n", r"missing required column\(s\) \['path'\]"),
        ("path\nclips/a.wav\n", r"missing required column\(s\) \['utterance_id'\]"),
        ("utterance_id,path,duration\nu1,clips/a.wav,long\n", "column 'duration'"),
        ("utterance_id,path\nu1,clips/a.wav\nu1,clips/b.flac\n", "duplicate utterance_id"),
        ("utterance_id,path\nu1,clips/a.wav\nu2,\n", r"column 'path' is empty .*u2"),
        ("utterance_id,path\n,clips/a.wav\n", "have no utterance_id"),
    ],
)
def test_bad_csv_names_file_and_column(audio_dir, content, message):
    csv = audio_dir / "data/bad.csv"
    csv.write_text(content)
    with pytest.raises(ManifestError, match=message) as caught:
        read_user_manifest(str(csv))
    assert str(caught.value).startswith(f"{csv}: ")


def test_unreadable_rows_are_set_apart_with_their_reason(audio_dir):
    """A manifest without durations does not fail on its first bad file: the good rows go on, each
    bad one is named with its reason (and kept, without a duration, by read_user_manifest)."""
    (audio_dir / "data/clips/broken.wav").write_text("not audio")
    csv = audio_dir / "data/m.csv"
    csv.write_text("utterance_id,path\nu1,clips/nope.wav\nu2,clips/a.wav\nu3,clips/broken.wav\n")
    table = read_user_manifest(str(csv))
    assert table["utterance_id"].to_pylist() == ["u1", "u2", "u3"]
    assert table["duration"].to_pylist()[0] is None and table["duration"][1].as_py() == 0.5
    kept, rejects = split_unreadable(table)
    assert kept["utterance_id"].to_pylist() == ["u2"]
    reasons = {r["utterance_id"]: r for r in rejects.to_pylist()}
    assert sorted(reasons) == ["u1", "u3"]
    assert reasons["u1"]["reason"] == "file not found"
    assert reasons["u1"]["path"] == str(audio_dir / "data/clips/nope.wav")
    assert reasons["u3"]["reason"]
    with pytest.raises(AudioError, match=r"nope\.wav: file not found"):
        load_row_audio(table.to_pylist()[0])  # the job that decodes it rejects it so


def test_csv_text_is_kept_as_written(audio_dir):
    """NA-like values in text columns stay text; only an empty cell is missing."""
    csv = audio_dir / "data/m.csv"
    csv.write_text(
        "utterance_id,path,speaker,content_id,text,duration\n"
        "nan,clips/a.wav,NA,null,None,NA\n"
        "NA,clips/a.wav,N/A,0001,nan,0.5\n"
        "null,clips/a.wav,,,,\n"
    )
    rows = {r["utterance_id"]: r for r in read_user_manifest(str(csv)).to_pylist()}
    assert sorted(rows) == ["NA", "nan", "null"]
    assert (rows["nan"]["speaker"], rows["nan"]["content_id"], rows["nan"]["text"]) == (
        "NA",
        "null",
        "None",
    )
    assert (rows["NA"]["speaker"], rows["NA"]["content_id"], rows["NA"]["text"]) == (
        "N/A",
        "0001",
        "nan",
    )
    assert rows["null"]["speaker"] is None and rows["null"]["content_id"] is None
    assert rows["nan"]["duration"] == pytest.approx(0.5)  # NA duration: read from the header
    assert rows["NA"]["duration"] == 0.5


def test_a_bad_duration_names_the_file_line_and_column(audio_dir):
    csv = audio_dir / "data/m.csv"
    csv.write_text("utterance_id,path,duration\nu1,clips/a.wav,0.5\nu2,clips/a.wav,-1\n")
    with pytest.raises(ManifestError, match=r"m\.csv: line 3, column 'duration': '-1'"):
        read_user_manifest(str(csv))


def test_unknown_or_missing_manifest(audio_dir):
    (audio_dir / "data/m.json").write_text("{}")
    with pytest.raises(ManifestError, match=r"expected \.csv or \.parquet"):
        read_user_manifest(str(audio_dir / "data/m.json"))
    with pytest.raises(ManifestError, match="manifest not found"):
        read_user_manifest(str(audio_dir / "data/none.csv"))
