"""workflows/vq.py end to end on a real local Ray cluster: 2 CPU workers with gloo DDP, MLflow,
a worker killed and retried, a failed run re-submitted and resumed from its checkpoint."""

from __future__ import annotations

import mlflow
import pytest

from pairalign.checkpoint import load_checkpoint
from pairalign.config import to_dict
from pairalign.tokenizer import Tokenizer
from workflows.cli import CONFIG_DIR, load_config
from workflows.prepare import PrepareConfig, prepare
from workflows.training import find_mlflow_run, latest_checkpoint, latest_step
from workflows.vq import VQStageConfig, main


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    from pairalign.corpora.builtin import BuiltinCorpusConfig

    out = str(tmp_path_factory.mktemp("builtin"))
    prepare(PrepareConfig(out_dir=out, use_ray=False,
                          corpus=BuiltinCorpusConfig(train_sentences=8, test_sentences=3)))  # fmt: skip
    return out


def args(corpus: str, storage: str, name: str, *extra: str) -> list[str]:
    return [
        f"name={name}", f"storage_path={storage}", f"corpus.builtin_dir={corpus}",
        "model.encoder.dim=32", "model.encoder.layers=1", "model.encoder.heads=2",
        "model.quantizer.codebook_size=32", "model.quantizer.code_dim=8",
        "train.batch_size=4", "train.max_steps=12", "train.warmup_steps=2",
        "train.report_every=2", "train.checkpoint_every=4", "eval_clips=12", *extra,
    ]  # fmt: skip


def history(storage: str, run_id: str, key: str) -> list[tuple[int, float]]:
    mlflow.set_tracking_uri(f"sqlite:///{storage}/mlflow.db")
    return [(m.step, m.value) for m in mlflow.MlflowClient().get_metric_history(run_id, key)]


def run_id_of(storage: str, name: str) -> str:
    run_id = find_mlflow_run(f"sqlite:///{storage}/mlflow.db", name)
    assert run_id is not None, f"no MLflow run named {name}"
    return run_id


def test_worker_killed_mid_run_is_retried_and_the_run_finishes(ray_session, corpus, tmp_path):
    storage = str(tmp_path)
    figures = main(
        args(corpus, storage, "retry", "inject_failure_at_step=6", "train.max_failures=1")
    )
    run_id = run_id_of(storage, "retry")
    steps = [s for s, _ in history(storage, run_id, "loss/total")]
    assert max(steps) == 12 and figures["final/step"] == 12
    starts = {v for _, v in history(storage, run_id, "train/start_step")}
    assert starts == {0.0, 4.0}  # the retry restarted from the checkpoint of step 4
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


def test_failed_run_resubmitted_resumes_at_its_checkpoint(ray_session, corpus, tmp_path):
    storage = str(tmp_path)
    argv = args(corpus, storage, "resume", "inject_failure_at_step=6", "train.max_failures=0")
    with pytest.raises(Exception):  # noqa: B017 - Ray wraps the dead worker in its own error types
        main(argv)
    assert latest_step(storage, "resume") == 4
    figures = main(argv)  # the same command again
    assert figures["final/step"] == 12 and figures["final/train/start_step"] == 4
    run_id = run_id_of(storage, "resume")
    starts = history(storage, run_id, "train/start_step")
    assert {v for s, v in starts if s <= 6} == {0.0, 4.0}  # step 6 was reported by both attempts
    assert {v for s, v in starts if s > 6} == {4.0}
    checkpoint = load_checkpoint(latest_checkpoint(storage, "resume")[1])
    config = load_config(VQStageConfig, CONFIG_DIR / "vq.yaml", argv)
    assert checkpoint["step"] == 12 and checkpoint["stage_config"] == to_dict(config)
    tokenizer = Tokenizer.from_checkpoint(latest_checkpoint(storage, "resume")[1])
    assert tokenizer.vocab_size == 32
