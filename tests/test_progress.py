import math

import pytest

from pairalign.progress import Throttle, eta_seconds, format_duration, progress_line


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (12.4, "12s"), (59.6, "1m00s"), (312, "5m12s"), (3600, "1h00m"), (4000, "1h06m")],
)
def test_durations_read_as_a_person_would_say_them(seconds, text):
    assert format_duration(seconds) == text


def test_unknown_durations_are_a_question_mark():
    assert format_duration(math.nan) == "?"
    assert format_duration(-1) == "?"


def test_eta_follows_the_pace_since_the_run_resumed():
    # resumed at step 100; 20 steps in 60 s -> 3 s a step; 180 steps left
    assert eta_seconds(120, 300, 60.0, started_at=100) == pytest.approx(540.0)
    assert math.isnan(eta_seconds(100, 300, 60.0, started_at=100))  # nothing done yet
    assert eta_seconds(300, 300, 60.0) == 0.0


def test_a_training_line_has_step_figures_elapsed_and_eta():
    line = progress_line(
        "refine", done=120, total=500, elapsed=312.0, figures={"loss": 3.2101, "clips/s": 11.04}
    )
    assert line == "refine step 120/500  loss 3.21  clips/s 11  elapsed 5m12s  eta 16m28s"


def test_a_count_line_puts_the_unit_after_the_count():
    line = progress_line(
        "tokenize", done=384, total=800, unit="clips", elapsed=20.0, figures={"audio s/s": 51.04}
    )
    assert line.startswith("tokenize 384/800 clips  audio s/s 51  elapsed 20s  eta 22s")


def test_throttle_speaks_at_most_once_per_period_and_always_at_the_end():
    throttle = Throttle(every_seconds=3600)
    assert not throttle.ready(1, 10)  # not off the first item: its rate would mean nothing
    assert not throttle.ready(9, 10)
    assert throttle.ready(10, 10)  # the last one always
    often = Throttle(every_seconds=0.0)
    assert often.ready(1, 10) and often.ready(2, 10)
