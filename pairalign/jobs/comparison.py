"""Compare MLflow runs side by side: a table (terminal and Markdown) and trade-off plots with the
Pareto front marked, saved as files and logged to MLflow.

Runs come from `run_ids`, else the child runs of the sweep `sweep`, else (`experiment_runs=true`)
every finished run of `tracking.experiment`. Each row is one run: its `params`, then the latest
value of each metric in `columns`. Empty `columns` (the default) means what the runs have
(`detect_columns`): a sweep trial's `best/dev/<strings>/...` figures (at its best checkpoint) and
its score, and a plain vq/refine run's end-of-run figures (`eval/pairalign/...`, `eval/vq/...`:
tokens/s, MAP, consistency); `rate`, `quality` and `sort` follow them unless set. A run is on the
Pareto front when no other run has both a lower `rate` and a higher first `quality` figure
(pairalign/evaluation/pareto.py). Files go to `out_dir` (default `<storage_path>/<sweep>/compare` or
`<storage_path>/compare`; a temporary directory when storage_path is remote): `runs.md`, `runs.csv`
and `tradeoff.png` (one panel per `quality` figure against `rate`, each panel's front joined); with
`log=true` they are logged under `compare/` to the sweep's parent run, or to a new run `compare`.

The plot shows every run's strings, not only the kind `rate` names (`tradeoff_points`): where the
figures' keys name a kind (`eval/pairalign/map`), each kind among the columns is a point of its
own, marked by kind and labelled by run: a refine run gives a PairAlign and a VQ point, a stage-1
run a VQ point. Each panel's front is over all its points.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from matplotlib.figure import Figure  # no pyplot: figures are drawn straight to files

from pairalign.config import PathStr
from pairalign.data.storage import is_remote, join
from pairalign.evaluation.pareto import pareto_front
from pairalign.evaluation.plots import COLOURS
from pairalign.jobs.tracking import RUN_NAME_TAG, find_mlflow_run
from pairalign.stages.config import TrackingConfig, tracking_uri

PARENT_TAG, BEST_STEP_TAG = "mlflow.parentRunId", "pairalign.best_step"
STEP_METRIC = "loss/total"  # every training stage reports it; its last step is how far a run got


@dataclass(frozen=True)
class CompareConfig:
    storage_path: PathStr = "runs"  # the default MLflow store: sqlite:///<storage_path>/mlflow.db
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    sweep: str = ""  # compare the trials of this sweep (its parent run's child runs)
    run_ids: tuple[str, ...] = ()  # or these runs
    experiment_runs: bool = False  # or every finished run of tracking.experiment
    params: tuple[str, ...] = ()  # () -> the sweep's searched keys (or none for plain runs)
    columns: tuple[str, ...] = ()  # metrics; () -> what the runs have (detect_columns)
    rate: str = ""  # the plots' x: fewer tokens per second is better ("" -> detected)
    quality: tuple[str, ...] = ()  # y of each panel: more is better (() -> detected)
    sort: str = ""  # rows by this metric, highest first ("" -> detected; "none": as found)
    out_dir: PathStr = ""
    log: bool = True


@dataclass(frozen=True)
class Row:
    run_id: str
    name: str
    status: str  # finished, failed, or "stopped" (cut early by the sweep's scheduler)
    steps: int  # the last training step it reported (-1: none)
    best_step: str  # a sweep trial's best checkpoint ("" for other runs)
    params: dict[str, str]
    metrics: dict[str, float]  # the configured columns, NaN when the run lacks one
    front: bool = False


def select_runs(config: CompareConfig, uri: str) -> tuple[list[Any], str]:
    """The MLflow runs to compare, and the run the comparison is logged to ("" for a new one)."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    if config.run_ids:
        return [client.get_run(run_id) for run_id in config.run_ids], ""
    if config.sweep:
        parent = find_mlflow_run(uri, config.sweep, config.tracking.experiment)
        if parent is None:
            raise ValueError(f"no sweep {config.sweep!r} in {uri}")
        runs = mlflow.search_runs(
            search_all_experiments=True,
            output_format="list",
            filter_string=f"tags.`{PARENT_TAG}` = '{parent}'",
        )
        return runs, parent
    if config.experiment_runs:
        runs = mlflow.search_runs(
            experiment_names=[config.tracking.experiment],
            output_format="list",
            filter_string="attributes.status = 'FINISHED'",
        )
        return runs, ""
    raise ValueError("say which runs: sweep=<name>, run_ids=[...] or experiment_runs=true")


