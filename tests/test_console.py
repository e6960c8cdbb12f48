"""What a person reads: the run line, a stage's result block, progress that speaks when slow."""

from __future__ import annotations

import json
import logging

import mlflow

from pairalign.console import result_block, run_line
from pairalign.jobs.tracking import log_figures_file
from pairalign.progress import Progress
from workflows.cli import parse_args, quiet_known_ray_warnings

FIGURES = {
    "vq/token_rate": 14.46,
    "vq/map": 0.9441,
    "vq/chance_map": 0.0632,
    "vq/consistency": 0.608,
    "vq/cross_voice_consistency": 0.352,
    "vq/codes_used": 31.0,
    "vq/vocab_used": 31 / 32,
    "pairalign/token_rate": 13.6,
    "pairalign/map": 0.578,
    "pairalign/consistency": 0.69,
    "final/step": 300.0,
}


def test_the_run_line_says_what_where_and_how_long():
    line = run_line(
        "vq",
        name="vq-tiny",
        corpus="data/builtin",
        train_clips=1376,
        steps=(0, 300),
        out="runs/vq-tiny",
        tracking="sqlite:///runs/mlflow.db",
    )
    assert line == (
        "== vq vq-tiny: 300 steps on data/builtin (1376 train clips) -> runs/vq-tiny; "
        "MLflow sqlite:///runs/mlflow.db =="
    )
    resumed = run_line(
        "vq", name="n", corpus="c", train_clips=1, steps=(50, 300), out="o", tracking="t"
    )
    assert "steps 50 -> 300 (resumed)" in resumed
    done = run_line(
        "vq", name="n", corpus="c", train_clips=1, steps=(300, 300), out="o", tracking="t"
    )
    assert "already at step 300" in done


def test_the_result_block_is_a_few_lines_of_the_figures_people_compare():
    block = result_block(
        "refine",
        FIGURES,
        name="refine-tiny",
        checkpoint="runs/r/checkpoint_1",
        seconds=312,
        step=300,
        details="MLflow run abc (sqlite:///x)",
    )
    lines = block.splitlines()
    assert lines[0] == "refine refine-tiny done in 5m12s at step 300"
    header = ["strings", "tokens/s", "MAP", "chance", "consistency", "cross-voice", "vocabulary"]
    assert lines[1].split() == header
    assert lines[2].split() == ["pairalign", "13.6", "0.578", "-", "0.690", "-", "?"]  # first
    assert lines[3].split() == ["vq", "14.5", "0.944", "0.063", "0.608", "0.352", "31", "(97%)"]
    assert lines[4] == "  final checkpoint runs/r/checkpoint_1" and len(lines) == 6
    aligned = {**FIGURES, "vq/aligned_code_agreement": 0.4612, "vq/aligned_code_frames": 5210.0}
    block = result_block("vq", aligned, name="v", checkpoint="c", seconds=1, details="d")
    assert "aligned-frame agreement across voices 0.461 (5210 frames)" in block


def test_progress_speaks_only_for_steps_that_take_long(caplog):
    said = []
    quick = Progress("measure vq", total=3, unit="clips", log=said.append, every_seconds=60)
    for done in (1, 2, 3):
        quick.update(done)
    assert said == []  # finished before its first line was due: silent, even at the end
    slow = Progress("measure vq", total=3, unit="clips", log=said.append, every_seconds=0)
    for done in (1, 2, 3):
        slow.update(done, figures={"tokens/s": 12.0})
    assert len(said) == 3 and said[0].startswith("measure vq 1/3 clips  tokens/s 12  elapsed")
    assert said[-1].startswith("measure vq 3/3 clips") and said[-1].endswith("eta 0s")


def test_figures_go_to_the_run_directory_and_mlflow_not_the_console(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("e", artifact_location=f"file://{tmp_path}/art")
    run_id = client.create_run(experiment).info.run_id
    url = log_figures_file(uri, run_id, FIGURES, str(tmp_path / "runs" / "vq-tiny"))
    assert json.loads((tmp_path / "runs" / "vq-tiny" / "figures.json").read_text()) == FIGURES
    assert url.endswith("vq-tiny/figures.json")
    assert [a.path for a in client.list_artifacts(run_id)] == ["figures.json"]


def test_verbose_and_log_level_set_the_projects_log_level():
    from pairalign.jobs.comparison import CompareConfig

    logger = logging.getLogger("pairalign")
    try:
        parse_args(CompareConfig, "compare.yaml", ["-v"])
        assert logger.level == logging.DEBUG
        config = parse_args(CompareConfig, "compare.yaml", ["log_level=warning", "sweep=s"])
        assert logger.level == logging.WARNING and config.sweep == "s"  # not a config key
        parse_args(CompareConfig, "compare.yaml", [])
        assert logger.level == logging.INFO
    finally:
        logger.setLevel(logging.NOTSET)


def test_rays_notices_are_quieted_before_ray_starts():
    quiet_known_ray_warnings()
    quiet_known_ray_warnings()  # twice: one filter
    logger = logging.getLogger("ray._private.authentication.authentication_token_setup")
    assert len(logger.filters) == 1
    notice = logging.LogRecord(
        logger.name,
        logging.WARNING,
        "",
        0,
        "Token authentication is enabled for this Ray cluster. Set RAY_AUTH_MODE=disabled ...",
        None,
        None,
    )
    disabled = logging.LogRecord(
        logger.name,
        logging.WARNING,
        "",
        0,
        "Token authentication is disabled for this Ray cluster. Anyone ...",
        None,
        None,
    )
    assert not logger.filter(notice) and logger.filter(disabled)  # the security warning stays
    bars = logging.getLogger("ray.data._internal.progress")
    assert not bars.filter(
        logging.LogRecord(
            bars.name, logging.WARNING, "", 0, "Progress bars disabled. To enable, ...", None, None
        )
    )
    assert logging.getLogger("ray.train").level == logging.WARNING
