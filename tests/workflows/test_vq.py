"""workflows/vq.py end to end on a real local Ray cluster: 2 CPU workers with gloo DDP, MLflow,
a worker killed and retried, a whole job (its driver) killed and re-submitted; each resumes from
its last recorded checkpoint and ends with every checkpoint step exactly once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
import ray
import ray.train
import torch

from pairalign.config import to_dict
from pairalign.data.corpora.prepare import PrepareConfig
from pairalign.jobs.checkpoints import latest_checkpoint, latest_step
from pairalign.jobs.corpus import prepare
from pairalign.jobs.tracking import find_mlflow_run
from pairalign.models.checkpoint import load_checkpoint
from pairalign.stages.vq import VQStageConfig
from pairalign.tokenizing.tokenizer import Tokenizer
from workflows.cli import CONFIG_DIR, load_config
from workflows.vq import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    from pairalign.data.corpora.builtin import BuiltinCorpusConfig

    out = str(tmp_path_factory.mktemp("builtin"))
    prepare(
        PrepareConfig(
            out_dir=out,
            use_ray=False,
            corpus=BuiltinCorpusConfig(train_sentences=8, test_sentences=3),
        )
    )
    return out


def args(corpus: str, storage: str, name: str, *extra: str) -> list[str]:
    return [
        f"name={name}",
        f"storage_path={storage}",
        f"corpus.builtin_dir={corpus}",
        "model.encoder.dim=32",
        "model.encoder.layers=1",
        "model.encoder.heads=2",
        "model.quantizer.codebook_size=32",
        "model.quantizer.code_dim=8",
        "train.batch_size=4",
        "train.max_steps=12",
        "train.warmup_steps=2",
        "train.report_every=2",
        "train.checkpoint_every=4",
        "eval_clips=12",
        *extra,
    ]


def history(storage: str, run_id: str, key: str) -> list[tuple[int, float]]:
    mlflow.set_tracking_uri(f"sqlite:///{storage}/mlflow.db")
    return [(m.step, m.value) for m in mlflow.MlflowClient().get_metric_history(run_id, key)]


def run_id_of(storage: str, name: str) -> str:
    run_id = find_mlflow_run(f"sqlite:///{storage}/mlflow.db", name)
    assert run_id is not None, f"no MLflow run named {name}"
    return run_id


def checkpoint_steps(storage: str, name: str) -> tuple[list[int], list[int]]:
    """Steps of the checkpoint directories on disk in the order they were written (their names are
    timestamps), and of the checkpoints Ray Train recorded (what a resumed run can start from)."""
    written = sorted(Path(storage, name).glob("checkpoint_*/step.json"))
    recorded = ray.train.Result.from_path(f"{storage}/{name}").best_checkpoints
    return [json.loads(p.read_text())["step"] for p in written], [m["step"] for _, m in recorded]


@pytest.mark.slow  # the same retry path runs by default in test_s3_storage.py (storage on S3)
def test_worker_killed_mid_run_is_retried_and_the_run_finishes(ray_session, corpus, tmp_path):
    storage = str(tmp_path)
    figures = main(
        args(
            corpus,
            storage,
            "retry",
            "inject_failure_at_step=6",
            "train.max_failures=1",
            "train.keep_checkpoints=5",
        )
    )
    run_id = run_id_of(storage, "retry")
    steps = [s for s, _ in history(storage, run_id, "loss/total")]
    assert max(steps) == 12 and figures["final/step"] == 12
    # (step, start step) of every report: the first worker group reached step 6, the retry
    # restarted from the checkpoint of step 4 and reported each later step once.
    starts = sorted(history(storage, run_id, "train/start_step"))
    assert starts == [(2, 0), (4, 0), (6, 0), (6, 4), (8, 4), (10, 4), (12, 4)]
    assert checkpoint_steps(storage, "retry") == ([4, 8, 12], [4, 8, 12])
    losses = dict(history(storage, run_id, "loss/total"))
    assert losses[12] < losses[2]  # the loss falls
    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    assert (
        run.data.params["train.max_steps"] == "12" and run.data.params["model.encoder.dim"] == "32"
    )
    assert "eval/vq/consistency" in run.data.metrics and "eval/vq/vocab_used" in run.data.metrics
    assert [a.path for a in client.list_artifacts(run_id, "checkpoint")] == [
        "checkpoint/checkpoint.pt",
        "checkpoint/step.json",
    ]
    assert 0.0 <= figures["vq/consistency"] <= 1.0 and figures["vq/tokens"] > 0


@pytest.mark.slow  # ~75 s on 2 cores; CI runs it in make test-slow
def test_killed_job_resubmitted_resumes_from_its_last_recorded_checkpoint(
    ray_session, corpus, tmp_path
):
    """The driver of a running `python workflows/vq.py` (a job on this cluster) is SIGKILLed; the
    cluster reclaims its workers, and the same command resumes from the last recorded checkpoint."""
    storage, name = str(tmp_path), "killed"
    argv = args(corpus, storage, name, "train.keep_checkpoints=5")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
    }
    with open(tmp_path / "job.log", "w") as log:
        job = subprocess.Popen(
            [sys.executable, "workflows/vq.py", *argv],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 400
        while latest_step(storage, name) < 4:
            assert job.poll() is None, (tmp_path / "job.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint within 400 s"
            time.sleep(0.5)
        job.kill()
        job.wait()
    deadline = time.monotonic() + 120
    while ray.available_resources().get("CPU", 0) < 2:  # the dead job's workers are gone
        assert time.monotonic() < deadline, ray.available_resources()
        time.sleep(1)
    killed_at, recorded = latest_checkpoint(storage, name)
    assert 4 <= killed_at < 12
    # A kill can also land after a checkpoint's upload and before Ray Train records it: make one.
    orphan = Path(storage, name, "checkpoint_2999-01-01_00-00-00.000000")
    shutil.copytree(recorded, orphan)
    payload = torch.load(orphan / "checkpoint.pt", weights_only=True)
    torch.save({**payload, "step": killed_at + 2}, orphan / "checkpoint.pt")
    (orphan / "step.json").write_text(json.dumps({"step": killed_at + 2, "stage": "vq"}))

    figures = main(argv)  # the same command again
    assert figures["final/step"] == 12 and figures["final/train/start_step"] == killed_at
    assert not orphan.exists()
    assert checkpoint_steps(storage, name) == ([4, 8, 12], [4, 8, 12])
    run_id = run_id_of(storage, name)
    starts = history(storage, run_id, "train/start_step")
    first = sorted(s for s, v in starts if v == 0)
    assert first == list(range(2, first[-1] + 1, 2)) and first[-1] >= killed_at
    assert sorted(s for s, v in starts if v == killed_at) == list(range(killed_at + 2, 13, 2))
    assert mlflow.MlflowClient().get_run(run_id).info.status == "FINISHED"
    checkpoint = load_checkpoint(latest_checkpoint(storage, name)[1])
    config = load_config(VQStageConfig, CONFIG_DIR / "vq.yaml", argv)
    assert checkpoint["step"] == 12 and checkpoint["stage_config"] == to_dict(config)
    tokenizer = Tokenizer.from_checkpoint(latest_checkpoint(storage, name)[1])
    assert tokenizer.vocab_size == 32
