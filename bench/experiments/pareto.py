"""One comparison at equal rate (issue 28, item 6): PairAlign strings against the same stage-1
checkpoint's strings compressed by the shortest-run merge, DPDP and BPE, as MAP against tokens/s.

    PYTHONPATH=. python -m bench.experiments.pareto stage1=runs/vq-tiny corpus=data/builtin \\
        foreign=data/foreign/manifest.parquet \\
        "points=[{seeds: [runs/refine-tiny, runs/refine-tiny-seed1, runs/refine-tiny-seed2]}]"

Sets: `builtin_test` (the built-in eval split's test half), `vcc_test` (the vcc2016-dev test half,
`vcc.vcc_half("test")`), `foreign` (unseen voices; left out without a manifest). On each set:
- the stage-1 checkpoint's run-collapsed codes (`collapsed`) and its default VQ strings (`vq`);
- for each PairAlign point (a target rate and one stage-2 run per seed, each trained from
  `stage1`: checked on its saved config) each seed's PairAlign strings, and the MAP of the merged,
  DPDP and BPE strings of `stage1` at that seed's measured rate: linear between the heuristic's
  measured points (`vq_baselines.map_at_rate`), measured at `rates` and around each seed's rate;
- the verdict of the issue: every seed above the best heuristic at its rate, and the seeds' mean
  gain over it above their spread (population std of the seeds' MAP, as `default_run.spread`).

Heuristics are schemes of the VQ-string rule (`pairalign.strings.rule`) on the checkpoint's own
settings with `rate` and `reduce` replaced (merge, dpdp), or on the run-collapsed codes (bpe: merges
learned by frequency on `train_clips` clips of the built-in train split, `vq_baselines.load_train`;
for each rate the fewest merges that bring the set's collapsed strings to it, `merges_for_rate`,
applied to every clip). The encoder runs once per window of each set (`ContextCache`); every
string is the rule applied to its cached codes and costs, stitched as the archive job stitches
windows, and measured by the library's `measure_tokenizer` (no cross-view figures: `rate`, `map`,
`archive_tokens` are what this comparison reads).

Writes `out` (JSON, the issue's shape plus each set's `curves`, each point's `verdict` and the
run's settings; paths relative to `paths_from`), the plot beside it (`.png`: MAP against tokens/s,
one panel a set) and prints the table (`pareto_report.py`). More points, e.g. from a YAML file
given as `--config`: `points: [{target_rate: 10, seeds: [...]}, {seeds: [...]}]` (a point's
target rate defaults to its runs' `objective.targets.rate`).
Measured figures are kept in `store` (a JSON file, when named) and reused when the script is run
again with the same stage-1 checkpoint.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from bench.cli import parse
from bench.experiments.measure_sets import BASELINES, Sets, strings_figures, write_json
from bench.experiments.pareto_report import plot, table
from bench.experiments.vq_baselines import BPE_MAX_MERGES, load_train, map_at_rate
from pairalign.data.corpora.spec import CorpusConfig
from pairalign.evaluation.figures import ClipSet, clip_strings, measure_tokenizer
from pairalign.models.checkpoint import load_checkpoint, resolve_checkpoint
from pairalign.strings.bpe import BPEMerges, learn_merges, merges_for_rate
from pairalign.strings.rule import StringContext, VQStringConfig, string_runs
from pairalign.tokenizing.kinds import Timed
from pairalign.tokenizing.tokenizer import Tokenizer
from pairalign.tokenizing.tokenizer_kind import TokenizerKind

SET_NAMES = ("builtin_test", "vcc_test", "foreign")


@dataclass(frozen=True)
class Point:
    """One PairAlign point: stage-2 runs (or checkpoints) of one recipe, one per seed."""

    seeds: tuple[str, ...]
    target_rate: float = 0.0  # 0: the runs' `objective.targets.rate`


@dataclass(frozen=True)
class Pareto:
    stage1: str  # the stage-1 run or checkpoint every point's stage 2 started from
    points: tuple[Point, ...] = ()
    corpus: str = "data/builtin"  # built-in corpus: its test half and BPE's training clips
    foreign: str = ""  # unseen voices: foreign_corpus.py's manifest.parquet ("": left out)
    vcc_manifest: str = ""  # vcc2016-dev's manifest.csv; "": vcc.VCC_MANIFEST
    sets: tuple[str, ...] = SET_NAMES
    rates: tuple[float, ...] = (6, 8, 10, 12, 14)  # the heuristics' curves (tokens/s)
    train_clips: int = 400  # built-in train clips BPE learns its merges on (0: all)
    out: str = "bench/results/pareto.json"
    store: str = ""  # JSON file of the figures measured, reused when run again ("": none kept)
    paths_from: str = "."  # paths in `out` are written relative to this directory


class ContextCache:
    """The stage-1 checkpoint's string context (codes and code costs of the real frames) of every
    padded window it is given, computed once: a window is keyed by its samples and seconds."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer, self.found = tokenizer, {}
        self.needs = VQStringConfig(reduce="dpdp")  # codes, seconds and costs

    @torch.no_grad()
    def __call__(self, waveforms, seconds: Sequence[float] | None = None) -> list[StringContext]:
        waves = np.atleast_2d(np.asarray(waveforms, dtype=np.float32))  # (B, N)
        if seconds is None:  # as the tokenizer reads a batch without them: all real audio
            seconds = [waves.shape[1] / self.tokenizer.config.sample_rate] * len(waves)
        keys = [
            hashlib.blake2b(w.tobytes() + np.float32(s).tobytes(), digest_size=16).digest()
            for w, s in zip(waves, seconds, strict=True)
        ]
        new = [i for i, k in enumerate(keys) if k not in self.found]
        if new:
            model, secs = self.tokenizer.model, torch.tensor([seconds[i] for i in new])
            encoded = model(torch.from_numpy(waves[new]).to(self.tokenizer.device), secs)
            for i, context in zip(
                new, model.string_contexts(encoded, self.needs, secs), strict=True
            ):
                self.found[keys[i]] = context
        return [self.found[k] for k in keys]


