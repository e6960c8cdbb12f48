"""The evaluation plots: token labels that never overlap, one labelled row per tokenizer."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from matplotlib.image import imread

from pairalign.evaluation.plots import (
    LABEL_LEVELS,
    TokenRow,
    label_levels,
    map_vs_rate,
    sweep_drift,
    tokens_on_spectrogram,
)


def _placed(spans, widths, levels):
    return [
        ((s + e) / 2 - w / 2, (s + e) / 2 + w / 2, lvl)
        for (s, e), w, lvl in zip(spans, widths, levels, strict=True)
    ]


@pytest.mark.parametrize("per_second", [2.0, 12.5, 50.0, 100.0])
def test_labels_on_one_line_never_overlap_and_sparse_ones_all_show(per_second):
    rng = np.random.default_rng(0)
    n = int(3 * per_second)
    bounds = np.sort(rng.uniform(0, 3, n + 1))
    spans = np.stack([bounds[:-1], bounds[1:]], axis=1)
    widths = rng.uniform(0.03, 0.08, n)  # one to three digits at 7 pt on a 12 in figure
    levels = label_levels(spans, widths)
    placed = _placed(spans, widths, levels)
    for line in range(LABEL_LEVELS):
        on_line = sorted((a, b) for a, b, lvl in placed if lvl == line)
        assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(on_line))
    if per_second <= 12.5:  # a PairAlign or VQ string: every label shows
        assert None not in levels
    else:  # 100 tokens/s: some labels must go, the rest still do not overlap
        assert None in levels and sum(lvl is not None for lvl in levels) > n / 4


def test_the_spectrogram_plot_has_a_row_per_tokenizer(tmp_path):
    rng = np.random.default_rng(1)
    logmel = rng.standard_normal((300, 80))
    rows = []
    for name, kind, count in (
        ("pairalign", "pairalign", 38),
        ("vq", "vq", 44),
        ("dense-k8-p8", "dense", 300),
    ):
        edges = np.linspace(0, 3, count + 1)
        rows.append(
            TokenRow(
                name,
                kind,
                rng.integers(0, 64, count).tolist(),
                np.stack([edges[:-1], edges[1:]], 1),
            )
        )
    path = tokens_on_spectrogram(
        logmel, 0.01, rows, str(tmp_path / "tokens.png"), title="clip: words"
    )
    image = imread(path)
    assert image.shape[0] > image.shape[1] / 3  # three rows below the spectrogram: a tall figure
    one = tokens_on_spectrogram(logmel, 0.01, rows[:1], str(tmp_path / "one.png"))
    assert imread(one).shape[0] < image.shape[0]


def test_rate_and_drift_plots_are_written(tmp_path):
    rows = [
        {"name": "pairalign", "kind": "pairalign", "token_rate": 13.6, "map": 0.58},
        {"name": "vq", "kind": "vq", "token_rate": 14.5, "map": 0.94},
        {"name": "dense-k8-p8", "kind": "dense", "token_rate": 12.5, "map": 0.8},
        {"name": "dense-k8-p1", "kind": "dense", "token_rate": 100.0, "map": 0.99},
    ]
    assert imread(map_vs_rate(rows, str(tmp_path / "map.png"), chance=0.06)).size > 0
    curves = {"pairalign": np.linspace(0, 0.5, 11), "vq": np.linspace(0, 0.7, 11)}
    path = sweep_drift(
        curves, {"pairalign": "pairalign", "vq": "vq"}, 0.1, 3.0, str(tmp_path / "d.png")
    )
    assert imread(path).size > 0
