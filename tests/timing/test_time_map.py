"""Time maps: strictly increasing from any DTW path, invertible, and composed with a view's
augmentation warp and shift as the views record it."""

from __future__ import annotations

import numpy as np
import pytest

from pairalign.data.augment import Clip
from pairalign.timing import TimeMap


def test_a_map_from_a_path_is_strictly_increasing_even_where_the_path_stalls():
    path = np.array([(0, 0), (1, 0), (2, 0), (3, 1), (3, 2), (3, 3), (4, 4), (5, 4), (6, 5)])
    time_map = TimeMap.from_path(path, frame_seconds=0.02, knot_every=1)
    assert np.all(np.diff(time_map.x) > 0) and np.all(np.diff(time_map.y) > 0)
    t = np.linspace(-0.1, 0.3, 101)
    assert np.all(np.diff(time_map(t)) > 0)
    assert time_map(0.02) == pytest.approx(0.0)  # frames 0-2 stall on B's frame 0: their middle
    assert time_map(0.06) == pytest.approx(0.04) and time_map(0.12) == pytest.approx(0.1)


def test_inverse_and_composition_agree_with_applying_maps_in_turn():
    f = TimeMap(np.array([0.0, 1.0, 2.5]), np.array([0.2, 0.9, 3.0]), before=0.5, after=2.0)
    g = TimeMap(np.array([-1.0, 0.5, 0.8, 4.0]), np.array([0.0, 1.0, 1.1, 2.0]), 1.5, 0.3)
    t = np.linspace(-3.0, 6.0, 997)
    np.testing.assert_allclose(f.inverse()(f(t)), t, atol=1e-12)
    np.testing.assert_allclose(f.compose(g)(t), f(g(t)), atol=1e-12)
    np.testing.assert_allclose(f.then(g)(t), g(f(t)), atol=1e-12)
    np.testing.assert_allclose(f.compose(g).inverse()(f(g(t))), t, atol=1e-9)


def test_a_views_warp_and_shift_compose_like_the_frame_alignment():
    """Source time s is heard at s / warp + shift in a view (`Clip`): view A's seconds go to
    view B's of the other rendition through A's inverse, the path's map, then B."""
    view_a = Clip(np.zeros(10, np.float32), 16000, warp=1.1, shift=0.03)
    view_b = Clip(np.zeros(10, np.float32), 16000, warp=0.9, shift=-0.05)
    between = TimeMap(np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.4, 2.1]))  # source A -> B
    a_to_b = TimeMap.of_view(view_a).inverse().then(between).then(view_b)
    t = np.linspace(0.0, 3.0, 31)
    source_a = (t - view_a.shift) * view_a.warp
    np.testing.assert_allclose(a_to_b(t), between(source_a) / view_b.warp + view_b.shift)
    same = TimeMap.identity().compose(view_a)  # a Clip is taken where a map is
    np.testing.assert_allclose(same(t), t / 1.1 + 0.03)


def test_knots_must_increase():
    with pytest.raises(ValueError, match="strictly increasing"):
        TimeMap(np.array([0.0, 1.0]), np.array([1.0, 1.0]))
