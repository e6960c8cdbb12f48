"""A 4-trial sweep of a tiny model on CPU through workflows/tune.py: ASHA cuts trials, every trial
is an MLflow child run with per-report metrics and its best checkpoint, and workflows/compare.py
reads the runs back."""

from __future__ import annotations

import math

import mlflow
import pytest
import torch

from pairalign.config import flatten
from pairalign.data.corpora.builtin import BuiltinCorpusConfig
from pairalign.data.corpora.prepare import PrepareConfig
from pairalign.evaluation.pareto import bounded_score
from pairalign.jobs import tuning
from pairalign.jobs.corpus import prepare
from pairalign.models.checkpoint import save_checkpoint
from pairalign.models.encoder import EncoderConfig
from pairalign.models.quantizer import QuantizerConfig
from pairalign.models.vq_model import ModelConfig, VQModel
from pairalign.stages.refine import RefineConfig
from pairalign.tokenizing.tokenizer import Tokenizer
from pairalign.training.loop import TrainConfig, lr_at
from workflows import compare, tune
from workflows.cli import CONFIG_DIR, load_config

SMALL = ModelConfig(
    encoder=EncoderConfig(dim=32, layers=1, heads=2),
    quantizer=QuantizerConfig(codebook_size=32, code_dim=8),
)
LRS = (1e-3, 5e-4, 2e-4, 1e-4)  # the grid, in the order Tune starts the trials
MAX_STEPS = 4


@pytest.fixture(scope="module")
def cluster():
    """More logical CPUs than cores, for three trials at once and for what a stopped trial may
    keep: Ray Train's placement-group cleaner asks the state API (the dashboard, off here, and on
    a machine running several Ray clusters it cannot tell which is its own) whether a controller
    died, so a trial that Tune stops can keep its worker's reservation until the cluster ends."""
    import ray

    ray.init(
        num_cpus=6,
        object_store_memory=300 * 1024 * 1024,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def sweep(cluster, tmp_path_factory):
    """Four trials over a grid of learning rates, three at a time. The objective is the reported
    learning rate (no rate bound), a figure known in advance, so ASHA's cuts are certain: the
    first trial has the highest and is never cut; the last has the lowest and starts only after
    an earlier one has reported step 2, so it falls below the cut-off of that rung."""
    root = tmp_path_factory.mktemp("tune")
    prepare(
        PrepareConfig(
            out_dir=str(root / "builtin"),
            use_ray=False,
            corpus=BuiltinCorpusConfig(train_sentences=2, test_sentences=4),
        )
    )
    torch.manual_seed(0)
    stage1 = VQModel(SMALL).train()
    stage1(0.1 * torch.randn(2, 48_000))  # initialise the codebook
    save_checkpoint(
        str(root / "vq"),
        model_config=SMALL,
        model_state=stage1.state_dict(),
        stage="vq",
        stage_config={},
        step=1,
    )
    space = ", ".join(str(lr) for lr in LRS)
    argv = [
        "name=t",
        f"storage_path={root / 'runs'}",
        f"refine.init_checkpoint={root / 'vq'}",
        f"refine.corpus.builtin_dir={root / 'builtin'}",
        "refine.decoder.dim=32",
        "refine.decoder.layers=1",
        "refine.decoder.heads=2",
        "refine.train.batch_size=2",
        f"refine.train.max_steps={MAX_STEPS}",
        "refine.train.report_every=1",
        "refine.train.checkpoint_every=2",
        "refine.train.warmup_steps=2",
        "refine.train.cpus_per_worker=0.5",
        "refine.objective.teacher.start=2",
        "refine.objective.teacher.ramp=2",
        "refine.pipeline.batch_size=8",
        f"space=[{{key: train.lr, kind: grid, values: [{space}]}}, "
        "{key: objective.weights.contrast, kind: uniform, low: 0.5, high: 2.0}]",
        "search.num_samples=1",
        "search.max_concurrent_trials=3",
        "scheduler.grace_period=2",
        "objective.metric=train/lr",
        "objective.max_rate=0",
        "heldout.view_clips=4",
        "heldout.batch_size=8",
        "final_view_clips=4",
        f"baseline_checkpoint={root / 'vq'}",
    ]
    summary = tune.main(argv)
    mlflow.set_tracking_uri(summary["tracking_uri"])
    trials = tuning.child_runs(summary["tracking_uri"], summary["mlflow_parent_run_id"])
    return {"root": root, "summary": summary, "trials": trials, "client": mlflow.MlflowClient()}


def _history(sweep, run, key):
    return [(m.step, m.value) for m in sweep["client"].get_metric_history(run.info.run_id, key)]


@pytest.mark.slow  # the 4-trial sweep: ~3 min on 2 cores (CI runs it in make test-slow)
def test_every_trial_is_a_child_run_with_params_and_metrics_per_report(sweep):
    trials = sweep["trials"]
    assert len(trials) == 4
    assert sorted(float(r.data.params["train.lr"]) for r in trials) == sorted(LRS)
    for run in trials:
        assert run.info.status == "FINISHED"
        steps = [s for s, _ in _history(sweep, run, "loss/total")]
        assert steps == list(range(1, len(steps) + 1)) and steps  # every report_every=1 step
        figures = _history(sweep, run, "dev/pairalign/map")
        assert figures and all(0 <= v <= 1 for _, v in figures)
        assert {s for s, _ in figures} <= {2, 4}  # measured at the checkpoints only
        assert run.data.metrics["dev/pairalign/queries"] == 16  # 2 dev sentences x 8 voices
        assert "dev/pairalign/chance_map" in run.data.metrics
        assert "dev/pairalign/consistency" in run.data.metrics


@pytest.mark.slow  # the 4-trial sweep: ~3 min on 2 cores (CI runs it in make test-slow)
def test_the_score_is_the_objective_at_each_checkpoint(sweep):
    for run in sweep["trials"]:
        train = TrainConfig(
            lr=float(run.data.params["train.lr"]), warmup_steps=2, max_steps=MAX_STEPS
        )
        for step, score in _history(sweep, run, "tune/score"):
            assert score == pytest.approx(bounded_score(lr_at(step - 1, train), math.nan, 0.0))


@pytest.mark.slow  # the 4-trial sweep: ~3 min on 2 cores (CI runs it in make test-slow)
def test_asha_cuts_trials_and_the_first_runs_to_the_end(sweep):
    by_lr = {float(r.data.params["train.lr"]): r for r in sweep["trials"]}
    first = by_lr[LRS[0]]
    assert first.data.tags["pairalign.early_stopped"] == "false"
    assert [s for s, _ in _history(sweep, first, "tune/score")] == [2, 4]
    stopped = [r for r in sweep["trials"] if r.data.tags["pairalign.early_stopped"] == "true"]
    lowest = by_lr[LRS[-1]].info.run_id
    assert lowest in {r.info.run_id for r in stopped}, "ASHA did not stop the lowest trial"
    for run in stopped:  # Tune saw only the step-2 checkpoint of a cut trial
        assert float(run.data.params["train.lr"]) < LRS[0]


@pytest.mark.slow  # the 4-trial sweep: ~3 min on 2 cores (CI runs it in make test-slow)
def test_each_trial_keeps_its_best_checkpoint_as_an_artifact(sweep, tmp_path):
    for run in sweep["trials"]:
        best_step = int(run.data.tags["pairalign.best_step"])
        scores = dict(_history(sweep, run, "tune/score"))
        assert scores[best_step] == max(scores.values()) == run.data.metrics["best/tune/score"]
        local = mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id,
            artifact_path=tuning.BEST_ARTIFACT,
            dst_path=str(tmp_path / run.info.run_id),
        )
        tokenizer = Tokenizer.from_checkpoint(local)
        assert tokenizer.kind == "pairalign" and tokenizer.checkpoint_id.endswith(
            f"step{best_step}"
        )


