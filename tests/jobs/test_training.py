import logging
import time

from pairalign.jobs.training import quiet_ray_console
from pairalign.training.loop import log_progress


def test_one_progress_line_per_report(caplog):
    caplog.set_level("INFO", logger="pairalign")
    metrics = {
        "loss/total": 3.2101,
        "train/clips_per_second": 11.0,
        "strings/token_rate": 12.345,
        "stage2/cross": 1.0,
    }
    now = time.perf_counter()
    # began 100 s ago; the first report (step 110) was 60 s ago: 10 steps in 60 s since then
    log_progress(
        "refine",
        120,
        500,
        now - 100,
        (110, now - 60),
        metrics,
        {"tokens/s": "strings/token_rate", "absent": "not/reported"},
    )
    (line,) = [r.getMessage() for r in caplog.records]
    # 380 steps left at 6 s each
    assert (
        line
        == "refine step 120/500  loss 3.21  clips/s 11  tokens/s 12.3  elapsed 1m40s  eta 38m00s"
    )


def test_ray_info_records_are_kept_off_the_console_but_warnings_are_not(tmp_path):
    import ray

    stream = logging.StreamHandler(open(tmp_path / "console", "w"))  # noqa: SIM115
    root = logging.getLogger()
    root.addHandler(stream)
    try:
        quiet_ray_console()
        quiet_ray_console()  # idempotent: one filter
        assert len(stream.filters) == 1
        inside_ray = f"{ray.__path__[0]}/train/v2/_internal/execution/context.py"
        for level, path in (
            (logging.INFO, inside_ray),
            (logging.WARNING, inside_ray),
            (logging.INFO, __file__),
        ):
            record = logging.LogRecord("x", level, path, 1, f"{level} {path}", None, None)
            stream.handle(record)
        stream.flush()
        text = (tmp_path / "console").read_text()
    finally:
        root.removeHandler(stream)
    assert f"{logging.INFO} {inside_ray}" not in text
    assert f"{logging.WARNING} {inside_ray}" in text
    assert f"{logging.INFO} {__file__}" in text
