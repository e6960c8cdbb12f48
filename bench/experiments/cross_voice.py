"""Stage 1 on cross-voice pairs against a control trained as many steps on today's pairs, with
seeds (issue 28, item 3): each variant x seed is trained by the Ray-free loop
(`workflows/local.py vq`, one after another), then its VQ strings are measured on every set
(`bench/experiments/measure_sets.py`: built-in dev and test halves, vcc2016-dev dev and test
halves, unseen voices), with the cross-voice figures (string consistency across voices,
aligned-frame code agreement), and at the control's rate by the shortest-run merge (a higher rate
must not buy the MAP).

    PYTHONPATH=. python -m bench.experiments.cross_voice root=runs/cross_voice \\
        corpus=data/builtin seeds=[0,1] \\
        "variants=[{name: control}, {name: cross50, overrides: [views.cross_voice=0.5]}]"

A run whose `figures.json` exists is not trained again; a set already measured (`sets.json`) is
not measured again. The table goes to `<root>/cross_voice.md` and the figures to
`<root>/cross_voice.json`.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.cli import Variant, parse
from bench.experiments.measure_sets import Sets, strings_figures
from bench.experiments.vq_baselines import baseline_figures, map_at_rate
from pairalign.tokenizing.tokenizer import Tokenizer

SETS = ("builtin_dev", "vcc_dev", "builtin_test", "vcc_test", "foreign")
FIGURES = ("rate", "map", "cross_voice_consistency", "aligned_code_agreement")


@dataclass(frozen=True)
class CrossVoice:
    root: str
    corpus: str = "data/builtin"
    variants: tuple[Variant, ...] = (Variant("control"),)
    seeds: tuple[int, ...] = (0, 1)
    sets: tuple[str, ...] = SETS
    foreign: str = ""  # unseen voices' manifest (bench/experiments/foreign_corpus.py); "": skip
    at_rate_of: str = "control"  # each run's MAP also at this variant's mean rate (merge)
    threads: int = 0  # torch threads of the training (0: torch's choice)


def train(args: CrossVoice, variant: Variant, seed: int, out: Path) -> None:
    """One run of the Ray-free loop, its output in `out` (figures.json when it is done)."""
    cmd = [
        sys.executable,
        "workflows/local.py",
        "vq",
        f"storage_path={Path(args.root).resolve()}",
        f"corpus.builtin_dir={args.corpus}",
        f"seed={seed}",
        f"views.seed={seed}",
        *variant.overrides,
        f"local.out_dir={out}",
        f"local.threads={args.threads}",
    ]
    start = time.perf_counter()
    with (out.parent / f"{out.name}.log").open("a") as log:
        log.write(f"\n$ {' '.join(cmd)}\n")
        log.flush()
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=True)
    print(f"  trained {out.name} in {time.perf_counter() - start:.0f} s", flush=True)


def measure(args: CrossVoice, sets: Sets, out: Path) -> dict:
    """The run's VQ strings on every set (kept in `<out>/sets.json`, added to set by set)."""
    path = out / "sets.json"
    found = json.loads(path.read_text()) if path.exists() else {}
    checkpoint = json.loads((out / "figures.json").read_text())["checkpoint"]
    tokenizer = Tokenizer.from_checkpoint(checkpoint)
    for name in args.sets:
        if name in found or (name == "foreign" and not args.foreign):
            continue
        start = time.perf_counter()
        found[name] = strings_figures(tokenizer, sets.get(name), kinds=("vq",))["vq"]
        path.write_text(json.dumps(found, indent=1))
        print(f"  {out.name} {name}: {found[name]} ({time.perf_counter() - start:.0f} s)")
    return found


def at_rate(args: CrossVoice, sets: Sets, out: Path, name: str, rate: float) -> float:
    """MAP of the run's VQ strings merged to `rate` on set `name` (cached in sets.json)."""
    path = out / "sets.json"
    found = json.loads(path.read_text())
    key = f"merge_map_at_{rate:.2f}"
    if key not in found[name]:
        checkpoint = json.loads((out / "figures.json").read_text())["checkpoint"]
        tokenizer = Tokenizer.from_checkpoint(checkpoint)
        rates = [round(rate - 0.75, 2), round(rate, 2), round(rate + 0.75, 2)]  # brackets it
        curve = baseline_figures(tokenizer, sets.get(name), rates, ("merge",))
        found[name][key] = round(map_at_rate(curve, "merge", rate), 4)
        path.write_text(json.dumps(found, indent=1))
    return found[name][key]


def table(results: dict[str, dict[int, dict]], sets: Sequence[str]) -> str:
    lines = [
        "| variant | seeds | set | tokens/s | MAP (each seed) | MAP mean | merged to control "
        "rate | cross-voice consistency | aligned-frame code agreement |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        for s in sets:
            rows = [r[s] for r in runs.values() if s in r]
            if not rows:
                continue

            def mean(key: str, rows=rows) -> float:
                values = [r.get(key, math.nan) for r in rows]
                return statistics.fmean(values) if values else math.nan

            maps = " / ".join(f"{r['map']:.4f}" for r in rows)
            merged = [v for r in rows for k, v in r.items() if k.startswith("merge_map_at")]
            lines.append(
                f"| {name} | {len(rows)} | {s} | {mean('rate'):.2f} | {maps} | "
                f"{mean('map'):.4f} | "
                f"{statistics.fmean(merged) if merged else math.nan:.4f} | "
                f"{mean('cross_voice_consistency'):.3f} | {mean('aligned_code_agreement'):.3f} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(CrossVoice, argv, __doc__)
    root = Path(args.root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    sets = Sets(corpus=args.corpus, foreign_manifest=args.foreign)
    results: dict[str, dict[int, dict]] = {}
    for variant in args.variants:
        results[variant.name] = {}
        for seed in args.seeds:
            out = root / f"{variant.name}-s{seed}"
            print(f"{out.name}: {' '.join(variant.overrides) or '(defaults)'}", flush=True)
            if not (out / "figures.json").exists():
                train(args, variant, seed, out)
            results[variant.name][seed] = measure(args, sets, out)
    control = results.get(args.at_rate_of, {})
    for name in args.sets:
        rates = [r[name]["rate"] for r in control.values() if name in r]
        if not rates or name == "foreign":
            continue
        rate = statistics.fmean(rates)
        for variant, runs in results.items():
            for seed, found in runs.items():
                if name in found:
                    out = root / f"{variant}-s{seed}"
                    at_rate(args, sets, out, name, rate)
                    found[name] = json.loads((out / "sets.json").read_text())[name]
    text = table(results, args.sets)
    (root / "cross_voice.md").write_text(text + "\n")
    (root / "cross_voice.json").write_text(json.dumps(results, indent=1))
    print(text)


if __name__ == "__main__":
    main()
