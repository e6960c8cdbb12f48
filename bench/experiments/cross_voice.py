"""A stage on cross-voice pairs against a control trained as many steps on today's pairs, with
seeds (issue 28, items 3 and 5): each variant x seed is trained by the Ray-free loop
(`workflows/local.py <stage>`, one after another), then its strings are measured on every set
(`bench/experiments/measure_sets.py`: built-in dev and test halves, vcc2016-dev dev and test
halves, unseen voices), with the cross-voice figures (string consistency across voices,
aligned-frame code agreement of the stage-1 codes). Stage 1 (`stage=vq`): the VQ strings, also
at the control's rate by the shortest-run merge (a higher rate must not buy the MAP). Stage 2
(`stage=refine init=<stage-1 checkpoint>`): the PairAlign strings, beside the same stage-1
checkpoint's strings compressed to each run's measured rate by merge, DPDP and BPE.

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
from bench.experiments.measure_sets import Sets, baselines_at, strings_figures
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
    stage: str = "vq"  # vq or refine
    # ray: workflows/<stage>.py on a local Ray cluster (the default runs' figures are its);
    # local: the Ray-free loop (workflows/local.py; one batch of 32 pairs, not 2 x 16 under DDP)
    runner: str = "ray"
    init: str = ""  # stage=refine: the stage-1 checkpoint every run starts from


def train(args: CrossVoice, variant: Variant, seed: int, out: Path) -> None:
    """One run, its output in `out` (figures.json, naming the checkpoint, when it is done)."""
    common = [
        *([f"init_checkpoint={args.init}"] if args.stage == "refine" else []),
        f"storage_path={Path(args.root).resolve()}",
        f"corpus.builtin_dir={args.corpus}",
        f"seed={seed}",
        f"views.seed={seed}",
        *variant.overrides,
    ]
    if args.runner == "ray":
        cmd = [sys.executable, f"workflows/{args.stage}.py", f"name={out.name}", *common]
    else:
        cmd = [
            sys.executable,
            "workflows/local.py",
            args.stage,
            *common,
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
    """The run's strings on every set (kept in `<out>/sets.json`, added to set by set): the VQ
    strings' figures, and for stage 2 the PairAlign strings' under `pairalign` and the
    heuristics' MAP at their rate (`merge_map`, `dpdp_map`, `bpe_map`)."""
    path = out / "sets.json"
    found = json.loads(path.read_text()) if path.exists() else {}
    checkpoint = json.loads((out / "figures.json").read_text())["checkpoint"]
    tokenizer = Tokenizer.from_checkpoint(checkpoint)
    for name in args.sets:
        if name in found or (name == "foreign" and not args.foreign):
            continue
        start = time.perf_counter()
        if args.stage == "refine":
            both = strings_figures(tokenizer, sets.get(name), kinds=("pairalign", "vq"))
            found[name] = {**both["vq"], "pairalign": both["pairalign"]}
            found[name]["pairalign"] |= baselines_at(
                Tokenizer.from_checkpoint(args.init), sets, name, both["pairalign"]["rate"]
            )
        else:
            found[name] = strings_figures(tokenizer, sets.get(name), kinds=("vq",))["vq"]
        path.write_text(json.dumps(found, indent=1))
        print(f"  {out.name} {name}: {found[name]} ({time.perf_counter() - start:.0f} s)")
    return found


def at_rate(args: CrossVoice, sets: Sets, out: Path, name: str, rate: float) -> float:
    """MAP of the run's VQ strings at `rate` on set `name` (cached in sets.json): its own MAP when
    its strings are no longer than that already, else theirs merged down to it (shortest runs)."""
    path = out / "sets.json"
    found = json.loads(path.read_text())
    key = f"merge_map_at_{rate:.2f}"
    if not math.isfinite(found[name].get(key, math.nan)):
        if found[name]["rate"] <= rate + 0.01:
            found[name][key] = found[name]["map"]
        else:
            checkpoint = json.loads((out / "figures.json").read_text())["checkpoint"]
            tokenizer = Tokenizer.from_checkpoint(checkpoint)
            rates = [round(rate - 0.75, 2), round(rate, 2)]  # merge only shortens: from below
            curve = baseline_figures(tokenizer, sets.get(name), rates, ("merge",))
            curve["merge@own"] = {"token_rate": found[name]["rate"], "map": found[name]["map"]}
            found[name][key] = round(map_at_rate(curve, "merge", rate), 4)
        path.write_text(json.dumps(found, indent=1))
    return found[name][key]


def refine_table(results: dict[str, dict[int, dict]], sets: Sequence[str]) -> str:
    """PairAlign strings per variant and set: each seed's (tokens/s, MAP), and the best of the
    merged, DPDP and BPE strings at each seed's rate."""
    lines = [
        "| variant | set | PairAlign tokens/s (each seed) | PairAlign MAP (each seed) | mean | "
        "merge / DPDP / BPE at each seed's rate | above the best heuristic (each seed) | "
        "cross-voice consistency |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        for s in sets:
            rows = [r[s]["pairalign"] for r in runs.values() if s in r and "pairalign" in r[s]]
            if not rows:
                continue
            best = [max(r["merge_map"], r["dpdp_map"], r["bpe_map"]) for r in rows]
            heur = "; ".join(
                f"{r['merge_map']:.4f} / {r['dpdp_map']:.4f} / {r['bpe_map']:.4f}" for r in rows
            )
            rates = " / ".join(f"{r['rate']:.2f}" for r in rows)
            maps = " / ".join(f"{r['map']:.4f}" for r in rows)
            above = " / ".join(f"{r['map'] - b:+.4f}" for r, b in zip(rows, best, strict=True))
            mean = statistics.fmean(r["map"] for r in rows)
            cross = statistics.fmean(r["cross_voice_consistency"] for r in rows)
            lines.append(
                f"| {name} | {s} | {rates} | {maps} | {mean:.4f} | {heur} | {above} | {cross:.3f} |"
            )
    return "\n".join(lines)


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
    control = results.get(args.at_rate_of, {}) if args.stage == "vq" else {}
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
    if args.stage == "refine":
        text += "\n\n" + refine_table(results, args.sets)
    (root / "cross_voice.md").write_text(text + "\n")
    (root / "cross_voice.json").write_text(json.dumps(results, indent=1))
    print(text)


if __name__ == "__main__":
    main()
