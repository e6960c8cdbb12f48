"""The sections every training stage's config has (`StageRunConfig`): run name and storage, the
corpus, the loop, the views, the paired-view pipeline's and MLflow's settings, what is measured
after training. Plain dataclasses: a stage's config loads and checks without Ray or MLflow."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from pairalign.config import ConfigError, PathStr
from pairalign.data.corpora.spec import CorpusConfig
from pairalign.data.storage import is_remote
from pairalign.data.views import ViewConfig
from pairalign.evaluation.eval_sets import EvalSetSpec
from pairalign.training.loop import TrainConfig


@dataclass(frozen=True)
class PipelineConfig:
    """How the Ray Data stage of paired views is run (`pairalign.jobs.paired_views`)."""

    batch_size: int = 32  # clips per map_batches call
    num_cpus_per_task: float = 1.0
    concurrency: int | None = None  # max parallel map tasks (None: as many as CPUs allow)


@dataclass(frozen=True)
class TrackingConfig:
    tracking_uri: str = ""  # "" -> sqlite:///<storage_path>/mlflow.db
    experiment: str = "pairalign"


REMOTE_TRACKING_ERROR = (
    "storage_path={storage_path} is remote, and MLflow's default store "
    "(sqlite:///<storage_path>/mlflow.db) must be a local file: set tracking.tracking_uri, e.g. "
    "tracking.tracking_uri=http://<mlflow server>:5000 (or "
    "sqlite:////<absolute local path>/mlflow.db on a single machine); run artifacts then go to "
    "<storage_path>/mlartifacts"
)


def tracking_uri(tracking: TrackingConfig, storage_path: str) -> str:
    if tracking.tracking_uri:
        return tracking.tracking_uri
    if is_remote(storage_path):
        raise ValueError(REMOTE_TRACKING_ERROR.format(storage_path=storage_path))
    return f"sqlite:///{os.path.abspath(os.path.join(storage_path, 'mlflow.db'))}"


@dataclass(frozen=True)
class StageRunConfig:
    """The sections every training stage has; a stage's config adds its model and objective."""

    name: str = "run"
    storage_path: PathStr = "runs"  # Ray Train storage: a path every node sees, or s3://b/prefix
    seed: int = 0
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    views: ViewConfig = field(default_factory=ViewConfig)
    pipeline: PipelineConfig = field(default_factory=lambda: PipelineConfig(num_cpus_per_task=0.5))
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    eval_clips: int = 800  # clips of the eval split whose strings are measured after training
    eval_sets: tuple[EvalSetSpec, ...] = ()  # more corpora measured after training (<set>/...)
    inject_failure_at_step: int = 0  # tests: SIGKILL the last worker once at this step (0: never)

    def __post_init__(self) -> None:
        if is_remote(self.storage_path) and not self.tracking.tracking_uri:
            raise ConfigError(REMOTE_TRACKING_ERROR.format(storage_path=self.storage_path))

    # hooks a stage overrides: what its workers need beyond the config and its paired views

    def worker_inputs(self, manifest: pa.Table, train_rows: pa.Table) -> dict[str, Any]:
        """Prepared on the driver (the workers run in another directory), passed to every worker."""
        return {}

    def needs_clean_views(self) -> bool:
        """Whether the clean crop travels with the paired views."""
        return False
