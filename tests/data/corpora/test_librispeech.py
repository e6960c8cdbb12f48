"""scan_librispeech over a small LibriSpeech-shaped tree of FLAC files."""

from __future__ import annotations

import numpy as np
import pytest

from pairalign.data.audio import load_row_audio
from pairalign.data.corpora import load_corpus, scan_librispeech
from pairalign.data.manifest import MANIFEST_SCHEMA, ManifestError

UTTERANCES = {  # subset -> (speaker, chapter, utterance, seconds, text)
    "train-clean-100": [
        ("19", "198", "0000", 0.5, "NORTHANGER ABBEY"),
        ("19", "198", "0001", 0.25, "THIS LITTLE WORK WAS FINISHED IN THE YEAR EIGHTEEN O THREE"),
        ("26", "495", "0000", 0.75, "IN THE FIRST PLACE"),
    ],
    "dev-clean": [("84", "121123", "0000", 0.5, "GO DO YOU HEAR")],
}


@pytest.fixture
def libri_root(tmp_path, write_tone):
    root = tmp_path / "LibriSpeech"
    for subset, utterances in UTTERANCES.items():
        transcripts: dict = {}
        for speaker, chapter, utt, seconds, text in utterances:
            chapter_dir = root / subset / speaker / chapter
            chapter_dir.mkdir(parents=True, exist_ok=True)
            write_tone(
                chapter_dir / f"{speaker}-{chapter}-{utt}.flac", seconds=seconds, format="FLAC"
            )
            transcripts.setdefault(chapter_dir / f"{speaker}-{chapter}.trans.txt", []).append(
                f"{speaker}-{chapter}-{utt} {text}"
            )
        for path, lines in transcripts.items():
            path.write_text("\n".join(lines) + "\n")
    (root / "SPEAKERS.TXT").write_text("; not a subset\n")
    return root


def _expected_ids(subset=None):
    return sorted(
        f"{spk}-{chap}-{utt}"
        for name, utterances in UTTERANCES.items()
        if subset in (None, name)
        for spk, chap, utt, _, _ in utterances
    )


def test_scan_librispeech_columns(libri_root):
    table = scan_librispeech(str(libri_root))
    assert table.schema == MANIFEST_SCHEMA
    rows = {row["utterance_id"]: row for row in table.to_pylist()}
    assert sorted(rows) == _expected_ids()
    for subset, utterances in UTTERANCES.items():
        for speaker, chapter, utt, seconds, text in utterances:
            row = rows[f"{speaker}-{chapter}-{utt}"]
            path = libri_root / subset / speaker / chapter / f"{speaker}-{chapter}-{utt}.flac"
            assert row["path"] == str(path) and row["audio"] is None
            assert (row["speaker"], row["split"], row["text"]) == (speaker, subset, text)
            assert row["content_id"] == row["utterance_id"]
            assert row["duration"] == pytest.approx(seconds)


def test_root_may_be_one_subset(libri_root):
    table = load_corpus("librispeech", str(libri_root / "train-clean-100") + "/")
    assert sorted(table.column("utterance_id").to_pylist()) == _expected_ids("train-clean-100")
    assert set(table.column("split").to_pylist()) == {"train-clean-100"}


def test_librispeech_rows_load(libri_root):
    for row in scan_librispeech(str(libri_root / "dev-clean")).to_pylist():
        samples = load_row_audio(row)
        assert samples.dtype == np.float32 and len(samples) == round(row["duration"] * 16_000)


def test_not_librispeech_is_an_error(tmp_path):
    with pytest.raises(ManifestError, match="no LibriSpeech utterances found"):
        scan_librispeech(str(tmp_path))


def test_bad_transcript_line_names_file(libri_root):
    bad = libri_root / "dev-clean/84/121123/84-121123.trans.txt"
    bad.write_text("84-121123-0000\n")
    with pytest.raises(ManifestError, match=r"84-121123\.trans\.txt: line 1"):
        scan_librispeech(str(libri_root))
