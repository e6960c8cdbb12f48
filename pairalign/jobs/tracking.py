"""MLflow bookkeeping shared by every job: where the tracking store is, the run of a named Ray
run (created once, found again on resume), and its end status."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

from pairalign.config import flatten
from pairalign.data.storage import is_remote, join
from pairalign.stages.config import TrackingConfig, tracking_uri

RUN_NAME_TAG = "pairalign.run_name"


def find_mlflow_run(uri: str, name: str, experiment: str = "pairalign") -> str | None:
    """The id of the MLflow run of Ray run `name`, or None."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(
        experiment_names=[experiment],
        output_format="list",
        filter_string=f"tags.`{RUN_NAME_TAG}` = '{name}'",
    )
    return runs[0].info.run_id if runs else None


def mlflow_run(
    tracking: TrackingConfig, storage_path: str, name: str, config: Any, *, resume: bool = True
) -> str:
    """The MLflow run of Ray run `name` (created once, found again on resume unless `resume` is
    False: then always a new run); params and config.json logged when it is created."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(tracking, storage_path))
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(tracking.experiment)
    if experiment is None:  # artifacts (config.json, the final checkpoint) next to the checkpoints
        artifacts = join(storage_path, "mlartifacts")
        if not is_remote(artifacts):
            artifacts = f"file://{os.path.abspath(artifacts)}"
        experiment_id = client.create_experiment(tracking.experiment, artifact_location=artifacts)
    else:
        experiment_id = experiment.experiment_id
        local = urlparse(experiment.artifact_location).scheme in ("", "file")
        if is_remote(storage_path) and local:
            raise ValueError(
                f"MLflow experiment {tracking.experiment!r} keeps its artifacts on one machine's "
                f"disk ({experiment.artifact_location}); for storage_path={storage_path} use a "
                f"new tracking.experiment, whose artifacts will go to "
                f"{join(storage_path, 'mlartifacts')}"
            )
    found = resume and client.search_runs(
        [experiment_id], f"tags.`{RUN_NAME_TAG}` = '{name}'", max_results=1
    )
    if found:
        return found[0].info.run_id
    run = client.create_run(experiment_id, run_name=name, tags={RUN_NAME_TAG: name})
    params = {k: str(v)[:500] for k, v in flatten(config).items()}
    keys = sorted(params)
    for i in range(0, len(keys), 100):
        client.log_batch(
            run.info.run_id, params=[mlflow.entities.Param(k, params[k]) for k in keys[i : i + 100]]
        )
    client.log_dict(run.info.run_id, flatten(config), "config.json")
    return run.info.run_id


def end_mlflow_run(uri: str, run_id: str, status: str) -> None:
    """Mark the run FINISHED or FAILED, so the MLflow UI does not show it as running."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.MlflowClient().set_terminated(run_id, status)


def log_metrics(
    uri: str, run_id: str, figures: dict[str, float], *, prefix: str = "", step: int = 0
) -> None:
    """Log finite `figures` to run `run_id` as `<prefix><key>`, 500 at a time."""
    import math

    import mlflow

    client = mlflow.MlflowClient(uri)
    metrics = [
        mlflow.entities.Metric(f"{prefix}{k}", float(v), 0, step)
        for k, v in figures.items()
        if math.isfinite(v)
    ]
    for i in range(0, len(metrics), 500):
        client.log_batch(run_id, metrics=metrics[i : i + 500])


def log_figures_file(
    uri: str, run_id: str, figures: dict[str, Any], directory: str, name: str = "figures.json"
) -> str:
    """Write `figures` as `<directory>/<name>` and log the file to the MLflow run; return its URL
    (what the console points to instead of printing every figure)."""
    import json
    import tempfile

    import mlflow

    from pairalign.data.storage import url_to_fs

    text = json.dumps(figures, indent=1, sort_keys=True)
    url = join(directory, name)
    fs, path = url_to_fs(url)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "w") as f:
        f.write(text)
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, name)
        with open(local, "w") as f:
            f.write(text)
        mlflow.MlflowClient(uri).log_artifact(run_id, local)
    return url
