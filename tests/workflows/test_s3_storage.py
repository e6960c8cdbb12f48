"""Training storage on S3 through a real S3 API (moto's server on loopback): Ray Train checkpoints
and MLflow artifacts under storage_path=s3://..., a worker killed and restored from its S3
checkpoint, a finished run found again on S3; credentials come only from the environment and are
never written to MLflow, to storage or to the logs."""

from __future__ import annotations

import json
import os
import uuid

import boto3
import mlflow
import pytest
import ray
import s3fs
import torch

from pairalign.config import ConfigError
from pairalign.data.corpora.prepare import PrepareConfig
from pairalign.data.storage import join, url_to_fs
from pairalign.jobs.checkpoints import drop_unrecorded_checkpoints, latest_checkpoint
from pairalign.jobs.corpus import prepare
from pairalign.jobs.tracking import mlflow_run
from pairalign.models.checkpoint import load_checkpoint, save_checkpoint
from pairalign.models.encoder import EncoderConfig
from pairalign.models.quantizer import QuantizerConfig
from pairalign.models.vq_model import ModelConfig, VQModel
from pairalign.stages.config import TrackingConfig
from pairalign.stages.refine import RefineConfig, resolve_init
from pairalign.stages.vq import VQStageConfig
from pairalign.tokenizing.tokenizer import Tokenizer
from workflows.cli import CONFIG_DIR, load_config
from workflows.vq import main

SECRET = f"pairalign-test-secret-{uuid.uuid4().hex}"
KEY_ID = f"AKIAPAIRALIGN{uuid.uuid4().hex[:8].upper()}"
SMALL = ModelConfig(
    encoder=EncoderConfig(dim=32, layers=1, heads=2),
    quantizer=QuantizerConfig(codebook_size=32, code_dim=8),
)


