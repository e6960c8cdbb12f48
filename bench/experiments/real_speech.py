"""Strings of a checkpoint on recorded human speech, beside the dense baselines fitted on the same
corpus: vcc2016-dev (6 people x the same 120 sentences; Voice Conversion Challenge 2016 training
data, Toda et al., Interspeech 2016, DOI 10.7488/ds/1575, CC BY 4.0), by issue 21's split
(bench/vcc.py): dense grid fitted on the train part, checkpoint and grid measured on one half.

    # a stage-1 (VQ) or stage-2 (VQ + PairAlign) checkpoint on the test half, and the dense grid
    PYTHONPATH=. python bench/real_speech.py --checkpoint runs/vq-tiny/checkpoint_... \
        --half test --out runs/vcc/vq_test.json

Every figure of `measure_tokenizer` (retrieval by normalised edit distance, each speaker's own
recordings left out; chance MAP; cross-view consistency; token rate), clips longer than 3 s
tokenized in windows as the archive job does. Dense tokenizers are fitted once per (k, pool) and
kept under --dense-dir. Select on `dev`, report on `test`. Writes JSON: per tokenizer figures, the
best dense MAP at or below the VQ (and PairAlign) rate and at any rate, and the flat `vcc_*` keys
of bench/results/vq_default.json.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import time
from pathlib import Path

import numpy as np
from vcc import VCC_MANIFEST, VCC_SPLIT, vcc_half, vcc_rows  # bench/ is the script's directory

import pairalign.tokenizing.dense as dense_module
from pairalign.data.audio import AudioError, load_row_audio
from pairalign.data.views import ViewConfig
from pairalign.evaluation.figures import ClipSet, measure_tokenizer
from pairalign.evaluation.heldout import HeldoutConfig
from pairalign.models.checkpoint import load_checkpoint
from pairalign.models.frontend import LogMel
from pairalign.tokenizing.dense import DenseConfig, DenseTokenizer, clip_log_mel, fit_dense
from pairalign.tokenizing.kinds import PairAlignStrings, VQStrings
from pairalign.tokenizing.tokenizer import Tokenizer

KEPT = ("map", "token_rate", "consistency", "chance_map", "mrr", "precision_at_1", "vocab_used",
        "queries", "tokens")  # fmt: skip


def dense_tokenizers(args: argparse.Namespace) -> dict[str, DenseTokenizer]:
    """Each (k, pool) of the grid, fitted on the train part once and kept under --dense-dir."""
    configs = [DenseConfig(k=k, pool=p, iters=args.dense_iters, seed=args.seed)
               for k, p in itertools.product(args.ks, args.pools)]  # fmt: skip
    out, features = {}, None
    for config in configs:
        path = Path(args.dense_dir) / config.name / "dense.pt"
        if not path.exists():
            if features is None:
                features = train_features()
            start = time.perf_counter()
            fit_dense(features, config).save(str(path))
            print(f"fitted {config.name} in {time.perf_counter() - start:.1f} s", flush=True)
        out[config.name] = DenseTokenizer.load(str(path))
    return out


def share_log_mel() -> None:
    """Every dense tokenizer of the grid has the same front end: compute each clip's (or window's)
    log-mel frames once for the whole grid, by wrapping `clip_log_mel` for this script only."""
    original, cache = dense_module.clip_log_mel, {}

    def clip_log_mel_once(waveform, frontend=None, sample_rate=dense_module.SAMPLE_RATE):
        wave = np.ascontiguousarray(waveform, dtype=np.float32)
        key = (hashlib.sha1(wave.tobytes()).digest(), sample_rate)
        if key not in cache:
            cache[key] = original(wave, frontend, sample_rate)
        return cache[key]

    dense_module.clip_log_mel = clip_log_mel_once


def train_features() -> list:
    """Log-mel frames of the train part's clips."""
    rows = vcc_rows("train")
    frontend, features = LogMel(), []
    for row in rows.to_pylist():
        try:
            features.append(clip_log_mel(load_row_audio(row), frontend))
        except AudioError as err:
            print(f"skipped {err}")
    print(f"log-mel frames of {len(features)} train clips", flush=True)
    return features


