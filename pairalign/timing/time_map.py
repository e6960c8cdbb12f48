"""Monotone piecewise-linear maps between two clocks (seconds), e.g. one rendition's and
another's, or a clip's source time and a view's.

A `TimeMap` passes through its knots (x, y), both strictly increasing, and continues beyond the
first and last knot with its own slopes, so it is defined and strictly increasing everywhere: it
inverts, and composes with another map into a map of the same kind. `TimeMap.from_path` makes one
from a DTW path; `TimeMap.of_view` from a view's record of its augmentations (`warp`, `shift`:
source time s is heard at s / warp + shift, `pairalign.data.augment.Clip`), so the seconds of view
A of one rendition go to view B of the other by `of_view(b).compose(path_map).compose(
of_view(a).inverse())`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from pairalign.units import Seconds


class Warped(Protocol):
    """What records an affine time change: source time s is at s / warp + shift."""

    warp: float
    shift: Seconds


@dataclass(frozen=True, eq=False)
class TimeMap:
    """A strictly increasing piecewise-linear map of seconds: through the knots (x[k], y[k]),
    slope `before` left of x[0] and `after` right of x[-1]."""

    x: np.ndarray  # (K,) float64, strictly increasing, K >= 1
    y: np.ndarray  # (K,) float64, strictly increasing
    before: float = 1.0
    after: float = 1.0

    def __post_init__(self) -> None:
        x, y = np.asarray(self.x, np.float64), np.asarray(self.y, np.float64)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        if x.ndim != 1 or x.shape != y.shape or len(x) == 0:
            raise ValueError(f"knots: two 1-D arrays of one length >= 1, not {x.shape}, {y.shape}")
        if np.any(np.diff(x) <= 0) or np.any(np.diff(y) <= 0):
            raise ValueError("a time map's knots must be strictly increasing in x and y")
        if not (self.before > 0 and self.after > 0):
            raise ValueError(f"slopes must be positive: {self.before}, {self.after}")

    @classmethod
    def affine(cls, slope: float, offset: Seconds = 0.0) -> TimeMap:
        """t -> slope * t + offset."""
        return cls(np.zeros(1), np.full(1, float(offset)), slope, slope)

    @classmethod
    def identity(cls) -> TimeMap:
        return cls.affine(1.0)

    @classmethod
    def of_view(cls, view: Warped) -> TimeMap:
        """A view's source seconds -> its own (a `Clip`, or anything with `warp` and `shift`)."""
        return cls.affine(1.0 / float(view.warp), float(view.shift))

    @classmethod
    def from_path(
        cls,
        path: np.ndarray,
        frame_seconds: Seconds,
        frame_seconds_b: Seconds | None = None,
        knot_every: int = 4,
        frame_origin: float = 0.0,
    ) -> TimeMap:
        """A's seconds -> B's seconds along a DTW path (frame i is at (i + frame_origin) *
        frame_seconds): each frame of A goes to the mean of the frames of B the path pairs it
        with; knots are those means averaged over blocks of `knot_every` frames of A, plus the
        path's two ends; knots of one partner (A stalls) are merged into their mean, so the map
        is strictly increasing. Beyond its ends it continues with the mean slope.
        # (P, 2) -> TimeMap"""
        path = np.asarray(path, np.int64)
        frame_b = frame_seconds if frame_seconds_b is None else frame_seconds_b
        first = int(path[0, 0])
        rows = path[:, 0] - first
        count = np.bincount(rows)
        seen = count > 0  # every frame between the ends, for a path of unit steps
        partner = np.bincount(rows, weights=path[:, 1])[seen] / count[seen]
        frames = np.flatnonzero(seen).astype(np.float64) + first
        blocks = np.arange(len(frames)) // max(knot_every, 1)
        per_block = np.bincount(blocks)
        x = np.bincount(blocks, weights=frames) / per_block
        y = np.bincount(blocks, weights=partner) / per_block
        if knot_every > 1:  # block means fall inside: the ends are knots too
            x = np.concatenate([frames[:1], x, frames[-1:]])
            y = np.concatenate([partner[:1], y, partner[-1:]])
        x, y = _strictly_increasing(x, y)
        x = (x + frame_origin) * frame_seconds
        y = (y + frame_origin) * frame_b
        slope = (y[-1] - y[0]) / (x[-1] - x[0]) if len(x) > 1 else frame_b / frame_seconds
        return cls(x, y, slope, slope)

    def __call__(self, seconds: np.ndarray | float) -> np.ndarray:
        """The map at each time.  # (...) -> (...)"""
        t = np.asarray(seconds, np.float64)
        out = np.interp(t, self.x, self.y)
        out = np.where(t < self.x[0], self.y[0] + self.before * (t - self.x[0]), out)
        return np.where(t > self.x[-1], self.y[-1] + self.after * (t - self.x[-1]), out)

    def map(self, seconds: np.ndarray | float) -> np.ndarray:
        return self(seconds)

    def inverse(self) -> TimeMap:
        return TimeMap(self.y, self.x, 1.0 / self.before, 1.0 / self.after)

    def compose(self, inner: TimeMap | Warped) -> TimeMap:
        """self after `inner`: t -> self(inner(t)); `inner` may be a view (`of_view`)."""
        inner = inner if isinstance(inner, TimeMap) else TimeMap.of_view(inner)
        knots = np.concatenate([inner.x, inner.inverse()(self.x)])
        x, y = _strictly_increasing(*_sorted(knots, self(inner(knots))))
        return TimeMap(x, y, self.before * inner.before, self.after * inner.after)

    def then(self, outer: TimeMap | Warped) -> TimeMap:
        """`outer` after self: t -> outer(self(t))."""
        outer = outer if isinstance(outer, TimeMap) else TimeMap.of_view(outer)
        return outer.compose(self)


def _sorted(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(x, kind="stable")
    return x[order], y[order]


def _strictly_increasing(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots of a non-decreasing curve made strictly increasing: knots of (nearly) equal x or y
    are merged into their mean.  # (K,), (K,) -> (K',), (K',)"""
    scale = max(float(np.abs(x).max()), float(np.abs(y).max()), 1.0) * 1e-12
    group = np.concatenate([[0], np.cumsum((np.diff(x) > scale) & (np.diff(y) > scale))])
    size = np.bincount(group)
    return np.bincount(group, weights=x) / size, np.bincount(group, weights=y) / size
