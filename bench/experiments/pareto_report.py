"""The report of `bench/experiments/pareto.py`: a markdown table per set (the collapsed and VQ
strings, every PairAlign seed beside the heuristics at its rate, each point's verdict, the
heuristics' curves) and the plot of MAP against tokens/s, one panel a set."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.experiments.measure_sets import BASELINES


def table(result: dict, sets: Sequence[str]) -> str:
    """Markdown: per set, the collapsed and VQ strings, every seed beside the heuristics at its
    rate, each point's verdict, and the heuristics' curves."""
    lines = []
    for name in sets:
        found = result[name]
        lines += [
            f"**{name}**",
            "",
            "| strings | tokens/s | MAP | archive tokens | merged | DPDP | BPE | gain over best |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for kind in ("collapsed", "vq"):
            f = found[kind]
            lines.append(
                f"| {kind} | {f['rate']:.2f} | {f['map']:.4f} | {f['archive_tokens']} |||||"
            )
        for point in found["points"]:
            for s, gain in zip(point["seeds"], point["verdict"]["gains"], strict=True):
                lines.append(
                    f"| PairAlign @{point['target_rate']:g}/s seed {s['seed']} | {s['rate']:.2f} "
                    f"| {s['map']:.4f} | {s['archive_tokens']} | {s['merged_map']:.4f} "
                    f"| {s['dpdp_map']:.4f} | {s['bpe_map']:.4f} | {gain:+.4f} |"
                )
        lines.append("")
        for point in found["points"]:
            v = point["verdict"]
            lines.append(
                f"- point @{point['target_rate']:g}/s: mean MAP {v['mean_map']:.4f}, mean gain "
                f"over the best heuristic {v['mean_gain']:+.4f}, spread (std) {v['spread']:.4f} "
                f"(range {v['range']:.4f}); every seed above: {v['every_seed_above']}; mean above "
                f"by more than the spread: {v['mean_above_by_more_than_spread']}; archive tokens "
                f"{point['archive_share_of_collapsed']:.0%} of the collapsed codes', mean MAP "
                f"{point['mean_map_minus_vq']:+.4f} against the VQ strings"
            )
        header = " | ".join(f"{r} tokens/s, MAP" for r in BASELINES)
        lines += ["", f"| target | {header} |", "|---|---|---|---|"]
        curves = found["curves"]
        for i, row in enumerate(curves["merge"]):
            cells = " | ".join(
                f"{curves[r][i]['rate']:.2f}, {curves[r][i]['map']:.4f}" for r in BASELINES
            )
            lines.append(f"| {row['target']:g} | {cells} |")
        lines.append("")
    return "\n".join(lines)


def plot(result: dict, sets: Sequence[str], path: Path) -> None:
    """MAP against tokens/s, a panel a set: the heuristics' curves, PairAlign seeds, VQ and
    collapsed strings."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * len(sets), 3.8))
    axes = fig.subplots(1, len(sets), squeeze=False)[0]
    styles = {"merge": ("tab:green", "shortest-run merge"), "dpdp": ("tab:purple", "DPDP")}
    styles["bpe"] = ("tab:orange", "BPE")
    for ax, name in zip(axes, sets, strict=True):
        found = result[name]
        for reduce, (colour, label) in styles.items():
            points = sorted((f["rate"], f["map"]) for f in found["curves"][reduce])
            ax.plot(*zip(*points, strict=True), marker=".", color=colour, label=label)
        for i, point in enumerate(found["points"]):
            ax.scatter(
                [s["rate"] for s in point["seeds"]],
                [s["map"] for s in point["seeds"]],
                color="tab:red",
                marker="os^D"[i % 4],
                zorder=3,
                label=f"PairAlign @{point['target_rate']:g}/s (seeds)",
            )
        for kind, colour, marker in (("vq", "tab:blue", "*"), ("collapsed", "k", "x")):
            f = found[kind]
            ax.scatter(f["rate"], f["map"], color=colour, marker=marker, s=70, zorder=3, label=kind)
        ax.set(title=name, xlabel="tokens per second", ylabel="MAP")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
