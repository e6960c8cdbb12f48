"""A Ray Tune sweep over the stage-2 (refine) objective: early stopping, held-out selection, MLflow.

Each trial is a run of the sweep's `stage` (refine by default; `pairalign.stages.STAGES`): its
per-worker loop (`pairalign.jobs.training.train_fn`, the stage's recipe) in a TorchTrainer, which
the trial's driver function starts (Ray Train V2's way of tuning distributed runs). Its config is
the stage's section (`refine`, or `vq`) with the trial's values of the keys in `space` (dotted
keys, distributions in tune.yaml). At every checkpoint a callback in the run's Train controller
measures the checkpoint on the held-out `dev` half of the eval split
(pairalign/evaluation/heldout.py), scores it (`objective`: a figure to maximise, retrieval MAP by
default, subject to a token-rate bound; pairalign/evaluation/pareto.py) and reports figures and
score to Tune, whose scheduler (ASHA) stops trials that fall behind.

MLflow: one parent run per sweep (named `name`), one child run per trial with its refine config as
params, training metrics every `report_every` steps, `dev/...` figures and `tune/score` at every
checkpoint, `best/...` copies at its best checkpoint so far and that checkpoint as the artifact
`best_checkpoint`. At the end the best trial's best checkpoint, and `baseline_checkpoint` if set,
are measured on both halves (the `test` half untouched until then), logged to the parent run and
printed, and workflows/compare.py tabulates and plots the trials into the parent run.

Resources: a trial's driver and its Train controller hold no CPU; its workers hold
`refine.train.num_workers` x (`refine.train.cpus_per_worker` CPUs + 1 GPU with `use_gpu`), its
paired-view tasks `refine.pipeline.num_cpus_per_task` each, and at most
`search.max_concurrent_trials` trials run at once. Held-out figures are computed in the controller
process on CPU. When Tune stops a trial its controller dies with it, and Ray Train's placement-group
cleaner releases the workers' reservation once the state API (the dashboard) says so: on a machine
that runs several Ray clusters, sweep on a `ray start` head with RAY_ADDRESS exported to it, so
that the cleaner asks its own cluster.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pyarrow as pa
import ray
import ray.tune
from ray.tune.integration.ray_train import TuneReportCallback

from pairalign.config import ConfigError, PathStr, from_dict, set_dotted, to_dict
from pairalign.data.storage import arrow_filesystem, join
from pairalign.evaluation.heldout import (
    HeldoutConfig,
    heldout_figures,
    load_heldout,
    measure_halves,
)
from pairalign.evaluation.pareto import bounded_score
from pairalign.jobs.tracking import end_mlflow_run, find_mlflow_run, mlflow_run
from pairalign.jobs.training import fit, paired_view_dataset, worker_fn
from pairalign.stages import STAGES, Stage
from pairalign.stages.config import StageRunConfig, TrackingConfig, tracking_uri
from pairalign.stages.refine import RefineConfig
from pairalign.stages.vq import VQStageConfig
from pairalign.tokenizing.tokenizer import Tokenizer

SCORE = "tune/score"
SWEEP_TAG, TRIAL_TAG, PARENT_TAG = (
    "pairalign.sweep",
    "pairalign.trial_id",
    "mlflow.parentRunId",
)
BEST_ARTIFACT = "best_checkpoint"
# A trial's driver only waits on its TorchTrainer: no CPU (a fraction would leave the paired-view
# pipeline's 1-CPU tasks short on a small machine), just a token of memory, since Tune needs some.
DRIVER_RESOURCES = {"CPU": 0, "memory": 2**20}


@dataclass(frozen=True)
class SearchParam:
    """One swept key of the trials' refine config and the distribution its values come from."""

    key: str  # a dotted refine key, e.g. objective.weights.length
    kind: Literal["uniform", "loguniform", "choice", "grid"] = "uniform"
    low: float = 0.0
    high: float = 1.0
    values: tuple[int | float | str | bool, ...] = ()  # for choice and grid


