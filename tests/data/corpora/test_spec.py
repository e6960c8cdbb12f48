"""What a config names a corpus by: a spec chooses rows (a split, half its sentences, the first
clips), and a corpus layout is one registered adapter that `kind: auto` recognises."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pairalign.config import ConfigError, from_dict
from pairalign.data.corpora import registry
from pairalign.data.corpora.folder import is_folder
from pairalign.data.corpora.registry import CorpusKind, detect_kind, load_corpus
from pairalign.data.corpora.spec import CorpusConfig, CorpusSpec
from pairalign.data.manifest import ManifestError, manifest_table, write_manifest
from pairalign.evaluation.eval_sets import EvalSetSpec


def manifest() -> pa.Table:
    rows = [
        {
            "utterance_id": f"{v}_{s}",
            "path": f"/x/{v}/{s}.wav",
            "speaker": v,
            "content_id": s,
            "split": split,
            "duration": 1.0,
        }
        for split, sentences in (("train", "ab"), ("test", "cdef"))
        for s in sentences
        for v in ("p1", "p2")
    ]
    return manifest_table(rows)


def test_a_spec_chooses_whole_sentences():
    table = manifest()
    dev = CorpusSpec(split="test", half="dev").select(table)
    assert dev["content_id"].to_pylist() == ["c", "c", "e", "e"]
    assert len(CorpusSpec(split="test").select(table)) == 8
    assert CorpusSpec(split="test", max_clips=3).select(table)["utterance_id"].to_pylist() == [
        "p1_c",
        "p2_c",
        "p1_d",
    ]
    assert len(CorpusSpec().select(table)) == 12
    with pytest.raises(ValueError, match="set 'x': s has no rows in split 'dev'"):
        CorpusSpec(source="s", split="dev").select(table, "set 'x'")


def test_kinds_and_names_are_checked_where_a_config_is_read():
    spec = from_dict(EvalSetSpec, {"name": "rec", "source": "a.csv", "kind": "manifest"})
    assert spec.kind is CorpusKind.MANIFEST and spec.split == "test"
    with pytest.raises(ConfigError, match=r"kind: 'tar' is not one of"):
        from_dict(CorpusSpec, {"kind": "tar"})
    with pytest.raises(ConfigError, match="give it a name"):
        from_dict(EvalSetSpec, {"source": "a.csv"})


def test_a_new_layout_is_one_registration(monkeypatch, tmp_path):
    (tmp_path / "corpus.tsv").write_text("x")
    monkeypatch.setattr(registry, "ADAPTERS", dict(registry.ADAPTERS))
    registry.register(
        CorpusKind.SHARDS,
        lambda source: manifest(),
        lambda source: source.endswith(".tsv"),
        order=5,
    )
    assert detect_kind(str(tmp_path / "corpus.tsv")) == CorpusKind.SHARDS
    assert len(load_corpus("auto", str(tmp_path / "corpus.tsv"))) == 12
    assert detect_kind("clips.csv") == "manifest"  # the others are still asked
    with pytest.raises(ValueError, match="unknown corpus kind 'tar'"):
        load_corpus("tar", "x")


def test_a_training_stage_takes_its_rows_through_a_spec_in_manifest_order():
    table = manifest().take([7, 6, 5, 4, 3, 2, 1, 0, 8, 9, 10, 11])  # not sorted by sentence
    corpus = CorpusConfig(manifest="m.parquet")
    assert corpus.spec("train") == CorpusSpec(
        "m.parquet", CorpusKind.AUTO, "train", order="manifest"
    )
    train = corpus.train_rows(table)
    assert train["utterance_id"].to_pylist() == ["p2_b", "p1_b", "p2_a", "p1_a"]
    first = corpus.eval_rows(table, max_clips=3)  # the first of the split, as listed
    assert first["utterance_id"].to_pylist() == ["p2_d", "p1_d", "p2_c"]
    dev = corpus.eval_rows(table, half="dev", sentences=1)
    assert dev["utterance_id"].to_pylist() == ["p2_c", "p1_c"]
    assert CorpusConfig().spec("test").kind is CorpusKind.BUILTIN
    with pytest.raises(ValueError, match="train_split: data/builtin has no rows in split 'x'"):
        CorpusConfig(train_split="x").train_rows(table)


def test_the_builtin_kind_reads_a_synthesised_corpus_and_read_errors_name_the_source(tmp_path):
    write_manifest(manifest(), str(tmp_path / "manifest.parquet"))
    assert len(CorpusSpec(str(tmp_path), CorpusKind.BUILTIN, split="test").rows()) == 8
    with pytest.raises(ManifestError, match="no built-in corpus here"):
        CorpusSpec(str(tmp_path / "missing"), CorpusKind.BUILTIN).read()
    with pytest.raises(ManifestError, match=r"^x: cannot read this corpus: unknown corpus kind"):
        CorpusSpec("x", "tar").read()  # type: ignore[arg-type]


def test_the_folder_detector_answers_a_bool(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    assert is_folder(str(tmp_path)) is True
    assert not is_folder(str(tmp_path / "empty")) and not is_folder(str(tmp_path / "missing"))
    assert not is_folder(str(tmp_path / "file.txt"))
