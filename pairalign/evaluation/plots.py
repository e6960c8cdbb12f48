"""Evaluation plots as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure  # no pyplot: figures are drawn straight to files
from matplotlib.ticker import NullFormatter, ScalarFormatter

COLOURS = {"pairalign": "tab:red", "vq": "tab:blue", "dense": "tab:grey"}


def map_vs_rate(rows: Sequence[Mapping], path: str, chance: float | None = None) -> str:
    """MAP against tokens per second; rows hold name, kind, token_rate and map. Dense grid points
    are grey, and the best dense tokenizer at each rate is joined by a line."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    dense = [r for r in rows if r["kind"] == "dense"]
    if dense:
        ax.scatter([r["token_rate"] for r in dense], [r["map"] for r in dense], s=18,
                   color=COLOURS["dense"], alpha=0.6, label="dense k-means (grid)")  # fmt: skip
        best = best_per_rate(dense)
        ax.plot([r["token_rate"] for r in best], [r["map"] for r in best], color=COLOURS["dense"],
                label="best dense at each rate")  # fmt: skip
        for r in best:
            ax.annotate(r["name"].removeprefix("dense-"), (r["token_rate"], r["map"]), fontsize=7)
    for r in rows:
        if r["kind"] != "dense":
            ax.scatter(r["token_rate"], r["map"], s=60, color=COLOURS.get(r["kind"], "k"),
                       label=r["name"], zorder=3)  # fmt: skip
    if chance is not None:
        ax.axhline(chance, color="k", linestyle=":", linewidth=1, label="chance")
    ax.set_xscale("log")
    ax.set_xticks([6.25, 12.5, 25, 50, 100])
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("tokens per second")
    ax.set_ylabel("retrieval MAP")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def best_per_rate(rows: Sequence[Mapping]) -> list[Mapping]:
    """The row with the highest MAP at each token rate (rates rounded to 0.1), by rate."""
    best: dict[float, Mapping] = {}
    for r in rows:
        key = round(r["token_rate"], 1)
        if key not in best or r["map"] > best[key]["map"]:
            best[key] = r
    return [best[k] for k in sorted(best)]


def sweep_drift(curves: Mapping[str, np.ndarray], kinds: Mapping[str, str], step: float,
                window: float, path: str) -> str:  # fmt: skip
    """Distance from the first window's string against the window's shift, per tokenizer
    (`kinds`: name -> pairalign / vq / dense, for the colours)."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for name, curve in curves.items():
        learned = kinds.get(name) in ("pairalign", "vq")
        ax.plot(np.arange(len(curve)) * step, curve, label=name,
                color=COLOURS[kinds[name]] if learned else None, linewidth=2 if learned else 1)  # fmt: skip
    ax.set_xlabel(f"shift of the {window:g} s window (s)")
    ax.set_ylabel("normalised edit distance from the first window")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def tokens_on_spectrogram(logmel: np.ndarray, frame_seconds: float, tokens: Sequence[int],
                          spans: np.ndarray, path: str, title: str = "") -> str:  # fmt: skip
    """A token string drawn over the log-mel spectrogram of its clip: each token over its
    (start, end) span in seconds, as the timing head places it."""
    fig = Figure(figsize=(10, 3.5))
    ax = fig.subplots()
    seconds = logmel.shape[0] * frame_seconds
    ax.imshow(logmel.T, origin="lower", aspect="auto", extent=(0, seconds, 0, logmel.shape[1]),
              cmap="magma")  # fmt: skip
    top = logmel.shape[1]
    for i, (token, (start, end)) in enumerate(zip(tokens, spans, strict=True)):
        y = top * (0.82 if i % 2 else 0.92)
        ax.hlines(y - 2, start, end, color="cyan", linewidth=2)
        ax.text((start + end) / 2, y, str(token), color="white", fontsize=7, ha="center")
    ax.set_xlabel("seconds")
    ax.set_ylabel("mel bin")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path
