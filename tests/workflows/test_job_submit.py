"""`ray job submit` of workflows/refine.py against a real local Ray head, as the README shows."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
import torch

from pairalign.data.corpora.prepare import PrepareConfig
from pairalign.jobs.corpus import prepare
from pairalign.models.checkpoint import save_checkpoint
from pairalign.models.encoder import EncoderConfig
from pairalign.models.quantizer import QuantizerConfig
from pairalign.models.vq_model import ModelConfig, VQModel

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SMALL = ModelConfig(
    encoder=EncoderConfig(dim=32, layers=1, heads=2),
    quantizer=QuantizerConfig(codebook_size=32, code_dim=8),
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """A Ray head started with `ray start`, its dashboard (the job server) on loopback."""
    temp = tmp_path_factory.mktemp("ray")
    gcs, dashboard = _free_port(), _free_port()
    # Ray 2.60 heads require a token; `ray job submit` reads ~/.ray/auth_token when told to.
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "token",
    }
    start = [
        str(BIN / "ray"),
        "start",
        "--head",
        f"--port={gcs}",
        "--num-cpus=2",
        "--node-ip-address=127.0.0.1",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard}",
        "--include-dashboard=true",
        f"--dashboard-agent-listen-port={_free_port()}",
        f"--dashboard-agent-grpc-port={_free_port()}",
        f"--metrics-export-port={_free_port()}",
        f"--runtime-env-agent-port={_free_port()}",
        f"--ray-client-server-port={_free_port()}",
        f"--object-store-memory={400 * 1024 * 1024}",
        f"--temp-dir={temp}",
        "--disable-usage-stats",
    ]
    subprocess.run(
        ["ray", "get-auth-token", "--generate"], env=env, capture_output=True, timeout=60
    )
    subprocess.run(start, check=True, env=env, capture_output=True, timeout=180)
    try:
        yield f"http://127.0.0.1:{dashboard}", env
    finally:
        _stop(str(temp), f":{gcs}")


def _stop(*marks: str) -> None:
    """Stop this head's processes and their children only (`ray stop` would stop every Ray
    cluster on the machine)."""
    parent, cmdlines = {}, {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdlines[int(proc.name)] = (proc / "cmdline").read_bytes().decode(errors="replace")
            parent[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    mine = {pid for pid, cmd in cmdlines.items() if any(m in cmd for m in marks)}
    while True:
        more = {pid for pid, ppid in parent.items() if ppid in mine} - mine
        if not more:
            break
        mine |= more
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in mine:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        time.sleep(2)


def test_refine_runs_through_ray_job_submit_and_logs_to_mlflow(head, tmp_path):
    address, env = head
    corpus = tmp_path / "builtin"
    from pairalign.data.corpora.builtin import BuiltinCorpusConfig

    prepare(
        PrepareConfig(
            out_dir=str(corpus),
            use_ray=False,
            corpus=BuiltinCorpusConfig(train_sentences=4, test_sentences=2),
        )
    )
    torch.manual_seed(0)
    stage1 = VQModel(SMALL).train()
    stage1(0.1 * torch.randn(2, 48_000))  # initialise the codebook
    save_checkpoint(
        str(tmp_path / "vq"),
        model_config=SMALL,
        model_state=stage1.state_dict(),
        stage="vq",
        stage_config={},
        step=1,
    )
    storage = tmp_path / "runs"
    command = [
        str(BIN / "ray"),
        "job",
        "submit",
        "--address",
        address,
        "--working-dir",
        str(REPO),
        "--",
        "python",
        "workflows/refine.py",
        "name=job",
        f"storage_path={storage}",
        f"corpus.builtin_dir={corpus}",
        f"init_checkpoint={tmp_path / 'vq'}",
        "decoder.dim=32",
        "decoder.layers=1",
        "decoder.heads=2",
        "train.batch_size=4",
        "train.max_steps=4",
        "train.report_every=2",
        "train.checkpoint_every=2",
        "objective.teacher.start=2",
        "objective.teacher.ramp=2",
        "eval_clips=4",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "succeeded" in output and "final checkpoint" in output
    mlflow.set_tracking_uri(f"sqlite:///{storage}/mlflow.db")
    (run,) = mlflow.search_runs(experiment_names=["pairalign"], output_format="list")
    assert run.data.tags["pairalign.run_name"] == "job"
    steps = [
        m.step for m in mlflow.MlflowClient().get_metric_history(run.info.run_id, "stage2/cross")
    ]
    assert steps == [2, 4]
    assert (
        "eval/pairalign/token_rate" in run.data.metrics and "eval/vq/token_rate" in run.data.metrics
    )


def test_tokenize_archive_runs_through_ray_job_submit(head, tmp_path, small_checkpoints):
    from pairalign.data.corpora.builtin import BuiltinCorpusConfig
    from pairalign.tokenizing.archive import read_archive

    address, env = head
    corpus = tmp_path / "builtin"
    manifest = prepare(
        PrepareConfig(
            out_dir=str(corpus),
            use_ray=False,
            corpus=BuiltinCorpusConfig(train_sentences=2, test_sentences=2),
        )
    )
    out = tmp_path / "archive"
    command = [
        str(BIN / "ray"),
        "job",
        "submit",
        "--address",
        address,
        "--working-dir",
        str(REPO),
        "--",
        "python",
        "workflows/tokenize_archive.py",
        f"corpus.builtin_dir={corpus}",
        f"out_dir={out}",
        "tokenizer.name=vq",
        "tokenizer.kind=vq",
        f"tokenizer.checkpoint={small_checkpoints['vq']}",
        "pool_size=1",
        "cpus_per_actor=0.5",
        "batch_size=8",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "succeeded" in output and f"clips {len(manifest)}" in output
    ids = read_archive(str(out / "vq"))["utterance_id"].to_pylist()
    assert sorted(ids) == sorted(manifest["utterance_id"].to_pylist())