SWEEP_FIGURES = ("token_rate", "map", "consistency", "mrr", "vocab_used")
RUN_FIGURES = ("token_rate", "map", "consistency")
SWEEP_PARAMS = ("objective.weights.length", "objective.targets.rate", "objective.weights.contrast")
STRING_KINDS = ("pairalign", "vq")  # the strings a run's figures can be of: the plot's markers
MARKERS = {"pairalign": "o", "vq": "s", "": "D"}
LEGEND = {"pairalign": "PairAlign strings", "vq": "VQ strings", "": "strings"}


def detect_columns(runs: Sequence[Any], config: CompareConfig) -> CompareConfig:
    """`config` with empty columns, rate, quality and sort filled from what `runs` logged: a
    sweep's best/dev/<strings>/... figures and score, or each tokenizer's end-of-run eval/<kind>/...
    figures of plain runs (PairAlign first), every run's keys together."""
    keys = set().union(*(run.data.metrics for run in runs)) if runs else set()
    columns, quality, rate, sort, params = [], [], "", "", ()
    for prefix in ("best/dev/pairalign", "best/dev/vq"):
        if f"{prefix}/map" in keys:
            columns += [f"{prefix}/{f}" for f in SWEEP_FIGURES]
            rate = rate or f"{prefix}/token_rate"
            quality = quality or [f"{prefix}/map", f"{prefix}/consistency"]
    if columns:
        columns.append("best/tune/score")
        sort, params = "best/tune/score", SWEEP_PARAMS
    for kind in ("pairalign", "vq"):
        if f"eval/{kind}/map" in keys:
            columns += [f"eval/{kind}/{f}" for f in RUN_FIGURES]
            rate = rate or f"eval/{kind}/token_rate"
            quality = quality or [f"eval/{kind}/map", f"eval/{kind}/consistency"]
            sort = sort or f"eval/{kind}/map"
    return replace(
        config,
        columns=config.columns or tuple(columns),
        rate=config.rate or rate,
        quality=config.quality or tuple(quality),
        sort=config.sort or sort,
        params=config.params or tuple(k for k in params if any(k in r.data.params for r in runs)),
    )


def build_rows(runs: Sequence[Any], config: CompareConfig, uri: str) -> list[Row]:
    """One row per run, sorted by `sort`, with the rate-vs-first-quality front marked."""
    import mlflow

    client = mlflow.MlflowClient(uri)
    keys = [k for k in (*config.columns, config.rate, *config.quality, config.sort) if k]
    keys = [k for k in keys if k != "none"]
    rows = []
    for run in runs:
        tags, metrics = run.data.tags, run.data.metrics
        status = run.info.status.lower()
        if tags.get("pairalign.early_stopped") == "true":
            status = "stopped"
        steps = max(
            (m.step for m in client.get_metric_history(run.info.run_id, STEP_METRIC)), default=-1
        )
        rows.append(
            Row(
                run_id=run.info.run_id,
                name=tags.get(RUN_NAME_TAG) or run.info.run_name,
                status=status,
                steps=steps,
                best_step=tags.get(BEST_STEP_TAG, ""),
                params={k: run.data.params.get(k, "") for k in config.params},
                metrics={k: float(metrics.get(k, math.nan)) for k in keys},
            )
        )
    if config.sort and config.sort != "none":
        rows.sort(key=lambda r: -_finite(r.metrics.get(config.sort, math.nan)))
    plotted = config.rate and config.quality
    front = set(front_of(rows, config.rate, config.quality[0])) if plotted else set()
    return [Row(**{**r.__dict__, "front": i in front}) for i, r in enumerate(rows)]


def front_of(rows: Sequence[Row], rate: str, quality: str) -> list[int]:
    return pareto_front([(r.metrics[rate], r.metrics[quality]) for r in rows], ("min", "max"))


def table(rows: Sequence[Row], config: CompareConfig) -> tuple[list[str], list[list[str]]]:
    """Header and cells, numbers to 4 significant digits; `*` marks the Pareto front."""
    header = ["run", "status", "steps", "best step", *config.params, *config.columns, "front"]
    cells = [
        [
            r.name,
            r.status,
            str(r.steps) if r.steps >= 0 else "",
            r.best_step,
            *(_short(r.params[k]) for k in config.params),
            *(_number(r.metrics[k]) for k in config.columns),
            "*" if r.front else "",
        ]
        for r in rows
    ]
    return header, cells


