"""Heuristic compressions of a checkpoint's VQ strings on one half, the baselines PairAlign strings
must beat at their rate: the shortest runs merged (`merge`), a duration-penalised segmentation of
the frames (`dpdp`) and byte-pair encoding of the collapsed codes (`bpe`: merges learned on
`train_clips` clips of the built-in corpus's train split, the fewest that meet the rate on the
half), each at a grid of rates; MAP at any rate by linear interpolation.

    PYTHONPATH=. python -m bench.experiments.vq_baselines checkpoint=<ckpt> corpus=data/builtin \\
        half=dev "rates=[6,7,8,9,10,11,12,13,14]" out=runs/baselines-dev.json
    PYTHONPATH=. python -m bench.experiments.vq_baselines checkpoint=<ckpt> corpus=data/builtin \\
        vcc=true half=test out=runs/baselines-vcc-test.json  # vcc2016-dev (vcc.py)

Also the collapsed codes (every run, `min_run_frames=1`) and the checkpoint's own VQ strings.
A `bpe@<rate>` entry also gives the merges used (`merges`); when all the merges learned cannot
reach the rate, all are used and its token_rate says how far they got.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from bench.cli import parse
from bench.experiments.vcc import VCC_SPLIT, vcc_half
from pairalign.data.corpora.spec import CorpusConfig, load_manifest
from pairalign.data.splits import half_rows
from pairalign.data.views import ViewConfig
from pairalign.evaluation.figures import ClipSet, clip_strings, load_clips, measure_tokenizer
from pairalign.evaluation.heldout import HeldoutConfig, heldout_figures, load_heldout
from pairalign.strings.bpe import Pair, apply_merges_all, learn_merges, merge_runs, merges_for_rate
from pairalign.tokenizing.kinds import VQStrings
from pairalign.tokenizing.tokenizer import Tokenizer

KEPT = ("token_rate", "tokens", "map", "precision_at_1", "consistency")
BPE_MAX_MERGES = 4000  # far more than the rates of the grid need; a pair seen once is not merged


def load_half(
    corpus: CorpusConfig, half: str, split: str = "test", config: HeldoutConfig | None = None
) -> ClipSet:
    rows = half_rows(load_manifest(corpus), split, half)  # type: ignore[arg-type]
    return load_heldout(rows, half, ViewConfig(), config or HeldoutConfig())


def load_train(corpus: CorpusConfig, clips: int = 400) -> ClipSet:
    """`clips` clips of the train split (0: all), evenly spaced in utterance-id order so that
    every voice and sentence range is in, without views: BPE learns its merges on them."""
    manifest = load_manifest(corpus)
    rows = corpus.train_rows(manifest).sort_by("utterance_id")
    if 0 < clips < rows.num_rows:
        rows = rows.take(np.linspace(0, rows.num_rows - 1, clips).round().astype(np.int64))
    return load_clips(rows, ViewConfig(), name="train", view_clips=0)


def baseline_figures(
    tokenizer: Tokenizer,
    data: ClipSet,
    rates: list[float],
    reduces: tuple[str, ...] = ("merge", "dpdp", "bpe"),
    config: HeldoutConfig | None = None,
    train: ClipSet | None = None,
) -> dict[str, dict[str, float]]:
    """{name: {token_rate, tokens, map, precision_at_1, consistency}} for `collapsed`, `vq` (the
    checkpoint's own strings) and `<reduce>@<rate>` for every reduce and rate; `bpe` needs
    `train`, the clips its merges are learned on (`load_train`)."""
    if "bpe" in reduces and train is None:
        raise ValueError(
            "reduce 'bpe' learns its merges on training clips: pass train= (load_train)"
        )
    own = tokenizer.strings
    collapsed = replace(own, min_run_frames=1, rate=0.0)
    settings = {"collapsed": collapsed, "vq": own}
    for reduce in (r for r in reduces if r != "bpe"):
        for rate in rates:
            settings[f"{reduce}@{rate:g}"] = replace(own, rate=rate, reduce=reduce)
    out, config = {}, config or HeldoutConfig()
    for name, strings in settings.items():
        figures = heldout_figures(tokenizer.with_strings(strings), data, config, kinds=("vq",))
        out[name] = _kept(figures, f"{data.name}/vq")
    if "bpe" in reduces and train is not None:
        out |= bpe_figures(VQStrings(tokenizer.with_strings(collapsed)), data, train, rates, config)
    return out


def bpe_figures(
    collapsed: VQStrings,
    data: ClipSet,
    train: ClipSet,
    rates: Sequence[float],
    config: HeldoutConfig,
) -> dict[str, dict[str, float]]:
    """`bpe@<rate>`: merges learned on the collapsed strings of `train`, the fewest that bring the
    collapsed strings of `data` to at most `rate` tokens/s applied to them (and to the views)."""
    learned_on = clip_strings(collapsed, train, config.batch_size, "bpe: train")
    merges = learn_merges(learned_on, collapsed.vocab_size, BPE_MAX_MERGES)
    strings = clip_strings(collapsed, data, config.batch_size, "bpe: collapsed")
    out = {}
    for rate in rates:
        count = merges_for_rate(strings, data.seconds, merges, rate, collapsed.vocab_size)
        encoded = apply_merges_all(strings, merges, count, collapsed.vocab_size)
        prefix = f"{data.name}/vq"
        figures = measure_tokenizer(
            BPEStrings(collapsed, merges, count),
            data,
            prefix,
            strings=encoded,
            ks=config.ks,
            batch_size=config.batch_size,
        )
        out[f"bpe@{rate:g}"] = _kept(figures, prefix) | {"merges": float(count)}
    return out


class BPEStrings:
    """Collapsed VQ strings encoded with the first `count` BPE merges; a merged token spans its
    parts' frames (its time is their centre)."""

    collapses = False  # a merged token can repeat: joining windows must not collapse it

    def __init__(self, collapsed: VQStrings, merges: Sequence[Pair], count: int) -> None:
        self.collapsed, self.merges, self.count = collapsed, merges, count
        self.kind, self.name = collapsed.kind, f"bpe{count}"
        self.vocab_size = collapsed.vocab_size + count
        self.checkpoint_id = f"{collapsed.checkpoint_id}+bpe{count}"

    def __call__(self, waveforms, seconds=None) -> list[list[int]]:
        found = self.collapsed(waveforms, seconds)
        return apply_merges_all(found, self.merges, self.count, self.collapsed.vocab_size)

    def timed(self, waveforms, seconds=None) -> list[tuple[np.ndarray, np.ndarray]]:
        tokenizer = self.collapsed.tokenizer
        frame = tokenizer.config.frame_seconds
        merged = [
            merge_runs(runs, self.merges, self.count, self.collapsed.vocab_size)
            for runs in tokenizer.string_runs(waveforms, seconds)
        ]
        return [(values, (starts + ends) / 2 * frame) for values, starts, ends in merged]


def _kept(figures: dict[str, float], prefix: str) -> dict[str, float]:
    return {k: figures[f"{prefix}/{k}"] for k in KEPT if f"{prefix}/{k}" in figures}


def map_at_rate(curve: dict[str, dict[str, float]], reduce: str, rate: float) -> float:
    """MAP of `reduce` at `rate` tokens/s, linear between the measured rates (nan outside)."""
    points = sorted(
        (f["token_rate"], f["map"]) for name, f in curve.items() if name.startswith(f"{reduce}@")
    )
    rates, maps = zip(*points, strict=True)
    if not rates[0] <= rate <= rates[-1]:
        return float("nan")
    return float(np.interp(rate, rates, maps))


@dataclass(frozen=True)
class VQBaselines:
    checkpoint: str
    out: str  # JSON file
    corpus: str = "data/builtin"  # built-in corpus: halves, BPE
    vcc: bool = False  # measure on vcc2016-dev's half
    vcc_manifest: str = ""  # vcc2016-dev's manifest.csv; "": vcc.VCC_MANIFEST
    half: Literal["dev", "test"] = "dev"
    rates: tuple[float, ...] = (6, 7, 8, 9, 10, 11, 12, 13, 14)
    reduces: tuple[str, ...] = ("merge", "dpdp", "bpe")
    train_clips: int = 400  # built-in train clips BPE learns its merges on (0: all)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(VQBaselines, argv, __doc__)
    corpus = CorpusConfig(builtin_dir=args.corpus)
    if args.vcc:
        data = vcc_half(args.half, source=args.vcc_manifest)
    else:
        data = load_half(corpus, args.half)
    train = load_train(corpus, args.train_clips) if "bpe" in args.reduces else None
    curve = baseline_figures(
        Tokenizer.from_checkpoint(args.checkpoint),
        data,
        list(args.rates),
        tuple(args.reduces),
        train=train,
    )
    source = VCC_SPLIT if args.vcc else f"{args.corpus}, split test"
    with open(args.out, "w") as f:
        json.dump(
            {
                "checkpoint": args.checkpoint,
                "data": source,
                "half": args.half,
                "train_clips": len(train.ids) if train else 0,
                "curve": curve,
            },
            f,
            indent=1,
        )
    for name, f in curve.items():
        print(
            f"{name:12s} {f['token_rate']:6.2f}/s  MAP {f['map']:.3f}  "
            f"cons {f.get('consistency', float('nan')):.3f}"
        )


if __name__ == "__main__":
    main()