class RuleStrings:
    """The VQ-string rule under `config` applied to cached contexts: what `VQStrings` of the
    checkpoint with these settings gives (and, with `extras`, a scheme's own inputs)."""

    kind = TokenizerKind.VQ

    def __init__(
        self, cache: ContextCache, config: VQStringConfig, name: str, extras: dict | None = None
    ) -> None:
        self.cache, self.config, self.name, self.extras = cache, config, name, extras or {}
        tokenizer = cache.tokenizer
        self.checkpoint_id = f"{tokenizer.checkpoint_id}+{name}"
        bpe = self.extras.get("bpe")
        self.vocab_size = (config.groups or tokenizer.vocab_size) + (bpe.count if bpe else 0)
        # (K,) code -> group, as the tokenizer with these settings groups codes
        self.code_map = tokenizer.with_strings(config).code_map if config.groups else None
        self.collapses = config.reduce != "bpe"  # a merged token can repeat: no collapse on joins
        self.frame = tokenizer.config.frame_seconds

    def runs(self, waveforms, seconds):
        return [
            string_runs(replace(c, code_map=self.code_map, extras=self.extras), self.config)
            for c in self.cache(waveforms, seconds)
        ]

    def __call__(self, waveforms, seconds=None) -> list[list[int]]:
        return [values.tolist() for values, _, _ in self.runs(waveforms, seconds)]

    def timed(self, waveforms, seconds=None) -> list[Timed]:
        return [
            (values.astype(np.int64), (starts + ends) / 2 * self.frame)
            for values, starts, ends in self.runs(waveforms, seconds)
        ]


def kept(figures: dict[str, float], prefix: str) -> dict:
    return {
        "rate": round(figures[f"{prefix}/token_rate"], 2),
        "map": round(figures[f"{prefix}/map"], 4),
        "archive_tokens": int(figures[f"{prefix}/tokens"]),
    }


