"""One evaluation path: the stages' end-of-run figures, the sweep's held-out figures and the
evaluation suite measure a checkpoint through `measure_tokenizer` and agree to the last bit."""

from __future__ import annotations

import math

import pyarrow.compute as pc
import pytest

from pairalign.data.corpora.builtin import BuiltinCorpusConfig
from pairalign.data.corpora.prepare import PrepareConfig
from pairalign.data.corpora.spec import CorpusConfig, load_manifest
from pairalign.data.views import ViewConfig
from pairalign.evaluation.figures import checkpoint_figures, load_clips
from pairalign.evaluation.heldout import HeldoutConfig, heldout_figures
from pairalign.jobs.corpus import prepare
from pairalign.jobs.evaluation_suite import EvaluateConfig, eval_rows, evaluate
from pairalign.jobs.tokenize_job import TokenizeConfig
from pairalign.tokenizing.tokenizer import Tokenizer

FIGURES = (
    "token_rate",
    "tokens",
    "mean_length",
    "length_std",
    "distinct_rate",
    "vocab_used",
    "perplexity",
    "distinct_across_content",
    "map",
    "mrr",
    "precision_at_1",
    "precision_at_5",
    "chance_map",
    "queries",
    "unrelated_distance",
    "consistency",
    "exact_match",
    "cross_voice_consistency",
    "cross_voice_pairs",
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("builtin"))
    prepare(
        PrepareConfig(
            out_dir=out,
            use_ray=False,
            corpus=BuiltinCorpusConfig(train_sentences=2, test_sentences=3),
        )
    )
    return out


def test_end_of_run_sweep_and_suite_give_identical_figures(
    ray_session, corpus, small_checkpoints, tmp_path
):
    checkpoint, views = small_checkpoints["refine"], ViewConfig()
    manifest = load_manifest(CorpusConfig(builtin_dir=corpus))
    window = {"window_seconds": 2.0, "overlap_seconds": 0.5}  # so that long clips are windowed
    config = EvaluateConfig(
        corpus=CorpusConfig(builtin_dir=corpus),
        checkpoint=checkpoint,
        out_dir=str(tmp_path / "eval"),
        storage_path=str(tmp_path),
        consistency_clips=24,
        tokenize=TokenizeConfig(pool_size=1, cpus_per_actor=0.5, **window),
    )
    rows = eval_rows(config, manifest)  # the suite's clips, in its order
    assert len(rows) == 24 and pc.max(rows["duration"]).as_py() > 2.0
    suite = evaluate(config, manifest)
    clips = load_clips(rows, views, name="dev", view_clips=24, **window)
    end_of_run = checkpoint_figures(checkpoint, clips)
    sweep = heldout_figures(
        Tokenizer.from_checkpoint(checkpoint), clips, HeldoutConfig(), kinds=("pairalign", "vq")
    )
    for kind in ("pairalign", "vq"):
        for figure in FIGURES:
            values = (
                suite[f"{kind}/{figure}"],
                end_of_run[f"{kind}/{figure}"],
                sweep[f"dev/{kind}/{figure}"],
            )
            assert not math.isnan(values[0]), f"{kind}/{figure}"
            assert values[0] == values[1] == values[2], f"{kind}/{figure}: {values}"
