"""VQ strings of one checkpoint under several string settings, measured on one half of the eval
split (or any manifest) by the evaluation path every workflow uses (`measure_tokenizer`).

    PYTHONPATH=. python bench/vq_probe.py --checkpoint runs/vq-tiny/checkpoint_<time> \
        --corpus data/builtin --half dev --min-runs 1,2,3 --groups 0,8,16,32
    PYTHONPATH=. python bench/vq_probe.py --checkpoint ... --manifest /tmp/foreign/manifest.parquet --split test

No training: the same encoder and codebook, read with other `VQStringConfig`s (runs shorter than
`min_run_frames` merged into a neighbour; codes grouped by k-means on the codebook).
"""

from __future__ import annotations

import argparse
import itertools
import time

import pyarrow.compute as pc

from pairalign.data.manifest import read_manifest
from pairalign.data.splits import half_rows
from pairalign.data.storage import join
from pairalign.data.views import ViewConfig
from pairalign.evaluation.figures import load_clips, measure_tokenizer
from pairalign.tokenizing.kinds import VQStrings
from pairalign.tokenizing.tokenizer import Tokenizer, VQStringConfig

COLUMNS = ("token_rate", "map", "precision_at_1", "mrr", "consistency", "vocab_used", "perplexity")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--corpus", default="data/builtin", help="built-in corpus directory")
    parser.add_argument("--manifest", default="", help="any manifest instead of --corpus")
    parser.add_argument("--split", default="test")
    parser.add_argument("--half", default="dev", choices=("dev", "test", "all"))
    parser.add_argument("--min-runs", default="1")
    parser.add_argument("--groups", default="0")
    parser.add_argument("--view-clips", type=int, default=200)
    args = parser.parse_args()
    manifest = read_manifest(args.manifest or join(args.corpus, "manifest.parquet"))
    if args.half == "all":
        rows = manifest.filter(pc.equal(manifest["split"], args.split))
    else:
        rows = half_rows(manifest, args.split, args.half)
    clips = load_clips(rows, ViewConfig(), name=args.half, view_clips=args.view_clips)
    base = Tokenizer.from_checkpoint(args.checkpoint)
    print(f"{len(clips.ids)} clips ({args.half} half of {args.split}); views of {args.view_clips}")
    print("| min run | groups | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for min_run, groups in itertools.product(_ints(args.min_runs), _ints(args.groups)):
        start = time.perf_counter()
        tokenizer = base.with_strings(VQStringConfig(min_run_frames=min_run, groups=groups))
        found = measure_tokenizer(VQStrings(tokenizer), clips, "vq")
        cells = [f"{found.get(f'vq/{c}', float('nan')):.3f}" for c in COLUMNS]
        print(
            f"| {min_run} | {groups} | "
            + " | ".join(cells)
            + f" |  ({time.perf_counter() - start:.0f} s)"
        )


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


if __name__ == "__main__":
    main()
