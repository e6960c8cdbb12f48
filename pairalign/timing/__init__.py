"""Time between two renditions of the same content: banded DTW on their frames (`dtw`:
`dtw_path`, `align`, silence trimming, rejection by path cost) and the monotone piecewise-linear
maps of seconds it gives (`time_map`: `TimeMap`, which inverts and composes with a view's
augmentation warp and shift). Numpy only; nothing here knows a corpus or a model."""

from pairalign.timing.dtw import (
    Alignment,
    DTWConfig,
    align,
    dtw_path,
    frame_levels_db,
    trim_silence,
)
from pairalign.timing.time_map import TimeMap, Warped

__all__ = [
    "Alignment",
    "DTWConfig",
    "TimeMap",
    "Warped",
    "align",
    "dtw_path",
    "frame_levels_db",
    "trim_silence",
]
