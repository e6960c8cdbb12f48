"""Heuristic compressions of a checkpoint's VQ strings on one half, the baselines PairAlign strings
must beat at their rate: the shortest runs merged (`merge`) and a duration-penalised segmentation
of the frames (`dpdp`), each at a grid of rates; MAP at any rate by linear interpolation.

    PYTHONPATH=. python bench/vq_baselines.py --checkpoint <ckpt> --corpus /work/data/builtin \\
        --half dev --rates 6 7 8 9 10 11 12 13 14 --out /work/runs20/baselines-dev.json

Also the collapsed codes (every run, `min_run_frames=1`) and the checkpoint's own VQ strings.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np

from pairalign.data.views import ViewConfig
from pairalign.evaluation.figures import ClipSet
from pairalign.evaluation.heldout import HeldoutConfig, half_rows, heldout_figures, load_heldout
from pairalign.jobs.corpus import CorpusConfig, load_manifest
from pairalign.tokenizing.tokenizer import Tokenizer


def load_half(corpus: CorpusConfig, half: str, split: str = "test",
              config: HeldoutConfig | None = None) -> ClipSet:  # fmt: skip
    rows = half_rows(load_manifest(corpus), split, half)  # type: ignore[arg-type]
    return load_heldout(rows, half, ViewConfig(), config or HeldoutConfig())


def baseline_figures(tokenizer: Tokenizer, data: ClipSet, rates: list[float],
                     reduces: tuple[str, ...] = ("merge", "dpdp"),
                     config: HeldoutConfig | None = None) -> dict[str, dict[str, float]]:  # fmt: skip
    """{name: {token_rate, tokens, map, precision_at_1, consistency}} for `collapsed`, `vq` (the
    checkpoint's own strings) and `<reduce>@<rate>` for every reduce and rate."""
    own = tokenizer.strings
    settings = {"collapsed": replace(own, min_run_frames=1, rate=0.0), "vq": own}
    for reduce in reduces:
        for rate in rates:
            settings[f"{reduce}@{rate:g}"] = replace(own, rate=rate, reduce=reduce)
    out, config = {}, config or HeldoutConfig()
    for name, strings in settings.items():
        figures = heldout_figures(tokenizer.with_strings(strings), data, config, kinds=("vq",))
        key = f"{data.name}/vq/"
        out[name] = {k: figures[key + k] for k in ("token_rate", "tokens", "map", "precision_at_1",
                                                   "consistency") if key + k in figures}  # fmt: skip
    return out


def map_at_rate(curve: dict[str, dict[str, float]], reduce: str, rate: float) -> float:
    """MAP of `reduce` at `rate` tokens/s, linear between the measured rates (nan outside)."""
    points = sorted((f["token_rate"], f["map"]) for name, f in curve.items()
                    if name.startswith(f"{reduce}@"))  # fmt: skip
    rates, maps = zip(*points, strict=True)
    if not rates[0] <= rate <= rates[-1]:
        return float("nan")
    return float(np.interp(rate, rates, maps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--corpus", default="data/builtin")
    parser.add_argument("--manifest", default="", help="a manifest instead of --corpus's")
    parser.add_argument("--split", default="test")
    parser.add_argument("--half", default="dev")
    parser.add_argument("--rates", nargs="*", type=float, default=[6, 7, 8, 9, 10, 11, 12, 13, 14])
    parser.add_argument("--reduces", nargs="*", default=["merge", "dpdp"])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    data = load_half(CorpusConfig(manifest=args.manifest, builtin_dir=args.corpus), args.half,
                     args.split)  # fmt: skip
    curve = baseline_figures(Tokenizer.from_checkpoint(args.checkpoint), data, args.rates,
                             tuple(args.reduces))  # fmt: skip
    with open(args.out, "w") as f:
        json.dump({"checkpoint": args.checkpoint, "half": args.half, "curve": curve}, f, indent=1)
    for name, f in curve.items():
        print(
            f"{name:12s} {f['token_rate']:6.2f}/s  MAP {f['map']:.3f}  cons {f.get('consistency', float('nan')):.3f}"
        )


if __name__ == "__main__":
    main()