def markdown(header: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells]) + "\n"


def plain(header: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *cells, strict=True)]
    return (
        "\n".join(
            "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip()
            for row in [header, *cells]
        )
        + "\n"
    )


@dataclass(frozen=True)
class Point:
    """One run's strings of one kind in the trade-off plot."""

    run: str  # the run's name
    kind: str  # the strings: pairalign or vq ("" when the figures' keys name no kind)
    status: str  # the run's
    rate: float
    quality: tuple[float, ...]  # one per panel, NaN where the run lacks it


def kind_keys(key: str) -> dict[str, str]:
    """`key` for each kind of strings: "eval/vq/map" -> {"pairalign": "eval/pairalign/map", "vq":
    "eval/vq/map"}; {"": key} when it names no kind."""
    parts = key.split("/")
    at = next((i for i, part in enumerate(parts) if part in STRING_KINDS), None)
    if at is None:
        return {"": key}
    return {kind: "/".join([*parts[:at], kind, *parts[at + 1 :]]) for kind in STRING_KINDS}


def tradeoff_points(rows: Sequence[Row], rate: str, quality: Sequence[str]) -> list[Point]:
    """A point per run and kind of strings whose rate and some quality figure are among the
    rows' metrics (see the module docstring), in row order, PairAlign before VQ."""
    points = []
    for row in rows:
        for kind, rate_key in kind_keys(rate).items():
            x = row.metrics.get(rate_key, math.nan)
            ys = tuple(row.metrics.get(kind_keys(q).get(kind, q), math.nan) for q in quality)
            if math.isfinite(x) and any(math.isfinite(y) for y in ys):
                points.append(Point(row.name, kind, row.status, x, ys))
    return points


def tradeoff_plot(points: Sequence[Point], rate: str, quality: Sequence[str], path: str) -> str:
    """One panel per quality figure against the rate: each run's strings marked by kind (hollow:
    stopped early or failed) and labelled by run; the panel's Pareto front joined and ringed."""
    fig = Figure(figsize=(5.5 * len(quality), 4.5))
    for i, (ax, key) in enumerate(
        zip(fig.subplots(1, len(quality), squeeze=False)[0], quality, strict=True)
    ):
        shown = [p for p in points if math.isfinite(p.quality[i])]
        for p in shown:
            colour = COLOURS.get(p.kind, "k")
            hollow = p.status in ("stopped", "failed")
            ax.scatter(
                p.rate,
                p.quality[i],
                s=40,
                marker=MARKERS[p.kind],
                zorder=3,
                edgecolors=colour,
                facecolors="none" if hollow else colour,
            )
            ax.annotate(
                _label(p.run),
                (p.rate, p.quality[i]),
                fontsize=7,
                xytext=(4, 3),
                textcoords="offset points",
                color=colour,
            )
        xy = [(p.rate, p.quality[i]) for p in shown]
        front = sorted(xy[j] for j in pareto_front(xy, ("min", "max")))
        if front:
            ax.plot(
                *zip(*front, strict=True),
                color="k",
                linewidth=1,
                drawstyle="steps-post",
                label="Pareto front",
            )
            ax.scatter(
                *zip(*front, strict=True), s=130, facecolors="none", edgecolors="k", zorder=4
            )
        for kind in (k for k in MARKERS if any(p.kind == k for p in shown)):
            ax.scatter(
                [], [], marker=MARKERS[kind], color=COLOURS.get(kind, "k"), label=LEGEND[kind]
            )
        if any(p.status in ("stopped", "failed") for p in shown):
            ax.scatter(
                [],
                [],
                marker="o",
                facecolors="none",
                edgecolors="k",
                label="stopped early or failed",
            )
        ax.set_xlabel(f"{_any_kind(rate)} (tokens/s, fewer is better)")
        ax.set_ylabel(_any_kind(key))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def _any_kind(key: str) -> str:
    """The axis of every kind's points: eval/vq/map -> eval/<strings>/map."""
    return "/".join("<strings>" if part in STRING_KINDS else part for part in key.split("/"))