class SetMeasure:
    """Figures of one set's strings, each measured once and kept in `store` (saved by `save`)."""

    def __init__(self, name: str, clips: ClipSet, cache: ContextCache, bpe, store: dict, save):
        self.name, self.clips, self.cache, self.bpe = name, clips, cache, bpe
        self.store, self.save = store, save
        self.own = cache.tokenizer.strings  # the checkpoint's default VQ strings
        self.collapsed = replace(self.own, min_run_frames=1, rate=0.0)  # every run

    def measured(self, key: str, compute) -> dict:
        full = f"{self.name}/{key}"
        if full not in self.store:
            self.store[full] = compute()
            print(json.dumps({full: self.store[full]}), flush=True)
            self.save()
        return self.store[full]

    def rule(self, key: str, config: VQStringConfig, extras: dict | None = None) -> dict:
        strings_of = RuleStrings(self.cache, config, key, extras)
        return self.measured(key, lambda: kept(measure_tokenizer(strings_of, self.clips, "m"), "m"))

    def heuristic(self, reduce: str, rate: float) -> dict:
        """`reduce` at `rate` of the checkpoint's strings (bpe: of its run-collapsed codes)."""
        key = f"{reduce}@{rate:g}"
        if reduce != "bpe":
            return self.rule(key, replace(self.own, rate=rate, reduce=reduce))

        def compute() -> dict:
            merges: BPEMerges = self.bpe()
            strings_of = RuleStrings(self.cache, self.collapsed, "collapsed")
            strings = clip_strings(strings_of, self.clips, what=f"{self.name} collapsed")
            count = merges_for_rate(
                strings, self.clips.seconds, merges.merges, rate, merges.vocab_size
            )
            extras = {"bpe": replace(merges, count=count)}
            bpe = RuleStrings(self.cache, replace(self.collapsed, reduce="bpe"), key, extras)
            return kept(measure_tokenizer(bpe, self.clips, "m"), "m") | {"merges": count}

        return self.measured(key, compute)

    def pairalign(self, checkpoint: str) -> dict:
        def compute() -> dict:
            tokenizer = Tokenizer.from_checkpoint(checkpoint)
            found = strings_figures(tokenizer, self.clips, ("pairalign",))["pairalign"]
            return {k: found[k] for k in ("rate", "map", "archive_tokens")}

        return self.measured(f"pairalign:{checkpoint}", compute)


def probe_rates(grid: Sequence[float], seed_rates: Sequence[float]) -> list[float]:
    """The heuristics' rates: the grid, and each seed's rate and half a token/s either side
    (rounded to a quarter), so that its MAP at a seed's rate is interpolated between near points."""
    near = {round(4 * (r + d)) / 4 for r in seed_rates for d in (-0.5, 0.0, 0.5)}
    return sorted({float(r) for r in grid} | near)


def verdict(seeds: list[dict]) -> dict:
    """The issue's test of a point on one set: every seed's MAP above the best heuristic at its
    rate, and the seeds' mean gain over it above their spread (population std of their MAP). A
    heuristic that cannot reach a seed's rate (NaN: BPE with all its merges above it, the merge
    of runs below it) is left out of that seed's best and named in `unreached`."""
    names = ("merged_map", "dpdp_map", "bpe_map")
    best = [max((s[n] for n in names if not math.isnan(s[n])), default=math.nan) for s in seeds]
    gains = [s["map"] - b for s, b in zip(seeds, best, strict=True)]
    maps = [s["map"] for s in seeds]
    spread = float(np.std(maps))
    return {
        "gains": [round(g, 4) for g in gains],
        "mean_map": round(float(np.mean(maps)), 4),
        "mean_gain": round(float(np.mean(gains)), 4),
        "spread": round(spread, 4),
        "range": round(max(maps) - min(maps), 4),
        "every_seed_above": bool(all(g > 0 for g in gains)),
        "mean_above_by_more_than_spread": bool(np.mean(gains) > spread),
        "beats_heuristics": bool(all(g > 0 for g in gains) and np.mean(gains) > spread),
        "unreached": sorted({n for s in seeds for n in names if math.isnan(s[n])}),
    }


@dataclass(frozen=True)
class Stage2:
    """One seed's stage-2 checkpoint, read from its saved config."""

    checkpoint: str
    seed: int
    views_seed: int
    target_rate: float  # its objective.targets.rate
    freeze_vq: bool  # stage 1 frozen: its VQ strings are `stage1`'s


def stage2_of(path: str, stage1: str) -> Stage2:
    """The checkpoint of a stage-2 run; refused unless its stage 2 started from `stage1`."""
    checkpoint = os.path.realpath(resolve_checkpoint(path))
    config = load_checkpoint(checkpoint)["stage_config"]
    init = config.get("init_checkpoint") or ""
    if not init or os.path.realpath(resolve_checkpoint(init)) != os.path.realpath(stage1):
        raise SystemExit(f"{checkpoint}: its stage 2 started from {init!r}, not from {stage1}")
    objective = config["objective"]
    return Stage2(
        checkpoint,
        int(config["seed"]),
        int(config["views"]["seed"]),
        float(objective["targets"]["rate"]),
        bool(objective.get("freeze_vq", False)),
    )


