"""Stage-2 variants, one after another, each by `workflows/local.py refine` (no Ray), each
figure set appended as one JSON line to `--out`: the ladder and the rate sweep of issue 20.

    PYTHONPATH=. python bench/refine_variants.py --out /work/runs20/variants.jsonl \\
        --common init_checkpoint=<stage-1 ckpt> storage_path=/work/runs20 objective.freeze_vq=true \\
        --variant "copy:decoder.kind=segment train.lr=0 train.max_steps=1" \\
        --variant "r9.7:decoder.kind=segment objective.targets.rate=9.7" --seeds 0 1 2

A variant is `name:key=value key=value ...` (refine.yaml keys and `local.` keys); each runs once
per seed (`seed=<s>`, also the views' seed stays fixed so every seed trains on the same views).
"""

from __future__ import annotations

import argparse
import json
import shlex
import time

from workflows.local import main as train_local


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--common", nargs="*", default=[])
    parser.add_argument("--variant", action="append", required=True)
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    args = parser.parse_args()
    for variant in args.variant:
        name, _, overrides = variant.partition(":")
        for seed in args.seeds:
            argv = [*args.common, *shlex.split(overrides), f"seed={seed}", f"name={name}-s{seed}"]
            began = time.perf_counter()
            figures = train_local(["refine", *argv])
            row = {"variant": name, "seed": seed, "overrides": overrides,
                   "minutes": (time.perf_counter() - began) / 60, **figures,
                   "date": time.strftime("%Y-%m-%d %H:%M")}  # fmt: skip
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
