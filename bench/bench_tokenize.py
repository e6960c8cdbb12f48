"""Tokenization throughput: seconds of audio tokenized per CPU-second, per tokenizer kind.

    PYTHONPATH=. python bench/bench_tokenize.py --checkpoint runs/refine-tiny/checkpoint_... \
        --dense runs/dense/dense-k8-p8/dense.pt --corpus data/builtin [--device cuda]

Times what each actor of workflows/tokenize_archive.py does per batch (pairalign/tokenizing/windows.py:
pad to the 3 s window, tokenize, stitch) on the built-in corpus's test clips, one thread, after a
warm-up. CPU time (process_time) is reported beside wall time, so a busy machine does not
distort the per-core figure; on a GPU the wall time is the one that counts. Prints JSON lines.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time

import pyarrow.compute as pc
import torch

from pairalign.data.audio import load_row_audio
from pairalign.data.manifest import read_manifest
from pairalign.data.storage import join
from pairalign.tokenizing.kinds import TokenizerSpec, load_tokenizer
from pairalign.tokenizing.windows import tokenize_clips
from pairalign.units import SAMPLE_RATE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a refine checkpoint (pairalign + vq)")
    parser.add_argument("--dense", default="", help="a dense.pt (workflows/dense.py)")
    parser.add_argument("--corpus", default="data/builtin")
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    table = read_manifest(join(args.corpus, "manifest.parquet"))
    rows = table.filter(pc.equal(table["split"], "test")).slice(0, args.clips).to_pylist()
    audio = [load_row_audio(r) for r in rows]
    seconds = sum(len(a) for a in audio) / SAMPLE_RATE
    specs = [
        TokenizerSpec("pairalign", "pairalign", args.checkpoint),
        TokenizerSpec("vq", "vq", args.checkpoint),
    ]
    if args.dense:
        specs.append(TokenizerSpec(args.dense.rstrip("/").split("/")[-2], "dense", args.dense))
    for spec in specs:
        tokenizer = load_tokenizer(spec, device=args.device)
        tokenize_clips(
            tokenizer, audio[: args.batch], SAMPLE_RATE, batch_size=args.batch
        )  # warm-up
        wall, cpu = time.perf_counter(), time.process_time()
        strings = []
        for i in range(0, len(audio), args.batch):
            strings += tokenize_clips(
                tokenizer, audio[i : i + args.batch], SAMPLE_RATE, batch_size=args.batch
            )
        if args.device == "cuda":
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(json.dumps({
            "bench": "tokenize", "tokenizer": spec.name, "device": args.device, "clips": len(audio),
            "audio_seconds": round(seconds, 1), "tokens": sum(map(len, strings)),
            "audio_seconds_per_cpu_second": round(seconds / cpu, 1),
            "audio_seconds_per_wall_second": round(seconds / wall, 1),
            "machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "date": datetime.date.today().isoformat(),
        }))  # fmt: skip


if __name__ == "__main__":
    main()