def figures_of(tokenizer, clips: ClipSet, name: str) -> dict[str, float]:
    start = time.perf_counter()
    found = measure_tokenizer(tokenizer, clips, name)
    kept = {k: round(found[f"{name}/{k}"], 4) for k in KEPT}
    print(f"{name}: {kept['token_rate']:.2f} tokens/s, MAP {kept['map']:.3f} (chance "
          f"{kept['chance_map']:.3f}), consistency {kept['consistency']:.3f}; "
          f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
    return kept


def best(dense: dict[str, dict[str, float]], rate: float = float("inf")) -> dict | None:
    below = [n for n in dense if dense[n]["token_rate"] <= rate]
    if not below:
        return None
    name = max(below, key=lambda n: dense[n]["map"])
    return {"name": name, "map": dense[name]["map"], "token_rate": dense[name]["token_rate"]}


def measure(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    config = HeldoutConfig(sentences=args.sentences, view_clips=args.view_clips)
    clips = vcc_half(args.half, config, ViewConfig())
    payload = load_checkpoint(args.checkpoint)
    tokenizer = Tokenizer.from_checkpoint(args.checkpoint)
    result: dict = {"data": VCC_SPLIT, "manifest": str(VCC_MANIFEST), "half": args.half,
                    "clips": len(clips.ids),
                    "sentences": len(set(clips.content)), "speakers": len(set(clips.speakers)),
                    "checkpoint": str(args.checkpoint), "stage": payload["stage"],
                    "step": int(payload["step"])}  # fmt: skip
    kinds = {"vq": VQStrings(tokenizer)}
    if tokenizer.decoder is not None:
        kinds["pairalign"] = PairAlignStrings(tokenizer)
    for kind, strings_of in kinds.items():
        result[kind] = figures_of(strings_of, clips, kind)
    if args.pools and args.ks:
        share_log_mel()
        result["dense"] = {}
        for name, tok in dense_tokenizers(args).items():
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
        flat |= {f"{tag}_map": result[kind]["map"], f"{tag}_rate": result[kind]["token_rate"],
                 f"{tag}_consistency": result[kind]["consistency"],
                 f"{tag}_chance_map": result[kind]["chance_map"]}  # fmt: skip
        if result.get("dense"):
            at_rate = result[f"dense_best_at_or_below_{kind}_rate"]
            flat[f"{tag}_dense_best_map_at_or_below_rate"] = at_rate["map"] if at_rate else None
    if result.get("dense"):
        flat["vcc_dense_best_map_any_rate"] = result["dense_best_any_rate"]["map"]
    return flat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--half", default="test", choices=("dev", "test"),
                        help="the half measured: dev (select) or test (report)")  # fmt: skip
    parser.add_argument("--dense-dir", default="runs/vcc-train-dense",
                        help="fits of the grid on the train part (not the old hashed split's)")  # fmt: skip
    parser.add_argument("--ks", type=int, nargs="*", default=[8, 16, 32, 64, 128, 256])
    parser.add_argument("--pools", type=int, nargs="*", default=[1, 2, 4, 6, 8, 10],
                        help="10 ms frames per token (100, 50, 25, 16.7, 12.5, 10 tokens/s); none: no dense")  # fmt: skip
    parser.add_argument("--dense-iters", type=int, default=50)
    parser.add_argument("--view-clips", type=int, default=200,
                        help="clips whose views give consistency")  # fmt: skip
    parser.add_argument(
        "--sentences", type=int, default=0, help="the half's first sentences (0: all)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="", help="JSON file (also printed)")
    measure(parser.parse_args())


if __name__ == "__main__":
    main()