def measure_set(
    measure: SetMeasure, points: list[list[Stage2]], targets: list[float], grid: Sequence[float]
) -> dict:
    """The issue's entry of one set, with the heuristics' curves and each point's verdict."""
    out: dict = {
        "collapsed": measure.rule("collapsed", measure.collapsed),
        "vq": measure.rule("vq", measure.own),
    }
    found = [[measure.pairalign(s.checkpoint) for s in seeds] for seeds in points]
    rates = probe_rates(grid, [f["rate"] for seeds in found for f in seeds])
    curves = {reduce: [measure.heuristic(reduce, rate) for rate in rates] for reduce in BASELINES}
    curve = {  # as vq_baselines.map_at_rate reads a curve
        f"{reduce}@{i}": {"token_rate": f["rate"], "map": f["map"]}
        for reduce, fs in curves.items()
        for i, f in enumerate(fs)
    }
    out["points"] = []
    for target, seeds, figures in zip(targets, points, found, strict=True):
        rows = [
            {"seed": s.seed, **f}
            | {
                f"{name}_map": round(map_at_rate(curve, reduce, f["rate"]), 4)
                for name, reduce in (("merged", "merge"), ("dpdp", "dpdp"), ("bpe", "bpe"))
            }
            for s, f in zip(seeds, figures, strict=True)
        ]
        tokens = np.mean([r["archive_tokens"] for r in rows])
        out["points"].append(
            {
                "target_rate": target,
                "seeds": rows,
                "verdict": verdict(rows),
                "archive_share_of_collapsed": round(
                    float(tokens / out["collapsed"]["archive_tokens"]), 4
                ),
                "mean_map_minus_vq": round(
                    float(np.mean([r["map"] for r in rows]) - out["vq"]["map"]), 4
                ),
            }
        )
    out["curves"] = {
        reduce: [{"target": rate, **f} for rate, f in zip(rates, fs, strict=True)]
        for reduce, fs in curves.items()
    }
    return out


def shown(path: str, start: str) -> str:
    return os.path.relpath(os.path.realpath(path), os.path.realpath(start))


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(Pareto, argv, __doc__)
    stage1 = os.path.realpath(resolve_checkpoint(args.stage1))  # the store's key
    points = [[stage2_of(path, stage1) for path in point.seeds] for point in args.points]
    targets = []
    for point, seeds in zip(args.points, points, strict=True):
        rates = {s.target_rate for s in seeds}
        if not point.target_rate and len(rates) != 1:
            raise SystemExit(f"seeds {point.seeds} have target rates {sorted(rates)}: name one")
        targets.append(point.target_rate or rates.pop())
    names = [n for n in args.sets if n != "foreign" or args.foreign]
    sets = Sets(str(Path(args.corpus).resolve()), args.foreign, vcc_manifest=args.vcc_manifest)
    tokenizer = Tokenizer.from_checkpoint(stage1)
    cache = ContextCache(tokenizer)
    out, store_file = Path(args.out), Path(args.store) if args.store else None
    saved = json.loads(store_file.read_text()) if store_file and store_file.exists() else {}
    store = saved.get("figures", {}) if saved.get("stage1") == stage1 else {}

    def save() -> None:
        if store_file:
            store_file.parent.mkdir(parents=True, exist_ok=True)
            store_file.write_text(json.dumps({"stage1": stage1, "figures": store}, indent=1))

    learned: list[BPEMerges] = []

    def bpe() -> BPEMerges:
        """Merges learned once on the run-collapsed strings of the built-in train clips."""
        if not learned:
            train = load_train(CorpusConfig(builtin_dir=sets.corpus), args.train_clips)
            collapsed = replace(tokenizer.strings, min_run_frames=1, rate=0.0)
            strings = clip_strings(RuleStrings(cache, collapsed, "collapsed"), train, what="train")
            merges = learn_merges(strings, tokenizer.vocab_size, BPE_MAX_MERGES)
            learned.append(BPEMerges(tuple(merges), tokenizer.vocab_size))
        return learned[0]

    result: dict = {}
    for name in names:
        clips = replace(sets.get(name), views=[])  # rate, MAP and tokens need no views
        measure = SetMeasure(name, clips, cache, bpe, store, save)
        result[name] = measure_set(measure, points, targets, args.rates)
    result |= {
        "stage1": shown(stage1, args.paths_from),
        "stage2": [
            {"target_rate": t, "seeds": [shown(s.checkpoint, args.paths_from) for s in seeds]}
            for t, seeds in zip(targets, points, strict=True)
        ],
        "seeds_config": [
            [{"seed": s.seed, "views_seed": s.views_seed, "freeze_vq": s.freeze_vq} for s in seeds]
            for seeds in points
        ],
        "bpe_train_clips": args.train_clips,
        "rates": list(args.rates),
        "spread": "population std of the seeds' MAP",
        "command": "python -m bench.experiments.pareto "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "date": datetime.date.today().isoformat(),
    }
    write_json(out, result)
    plot(result, names, out.with_suffix(".png"))
    print(table(result, names))


if __name__ == "__main__":
    main()
