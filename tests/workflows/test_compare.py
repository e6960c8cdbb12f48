"""workflows/compare.py on a real MLflow store holding a sweep's runs with known figures."""

from __future__ import annotations

import csv
import math

import mlflow
import pytest

from pairalign.jobs.comparison import kind_keys
from pairalign.jobs.tracking import RUN_NAME_TAG
from workflows import compare

RATE, MAP, CONSISTENCY, SCORE = (
    "best/dev/pairalign/token_rate",
    "best/dev/pairalign/map",
    "best/dev/pairalign/consistency",
    "best/tune/score",
)
# name: (rate, MAP, consistency, score, early stopped, last step)
TRIALS = {
    "s/t_00000": (10.0, 0.40, 0.70, 0.40, False, 6),
    "s/t_00001": (12.0, 0.45, 0.60, 0.45, False, 6),  # more tokens, higher MAP: on the front
    "s/t_00002": (11.0, 0.35, 0.80, 0.35, True, 2),  # beaten on MAP by t_00000: off the front
    "s/t_00003": (8.0, 0.20, 0.50, 0.20, True, 2),  # fewest tokens: on the front
}


@pytest.fixture
def store(tmp_path):
    """A sweep parent run `s` and four child runs, as workflows/tune.py leaves them."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("pairalign", artifact_location=f"file://{tmp_path}/art")
    parent = client.create_run(experiment, run_name="s", tags={RUN_NAME_TAG: "s"}).info.run_id
    ids = {}
    for name, (rate, map_, consistency, score, stopped, steps) in TRIALS.items():
        run = client.create_run(
            experiment,
            run_name=name,
            tags={
                RUN_NAME_TAG: name,
                "mlflow.parentRunId": parent,
                "pairalign.best_step": "2",
                "pairalign.early_stopped": str(stopped).lower(),
            },
        )
        ids[name] = run_id = run.info.run_id
        client.log_param(run_id, "objective.weights.length", str(rate / 10))
        for step in range(2, steps + 1, 2):
            client.log_metric(run_id, "loss/total", 1.0 / step, step=step)
        # a worse figure first: the table must show the latest (the best so far) value
        client.log_metric(run_id, MAP, map_ - 0.1, step=0)
        for key, value in ((RATE, rate), (MAP, map_), (CONSISTENCY, consistency), (SCORE, score)):
            client.log_metric(run_id, key, value, step=2)
        client.set_terminated(run_id, "FINISHED")
    return {"uri": uri, "parent": parent, "ids": ids, "dir": tmp_path}


def _argv(store, *more):
    return [f"tracking.tracking_uri={store['uri']}", f"storage_path={store['dir']}", *more]


def test_a_sweep_is_tabulated_with_the_runs_numbers_and_its_front(store):
    out = compare.main(_argv(store, "sweep=s", "params=[objective.weights.length]"))
    rows = out["rows"]
    assert [r.name for r in rows] == [
        "s/t_00001",
        "s/t_00000",
        "s/t_00002",
        "s/t_00003",
    ]  # by score
    client = mlflow.MlflowClient(store["uri"])
    for row in rows:
        logged = client.get_run(row.run_id).data
        for key in (RATE, MAP, CONSISTENCY, SCORE):
            assert row.metrics[key] == pytest.approx(logged.metrics[key])
        assert row.params["objective.weights.length"] == logged.params["objective.weights.length"]
        assert row.steps == TRIALS[row.name][5]
        assert row.status == ("stopped" if TRIALS[row.name][4] else "finished")
    assert {r.name for r in rows if r.front} == {"s/t_00000", "s/t_00001", "s/t_00003"}
    assert math.isnan(rows[0].metrics["best/dev/pairalign/mrr"])  # a column the runs lack
    markdown = (store["dir"] / "s" / "compare" / "runs.md").read_text().splitlines()
    assert markdown[0].startswith("| run | status | steps | best step | objective.weights.length |")
    assert markdown[2].startswith("| s/t_00001 | finished | 6 | 2 | 1.2 | 12 | 0.45 | 0.6 |")
    assert markdown[2].endswith("| * |") and markdown[4].endswith("|  |")
    with open(store["dir"] / "s" / "compare" / "runs.csv") as f:
        table = list(csv.DictReader(f))
    assert [float(r[MAP]) for r in table] == [0.45, 0.40, 0.35, 0.20]
    assert (store["dir"] / "s" / "compare" / "tradeoff.png").stat().st_size > 10_000


def test_the_comparison_is_logged_to_the_sweeps_run(store):
    out = compare.main(_argv(store, "sweep=s"))
    assert out["logged_to"] == store["parent"]
    client = mlflow.MlflowClient(store["uri"])
    files = {a.path for a in client.list_artifacts(store["parent"], "compare")}
    assert files == {"compare/runs.md", "compare/runs.csv", "compare/tradeoff.png"}


def test_named_runs_are_compared_in_a_new_run(store, tmp_path):
    ids = [store["ids"]["s/t_00003"], store["ids"]["s/t_00000"]]
    out = compare.main(
        _argv(
            store,
            f"run_ids=[{','.join(ids)}]",
            "sort=none",
            f"out_dir={tmp_path / 'c'}",
            f"quality=[{CONSISTENCY}]",
        )
    )
    assert [r.run_id for r in out["rows"]] == ids  # as given when unsorted
    assert all(r.front for r in out["rows"])  # fewer tokens vs higher consistency: a trade-off
    run = mlflow.MlflowClient(store["uri"]).get_run(out["logged_to"])
    assert run.info.run_name == "compare" and run.info.status == "FINISHED"
    assert run.data.tags["pairalign.compared_runs"] == ",".join(ids)


def test_asking_for_nothing_or_an_unknown_sweep_fails_with_a_message(store):
    with pytest.raises(SystemExit, match="say which runs"):
        compare.main(_argv(store))
    with pytest.raises(SystemExit, match="no sweep 'nope'"):
        compare.main(_argv(store, "sweep=nope"))


def _plain_run(client, experiment, name, figures, training_steps=3):
    """A vq/refine run as run_stage leaves it: training metrics per step, end-of-run eval/..."""
    run_id = client.create_run(experiment, run_name=name, tags={RUN_NAME_TAG: name}).info.run_id
    client.log_param(run_id, "train.max_steps", str(training_steps))
    for step in range(1, training_steps + 1):
        client.log_metric(run_id, "loss/total", 1.0 / step, step=step)
        client.log_metric(run_id, "train/clips_per_second", 30.0, step=step)
    for key, value in figures.items():
        client.log_metric(run_id, key, value, step=0)
    client.set_terminated(run_id, "FINISHED")
    return run_id


def test_plain_vq_and_refine_runs_show_their_end_of_run_figures(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("pairalign", artifact_location=f"file://{tmp_path}/art")
    vq = {"eval/vq/token_rate": 14.5, "eval/vq/map": 0.94, "eval/vq/consistency": 0.61}
    refine = {
        **vq,
        "eval/vq/map": 0.90,
        "eval/pairalign/token_rate": 13.6,
        "eval/pairalign/map": 0.58,
        "eval/pairalign/consistency": 0.69,
    }
    ids = {
        "vq-tiny": _plain_run(client, experiment, "vq-tiny", vq),
        "refine-tiny": _plain_run(client, experiment, "refine-tiny", refine),
    }
    out = compare.main(
        [f"tracking.tracking_uri={uri}", f"storage_path={tmp_path}", "experiment_runs=true"]
    )
    printed = capsys.readouterr().out
    rows = {r.name: r for r in out["rows"]}
    assert set(rows) == set(ids)
    for name, figures in (("vq-tiny", vq), ("refine-tiny", refine)):
        assert rows[name].steps == 3
        for key, value in figures.items():
            assert rows[name].metrics[key] == pytest.approx(value)
    assert math.isnan(rows["vq-tiny"].metrics["eval/pairalign/map"])  # stage 1 has no decoder
    header = printed.splitlines()[0].split()
    assert {
        "eval/pairalign/map",
        "eval/vq/map",
        "eval/vq/token_rate",
        "eval/pairalign/consistency",
    } <= set(header)
    assert "0.58" in printed and "0.94" in printed and "none of the" not in printed
    assert (tmp_path / "compare" / "tradeoff.png").stat().st_size > 10_000


def test_the_plot_has_a_point_per_run_and_kind_of_strings(tmp_path):
    """A stage-1 run's VQ strings and a refine run's PairAlign and VQ strings, each at its logged
    figures; a run without figures has no point."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("pairalign", artifact_location=f"file://{tmp_path}/art")
    vq = {"eval/vq/token_rate": 14.5, "eval/vq/map": 0.94, "eval/vq/consistency": 0.61}
    refine = {
        "eval/vq/token_rate": 14.4,
        "eval/vq/map": 0.90,
        "eval/vq/consistency": 0.64,
        "eval/pairalign/token_rate": 13.6,
        "eval/pairalign/map": 0.58,
    }
    _plain_run(client, experiment, "vq-tiny", vq)
    _plain_run(client, experiment, "refine-tiny", refine)
    _plain_run(client, experiment, "cut-short", {})
    out = compare.main(
        [f"tracking.tracking_uri={uri}", f"storage_path={tmp_path}", "experiment_runs=true"]
    )
    found = {(p.run, p.kind): (p.rate, p.quality) for p in out["points"]}
    assert set(found) == {("vq-tiny", "vq"), ("refine-tiny", "pairalign"), ("refine-tiny", "vq")}
    nan = float("nan")
    for (run, kind), (rate, quality) in found.items():
        figures = vq if run == "vq-tiny" else refine
        assert rate == pytest.approx(figures[f"eval/{kind}/token_rate"])
        expected = [figures.get(f"eval/{kind}/{q}", nan) for q in ("map", "consistency")]
        assert list(quality) == pytest.approx(expected, nan_ok=True)  # no PairAlign consistency
    assert (tmp_path / "compare" / "tradeoff.png").stat().st_size > 10_000


def test_kind_keys_name_the_same_figure_of_each_kind_of_strings():
    assert kind_keys("best/dev/vq/map") == {
        "pairalign": "best/dev/pairalign/map",
        "vq": "best/dev/vq/map",
    }
    assert kind_keys("dev/score") == {"": "dev/score"}  # names no kind: one point per run


def test_runs_without_figures_are_listed_with_what_they_have(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("pairalign", artifact_location=f"file://{tmp_path}/art")
    _plain_run(client, experiment, "cut-short", {})
    argv = [f"tracking.tracking_uri={uri}", f"storage_path={tmp_path}", "experiment_runs=true"]
    out = compare.main(argv)
    printed = capsys.readouterr().out
    assert [r.name for r in out["rows"]] == ["cut-short"]
    assert "none of the 1 runs has any of the columns []" in printed
    assert "loss/total" in printed and "train/clips_per_second" in printed
    with pytest.raises(SystemExit, match="experiment 'other' has no FINISHED runs in sqlite"):
        compare.main([*argv, "tracking.experiment=other"])