def write_outputs(
    rows: Sequence[Row], points: Sequence[Point], config: CompareConfig, out_dir: str
) -> dict[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    header, cells = table(rows, config)
    paths = {"markdown": os.path.join(out_dir, "runs.md"), "csv": os.path.join(out_dir, "runs.csv")}
    with open(paths["markdown"], "w") as f:
        f.write(markdown(header, cells))
    with open(paths["csv"], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["run_id", *header])
        writer.writerows([r.run_id, *row] for r, row in zip(rows, cells, strict=True))
    if config.quality and config.rate:
        paths["plot"] = tradeoff_plot(
            points, config.rate, config.quality, os.path.join(out_dir, "tradeoff.png")
        )
    return paths


def log_outputs(
    uri: str, parent_id: str, config: CompareConfig, out_dir: str, rows: Sequence[Row]
) -> str:
    """Log the files under `compare/` to `parent_id`, or to a new run `compare`; return its id."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    run_id = parent_id
    if not run_id:
        experiment = client.get_experiment_by_name(config.tracking.experiment)
        run = client.create_run(
            experiment.experiment_id,
            run_name="compare",
            tags={"pairalign.compared_runs": ",".join(r.run_id for r in rows)[:5000]},
        )
        run_id = run.info.run_id
    client.log_artifacts(run_id, out_dir, artifact_path="compare")
    if not parent_id:
        client.set_terminated(run_id, "FINISHED")
    return run_id


def compare(config: CompareConfig) -> dict[str, Any]:
    """Select, tabulate, plot, print and log; returns the rows, the plot's points, file paths and
    the run logged to."""
    log = logging.getLogger("pairalign")
    uri = tracking_uri(config.tracking, config.storage_path)
    runs, parent_id = select_runs(config, uri)
    if not runs:
        raise ValueError(f"no runs to compare: {nothing_found(config, uri)}")
    config = detect_columns(runs, config)
    rows = build_rows(runs, config, uri)
    out_dir = config.out_dir or default_out_dir(config)
    points = tradeoff_points(rows, config.rate, config.quality) if config.rate else []
    paths = write_outputs(rows, points, config, out_dir)
    header, cells = table(rows, config)
    print(plain(header, cells))
    empty = [k for k in config.columns if all(math.isnan(r.metrics[k]) for r in rows)]
    if not config.columns or len(empty) == len(config.columns):
        print(
            f"none of the {len(rows)} runs has any of the columns {list(config.columns)}; "
            f"their metrics: {', '.join(sorted(metric_names(runs))) or 'none'}"
        )
    elif empty:
        print(f"no run has {', '.join(empty)}")
    logged_to = log_outputs(uri, parent_id, config, out_dir, rows) if config.log else ""
    log.info(
        "compare: %d runs, %d on the front; %s%s",
        len(rows),
        sum(r.front for r in rows),
        ", ".join(paths.values()),
        f"; logged to run {logged_to}" if logged_to else "",
    )
    return {
        "rows": rows,
        "points": points,
        "paths": paths,
        "logged_to": logged_to,
        "tracking_uri": uri,
    }


def metric_names(runs: Sequence[Any]) -> set[str]:
    """Every metric the runs logged, the per-step training ones (loss/, train/, ...) left out."""
    names = set().union(*(run.data.metrics for run in runs))
    return {
        n for n in names if n.startswith(("eval/", "best/", "final/", "dev/", "test/"))
    } or names


def nothing_found(config: CompareConfig, uri: str) -> str:
    """What was looked for, where, for the message of an empty selection."""
    if config.run_ids:
        return f"run_ids {list(config.run_ids)} in {uri}"
    if config.sweep:
        return f"sweep {config.sweep!r} has no trial runs in {uri}"
    return f"experiment {config.tracking.experiment!r} has no FINISHED runs in {uri}"


def default_out_dir(config: CompareConfig) -> str:
    if is_remote(config.storage_path):  # the files are logged to MLflow
        return tempfile.mkdtemp(prefix="compare-")
    return (
        join(config.storage_path, config.sweep, "compare")
        if config.sweep
        else join(config.storage_path, "compare")
    )


def _finite(value: float) -> float:
    return value if math.isfinite(value) else -math.inf


def _number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.4g}"


def _short(value: str) -> str:
    try:
        return _number(float(value))
    except ValueError:
        return value


def _label(name: str) -> str:
    """A trial's short label: the index after the sweep's name (e.g. 'tune/5e0a1_00003' -> '3')."""
    tail = name.rsplit("_", 1)[-1]
    return str(int(tail)) if tail.isdigit() else name.rsplit("/", 1)[-1]
