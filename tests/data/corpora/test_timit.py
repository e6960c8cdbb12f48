"""scan_timit over a small TIMIT-shaped tree of NIST SPHERE files, upper- and lower-case."""

from __future__ import annotations

import numpy as np
import pytest

from pairalign.data.audio import load_row_audio
from pairalign.data.corpora import load_corpus, scan_timit
from pairalign.data.manifest import MANIFEST_SCHEMA, ManifestError

SENTENCES = {
    "sa1": "She had your dark suit in greasy wash water all year.",
    "sx123": "Don't ask me to carry an oily rag like that.",
}


def _write_utterance(write_tone, speaker_dir, sentence, seconds, upper):
    speaker_dir.mkdir(parents=True, exist_ok=True)
    name = sentence.upper() if upper else sentence
    wav = speaker_dir / f"{name}.{'WAV' if upper else 'wav'}"
    written = write_tone(wav, seconds=seconds, format="NIST", subtype="PCM_16")
    text = f"0 {len(written)} {SENTENCES[sentence]}\n"
    (speaker_dir / f"{name}.{'TXT' if upper else 'txt'}").write_text(text)
    (speaker_dir / f"{name}.PHN").write_text("0 2000 h#\n")  # other TIMIT files are ignored


@pytest.fixture
def timit_root(tmp_path, write_tone):
    root = tmp_path / "timit"
    _write_utterance(write_tone, root / "TRAIN/DR1/FCJF0", "sa1", 0.5, upper=True)
    _write_utterance(write_tone, root / "TRAIN/DR1/FCJF0", "sx123", 0.25, upper=True)
    _write_utterance(write_tone, root / "test/dr2/mabc0", "sa1", 0.75, upper=False)
    # a converted copy beside the original (as in some redistributions) is not a new utterance
    write_tone(root / "TRAIN/DR1/FCJF0/SA1.WAV.wav", seconds=0.5)
    (root / "TRAIN/README.DOC").write_text("not a region")
    return root


def test_scan_timit_columns(timit_root):
    table = scan_timit(str(timit_root))
    assert table.schema == MANIFEST_SCHEMA
    rows = {row["utterance_id"]: row for row in table.to_pylist()}
    assert sorted(rows) == ["test/dr2/mabc0/sa1", "train/dr1/fcjf0/sa1", "train/dr1/fcjf0/sx123"]
    row = rows["train/dr1/fcjf0/sx123"]
    assert row["path"] == str(timit_root / "TRAIN/DR1/FCJF0/SX123.WAV")
    assert row["audio"] is None
    assert (row["speaker"], row["content_id"], row["split"]) == ("fcjf0", "sx123", "train")
    assert row["text"] == SENTENCES["sx123"]
    assert row["duration"] == pytest.approx(0.25)
    test_row = rows["test/dr2/mabc0/sa1"]
    assert (test_row["speaker"], test_row["split"]) == ("mabc0", "test")
    assert test_row["path"] == str(timit_root / "test/dr2/mabc0/sa1.wav")
    assert test_row["duration"] == pytest.approx(0.75)
    # the same sentence from two speakers shares its content id (what retrieval needs)
    assert rows["train/dr1/fcjf0/sa1"]["path"] == str(timit_root / "TRAIN/DR1/FCJF0/SA1.WAV")
    assert test_row["content_id"] == rows["train/dr1/fcjf0/sa1"]["content_id"] == "sa1"
    assert test_row["text"] == rows["train/dr1/fcjf0/sa1"]["text"] == SENTENCES["sa1"]


def test_timit_rows_load(timit_root):
    for row in load_corpus("timit", str(timit_root)).to_pylist():
        samples = load_row_audio(row)
        assert samples.dtype == np.float32
        assert len(samples) == round(row["duration"] * 16_000)


def test_empty_tree_is_an_error(tmp_path):
    (tmp_path / "TRAIN" / "DR1").mkdir(parents=True)
    with pytest.raises(ManifestError, match="no TIMIT utterances found"):
        scan_timit(str(tmp_path))


def test_malformed_transcript_names_file(timit_root):
    bad = timit_root / "TRAIN/DR1/FCJF0/SX123.TXT"
    bad.write_text("no sample numbers here\n")
    with pytest.raises(ManifestError, match=r"SX123\.TXT"):
        scan_timit(str(timit_root))
