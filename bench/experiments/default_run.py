"""The default stage-1 or refine run, trained as the README shows it and measured on the test half
of the built-in eval split next to the dense baselines; writes bench/results/<stage>_default.json.

    PYTHONPATH=. python -m bench.experiments.default_run stage=vq root=runs/bench-default \\
        dense_dir=runs/dense
    PYTHONPATH=. python -m bench.experiments.default_run stage=refine root=runs/bench-default \\
        dense_dir=runs/dense

vq: `python workflows/vq.py` with only storage_path and the corpus directory set. refine:
`python workflows/refine.py init_checkpoint=<the vq run's last checkpoint>` likewise (run `vq`
first). Then `workflows/evaluate.py half=test` on the run's checkpoint, and (once per root) on every
dense baseline under `dense_dir` (`workflows/dense.py`; fitted there first if missing). A run whose
checkpoint exists is not trained again (`retrain=true` to do so; train_minutes is then re-timed).
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bench.cli import parse
from bench.experiments.measure_sets import Sets, baselines_at, strings_figures, write_json
from bench.experiments.stage1_variants import checkpoint_of, run
from pairalign.models.checkpoint import load_checkpoint
from pairalign.tokenizing.tokenizer import Tokenizer

DENSE_POOLS = "[1,2,3,4,5,6,8]"  # 100, 50, 33, 25, 20, 16.7, 12.5 tokens/s


def evaluate(root: Path, name: str, args: list[str], corpus: str, log: Path) -> dict[str, float]:
    out = root / "eval" / name
    if not (out / "figures.json").exists():
        run(
            [
                sys.executable,
                "workflows/evaluate.py",
                f"name=bench-{name}",
                f"out_dir={out}",
                f"storage_path={root}",
                f"corpus.builtin_dir={corpus}",
                "half=test",
                *args,
            ],
            log,
        )
    return json.loads((out / "figures.json").read_text())


def best_dense(dense: dict[str, float], rate: float) -> tuple[str, float, float] | None:
    """(name, MAP, tokens/s) of the dense baseline with the highest MAP whose rate is at or below
    `rate`; None when every dense baseline is above it."""
    names = sorted({k.split("/")[0] for k in dense if k.startswith("dense-")})
    below = [n for n in names if dense[f"{n}/token_rate"] <= rate]
    if not below:
        return None
    name = max(below, key=lambda n: dense[f"{n}/map"])
    return name, dense[f"{name}/map"], dense[f"{name}/token_rate"]


def dense_fields(dense: dict[str, float], rate: float) -> dict:
    """The best dense baseline at or below `rate` (null, with the lowest dense rate, if none)."""
    found = best_dense(dense, rate)
    if found is None:
        lowest = min(v for k, v in dense.items() if k.endswith("/token_rate") and "dense-" in k)
        return {
            "dense_best_map_at_or_below_rate": None,
            "dense_note": f"no dense grid point at or below {rate:.2f} tokens/s "
            f"(the lowest is {lowest:.2f}/s)",
        }
    name, found_map, found_rate = found
    return {
        "dense_best_map_at_or_below_rate": round(found_map, 4),
        "dense_best_name": name,
        "dense_rate": round(found_rate, 2),
        "dense_consistency": round(dense[f"{name}/consistency"], 4),
    }


@dataclass(frozen=True)
class DefaultRun:
    stage: Literal["vq", "refine"]
    root: str = "runs/bench-default"
    corpus: str = "data/builtin"
    dense_dir: str = "runs/dense"
    foreign: str = ""  # unseen voices: foreign_corpus.py's manifest.parquet (foreign_map, ...)
    vcc_manifest: str = ""  # vcc2016-dev's manifest.csv; "": vcc.VCC_MANIFEST
    # refine: one run per seed (seed=s views.seed=s) from the same stage-1 checkpoint; top-level
    # figures from the first
    seeds: tuple[int, ...] = (0,)
    retrain: bool = False
    out: str = ""  # default: bench/results/<stage>_default.json


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(DefaultRun, argv, __doc__)
    root, corpus = Path(args.root).resolve(), str(Path(args.corpus).resolve())
    root.mkdir(parents=True, exist_ok=True)
    log = root / f"{args.stage}.log"
    sets = Sets(
        corpus,
        str(Path(args.foreign).resolve()) if args.foreign else "",
        vcc_manifest=args.vcc_manifest,
    )
    if args.stage == "vq":
        result = measure_run(
            root, "vq-tiny", "vq", [], corpus, Path(args.dense_dir), log, args.retrain
        )
        result |= {
            f"vcc_{k}": v
            for k, v in strings_figures(
                Tokenizer.from_checkpoint(result["checkpoint"]), sets.get("vcc_test"), ("vq",)
            )["vq"].items()
        }
    else:
        init = checkpoint_of(root, "vq-tiny")
        if not init:
            raise SystemExit(f"{root}/vq-tiny: no checkpoint (run `default_run stage=vq` first)")
        runs = []
        for seed in args.seeds:
            name = "refine-tiny" if seed == 0 else f"refine-tiny-seed{seed}"
            extra = [
                f"init_checkpoint={init}",
                f"name={name}",
                f"seed={seed}",
                f"views.seed={seed}",
            ]
            runs.append(
                measure_run(
                    root, name, "refine", extra, corpus, Path(args.dense_dir), log, args.retrain
                )
            )
        result = refine_result(runs, sets)
    result["date"] = datetime.date.today().isoformat()
    write_json(args.out or f"bench/results/{args.stage}_default.json", result)
    print(json.dumps(result, indent=2))


def measure_run(
    root: Path,
    name: str,
    stage: str,
    extra: list[str],
    corpus: str,
    dense_dir: Path,
    log: Path,
    retrain: bool,
) -> dict:
    """Train `workflows/<stage>.py` as the README types it (once), then its test-half figures from
    `workflows/evaluate.py half=test`, beside the best dense baseline at or below its rate."""
    timing = root / f"{name}.train_seconds"
    if retrain or not checkpoint_of(root, name):
        seconds = run(
            [
                sys.executable,
                f"workflows/{stage}.py",
                f"storage_path={root}",
                f"corpus.builtin_dir={corpus}",
                *extra,
            ],
            log,
        )
        timing.write_text(f"{seconds:.1f}\n")
        (root / "eval" / name / "figures.json").unlink(missing_ok=True)
    return measure_checkpoint(
        root, name, checkpoint_of(root, name), stage, corpus, dense_dir, log
    ) | {"train_minutes": round(float(timing.read_text()) / 60, 1) if timing.exists() else None}


def measure_checkpoint(
    root: Path, name: str, checkpoint: str, stage: str, corpus: str, dense_dir: Path, log: Path
) -> dict:
    """`checkpoint`'s test-half figures (`workflows/evaluate.py half=test`, kept under
    <root>/eval/<name>) beside the best dense baseline at or below its rate."""
    dense_dir = dense_dir.resolve()
    if not list(dense_dir.glob("dense-k*-p*/dense.pt")):
        run(
            [
                sys.executable,
                "workflows/dense.py",
                f"out_dir={dense_dir}",
                f"corpus.builtin_dir={corpus}",
                f"pools={DENSE_POOLS}",
            ],
            log,
        )
    dense = evaluate(root, "dense", [f"dense_dir={dense_dir}"], corpus, log)
    figures = evaluate(root, name, [f"checkpoint={checkpoint}"], corpus, log)
    key = "pairalign" if stage == "refine" else "vq"
    rate = figures[f"{key}/token_rate"]
    result = {
        "rate": round(rate, 2),
        "archive_tokens": int(figures[f"{key}/tokens"]),
        "map": round(figures[f"{key}/map"], 4),
        "p_at_1": round(figures[f"{key}/precision_at_1"], 4),
        "consistency": round(figures[f"{key}/consistency"], 4),
        "vocab_used": round(figures[f"{key}/vocab_used"], 4),
    }
    if stage == "refine":
        result["distinct_across_content"] = round(figures["pairalign/distinct_across_content"], 4)
        result.update(
            {
                "vq_rate": round(figures["vq/token_rate"], 2),
                "vq_archive_tokens": int(figures["vq/tokens"]),
                "vq_map": round(figures["vq/map"], 4),
                "vq_consistency": round(figures["vq/consistency"], 4),
            }
        )
    else:
        result["codebook"] = Tokenizer.from_checkpoint(checkpoint).vocab_size
    return (
        result
        | dense_fields(dense, rate)
        | {
            "split": "test half",
            "checkpoint": checkpoint,
            "steps": int(load_checkpoint(checkpoint)["step"]),
        }
    )


def refine_result(runs: list[dict], sets: Sets) -> dict:
    """Seed 0's figures with the heuristics at its rate and the other sets; every seed's rate, MAP
    and archive tokens (built-in and vcc2016-dev test halves) with their mean and spread."""
    first = runs[0]
    result = dict(first) | extra_sets(first["checkpoint"], first["rate"], sets)
    seeds = []
    for i, found in enumerate(runs):
        vcc = (  # the first run's vcc figures are extra_sets' already
            {"pairalign": {"rate": result["vcc_rate"], "map": result["vcc_map"]}}
            if i == 0
            else strings_figures(
                Tokenizer.from_checkpoint(found["checkpoint"]), sets.get("vcc_test")
            )
        )
        seeds.append(
            {
                "seed": seed_of(found["checkpoint"]),
                "rate": found["rate"],
                "map": found["map"],
                "archive_tokens": found["archive_tokens"],
                "vq_map": found["vq_map"],
                "vcc_rate": vcc["pairalign"]["rate"],
                "vcc_map": vcc["pairalign"]["map"],
            }
        )
    result["seeds"] = {"runs": seeds} | spread(seeds, ("rate", "map", "archive_tokens", "vcc_map"))
    return result


def extra_sets(checkpoint: str, rate: float, sets: Sets) -> dict:
    """The heuristic compressions (merge, DPDP, BPE) of the checkpoint's VQ strings at `rate` on the
    built-in test half; its strings on the vcc2016-dev test half and the unseen voices."""
    tokenizer = Tokenizer.from_checkpoint(checkpoint)
    base = baselines_at(tokenizer, sets, "builtin_test", rate)
    out: dict = {
        "vq_collapsed_archive_tokens": base["collapsed_archive_tokens"],
        "vq_collapsed_rate": base["collapsed_rate"],
        "merged_vq_map_at_rate": base["merge_map"],
        "dpdp_vq_map_at_rate": base["dpdp_map"],
        "bpe_vq_map_at_rate": base["bpe_map"],
    }
    for name, prefix in (("vcc_test", "vcc"), ("foreign", "foreign")):
        if name not in sets.names():
            continue
        found = strings_figures(tokenizer, sets.get(name))
        out |= {
            f"{prefix}_map": found["pairalign"]["map"],
            f"{prefix}_rate": found["pairalign"]["rate"],
            f"{prefix}_vq_map": found["vq"]["map"],
            f"{prefix}_vq_rate": found["vq"]["rate"],
        }
        if name == "vcc_test":
            at = baselines_at(tokenizer, sets, name, found["pairalign"]["rate"])
            out |= {f"vcc_{k}": v for k, v in at.items()}
    return out


def spread(rows: list[dict], keys: tuple[str, ...]) -> dict:
    """{key: {mean, std}} over rows (population standard deviation)."""
    import numpy as np

    return {
        k: {
            "mean": round(float(np.mean([r[k] for r in rows])), 4),
            "std": round(float(np.std([r[k] for r in rows])), 4),
        }
        for k in keys
    }


def seed_of(checkpoint: str) -> int:
    return int(load_checkpoint(checkpoint)["stage_config"]["seed"])


if __name__ == "__main__":
    main()
