import pyarrow as pa

from pairalign.data.corpora.spec import CorpusConfig, CorpusSpec
from pairalign.data.splits import half_rows
from pairalign.jobs.evaluation_suite import EvaluateConfig, eval_rows


def test_the_suite_measures_the_split_or_one_half_of_its_sentences():
    manifest = pa.Table.from_pylist(
        [
            {
                "utterance_id": f"v{v}_s{s}",
                "content_id": f"s{s}",
                "speaker": f"v{v}",
                "split": "test",
            }
            for s in range(10, 16)
            for v in range(3)
        ]
    )
    everything = eval_rows(EvaluateConfig(), manifest)
    dev, test = (eval_rows(EvaluateConfig(half=h), manifest) for h in ("dev", "test"))
    assert len(everything) == 18 and len(dev) == len(test) == 9
    assert set(dev["content_id"].to_pylist()) == {"s10", "s12", "s14"}
    assert set(dev["utterance_id"].to_pylist()) == set(
        half_rows(manifest, "test", "dev")["utterance_id"].to_pylist()
    )
    assert (
        eval_rows(EvaluateConfig(half="test", max_clips=3), manifest)["content_id"].to_pylist()
        == ["s11"] * 3
    )


def test_the_suite_chooses_its_clips_by_the_corpus_spec():
    config = EvaluateConfig(corpus=CorpusConfig(manifest="m.csv"), half="dev", max_clips=4)
    assert config.spec() == CorpusSpec("m.csv", split="test", half="dev", max_clips=4)
