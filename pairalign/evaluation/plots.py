"""Evaluation plots as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure  # no pyplot: figures are drawn straight to files
from matplotlib.ticker import NullFormatter

COLOURS = {"pairalign": "tab:red", "vq": "tab:blue", "dense": "tab:grey"}


def map_vs_rate(rows: Sequence[Mapping], path: str, chance: float | None = None) -> str:
    """MAP against tokens per second; rows hold name, kind, token_rate and map. Dense grid points
    are grey, the best dense tokenizer at each rate is joined by a line, and every point is named
    beside it."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    dense = [r for r in rows if r["kind"] == "dense"]
    if dense:
        ax.scatter(
            [r["token_rate"] for r in dense],
            [r["map"] for r in dense],
            s=18,
            color=COLOURS["dense"],
            alpha=0.6,
            label="dense k-means (grid)",
        )
        best = best_per_rate(dense)
        ax.plot(
            [r["token_rate"] for r in best],
            [r["map"] for r in best],
            color=COLOURS["dense"],
            label="best dense at each rate",
        )
        for r in dense:
            ax.annotate(
                r["name"].removeprefix("dense-"),
                (r["token_rate"], r["map"]),
                fontsize=7,
                xytext=(5, -3),
                textcoords="offset points",
                color="dimgrey",
            )
    for r in rows:
        if r["kind"] != "dense":
            colour = COLOURS.get(r["kind"], "k")
            ax.scatter(r["token_rate"], r["map"], s=60, color=colour, label=r["name"], zorder=3)
            ax.annotate(
                r["name"],
                (r["token_rate"], r["map"]),
                fontsize=8,
                color=colour,
                xytext=(7, 4),
                textcoords="offset points",
                weight="bold",
            )
    if chance is not None:
        ax.axhline(chance, color="k", linestyle=":", linewidth=1, label=f"chance ({chance:.2f})")
    ax.set_xscale("log")
    ax.set_xticks([6.25, 12.5, 25, 50, 100])
    ax.set_xticklabels(["6.25", "12.5", "25", "50", "100"])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(5, 160)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("tokens per second (log scale)")
    ax.set_ylabel("retrieval MAP")
    ax.set_title("retrieval against token rate: up and to the left is better", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
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


def sweep_drift(
    curves: Mapping[str, np.ndarray],
    kinds: Mapping[str, str],
    step: float,
    window: float,
    path: str,
) -> str:
    """Distance from the first window's string against the window's shift, per tokenizer
    (`kinds`: name -> pairalign / vq / dense, for the colours)."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    styles = ["-", "--", ":", "-."]
    dense = 0
    for name, curve in curves.items():
        learned = kinds.get(name) in ("pairalign", "vq")
        if learned:  # the learned tokenizers in their colours, the dense ones in greys
            colour, style, width = COLOURS[kinds[name]], "-", 2.2
        else:
            colour, style, width = str(0.25 + 0.15 * (dense % 4)), styles[dense % 4], 1.0
            dense += 1
        ax.plot(
            np.arange(len(curve)) * step,
            curve,
            label=name,
            color=colour,
            linestyle=style,
            linewidth=width,
        )
    ax.set_xlabel(f"shift of the {window:g} s window (s)")
    ax.set_ylabel("normalised edit distance from the first window")
    ax.set_title("sweep drift: how fast each string changes as the window moves", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


@dataclass(frozen=True)
class TokenRow:
    """One tokenizer's string of a clip, each token with its (start, end) span in seconds."""

    name: str  # the row's label, e.g. "pairalign  13.6 tokens/s"
    kind: str  # pairalign / vq / dense (the colour)
    tokens: Sequence[int]
    spans: np.ndarray  # (L, 2) seconds


LABEL_LEVELS = 3  # a row's labels are staggered over this many lines before any is left out


def label_levels(
    spans: np.ndarray, label_widths: Sequence[float], levels: int = LABEL_LEVELS, gap: float = 0.0
) -> list[int | None]:
    """The line (0..levels-1) each token's label goes on, so that no two labels on a line
    overlap: labels are centred on their span and placed in time order on the first line that is
    free; a label with no free line gets None (its span is still drawn). Widths in seconds."""
    ends = [-np.inf] * levels  # where the last label on each line ends
    out: list[int | None] = []
    for (start, end), width in zip(spans, label_widths, strict=True):
        left = (start + end) / 2 - width / 2
        level = next((i for i in range(levels) if ends[i] + gap <= left), None)
        if level is not None:
            ends[level] = left + width
        out.append(level)
    return out


def tokens_on_spectrogram(
    logmel: np.ndarray, frame_seconds: float, rows: Sequence[TokenRow], path: str, title: str = ""
) -> str:
    """The clip's log-mel spectrogram, with one labelled row per tokenizer below it: each token a
    bar over its span (from the tokenizer's own timing), its id above the bar, labels staggered
    over three lines and left out where even that would overlap (counted in the row's label)."""
    seconds = logmel.shape[0] * frame_seconds
    width_in, font = 12.0, 7
    fig = Figure(figsize=(width_in, 2.2 + 0.75 * len(rows)))
    axes = fig.subplots(
        1 + len(rows),
        1,
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": [3.0] + [1.0] * len(rows)},
    )[:, 0]
    axes[0].imshow(
        logmel.T,
        origin="lower",
        aspect="auto",
        extent=(0, seconds, 0, logmel.shape[1]),
        cmap="magma",
    )
    axes[0].set_ylabel("mel bin")
    axes[0].set_title(title, fontsize=9, loc="left")
    seconds_per_inch = seconds / (0.82 * width_in)  # the axes take ~82% of the figure's width
    for ax, row in zip(axes[1:], rows, strict=True):
        _token_row(ax, row, seconds_per_inch, font)
    axes[-1].set_xlabel("seconds")
    axes[-1].set_xlim(0, seconds)
    fig.subplots_adjust(left=0.15, right=0.97, hspace=0.12)
    fig.savefig(path, dpi=130)
    return path


def _token_row(ax, row: TokenRow, seconds_per_inch: float, font: int) -> None:
    """One tokenizer's bars and staggered labels; the y label names it and says how many labels
    were left out."""
    colour = COLOURS.get(row.kind, "tab:green")
    spans = np.asarray(row.spans, dtype=float).reshape(-1, 2)
    char = 0.62 * font / 72 * seconds_per_inch  # a digit's width in seconds
    widths = [(len(str(t)) + 0.8) * char for t in row.tokens]
    levels = label_levels(spans, widths, gap=0.3 * char)
    for i, (token, (start, end), level) in enumerate(zip(row.tokens, spans, levels, strict=True)):
        ax.barh(
            0.15,
            max(end - start, 0.004),
            left=start,
            height=0.22,
            color=colour,
            alpha=0.9 if i % 2 else 0.55,
            linewidth=0,
        )
        if level is not None:
            ax.text(
                (start + end) / 2,
                0.38 + 0.2 * level,
                str(token),
                fontsize=font,
                ha="center",
                va="bottom",
                family="monospace",
            )
    hidden = sum(level is None for level in levels)
    label = f"{row.name}\n{len(row.tokens)} tokens" + (
        f", {hidden} ids not shown" if hidden else ""
    )
    ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_yticks([])
    ax.grid(axis="x", alpha=0.3)
