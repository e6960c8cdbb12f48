"""What a person reads on the console: one line saying what a stage runs, and a short block of its
result (the figures one compares, and where the details are). Full configs and figure dicts go to
MLflow and the run directory, not here.

    print(run_line("vq", name="vq-tiny", corpus="data/builtin", train_clips=1376, steps=(0, 300),
                   out="runs/vq-tiny", tracking="sqlite:///runs/mlflow.db"))
    print(result_block("vq", figures, name="vq-tiny", ...))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pairalign.progress import format_duration

KINDS = ("pairalign", "vq")  # the strings a stage measures, in the order shown


def run_line(
    stage: str,
    *,
    name: str,
    corpus: str,
    train_clips: int,
    steps: tuple[int, int],
    out: str,
    tracking: str,
) -> str:
    """'== vq vq-tiny: 300 steps on data/builtin (1376 train clips) -> runs/vq-tiny =='"""
    start, total = steps
    what = f"{total} steps" if not start else f"steps {start} -> {total} (resumed)"
    if start >= total:
        what = f"already at step {total}: measuring its final checkpoint"
    return (
        f"== {stage} {name}: {what} on {corpus} ({train_clips} train clips) -> {out}; "
        f"MLflow {tracking} =="
    )


def result_block(
    stage: str,
    figures: Mapping[str, float],
    *,
    name: str,
    checkpoint: str,
    seconds: float,
    details: str,
    step: int | None = None,
) -> str:
    """A few lines: what finished, one row of figures per kind of string, where the rest is."""
    head = f"{stage} {name} done in {format_duration(seconds)}"
    head += f" at step {step}" if step is not None else ""
    lines = [
        head,
        f"  {'strings':<11}{'tokens/s':>9}{'MAP':>8}{'chance':>8}"
        f"{'consistency':>13}{'cross-voice':>13}{'vocabulary':>13}",
    ]
    for kind in KINDS:
        if f"{kind}/map" not in figures:
            continue
        used, share = (
            figures.get(f"{kind}/codes_used", math.nan),
            figures.get(f"{kind}/vocab_used", math.nan),
        )
        vocab = f"{used:.0f} ({100 * share:.0f}%)" if math.isfinite(used) and share > 0 else "?"
        lines.append(
            f"  {kind:<11}{_num(figures.get(f'{kind}/token_rate')):>9}"
            f"{_num(figures.get(f'{kind}/map')):>8}{_num(figures.get(f'{kind}/chance_map')):>8}"
            f"{_num(figures.get(f'{kind}/consistency')):>13}"
            f"{_num(figures.get(f'{kind}/cross_voice_consistency')):>13}{vocab:>13}"
        )
    if math.isfinite(figures.get("vq/aligned_code_agreement", math.nan)):
        lines.append(
            "  stage-1 codes: aligned-frame agreement across voices "
            f"{_num(figures['vq/aligned_code_agreement'])} "
            f"({figures.get('vq/aligned_code_frames', 0):.0f} frames)"
        )
    lines.append(f"  final checkpoint {checkpoint}")
    lines.append(f"  details {details}")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"


def corpus_name(corpus: Any) -> str:
    """What a stage trains on, as named: the manifest or the built-in corpus's folder."""
    return getattr(corpus, "manifest", "") or f"the built-in corpus in {corpus.builtin_dir}"
