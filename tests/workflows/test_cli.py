"""Paths as typed: run from another directory than the Ray cluster's, each workflow takes the
relative paths of the README (`init_checkpoint=runs/vq-tiny/checkpoint_...`) against the
directory it was started in, though its workers and actors run elsewhere."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import mlflow
import pytest

from pairalign.data.corpora.builtin import BuiltinCorpusConfig
from pairalign.data.corpora.prepare import PrepareConfig
from pairalign.data.manifest import read_manifest
from pairalign.jobs.checkpoints import latest_checkpoint
from pairalign.jobs.corpus import prepare
from pairalign.jobs.tuning import SweepConfig
from pairalign.models.checkpoint import load_checkpoint
from pairalign.tokenizing.archive import read_archive, read_info
from workflows import evaluate, refine, tokenize_archive
from workflows.cli import parse_args

VQ, REFINE = "runs/vq-tiny/checkpoint_0", "runs/refine-tiny/checkpoint_0"


@pytest.fixture(scope="module")
def work(tmp_path_factory, small_checkpoints) -> Path:
    """A directory laid out as the README's commands expect: data/builtin and runs/<name>/."""
    root = tmp_path_factory.mktemp("work")
    prepare(
        PrepareConfig(
            out_dir=str(root / "data" / "builtin"),
            use_ray=False,
            corpus=BuiltinCorpusConfig(train_sentences=2, test_sentences=1),
        )
    )
    shutil.copytree(small_checkpoints["vq"], root / VQ)
    shutil.copytree(small_checkpoints["refine"], root / REFINE)
    return root


def test_parse_args_resolves_every_path_against_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = parse_args(
        SweepConfig,
        "tune.yaml",
        [f"refine.init_checkpoint=../x/{VQ}", "baseline_checkpoint=s3://b/runs/c"],
    )
    assert config.storage_path == str(tmp_path / "runs")
    assert config.refine.init_checkpoint == str(tmp_path.parent / "x" / VQ)
    assert config.refine.corpus.builtin_dir == str(tmp_path / "data" / "builtin")
    assert config.refine.corpus.manifest == "" and config.baseline_checkpoint == "s3://b/runs/c"


def test_refine_from_a_relative_checkpoint(ray_session, work, monkeypatch):
    monkeypatch.chdir(work)
    figures = refine.main(
        [
            "name=refine-rel",
            f"init_checkpoint={VQ}",
            "storage_path=runs",
            "corpus.builtin_dir=data/builtin",
            "decoder.dim=32",
            "decoder.layers=1",
            "decoder.heads=2",
            "train.num_workers=1",
            "train.batch_size=2",
            "train.max_steps=2",
            "train.warmup_steps=1",
            "train.report_every=1",
            "train.checkpoint_every=2",
            "objective.teacher.start=1",
            "objective.teacher.ramp=1",
            "pipeline.batch_size=8",
            "eval_clips=4",
        ]
    )
    assert figures["final/step"] == 2
    step, checkpoint = latest_checkpoint(str(work / "runs"), "refine-rel")
    assert step == 2 and checkpoint.startswith(str(work / "runs" / "refine-rel"))
    stage_config = load_checkpoint(checkpoint)["stage_config"]
    assert stage_config["init_checkpoint"] == str(work / VQ)  # the checkpoint records it absolute
    assert stage_config["corpus"]["builtin_dir"] == str(work / "data" / "builtin")
    # the collapse watch (6 dev clips of the one test sentence) reports at the checkpoint only
    assert 0 <= figures["final/watch/greedy_map"] <= 1
    assert figures["final/watch/target_teacher_share"] == 1.0  # teacher_start=1: step 2's targets
    mlflow.set_tracking_uri(f"sqlite:///{work / 'runs' / 'mlflow.db'}")
    (run,) = mlflow.search_runs(
        experiment_names=["pairalign"],
        output_format="list",
        filter_string="tags.`pairalign.run_name` = 'refine-rel'",
    )
    client = mlflow.MlflowClient()
    for key in (
        "watch/greedy_map",
        "watch/greedy_perplexity",
        "watch/target_map",
        "watch/target_perplexity",
    ):
        assert [m.step for m in client.get_metric_history(run.info.run_id, key)] == [2]


def test_tokenize_archive_from_a_relative_checkpoint(ray_session, work, monkeypatch):
    monkeypatch.chdir(work)
    totals = tokenize_archive.main(
        [
            "corpus.builtin_dir=data/builtin",
            "out_dir=archive",
            "tokenizer.name=vq",
            "tokenizer.kind=vq",
            f"tokenizer.checkpoint={VQ}",
            "pool_size=1",
            "cpus_per_actor=0.5",
            "batch_size=8",
        ]
    )
    manifest = read_manifest(str(work / "data" / "builtin" / "manifest.parquet"))
    ids = read_archive(str(work / "archive" / "vq"))["utterance_id"].to_pylist()  # where typed
    assert sorted(ids) == sorted(manifest["utterance_id"].to_pylist()) and totals["rejects"] == 0
    assert read_info(str(work / "archive" / "vq"))["checkpoint"] == str(work / VQ)


def test_evaluate_a_relative_checkpoint(ray_session, work, monkeypatch):
    monkeypatch.chdir(work)
    figures = evaluate.main(
        [
            "corpus.builtin_dir=data/builtin",
            f"checkpoint={REFINE}",
            "out_dir=eval",
            "storage_path=eval-runs",
            "consistency_clips=4",
            "sweep.utterances=1",
            "sweep.clips_per_utterance=2",
            "sweep.shifts=[0.5]",
            "tokenize.pool_size=1",
            "tokenize.cpus_per_actor=0.5",
            "tokenize.batch_size=8",
        ]
    )
    assert figures["eval/clips"] == 8  # the test split: one sentence, eight voices
    for name in ("pairalign", "vq"):
        archive = read_archive(str(work / "eval" / "archives" / name))
        assert len(archive) == 8 and f"{name}/map" in figures
    written = json.loads((work / "eval" / "figures.json").read_text())
    assert written["vq/map"] == pytest.approx(figures["vq/map"])
    assert os.path.exists(work / "eval-runs" / "mlflow.db")