@dataclass(frozen=True)
class SearchConfig:
    # random: Tune's random/grid variant generator (grid keys are crossed, then repeated
    # num_samples times); optuna: TPE, model-based (needs `pip install optuna`; no grid keys)
    algorithm: Literal["random", "optuna"] = "random"
    num_samples: int = 8
    max_concurrent_trials: int = 1
    seed: int = 0


@dataclass(frozen=True)
class SchedulerConfig:
    kind: Literal["asha", "fifo"] = "asha"  # fifo: every trial runs to refine.train.max_steps
    grace_period: int = 40  # steps every trial runs before it can be stopped
    reduction_factor: float = 2.0  # ASHA keeps the top 1/reduction_factor at each rung


@dataclass(frozen=True)
class ObjectiveConfig:
    metric: str = ""  # maximised: any figure of a checkpoint report; "": dev/<strings>/map
    rate_metric: str = ""  # "": dev/<strings>/token_rate (strings: pairalign, or vq for stage 1)
    max_rate: float = 12.5  # tokens per second; a trial over it scores below any within (0: none)


@dataclass(frozen=True)
class SweepConfig:
    name: str = "tune-tiny"  # the MLflow parent run and Tune experiment; use a new name per sweep
    storage_path: PathStr = "runs"  # Tune results and trials' checkpoints: <storage_path>/<name>/
    seed: int = 0
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    stage: str = "refine"  # what a trial trains: a stage of pairalign.stages.STAGES, whose
    # section below (named after it) every trial starts from; name and storage set per trial
    refine: RefineConfig = field(default_factory=RefineConfig)
    vq: VQStageConfig = field(default_factory=VQStageConfig)
    space: tuple[SearchParam, ...] = ()
    search: SearchConfig = field(default_factory=SearchConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    heldout: HeldoutConfig = field(default_factory=HeldoutConfig)
    baseline_checkpoint: PathStr = ""  # a refine checkpoint compared with the best trial at the end
    final_view_clips: int = 200  # clips of each half whose views give consistency at the end

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ConfigError(f"stage: {self.stage!r} is not one of {sorted(STAGES)}")
        if not isinstance(getattr(self, self.stage, None), STAGES[self.stage].config):
            raise ConfigError(
                f"stage: {self.stage!r} has no section of its own in the sweep config "
                f"(a `{self.stage}:` of {STAGES[self.stage].config.__name__})"
            )


def sweep_stage(config: SweepConfig) -> Stage:
    """The stage a trial trains."""
    return STAGES[config.stage]


def stage_base(config: SweepConfig) -> StageRunConfig:
    """The section every trial starts from: the one named after the sweep's stage."""
    return getattr(config, config.stage)


def strings_kind(config: SweepConfig) -> str:
    """Whose strings a trial is judged by: the stage's (PairAlign strings, or VQ strings)."""
    return sweep_stage(config).strings


def objective_metrics(config: SweepConfig) -> tuple[str, str]:
    """(metric, rate metric) of the objective, defaults filled in for the sweep's stage."""
    kind = strings_kind(config)
    return (
        config.objective.metric or f"dev/{kind}/map",
        config.objective.rate_metric or f"dev/{kind}/token_rate",
    )


def trial_config(
    config: SweepConfig, values: dict[str, Any], trial_id: str, uri: str
) -> StageRunConfig:
    """The stage config of one trial: `refine` (or `vq`) with the sampled `values` (dotted keys)."""
    base = stage_base(config)
    data = set_dotted(to_dict(base), values, existing=True, what=f"{config.stage} space key")
    data |= {
        "name": trial_id,
        "storage_path": join(config.storage_path, config.name),
        "tracking": {"tracking_uri": uri, "experiment": config.tracking.experiment},
    }
    return from_dict(type(base), data)


def param_space(config: SweepConfig) -> dict[str, Any]:
    """Tune's search space; every key is checked against the refine config first."""
    if not config.space:
        raise ConfigError("space is empty: list the refine keys to sweep (see tune.yaml)")
    domains, probe = {}, {}
    for p in config.space:
        if p.kind in ("choice", "grid") and not p.values:
            raise ConfigError(f"space key {p.key!r}: kind {p.kind} needs values")
        if p.kind == "loguniform" and not 0 < p.low < p.high:
            raise ConfigError(f"space key {p.key!r}: loguniform needs 0 < low < high")
        if p.kind == "grid" and config.search.algorithm != "random":
            raise ConfigError(f"space key {p.key!r}: grid needs search.algorithm=random")
        domains[p.key] = {
            "uniform": lambda p: ray.tune.uniform(p.low, p.high),
            "loguniform": lambda p: ray.tune.loguniform(p.low, p.high),
            "choice": lambda p: ray.tune.choice(list(p.values)),
            "grid": lambda p: ray.tune.grid_search(list(p.values)),
        }[p.kind](p)
        probe[p.key] = p.values[0] if p.values else p.low
    trial_config(config, probe, "probe", "")  # unknown keys and wrong types fail here, by name
    return domains


def search_algorithm(search: SearchConfig):
    if search.algorithm == "optuna":
        try:
            import optuna  # noqa: F401
        except ImportError as err:
            raise ConfigError("search.algorithm=optuna needs optuna: pip install optuna") from err
        from ray.tune.search.optuna import OptunaSearch

        return OptunaSearch(seed=search.seed)
    from ray.tune.search.basic_variant import BasicVariantGenerator

    # Tune applies max_concurrent_trials only to searchers; this generator takes it itself
    return BasicVariantGenerator(
        random_state=search.seed, max_concurrent=search.max_concurrent_trials
    )


def searcher_concurrency(search: SearchConfig) -> int | None:
    """What Tune's max_concurrent_trials gets: random search limits itself (see above)."""
    return None if search.algorithm == "random" else search.max_concurrent_trials


def scheduler(config: SweepConfig):
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if config.scheduler.kind == "fifo":
        return FIFOScheduler()
    # stop_last_trials=False: a trial that reaches max_t ends by itself, not by being stopped
    return ASHAScheduler(
        time_attr="step",
        max_t=stage_base(config).train.max_steps,
        grace_period=config.scheduler.grace_period,
        reduction_factor=config.scheduler.reduction_factor,
        stop_last_trials=False,
    )


class HeldoutReport(TuneReportCallback):
    """Runs in a trial's Train controller: measures each reported checkpoint on the dev half, logs
    the figures and score to the trial's MLflow run (and the best checkpoint so far as an artifact),
    and reports them to Tune. Reports without a checkpoint are not forwarded to Tune."""

    def __init__(self, dev: ray.ObjectRef, config: SweepConfig, uri: str, run_id: str) -> None:
        super().__init__()
        self.dev, self.heldout, self.objective = dev, config.heldout, config.objective
        self.metric, self.rate_metric = objective_metrics(config)
        self.kinds = (strings_kind(config),)
        self.uri, self.run_id, self.best = uri, run_id, -math.inf

    def after_report(self, run_context, metrics: list[dict[str, Any]], checkpoint) -> None:
        if checkpoint is None:
            return
        import mlflow

        step = int(metrics[0]["step"])
        mlflow.set_tracking_uri(self.uri)
        client = mlflow.MlflowClient()
        with checkpoint.as_directory() as directory:
            figures = heldout_figures(
                Tokenizer.from_checkpoint(directory), ray.get(self.dev), self.heldout, self.kinds
            )
            merged = {**metrics[0], **figures}
            figures[SCORE] = score = bounded_score(
                merged.get(self.metric, math.nan),
                merged.get(self.rate_metric, math.nan),
                self.objective.max_rate,
            )
            logged = {k: v for k, v in figures.items() if math.isfinite(v)}
            if score > self.best:
                self.best = score
                logged |= {f"best/{k}": v for k, v in figures.items() if math.isfinite(v)}
                client.log_artifacts(self.run_id, directory, artifact_path=BEST_ARTIFACT)
                client.set_tag(self.run_id, "pairalign.best_step", str(step))
            client.log_batch(
                self.run_id,
                metrics=[mlflow.entities.Metric(k, float(v), 0, step) for k, v in logged.items()],
            )
        super().after_report(run_context, [{**metrics[0], **figures}], checkpoint)


def run_trial(values: dict[str, Any], *, sweep: dict, shared: dict[str, Any]) -> None:
    """A trial's driver: its MLflow child run, then its training run (stage 2, or stage 1) with
    the held-out callback."""
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    config = from_dict(SweepConfig, sweep)
    trial_id, uri = ray.tune.get_context().get_trial_id(), shared["tracking_uri"]
    trial = trial_config(config, values, trial_id, uri)
    run_id = mlflow_run(trial.tracking, trial.storage_path, f"{config.name}/{trial_id}", trial)
    import mlflow

    client = mlflow.MlflowClient()
    for key, value in {
        PARENT_TAG: shared["parent_run_id"],
        SWEEP_TAG: config.name,
        TRIAL_TAG: trial_id,
    }.items():
        client.set_tag(run_id, key, value)
    loop = {"stage": to_dict(trial), "run_id": run_id, "tracking_uri": uri, **shared["inputs"]}
    try:
        fit(
            worker_fn(sweep_stage(config)),
            loop,
            train=trial.train,
            name=trial.name,
            storage_path=trial.storage_path,
            datasets={"train": paired_view_dataset(trial, shared["train_rows"], 0)},
            callbacks=[HeldoutReport(shared["dev"][0], config, uri, run_id)],
        )
    except Exception:
        end_mlflow_run(uri, run_id, "FAILED")
        raise
    end_mlflow_run(uri, run_id, "FINISHED")


def close_trial_runs(uri: str, parent_id: str, results, max_steps: int) -> list:
    """Mark each child run FINISHED (tagged early_stopped when the scheduler cut it) or FAILED, as
    Tune saw the trial end: a driver that Tune stops may not mark its run, or see its TorchTrainer
    die and mark it FAILED. Returns the child runs."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    outcome = {}
    for result in results:
        trial_id = (result.metrics or {}).get("trial_id")
        if trial_id:
            outcome[trial_id] = (result.error is not None, int(result.metrics.get("step", 0)))
    children = child_runs(uri, parent_id)
    for run in children:
        failed, step = outcome.get(run.data.tags.get(TRIAL_TAG), (True, 0))
        client.set_tag(
            run.info.run_id, "pairalign.early_stopped", str(not failed and step < max_steps).lower()
        )
        end_mlflow_run(uri, run.info.run_id, "FAILED" if failed else "FINISHED")
    return child_runs(uri, parent_id)


def child_runs(uri: str, parent_id: str) -> list:
    import mlflow

    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(
        search_all_experiments=True,
        output_format="list",
        filter_string=f"tags.`{PARENT_TAG}` = '{parent_id}'",
    )


def final_comparison(
    config: SweepConfig, manifest: pa.Table, uri: str, parent_id: str
) -> dict[str, Any]:
    """The best trial's best checkpoint (and the baseline) on both halves, logged to the parent."""
    import mlflow

    runs = [r for r in child_runs(uri, parent_id) if f"best/{SCORE}" in r.data.metrics]
    if not runs:
        raise RuntimeError(f"sweep {config.name}: no trial reported a checkpoint")
    best = max(runs, key=lambda r: r.data.metrics[f"best/{SCORE}"])
    checkpoint = mlflow.artifacts.download_artifacts(
        run_id=best.info.run_id,
        artifact_path=BEST_ARTIFACT,
        dst_path=join(config.storage_path, config.name, "best"),
        tracking_uri=uri,
    )
    candidates = {"best": checkpoint}
    if config.baseline_checkpoint:
        candidates["baseline"] = config.baseline_checkpoint
    heldout = replace(config.heldout, view_clips=config.final_view_clips)
    figures = measure_halves(
        candidates,
        manifest,
        stage_base(config).corpus.eval_split,
        stage_base(config).views,
        heldout,
    )
    client = mlflow.MlflowClient()
    client.log_batch(
        parent_id,
        metrics=[
            mlflow.entities.Metric(k, v, 0, 0) for k, v in figures.items() if math.isfinite(v)
        ],
    )
    client.set_tag(parent_id, "pairalign.best_trial", best.data.tags[TRIAL_TAG])
    return {
        "best_trial": best.data.tags[TRIAL_TAG],
        "best_run_id": best.info.run_id,
        "best_checkpoint": checkpoint,
        **figures,
    }


def run_sweep(config: SweepConfig, space: dict[str, Any]) -> dict[str, Any]:
    """The whole sweep on the connected Ray cluster: the parent MLflow run, the trials, the final
    comparison of the best trial (and the baseline) on both halves, and the trials' comparison."""
    from pairalign.data.corpora.spec import load_manifest
    from pairalign.jobs.corpus import cluster_map

    uri = tracking_uri(config.tracking, config.storage_path)
    if find_mlflow_run(uri, config.name, config.tracking.experiment):
        raise ValueError(f"sweep {config.name!r} is already in {uri}; give it a new name=")
    parent_id = mlflow_run(config.tracking, config.storage_path, config.name, config)
    try:
        manifest = load_manifest(stage_base(config).corpus, **cluster_map())
        shared = shared_inputs(config, manifest, uri, parent_id)
        results = tuner(config, space, shared).fit()
        close_trial_runs(uri, parent_id, results, stage_base(config).train.max_steps)
        summary = final_comparison(config, manifest, uri, parent_id)
        compared = compare_trials(config, uri)
    except BaseException:
        end_mlflow_run(uri, parent_id, "FAILED")
        raise
    end_mlflow_run(uri, parent_id, "FINISHED")
    return summary | {"mlflow_parent_run_id": parent_id, "tracking_uri": uri, **compared["paths"]}


def shared_inputs(
    config: SweepConfig, manifest: pa.Table, uri: str, parent_id: str
) -> dict[str, Any]:
    """What every trial needs: the train rows, the dev half (object store) and the stage's
    inputs (`Stage.setup`: for stage 2, the stage-1 model it starts from)."""
    base = stage_base(config)
    inputs = sweep_stage(config).setup(
        replace(base, name=config.name, storage_path=config.storage_path, tracking=config.tracking)
    )
    shared: dict[str, Any] = {"tracking_uri": uri, "parent_run_id": parent_id, "inputs": inputs}
    train_rows = base.corpus.train_rows(manifest)
    dev_rows = base.corpus.eval_rows(manifest, half="dev", sentences=config.heldout.sentences)
    dev = load_heldout(dev_rows, "dev", base.views, config.heldout)
    logging.getLogger("pairalign").info(
        "tune: %s trials, %d train clips, %d dev clips, init %s",
        config.stage,
        len(train_rows),
        len(dev.ids),
        inputs.get("init_checkpoint", "-"),
    )
    return shared | {"train_rows": train_rows, "dev": [ray.put(dev)]}


def tuner(config: SweepConfig, space: dict[str, Any], shared: dict[str, Any]) -> ray.tune.Tuner:
    trainable = ray.tune.with_parameters(run_trial, sweep=to_dict(config), shared=shared)
    filesystem, storage = arrow_filesystem(config.storage_path)
    return ray.tune.Tuner(
        ray.tune.with_resources(trainable, DRIVER_RESOURCES),
        param_space=space,
        tune_config=ray.tune.TuneConfig(
            metric=SCORE,
            mode="max",
            search_alg=search_algorithm(config.search),
            scheduler=scheduler(config),
            num_samples=config.search.num_samples,
            max_concurrent_trials=searcher_concurrency(config.search),
        ),
        run_config=ray.tune.RunConfig(
            name=config.name, storage_path=storage, storage_filesystem=filesystem, verbose=1
        ),
    )


def compare_trials(config: SweepConfig, uri: str) -> dict[str, Any]:
    """The comparison of this sweep's trials: table and trade-off plots, logged to the parent."""
    from pairalign.jobs.comparison import CompareConfig, compare

    figure = f"best/dev/{strings_kind(config)}"
    columns = tuple(
        f"{figure}/{c}" for c in ("token_rate", "map", "consistency", "mrr", "vocab_used")
    )
    return compare(
        CompareConfig(
            storage_path=config.storage_path,
            sweep=config.name,
            tracking=replace(config.tracking, tracking_uri=uri),
            params=tuple(p.key for p in config.space),
            columns=(*columns, f"best/{SCORE}"),
            rate=f"{figure}/token_rate",
            quality=(f"{figure}/map", f"{figure}/consistency"),
        )
    )