@pytest.mark.slow  # the 4-trial sweep: ~3 min on 2 cores (CI runs it in make test-slow)
def test_the_best_trial_is_measured_on_both_halves_against_the_baseline(sweep):
    summary = sweep["summary"]
    best = max(sweep["trials"], key=lambda r: r.data.metrics["best/tune/score"])
    assert summary["best_run_id"] == best.info.run_id
    assert float(best.data.params["train.lr"]) == LRS[0]
    parent = sweep["client"].get_run(summary["mlflow_parent_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["pairalign.best_trial"] == best.data.tags["pairalign.trial_id"]
    for half in ("dev", "test"):
        assert parent.data.metrics[f"best/{half}/pairalign/map"] == pytest.approx(
            summary[f"best/{half}/pairalign/map"]
        )
        assert f"best/{half}/vq/map" in parent.data.metrics
        assert f"baseline/{half}/vq/map" in parent.data.metrics  # a stage-1 baseline: VQ strings
    assert parent.data.metrics["best/step"] == 2  # the learning rate peaks after the warm-up


@pytest.mark.slow  # the 4-trial sweep: ~3 min on 2 cores (CI runs it in make test-slow)
def test_compare_reads_the_sweep_back_with_the_runs_numbers(sweep):
    summary = sweep["summary"]
    out = compare.main(
        [
            "sweep=t",
            f"tracking.tracking_uri={summary['tracking_uri']}",
            f"storage_path={sweep['root'] / 'runs'}",
            "params=[train.lr]",
        ]
    )
    rows = out["rows"]
    assert {r.run_id for r in rows} == {r.info.run_id for r in sweep["trials"]}
    for row in rows:
        logged = sweep["client"].get_run(row.run_id).data
        assert "best/dev/pairalign/map" in row.metrics  # the sweep's columns, detected
        for key, value in row.metrics.items():
            assert value == pytest.approx(logged.metrics.get(key, math.nan), nan_ok=True)
        assert row.params["train.lr"] == logged.params["train.lr"]
        assert row.status == (
            "stopped" if logged.tags["pairalign.early_stopped"] == "true" else "finished"
        )
    assert rows[0].run_id == summary["best_run_id"]  # sorted by the best score
    table = (sweep["root"] / "runs" / "t" / "compare" / "runs.md").read_text()
    assert f"{rows[0].metrics['best/dev/pairalign/map']:.4g}" in table.splitlines()[2]


def test_a_misspelt_space_key_is_refused_by_name():
    with pytest.raises(SystemExit, match=r"objective\.weights\.lenght"):
        tune.main(["space=[{key: objective.weights.lenght, kind: uniform}]"])
    with pytest.raises(SystemExit, match=r"train\.batch_size: expected int"):
        tune.main(["space=[{key: train.batch_size, kind: uniform, low: 1, high: 4}]"])
    with pytest.raises(SystemExit, match=r"grid needs search\.algorithm=random"):
        tune.main(
            [
                "search.algorithm=optuna",
                "space=[{key: objective.weights.length, kind: grid, values: [1]}]",
            ]
        )


def test_the_shipped_sweep_changes_only_what_it_says_of_refine_yaml():
    # a section given in tune.yaml starts from its class's defaults, not refine.yaml's
    swept = flatten(load_config(tuning.SweepConfig, CONFIG_DIR / "tune.yaml").refine)
    default = flatten(RefineConfig())
    changed = {k for k in default if swept[k] != default[k]}
    assert changed == {
        "train.num_workers",
        "train.max_steps",
        "train.warmup_steps",
        "train.checkpoint_every",
        "objective.teacher.start",
        "objective.teacher.ramp",
    }


@pytest.mark.slow  # two stage-1 trials: ~1 min on 2 cores
def test_a_stage1_sweep_over_the_codebook_size_judges_trials_by_their_vq_strings(cluster, tmp_path):
    prepare(
        PrepareConfig(
            out_dir=str(tmp_path / "builtin"),
            use_ray=False,
            corpus=BuiltinCorpusConfig(train_sentences=2, test_sentences=4),
        )
    )
    summary = tune.main(
        [
            "name=k",
            "stage=vq",
            f"storage_path={tmp_path / 'runs'}",
            f"vq.corpus.builtin_dir={tmp_path / 'builtin'}",
            "vq.model.encoder.dim=32",
            "vq.model.encoder.layers=1",
            "vq.model.encoder.heads=2",
            "vq.model.quantizer.code_dim=8",
            "vq.train.batch_size=2",
            "vq.train.max_steps=2",
            "vq.train.checkpoint_every=2",
            "vq.train.warmup_steps=1",
            "vq.train.num_workers=1",
            "vq.pipeline.batch_size=8",
            "space=[{key: model.quantizer.codebook_size, kind: grid, values: [8, 16]}]",
            "search.num_samples=1",
            "search.max_concurrent_trials=2",
            "scheduler.kind=fifo",
            "heldout.view_clips=4",
            "heldout.batch_size=8",
            "final_view_clips=4",
        ]
    )
    client = mlflow.MlflowClient(summary["tracking_uri"])
    trials = tuning.child_runs(summary["tracking_uri"], summary["mlflow_parent_run_id"])
    assert sorted(r.data.params["model.quantizer.codebook_size"] for r in trials) == ["16", "8"]
    for run in trials:
        assert run.info.status == "FINISHED"
        size = int(run.data.params["model.quantizer.codebook_size"])
        assert 0 <= run.data.metrics["best/dev/vq/map"] <= 1
        assert run.data.metrics["best/tune/score"] == run.data.metrics["best/dev/vq/map"] or (
            run.data.metrics["best/dev/vq/token_rate"] > 12.5  # over the bound: scored below
        )
        assert not any(k.startswith("dev/pairalign") for k in run.data.metrics)
        local = mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id,
            artifact_path=tuning.BEST_ARTIFACT,
            dst_path=str(tmp_path / run.info.run_id),
            tracking_uri=summary["tracking_uri"],
        )
        tokenizer = Tokenizer.from_checkpoint(local)
        assert tokenizer.decoder is None and tokenizer.vocab_size == size  # a stage-1 checkpoint
    assert "best/test/vq/map" in client.get_run(summary["mlflow_parent_run_id"]).data.metrics
