"""A stronger dense baseline than the grid of workflows/dense.py: k-means codes of 10 ms log-mel
frames whose runs shorter than `min_run` frames join a neighbour and then collapse, as the VQ
strings do. Measured on one half of the eval split (or any manifest) by `measure_tokenizer`.

    PYTHONPATH=. python -m bench.experiments.dense_collapsed dense=runs/dense/dense-k8-p1 \\
        corpus=data/builtin half=test "min_runs=[1,2,3]"
    PYTHONPATH=. python -m bench.experiments.dense_collapsed dense=... \\
        manifest=data/foreign/manifest.parquet

The strings are the dense tokenizer's (kind `dense`), read with a string rule: no new kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bench.cli import parse
from pairalign.data.manifest import read_manifest
from pairalign.data.splits import half_rows
from pairalign.data.storage import join
from pairalign.data.views import ViewConfig
from pairalign.evaluation.figures import load_clips, measure_tokenizer
from pairalign.strings.rule import StringContext, VQStringConfig, string_runs
from pairalign.tokenizing.dense import DenseTokenizer
from pairalign.tokenizing.tokenizer_kind import TokenizerKind

COLUMNS = ("token_rate", "map", "precision_at_1", "consistency", "vocab_used")


@dataclass(frozen=True)
class DenseCollapsed:
    dense: str  # a dense-k*-p1 directory (workflows/dense.py)
    corpus: str = "data/builtin"
    manifest: str = ""  # any manifest instead of corpus
    half: Literal["dev", "test"] = "test"
    min_runs: tuple[int, ...] = (1, 2, 3)
    view_clips: int = 200


class CollapsedDense:
    """Dense frame codes -> short runs merged -> runs collapsed: the dense kind's strings read
    with the VQ strings' run rule (a wrapper, not a kind of its own)."""

    kind, collapses = TokenizerKind.DENSE, True

    def __init__(self, dense: DenseTokenizer, min_run: int) -> None:
        self.dense, self.min_run = dense, min_run
        self.name = f"{dense.name}-collapsed-r{min_run}"
        self.checkpoint_id, self.vocab_size = self.name, dense.vocab_size

    def __call__(self, waveforms, seconds=None) -> list[list[int]]:
        strings = VQStringConfig(min_run_frames=self.min_run)  # every run: no rate
        return [
            string_runs(StringContext(codes), strings)[0].tolist()
            for codes in self.dense(waveforms, seconds)
        ]


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(DenseCollapsed, argv, __doc__)
    manifest = read_manifest(args.manifest or join(args.corpus, "manifest.parquet"))
    clips = load_clips(
        half_rows(manifest, "test", args.half),
        ViewConfig(),
        name=args.half,
        view_clips=args.view_clips,
    )
    clips.window_seconds = 100.0  # whole clips, no 3 s windows
    dense = DenseTokenizer.load(args.dense)
    print(f"{len(clips.ids)} clips ({args.half} half of test)")
    print("| tokenizer | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for min_run in args.min_runs:
        tokenizer = CollapsedDense(dense, min_run)
        found = measure_tokenizer(tokenizer, clips, "x")
        cells = [f"{found[f'x/{c}']:.3f}" for c in COLUMNS]
        print(f"| {tokenizer.name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
