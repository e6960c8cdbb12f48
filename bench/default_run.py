"""The default stage-1 or refine run, trained as the README shows it and measured on the test half
of the built-in eval split next to the dense baselines; writes bench/results/<stage>_default.json.

    PYTHONPATH=. python bench/default_run.py vq --root runs/bench-default --dense-dir runs/dense
    PYTHONPATH=. python bench/default_run.py refine --root runs/bench-default --dense-dir runs/dense

vq: `python workflows/vq.py` with only storage_path and the corpus directory set. refine:
`python workflows/refine.py init_checkpoint=<the vq run's last checkpoint>` likewise (run `vq`
first). Then `workflows/evaluate.py half=test` on the run's checkpoint, and (once per root) on every
dense baseline under --dense-dir (`workflows/dense.py`; fitted there first if missing). A run whose
checkpoint exists is not trained again (`--retrain` to do so; train_minutes is then re-timed).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

from stage1_variants import checkpoint_of, run  # bench/ is the script's directory

DENSE_POOLS = "[1,2,3,4,5,6,8]"  # 100, 50, 33, 25, 20, 16.7, 12.5 tokens/s


def evaluate(root: Path, name: str, args: list[str], corpus: str, log: Path) -> dict[str, float]:
    out = root / "eval" / name
    if not (out / "figures.json").exists():
        run([sys.executable, "workflows/evaluate.py", f"name=bench-{name}", f"out_dir={out}",
             f"storage_path={root}", f"corpus.builtin_dir={corpus}", "half=test", *args], log)  # fmt: skip
    return json.loads((out / "figures.json").read_text())


def best_dense(dense: dict[str, float], rate: float) -> tuple[str, float, float]:
    """(name, MAP, tokens/s) of the dense baseline with the highest MAP whose rate is at or below
    `rate`."""
    names = sorted({k.split("/")[0] for k in dense if k.startswith("dense-")})
    below = [n for n in names if dense[f"{n}/token_rate"] <= rate]
    if not below:
        raise SystemExit(f"no dense baseline at or below {rate:.1f} tokens/s")
    name = max(below, key=lambda n: dense[f"{n}/map"])
    return name, dense[f"{name}/map"], dense[f"{name}/token_rate"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("stage", choices=("vq", "refine"))
    parser.add_argument("--root", default="runs/bench-default")
    parser.add_argument("--corpus", default="data/builtin")
    parser.add_argument("--dense-dir", default="runs/dense")
    parser.add_argument("--retrain", action="store_true")
    parser.add_argument("--out", default="", help="default: bench/results/<stage>_default.json")
    parser.add_argument("--vcc-manifest", default="",
                        help="refine: also measure the test half of this recorded-speech manifest "
                        "(bench/real_speech.py writes it), vcc_map and vcc_vq_map")  # fmt: skip
    parser.add_argument("--seed-runs", default="",
                        help="refine: a bench/refine_variants.py JSON-lines file whose --seed-variant "
                        "rows (one per seed) are copied under `seeds`")  # fmt: skip
    parser.add_argument("--seed-variant", default="")
    args = parser.parse_args()
    root, corpus = Path(args.root).resolve(), str(Path(args.corpus).resolve())
    dense_dir = Path(args.dense_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    log = root / f"{args.stage}.log"
    py = sys.executable

    name = {"vq": "vq-tiny", "refine": "refine-tiny"}[args.stage]
    extra = []
    if args.stage == "refine":
        init = checkpoint_of(root, "vq-tiny")
        if not init:
            raise SystemExit(f"{root}/vq-tiny: no checkpoint (run `default_run.py vq` first)")
        extra = [f"init_checkpoint={init}"]
    timing = root / f"{name}.train_seconds"
    if args.retrain or not checkpoint_of(root, name):
        seconds = run([py, f"workflows/{args.stage}.py", f"storage_path={root}",
                       f"corpus.builtin_dir={corpus}", *extra], log)  # fmt: skip
        timing.write_text(f"{seconds:.1f}\n")
        (root / "eval" / name).mkdir(parents=True, exist_ok=True)
        (root / "eval" / name / "figures.json").unlink(missing_ok=True)
    checkpoint = checkpoint_of(root, name)

    if not list(dense_dir.glob("dense-k*-p*/dense.pt")):
        run([py, "workflows/dense.py", f"out_dir={dense_dir}", f"corpus.builtin_dir={corpus}",
             f"pools={DENSE_POOLS}"], log)  # fmt: skip
    dense = evaluate(root, "dense", [f"dense_dir={dense_dir}"], corpus, log)
    figures = evaluate(root, name, [f"checkpoint={checkpoint}"], corpus, log)

    key = "pairalign" if args.stage == "refine" else "vq"
    rate = figures[f"{key}/token_rate"]
    dense_name, dense_map, dense_rate = best_dense(dense, rate)
    result = {
        "rate": round(rate, 2),
        "archive_tokens": int(figures[f"{key}/tokens"]),
        "map": round(figures[f"{key}/map"], 4),
        "p_at_1": round(figures[f"{key}/precision_at_1"], 4),
        "consistency": round(figures[f"{key}/consistency"], 4),
        "vocab_used": round(figures[f"{key}/vocab_used"], 4),
    }
    if args.stage == "vq":
        from pairalign.tokenizing.tokenizer import Tokenizer

        result["codebook"] = Tokenizer.from_checkpoint(checkpoint).vocab_size
    else:
        result["distinct_across_content"] = round(figures["pairalign/distinct_across_content"], 4)
        result.update({
            "vq_rate": round(figures["vq/token_rate"], 2),
            "vq_archive_tokens": int(figures["vq/tokens"]),
            "vq_map": round(figures["vq/map"], 4),
            "vq_consistency": round(figures["vq/consistency"], 4),
        })  # fmt: skip
        result |= _refine_extras(checkpoint, corpus, rate, args)
    result.update({
        "dense_best_map_at_or_below_rate": round(dense_map, 4),
        "dense_best_name": dense_name,
        "dense_rate": round(dense_rate, 2),
        "dense_consistency": round(dense[f"{dense_name}/consistency"], 4),
        "train_minutes": round(float(timing.read_text()) / 60, 1) if timing.exists() else None,
        "split": "test half",
        "checkpoint": checkpoint,
        "date": datetime.date.today().isoformat(),
    })  # fmt: skip
    if args.stage == "vq":
        result["steps"] = _steps(checkpoint)
    out = Path(args.out or f"bench/results/{args.stage}_default.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _refine_extras(checkpoint: str, corpus: str, rate: float, args) -> dict[str, object]:
    """The stage-1 part's heuristic compressions at the PairAlign rate on the test half
    (`bench/vq_baselines.py`), the collapsed codes' archive tokens, recorded speech, seeds."""
    from vq_baselines import baseline_figures, load_half

    from pairalign.evaluation.heldout import HeldoutConfig, heldout_figures
    from pairalign.jobs.corpus import CorpusConfig
    from pairalign.tokenizing.tokenizer import Tokenizer

    tokenizer = Tokenizer.from_checkpoint(checkpoint)
    test = load_half(CorpusConfig(builtin_dir=corpus), "test")
    curve = baseline_figures(tokenizer, test, [rate])
    out: dict[str, object] = {
        "vq_collapsed_archive_tokens": int(curve["collapsed"]["tokens"]),
        "vq_collapsed_rate": round(curve["collapsed"]["token_rate"], 2),
        "merged_vq_map_at_rate": round(curve[f"merge@{rate:g}"]["map"], 4),
        "merged_vq_rate": round(curve[f"merge@{rate:g}"]["token_rate"], 2),
        "dpdp_vq_map_at_rate": round(curve[f"dpdp@{rate:g}"]["map"], 4),
        "dpdp_vq_rate": round(curve[f"dpdp@{rate:g}"]["token_rate"], 2),
    }
    if args.vcc_manifest:
        vcc = load_half(CorpusConfig(manifest=args.vcc_manifest), "test")
        figures = heldout_figures(tokenizer, vcc, HeldoutConfig(), kinds=("pairalign", "vq"))
        out |= {"vcc_map": round(figures["test/pairalign/map"], 4),
                "vcc_rate": round(figures["test/pairalign/token_rate"], 2),
                "vcc_vq_map": round(figures["test/vq/map"], 4),
                "vcc_vq_rate": round(figures["test/vq/token_rate"], 2)}  # fmt: skip
    if args.seed_runs:
        rows = [json.loads(line) for line in Path(args.seed_runs).read_text().splitlines()]
        rows = [r for r in rows if r["variant"] == args.seed_variant]
        out["seeds"] = {
            "variant": args.seed_variant, "half": "dev", "seed": [r["seed"] for r in rows],
            "map": [round(r["dev/pairalign/map"], 4) for r in rows],
            "rate": [round(r["dev/pairalign/token_rate"], 2) for r in rows],
        }  # fmt: skip
    return out


def _steps(checkpoint: str) -> int:
    from pairalign.models.checkpoint import load_checkpoint

    return int(load_checkpoint(checkpoint)["step"])


if __name__ == "__main__":
    main()
