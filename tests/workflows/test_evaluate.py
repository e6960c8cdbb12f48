"""workflows/evaluate.py end to end on a tiny built-in corpus: three tokenizer kinds tokenized,
measured, logged to one MLflow run with its table and plots."""

from __future__ import annotations

import json

import mlflow
import pytest

from pairalign.data.corpora.builtin import BuiltinCorpusConfig
from pairalign.data.corpora.prepare import PrepareConfig
from pairalign.data.corpora.spec import CorpusConfig, load_manifest
from pairalign.evaluation.retrieval import self_retrieval
from pairalign.jobs.corpus import prepare
from pairalign.jobs.dense_grid import DenseGridConfig, train_dense_grid
from pairalign.tokenizing.archive import read_archive
from workflows.evaluate import main


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("builtin"))
    prepare(
        PrepareConfig(
            out_dir=out,
            use_ray=False,
            corpus=BuiltinCorpusConfig(train_sentences=4, test_sentences=3),
        )
    )
    return out


def test_evaluate_logs_every_tokenizer_to_one_mlflow_run(
    ray_session, corpus, small_checkpoints, tmp_path
):
    manifest = load_manifest(CorpusConfig(builtin_dir=corpus))
    train_dense_grid(
        DenseGridConfig(out_dir=str(tmp_path / "dense"), ks=(8,), pools=(8,), iters=5), manifest
    )
    out = tmp_path / "eval"
    figures = main(
        [
            f"corpus.builtin_dir={corpus}",
            f"checkpoint={small_checkpoints['refine']}",
            f"dense_dir={tmp_path / 'dense'}",
            f"out_dir={out}",
            f"storage_path={tmp_path}",
            "consistency_clips=8",
            "sweep.utterances=2",
            "sweep.clips_per_utterance=2",
            "sweep.shifts=[0.1,0.5]",
            "tokenize.pool_size=1",
            "tokenize.cpus_per_actor=0.5",
            f"eval_sets=[{{name: more, source: {corpus}/manifest.parquet, "
            "split: test, half: dev}]",
        ]
    )
    names = ["pairalign", "vq", "dense-k8-p8"]
    # an extra set: the same figures under its name, on its half's 2 sentences x 8 voices
    assert figures["more/clips"] == 16
    for name in names:
        assert 0 < figures[f"more/{name}/chance_map"] < 1 and figures[f"more/{name}/queries"] == 16
    assert "more/compare/best_dense_map_any_rate" in figures
    assert figures["eval/clips"] == 24 and figures["eval/sweep_utterances"] == 2
    for name in names:
        for key in (
            "token_rate",
            "map",
            "precision_at_5",
            "mrr",
            "chance_map",
            "consistency",
            "perplexity",
            "sweep_overlap",
            "sweep_drift_0.5s",
        ):
            assert f"{name}/{key}" in figures, f"{name}/{key}"
        assert 0 < figures[f"{name}/chance_map"] < 1 and figures[f"{name}/queries"] == 24
    # the retrieval figures are those of the archive on disk, recomputed here
    rows = {r["utterance_id"]: r for r in manifest.to_pylist()}
    archive = read_archive(str(out / "archives" / "vq")).sort_by("utterance_id").to_pylist()
    again = self_retrieval(
        [r["tokens"] for r in archive],
        [rows[r["utterance_id"]]["content_id"] for r in archive],
        [rows[r["utterance_id"]]["speaker"] for r in archive],
        "vq",
    )
    assert again["vq/map"] == pytest.approx(figures["vq/map"])
    assert figures["dense-k8-p8/token_rate"] == pytest.approx(12.5, abs=0.3)

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    (run,) = mlflow.search_runs(experiment_names=["pairalign-eval"], output_format="list")
    assert run.info.status == "FINISHED"
    assert run.data.metrics["pairalign/map"] == pytest.approx(figures["pairalign/map"])
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert {
        "summary.md",
        "summary.csv",
        "figures.json",
        "map_vs_rate.png",
        "sweep_drift.png",
        "tokens_on_spectrogram.png",
    } <= artifacts
    table = (out / "summary.md").read_text()
    assert all(f"| {name} |" in table for name in names)
    assert json.loads((out / "figures.json").read_text())["vq/map"] == pytest.approx(
        figures["vq/map"]
    )
