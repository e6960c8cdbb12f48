"""Shared fixtures: audio files written by soundfile, a real S3 API (moto) on loopback, a real
local Ray cluster per test module (Ray takes seconds to start on two cores), tiny checkpoints."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf

ToneWriter = Callable[..., np.ndarray]

_S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_S3_ENV_CLEARED = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3")


def tone(
    seconds: float, sample_rate: int, *, frequency: float = 440.0, amplitude: float = 0.5
) -> np.ndarray:
    """A sine wave.  # (T,)"""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


@pytest.fixture(scope="session")
def write_tone() -> ToneWriter:
    """write_tone(path, seconds=, sample_rate=, channels=, format=, subtype=) writes a 440 Hz tone
    (channel 0; other channels silent) with soundfile and returns the samples written  # (T, C)"""

    def write(
        path: str | Path,
        *,
        seconds: float = 0.5,
        sample_rate: int = 16_000,
        channels: int = 1,
        format: str = "WAV",
        subtype: str | None = None,
        frequency: float = 440.0,
    ) -> np.ndarray:
        samples = np.zeros((round(seconds * sample_rate), channels), dtype=np.float32)
        samples[:, 0] = tone(seconds, sample_rate, frequency=frequency)
        sf.write(str(path), samples, sample_rate, format=format, subtype=subtype)
        return samples

    return write


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 with one bucket; yields "s3://<bucket>".

    AWS_ENDPOINT_URL and dummy credentials are set in os.environ (so subprocesses such as Ray
    workers see them too) and restored when the session ends."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {**_S3_ENV, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    saved = {name: os.environ.get(name) for name in (*env, *_S3_ENV_CLEARED)}
    for name in _S3_ENV_CLEARED:
        os.environ.pop(name, None)
    os.environ.update(env)
    try:
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
        bucket = "pairalign-test"
        s3fs.S3FileSystem(client_kwargs={"endpoint_url": env["AWS_ENDPOINT_URL"]}).mkdir(bucket)
        yield f"s3://{bucket}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(scope="session")
def small_checkpoints(tmp_path_factory) -> dict[str, str]:
    """A tiny stage-1 ("vq") and stage-2 ("refine") checkpoint with untrained weights; the
    codebook is initialised from random audio so every code is a real row."""
    import torch

    from pairalign.models.checkpoint import save_checkpoint
    from pairalign.models.decoder_kinds import DecoderConfig
    from pairalign.models.encoder import EncoderConfig
    from pairalign.models.pairalign_model import PairAlignConfig, PairAlignModel
    from pairalign.models.quantizer import QuantizerConfig
    from pairalign.models.vq_model import ModelConfig

    root = tmp_path_factory.mktemp("checkpoints")
    small = ModelConfig(
        encoder=EncoderConfig(dim=32, layers=1, heads=2),
        quantizer=QuantizerConfig(codebook_size=16, code_dim=8),
    )
    config = PairAlignConfig(vq=small, decoder=DecoderConfig(dim=32, layers=1, heads=2))
    torch.manual_seed(0)
    model = PairAlignModel(config).train()
    model(0.1 * torch.randn(2, 32_000))  # initialise the codebook
    model.eval()
    save_checkpoint(
        str(root / "vq"),
        model_config=small,
        model_state=model.vq.state_dict(),
        stage="vq",
        stage_config={},
        step=1,
    )
    save_checkpoint(
        str(root / "refine"),
        model_config=config,
        model_state=model.state_dict(),
        stage="refine",
        stage_config={},
        step=1,
    )
    return {"vq": str(root / "vq"), "refine": str(root / "refine")}


@pytest.fixture(scope="module")
def ray_session(s3_server: str) -> Iterator[None]:
    """A real local Ray cluster for one test module, started after the S3 server so that workers
    inherit its endpoint and credentials."""
    import ray

    for attempt in (1, 2):  # a loaded 2-core machine can miss Ray's 30 s raylet start-up window
        try:
            ray.init(
                num_cpus=2,
                object_store_memory=300 * 1024 * 1024,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
            break
        except Exception as err:
            ray.shutdown()
            if attempt == 2 or "timed out during startup" not in str(err):
                raise
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def tone_rows(tmp_path_factory, write_tone) -> pa.Table:
    """Six tones of 1.0-2.0 s as manifest rows (one speaker, six contents): a tiny train split."""
    root = tmp_path_factory.mktemp("tones")
    paths = []
    for i in range(6):
        write_tone(root / f"u{i}.wav", seconds=1.0 + 0.2 * i, frequency=200.0 + 50 * i)
        paths.append(str(root / f"u{i}.wav"))
    return pa.table(
        {
            "utterance_id": [f"u{i}" for i in range(6)],
            "path": paths,
            "speaker": ["s"] * 6,
            "content_id": [f"c{i}" for i in range(6)],
        }
    )
