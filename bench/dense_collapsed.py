"""A stronger dense baseline than the grid of workflows/dense.py: k-means codes of 10 ms log-mel
frames whose runs shorter than `min_run` frames join a neighbour and then collapse, as the VQ
strings do. Measured on one half of the eval split (or any manifest) by `measure_tokenizer`.

    PYTHONPATH=. python bench/dense_collapsed.py --dense runs/dense/dense-k8-p1 \
        --corpus data/builtin --half test --min-runs 1,2,3
    PYTHONPATH=. python bench/dense_collapsed.py --dense ... --manifest /tmp/foreign/manifest.parquet
"""

from __future__ import annotations

import argparse

import numpy as np

from pairalign.data.manifest import read_manifest
from pairalign.data.splits import half_rows
from pairalign.data.storage import join
from pairalign.data.views import ViewConfig
from pairalign.evaluation.figures import load_clips, measure_tokenizer
from pairalign.strings import collapse_runs, merge_short_runs
from pairalign.tokenizing.dense import DenseTokenizer

COLUMNS = ("token_rate", "map", "precision_at_1", "consistency", "vocab_used")


class CollapsedDense:
    """Dense frame codes -> short runs merged -> runs collapsed."""

    kind, collapses = "dense-collapsed", True

    def __init__(self, dense: DenseTokenizer, min_run: int) -> None:
        self.dense, self.min_run = dense, min_run
        self.name = f"{dense.name}-collapsed-r{min_run}"
        self.checkpoint_id, self.vocab_size = self.name, dense.vocab_size

    def __call__(self, waveforms, seconds=None) -> list[np.ndarray]:
        return [collapse_runs(merge_short_runs(codes, self.min_run))
                for codes in self.dense(waveforms, seconds)]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dense", required=True, help="a dense-k*-p1 directory (workflows/dense.py)"
    )
    parser.add_argument("--corpus", default="data/builtin")
    parser.add_argument("--manifest", default="")
    parser.add_argument("--half", default="test", choices=("dev", "test"))
    parser.add_argument("--min-runs", default="1,2,3")
    parser.add_argument("--view-clips", type=int, default=200)
    args = parser.parse_args()
    manifest = read_manifest(args.manifest or join(args.corpus, "manifest.parquet"))
    clips = load_clips(half_rows(manifest, "test", args.half), ViewConfig(), name=args.half,
                       view_clips=args.view_clips)  # fmt: skip
    clips.window_seconds = 100.0  # whole clips, no 3 s windows
    dense = DenseTokenizer.load(args.dense)
    print(f"{len(clips.ids)} clips ({args.half} half of test)")
    print("| tokenizer | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for min_run in (int(x) for x in args.min_runs.split(",")):
        tokenizer = CollapsedDense(dense, min_run)
        found = measure_tokenizer(tokenizer, clips, "x")
        cells = [f"{found[f'x/{c}']:.3f}" for c in COLUMNS]
        print(f"| {tokenizer.name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
