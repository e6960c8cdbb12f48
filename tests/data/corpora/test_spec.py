"""What a config names a corpus by: a spec chooses rows (a split, half its sentences, the first
clips), and a corpus layout is one registered adapter that `kind: auto` recognises."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pairalign.config import ConfigError, from_dict
from pairalign.data.corpora import registry
from pairalign.data.corpora.registry import CorpusKind, detect_kind, load_corpus
from pairalign.data.corpora.spec import CorpusSpec
from pairalign.data.manifest import manifest_table
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
