"""Progress a person can read: one short line per report, with counts, a rate, elapsed and ETA.

    line = progress_line("vq", done=120, total=300, elapsed=312.0, started_at=0,
                         figures={"loss": 3.21, "clips/s": 11.0})
    # 'vq step 120/300  loss 3.21  clips/s 11.0  elapsed 5m12s  eta 7m48s'

`Throttle` decides when a loop that finishes many small items (utterances, batches) says so: at
most once per `every_seconds`, and always at the end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

from pairalign.units import Seconds


def format_duration(seconds: Seconds) -> str:
    """12 -> '12s', 312 -> '5m12s', 4000 -> '1h06m'; '?' when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "?"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def eta_seconds(done: int, total: int, elapsed: Seconds, started_at: int = 0) -> Seconds:
    """Time left at the pace of the items done since `started_at` (a resumed run's first step)."""
    progressed = done - started_at
    if progressed <= 0 or elapsed <= 0:
        return math.nan
    return max(0, total - done) * elapsed / progressed


def format_figure(value: float) -> str:
    """Three significant digits, no exponent for the everyday range."""
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.2e}"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def progress_line(
    what: str,
    *,
    done: int,
    total: int,
    elapsed: Seconds,
    started_at: int = 0,
    unit: str = "step",
    figures: Mapping[str, float] | None = None,
    eta: Seconds | None = None,
) -> str:
    """'<what> step done/total  <figure> <value> ...  elapsed ..  eta ..' (unit "step"), or
    '<what> done/total <unit>  ...' for any other unit ("utterances", "clips")."""
    count = f"step {done}/{total}" if unit == "step" else f"{done}/{total} {unit}"
    parts = [f"{what} {count}"]
    parts += [f"{name} {format_figure(value)}" for name, value in (figures or {}).items()]
    parts.append(f"elapsed {format_duration(elapsed)}")
    if eta is None:
        eta = eta_seconds(done, total, elapsed, started_at)
    parts.append(f"eta {format_duration(eta)}")
    return "  ".join(parts)


class Throttle:
    """`ready(done, total)` is True at most once per `every_seconds` (the first time when that long
    has passed since the start, so a rate is never read off one item), and at the last item."""

    def __init__(self, every_seconds: Seconds = 10.0) -> None:
        self.every_seconds = every_seconds
        self.start = time.perf_counter()
        self._last = self.start

    @property
    def elapsed(self) -> Seconds:
        return time.perf_counter() - self.start

    def ready(self, done: int, total: int) -> bool:
        now = time.perf_counter()
        if done >= total or now - self._last >= self.every_seconds:
            self._last = now
            return True
        return False


class Progress:
    """Progress lines for a step that may run long: `update(done)` logs a `progress_line` at most
    once per `every_seconds`, so a step that ends sooner says nothing, and a step that has said
    something also logs its last item.

        progress = Progress("measure vq", total=800, unit="clips", log=log.info)
        for i, batch in enumerate(batches): ...; progress.update(done)
    """

    def __init__(
        self,
        what: str,
        *,
        total: int,
        unit: str,
        log: Callable[[str], None],
        every_seconds: Seconds = 10.0,
    ) -> None:
        self.what, self.total, self.unit, self.log = what, total, unit, log
        self.throttle = Throttle(every_seconds)
        self.spoken = False

    def update(self, done: int, figures: Mapping[str, float] | None = None) -> None:
        if not self.throttle.ready(done, self.total):
            return
        if done >= self.total and not self.spoken:
            return  # finished before its first line was due
        self.spoken = True
        self.log(
            progress_line(
                self.what,
                done=done,
                total=self.total,
                unit=self.unit,
                elapsed=self.throttle.elapsed,
                figures=figures,
            )
        )