@pytest.fixture(scope="module")
def ray_session(s3_server):
    """This module's own cluster: started after credentials that can be recognised are set (moto
    accepts any), so every Ray worker has them; worker logs are forwarded to the driver."""
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update({"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET})
    s3fs.S3FileSystem.clear_instance_cache()
    ray.init(
        num_cpus=2,
        object_store_memory=300 * 1024 * 1024,
        include_dashboard=False,
        log_to_driver=True,
        configure_logging=False,
    )
    try:
        yield
    finally:
        ray.shutdown()
        os.environ.update(saved)
        s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    from pairalign.data.corpora.builtin import BuiltinCorpusConfig

    out = str(tmp_path_factory.mktemp("builtin"))
    prepare(
        PrepareConfig(
            out_dir=out,
            use_ray=False,
            corpus=BuiltinCorpusConfig(train_sentences=6, test_sentences=2),
        )
    )
    return out


def objects(s3_url: str) -> dict[str, bytes]:
    """Every object under `s3_url`, read through boto3 (not through pairalign's own code)."""
    bucket, _, prefix = s3_url.removeprefix("s3://").partition("/")
    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            out[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return out


def test_checkpoint_round_trip_through_s3(s3_server):
    model = VQModel(SMALL)
    url = save_checkpoint(
        f"{s3_server}/roundtrip/ckpt",
        model_config=SMALL,
        stage="vq",
        step=7,
        model_state=model.state_dict(),
        stage_config={"name": "x"},
    )
    assert url == f"{s3_server}/roundtrip/ckpt/checkpoint.pt"
    assert list(objects(f"{s3_server}/roundtrip/")) == ["roundtrip/ckpt/checkpoint.pt"]
    back = load_checkpoint(f"{s3_server}/roundtrip/ckpt")
    assert back["step"] == 7 and back["stage_config"] == {"name": "x"}
    for key, value in model.state_dict().items():
        assert torch.equal(back["model"][key], value), key


def test_remote_storage_needs_a_tracking_server(tmp_path, s3_server):
    with pytest.raises(
        ConfigError, match=r"storage_path=s3://b/runs is remote.*tracking\.tracking_uri"
    ):
        load_config(VQStageConfig, CONFIG_DIR / "vq.yaml", ["storage_path=s3://b/runs"])
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    config = load_config(
        VQStageConfig,
        CONFIG_DIR / "vq.yaml",
        ["storage_path=s3://b/runs", f"tracking.tracking_uri={uri}"],
    )
    mlflow_run(config.tracking, str(tmp_path / "runs"), "local", config)  # artifacts on local disk
    with pytest.raises(ValueError, match=r"use a new tracking\.experiment"):
        mlflow_run(config.tracking, f"{s3_server}/runs", "remote", config)


@pytest.mark.parametrize("where", ["local", "s3"])
def test_only_checkpoint_directories_newer_than_the_resumed_step_are_dropped(
    where, s3_server, tmp_path
):
    root = str(tmp_path) if where == "local" else f"{s3_server}/drop"
    fs, run = url_to_fs(join(root, "run"))
    for name in (
        "checkpoint_a/step.json",
        "checkpoint_b/step.json",
        "checkpoint_c/checkpoint.pt",
        "checkpoint_manager_snapshot.json",
        "injected-failure-3",
    ):
        fs.makedirs(f"{run}/{name}".rsplit("/", 1)[0], exist_ok=True)
        with fs.open(f"{run}/{name}", "w") as f:
            f.write(
                {"checkpoint_a": '{"step": 4}', "checkpoint_b": '{"step": 8}'}.get(name[:12], "")
            )
    dropped = drop_unrecorded_checkpoints(root, "run", 4)  # b: newer; c: cut off before step.json
    assert sorted(d.rsplit("/", 1)[1] for d in dropped) == ["checkpoint_b", "checkpoint_c"]
    fs.invalidate_cache()
    left = sorted(p.rstrip("/").rsplit("/", 1)[1] for p in fs.ls(run))
    assert left == ["checkpoint_a", "checkpoint_manager_snapshot.json", "injected-failure-3"]


def test_vq_on_s3_survives_a_killed_worker_and_resumes_from_s3(
    ray_session, s3_server, corpus, tmp_path, capfd, caplog
):
    storage, db = f"{s3_server}/vq-runs", tmp_path / "mlflow.db"
    argv = [
        "name=s3",
        f"storage_path={storage}",
        f"tracking.tracking_uri=sqlite:///{db}",
        "tracking.experiment=s3",
        f"corpus.builtin_dir={corpus}",
        "model.encoder.dim=32",
        "model.encoder.layers=1",
        "model.encoder.heads=2",
        "model.quantizer.codebook_size=32",
        "model.quantizer.code_dim=8",
        "train.batch_size=4",
        "train.max_steps=6",
        "train.warmup_steps=2",
        "train.report_every=2",
        "train.checkpoint_every=2",
        "train.keep_checkpoints=5",
        "train.max_failures=1",
        "inject_failure_at_step=3",
        "eval_clips=6",
    ]
    figures = main(argv)
    assert figures["final/step"] == 6
    # Ray Train wrote every checkpoint to S3, once each; the killed worker's marker is there too.
    stored = objects(f"{storage}/s3/")
    steps = [json.loads(v)["step"] for k, v in sorted(stored.items()) if k.endswith("/step.json")]
    assert steps == [2, 4, 6]  # sorted by directory name (time): in step order, none repeated
    assert sum(k.endswith("/checkpoint.pt") for k in stored) == 3
    assert "vq-runs/s3/injected-failure-3" in stored
    # The retried worker group restored the step-2 checkpoint from S3.
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    client = mlflow.MlflowClient()
    (run,) = mlflow.search_runs(experiment_names=["s3"], output_format="list")
    starts = client.get_metric_history(run.info.run_id, "train/start_step")
    assert sorted((m.step, m.value) for m in starts) == [(2, 0.0), (4, 2.0), (6, 2.0)]
    # MLflow artifacts (config, end-of-run figures and final checkpoint) went to
    # <storage_path>/mlartifacts on S3.
    assert run.info.artifact_uri.startswith(f"{storage}/mlartifacts/")
    artifacts = objects(run.info.artifact_uri)
    assert {k.rsplit("/artifacts/", 1)[1] for k in artifacts} == {
        "config.json",
        "figures.json",
        "checkpoint/checkpoint.pt",
        "checkpoint/step.json",
    }
    step, final = latest_checkpoint(storage, "s3")
    assert step == 6 and final.startswith(f"{storage}/s3/checkpoint_")
    assert Tokenizer.from_checkpoint(final).vocab_size == 32
    # Re-running the finished run finds its checkpoint on S3 and trains no further.
    again = main(argv)
    assert again["final/step"] == 6 and again["vq/tokens"] == figures["vq/tokens"]
    assert sorted(objects(f"{storage}/s3/")) == sorted(stored)
    # The workers had the secret, and it was written nowhere: MLflow, S3, the logs.
    assert ray.get(ray.remote(lambda: os.environ["AWS_SECRET_ACCESS_KEY"]).remote()) == SECRET
    run = client.get_run(run.info.run_id)
    bucket = [v.decode("latin-1") for v in objects(s3_server).values()]
    logs = [*capfd.readouterr(), caplog.text]  # driver output, forwarded worker logs, log records
    assert "(RayTrainWorker pid=" in "".join(logs) and run.data.params["storage_path"] == storage
    written = [
        *run.data.params.values(),
        *run.data.tags.values(),
        *bucket,
        *logs,
        db.read_bytes().decode("latin-1"),
    ]
    for secret in (SECRET, KEY_ID):
        assert not [text for text in written if secret in text]


def test_refine_init_from_an_mlflow_run_is_copied_to_s3_storage(s3_server, tmp_path):
    model = VQModel(SMALL)
    save_checkpoint(
        str(tmp_path / "vq"),
        model_config=SMALL,
        model_state=model.state_dict(),
        stage="vq",
        stage_config={},
        step=3,
    )
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    experiment = client.create_experiment("init", artifact_location=f"{s3_server}/init-artifacts")
    run_id = client.create_run(experiment).info.run_id
    client.log_artifacts(run_id, str(tmp_path / "vq"), artifact_path="checkpoint")
    config = RefineConfig(
        name="r",
        storage_path=f"{s3_server}/refine-runs",
        init_mlflow_run_id=run_id,
        tracking=TrackingConfig(tracking_uri=uri),
    )
    init = resolve_init(config)
    assert init == f"{s3_server}/refine-runs/r/init/checkpoint"
    back = load_checkpoint(init)
    assert back["step"] == 3 and torch.equal(
        back["model"]["quantizer.codebook"], model.state_dict()["quantizer.codebook"]
    )
