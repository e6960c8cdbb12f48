"""Strings of a checkpoint on recorded human speech, beside the dense baselines fitted on the same
corpus: vcc2016-dev (6 people x the same 120 sentences; Voice Conversion Challenge 2016 training
data, Toda et al., Interspeech 2016, DOI 10.7488/ds/1575, CC BY 4.0), by issue 21's split
(vcc.py): dense grid fitted on the train part (by workflows/dense.py), checkpoint and grid
measured on one half.

    # a stage-1 (VQ) or stage-2 (VQ + PairAlign) checkpoint on the test half, and the dense grid
    PYTHONPATH=. python -m bench.experiments.real_speech checkpoint=runs/vq-tiny/checkpoint_... \\
        half=test out=runs/vcc/vq_test.json

Every figure of `measure_tokenizer` (retrieval by normalised edit distance, each speaker's own
recordings left out; chance MAP; cross-view consistency; token rate), clips longer than 3 s
tokenized in windows as the archive job does. Dense tokenizers are fitted once per (k, pool) by
`workflows/dense.py` (Ray, on this machine) and kept under `dense_dir`; measured, they share each
clip's log-mel frames (`share_log_mel`). Select on `dev`, report on `test`. Writes JSON: per
tokenizer figures, the best dense MAP at or below the VQ (and PairAlign) rate and at any rate, and
the flat `vcc_*` keys of bench/results/vq_default.json.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bench.cli import parse
from bench.experiments.stage1_variants import run
from bench.experiments.vcc import VCC_MANIFEST, VCC_SPLIT, vcc_half, vcc_manifest
from pairalign.data.manifest import write_manifest
from pairalign.data.views import ViewConfig
from pairalign.evaluation.figures import ClipSet, measure_tokenizer
from pairalign.evaluation.heldout import HeldoutConfig
from pairalign.models.checkpoint import load_checkpoint
from pairalign.tokenizing.dense import DENSE_FILE, DenseConfig, DenseTokenizer, share_log_mel
from pairalign.tokenizing.kinds import PairAlignStrings, VQStrings
from pairalign.tokenizing.tokenizer import Tokenizer

KEPT = (
    "map",
    "token_rate",
    "consistency",
    "chance_map",
    "mrr",
    "precision_at_1",
    "vocab_used",
    "queries",
    "tokens",
)


@dataclass(frozen=True)
class RealSpeech:
    checkpoint: str
    half: Literal["dev", "test"] = "test"  # the half measured: dev (select) or test (report)
    vcc_manifest: str = ""  # vcc2016-dev's manifest.csv; "": vcc.VCC_MANIFEST
    dense_dir: str = "runs/vcc-train-dense"  # fits of the grid on the train part
    ks: tuple[int, ...] = (8, 16, 32, 64, 128, 256)
    # 10 ms frames per token (100, 50, 25, 16.7, 12.5, 10 tokens/s); []: no dense
    pools: tuple[int, ...] = (1, 2, 4, 6, 8, 10)
    dense_iters: int = 50
    view_clips: int = 200  # clips whose views give consistency
    sentences: int = 0  # the half's first sentences (0: all)
    seed: int = 0
    out: str = ""  # JSON file (also printed)


def dense_tokenizers(args: RealSpeech) -> dict[str, DenseTokenizer]:
    """Each (k, pool) of the grid, fitted on the train part by the dense workflow
    (`workflows/dense.py` on the split's manifest, written under `dense_dir`; a grid point already
    there is not fitted again) and loaded."""
    dense_dir = Path(args.dense_dir).resolve()
    configs = [
        DenseConfig(k=k, pool=p, iters=args.dense_iters, seed=args.seed)
        for k, p in itertools.product(args.ks, args.pools)
    ]
    if not all((dense_dir / c.name / DENSE_FILE).exists() for c in configs):
        manifest = dense_dir / "vcc-split" / "manifest.parquet"
        write_manifest(vcc_manifest(args.vcc_manifest), str(manifest))
        grid = [f"ks={list(args.ks)}", f"pools={list(args.pools)}", f"iters={args.dense_iters}"]
        run(
            [
                sys.executable,
                "workflows/dense.py",
                f"out_dir={dense_dir}",
                f"seed={args.seed}",
                f"corpus.manifest={manifest}",
                *grid,
            ],
            dense_dir / "dense.log",
        )
    return {c.name: DenseTokenizer.load(str(dense_dir / c.name / DENSE_FILE)) for c in configs}


def figures_of(tokenizer, clips: ClipSet, name: str) -> dict[str, float]:
    start = time.perf_counter()
    found = measure_tokenizer(tokenizer, clips, name)
    kept = {k: round(found[f"{name}/{k}"], 4) for k in KEPT}
    print(
        f"{name}: {kept['token_rate']:.2f} tokens/s, MAP {kept['map']:.3f} (chance "
        f"{kept['chance_map']:.3f}), consistency {kept['consistency']:.3f}; "
        f"{time.perf_counter() - start:.0f} s",
        flush=True,
    )
    return kept


def best(dense: dict[str, dict[str, float]], rate: float = float("inf")) -> dict | None:
    below = [n for n in dense if dense[n]["token_rate"] <= rate]
    if not below:
        return None
    name = max(below, key=lambda n: dense[n]["map"])
    return {"name": name, "map": dense[name]["map"], "token_rate": dense[name]["token_rate"]}


def measure(args: RealSpeech) -> None:
    start = time.perf_counter()
    config = HeldoutConfig(sentences=args.sentences, view_clips=args.view_clips)
    clips = vcc_half(args.half, config, ViewConfig(), source=args.vcc_manifest)
    payload = load_checkpoint(args.checkpoint)
    tokenizer = Tokenizer.from_checkpoint(args.checkpoint)
    result: dict = {
        "data": VCC_SPLIT,
        "manifest": args.vcc_manifest or str(VCC_MANIFEST),
        "half": args.half,
        "clips": len(clips.ids),
        "sentences": len(set(clips.content)),
        "speakers": len(set(clips.speakers)),
        "checkpoint": str(args.checkpoint),
        "stage": payload["stage"],
        "step": int(payload["step"]),
    }
    kinds = {"vq": VQStrings(tokenizer)}
    if tokenizer.decoder is not None:
        kinds["pairalign"] = PairAlignStrings(tokenizer)
    for kind, strings_of in kinds.items():
        result[kind] = figures_of(strings_of, clips, kind)
    if args.pools and args.ks:
        result["dense"] = {}
        grid = dense_tokenizers(args)
        share_log_mel(grid.values())
        for name, tok in grid.items():
            result["dense"][name] = figures_of(tok, clips, name)
            write(args.out, summarise(result, kinds, start))  # a partial file, should it stop
    print(write(args.out, summarise(result, kinds, start)))


def summarise(result: dict, kinds: dict, start: float) -> dict:
    """`result` with the best dense tokenizers, the flat keys and the seconds so far."""
    result = dict(result)
    if result.get("dense"):
        result["dense_best_any_rate"] = best(result["dense"])
        for kind in kinds:
            rate = result[kind]["token_rate"]
            result[f"dense_best_at_or_below_{kind}_rate"] = best(result["dense"], rate)
    result |= flat_keys(result, kinds)
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def write(path: str, result: dict) -> str:
    text = json.dumps(result, indent=1)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text + "\n")
    return text


def flat_keys(result: dict, kinds: dict) -> dict[str, float | None]:
    """The `vcc_*` keys of bench/results/<stage>_default.json."""
    flat: dict[str, float | None] = {}
    for kind in kinds:
        tag = "vcc" if kind == "vq" else f"vcc_{kind}"
        flat |= {
            f"{tag}_map": result[kind]["map"],
            f"{tag}_rate": result[kind]["token_rate"],
            f"{tag}_consistency": result[kind]["consistency"],
            f"{tag}_chance_map": result[kind]["chance_map"],
        }
        if result.get("dense"):
            at_rate = result[f"dense_best_at_or_below_{kind}_rate"]
            flat[f"{tag}_dense_best_map_at_or_below_rate"] = at_rate["map"] if at_rate else None
    if result.get("dense"):
        flat["vcc_dense_best_map_any_rate"] = result["dense_best_any_rate"]["map"]
    return flat


def main(argv: Sequence[str] | None = None) -> None:
    measure(parse(RealSpeech, argv, __doc__))


if __name__ == "__main__":
    main()
