"""A folder of recordings as a corpus, and which adapter a directory or file gets."""

from __future__ import annotations

import pytest

from pairalign.data.corpora import detect_kind, load_corpus
from pairalign.data.corpora.folder import folder_ids
from pairalign.data.manifest import ManifestError


def test_speaker_and_sentence_from_the_layout(tmp_path, write_tone):
    for speaker in ("alice", "bob"):
        (tmp_path / speaker).mkdir()
        for sentence in ("s1", "s2"):
            write_tone(tmp_path / speaker / f"{sentence}.flac", seconds=0.25, format="FLAC")
    write_tone(tmp_path / "loose.wav", seconds=0.5)
    (tmp_path / "notes.txt").write_text("not audio, not listed")
    assert detect_kind(str(tmp_path)) == "folder"
    rows = {r["utterance_id"]: r for r in load_corpus("auto", str(tmp_path)).to_pylist()}
    assert sorted(rows) == ["alice/s1", "alice/s2", "bob/s1", "bob/s2", "loose"]
    assert (rows["bob/s2"]["speaker"], rows["bob/s2"]["content_id"]) == ("bob", "s2")
    assert rows["bob/s2"]["path"] == str(tmp_path / "bob" / "s2.flac")
    assert rows["loose"]["speaker"] is None and rows["loose"]["duration"] == pytest.approx(0.5)
    assert {r["split"] for r in rows.values()} == {"train"}


def test_a_folder_with_a_manifest_is_read_through_it(tmp_path, write_tone):
    write_tone(tmp_path / "a.wav")
    write_tone(tmp_path / "b.wav")
    (tmp_path / "manifest.csv").write_text("utterance_id,path,speaker\nonly-a,a.wav,x\n")
    table = load_corpus("auto", str(tmp_path))
    assert table["utterance_id"].to_pylist() == ["only-a"]


def test_detect_kind(tmp_path, write_tone):
    timit = tmp_path / "timit/TRAIN/DR1/FCJF0"
    timit.mkdir(parents=True)
    libri = tmp_path / "libri/dev-clean/84/121123"
    libri.mkdir(parents=True)
    assert detect_kind(str(tmp_path / "timit")) == "timit"
    assert detect_kind(str(tmp_path / "libri")) == "librispeech"
    assert detect_kind(str(tmp_path / "libri/dev-clean")) == "librispeech"
    assert detect_kind("s3://bucket/clips.CSV") == "manifest"
    with pytest.raises(ManifestError, match="no audio files found"):
        load_corpus("auto", str(tmp_path / "timit/TRAIN/DR1"))
    with pytest.raises(ManifestError, match="not a manifest file nor a directory"):
        detect_kind(str(tmp_path / "missing"))


def test_ids_drop_the_extension_and_two_files_with_one_id_are_named(tmp_path, write_tone):
    assert folder_ids(["SM2/200001.wav", "a.b/c.FLAC", "loose.sph", "noext"]) == [
        "SM2/200001",
        "a.b/c",
        "loose",
        "noext",
    ]
    (tmp_path / "bob").mkdir()
    write_tone(tmp_path / "bob" / "s1.wav", seconds=0.25)
    write_tone(tmp_path / "bob" / "s1.flac", seconds=0.25, format="FLAC")
    with pytest.raises(
        ManifestError, match=r"bob/s1\.flac and bob/s1\.wav would both be .*'bob/s1'"
    ):
        load_corpus("folder", str(tmp_path))
