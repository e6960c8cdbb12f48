"""Stage-2 variants, one after another, each by `workflows/local.py refine` (no Ray), each figure
set appended as one JSON line to `out`: the ladder and the rate sweep of issue 20.

    PYTHONPATH=. python -m bench.experiments.refine_variants \\
        --config refine_variants_issue20.yaml \\
        init_checkpoint=<stage-1 ckpt> out=runs/variants.jsonl "seeds=[0,1,2]"

A variant is a name and its overrides (refine.yaml keys and `local.` keys), after `common`'s; each
runs once per seed (`seed=<s>`, also the views' seed stays fixed so every seed trains on the same
views). Several variants are best kept in a YAML file (bench/experiments/configs/).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.cli import Variant, parse
from workflows.local import main as train_local


@dataclass(frozen=True)
class RefineVariants:
    out: str  # JSON lines, appended
    variants: tuple[Variant, ...]
    init_checkpoint: str = ""  # the stage-1 checkpoint ("": set it in common)
    common: tuple[str, ...] = ()  # key=value of every variant
    seeds: tuple[int, ...] = (0,)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(RefineVariants, argv, __doc__)
    init = [f"init_checkpoint={args.init_checkpoint}"] if args.init_checkpoint else []
    for variant in args.variants:
        name, overrides = variant.name, " ".join(variant.overrides)
        for seed in args.seeds:
            run = [*init, *args.common, *variant.overrides, f"seed={seed}", f"name={name}-s{seed}"]
            began = time.perf_counter()
            figures = train_local(["refine", *run])
            row = {
                "variant": name,
                "seed": seed,
                "overrides": overrides,
                "minutes": (time.perf_counter() - began) / 60,
                **figures,
                "date": time.strftime("%Y-%m-%d %H:%M"),
            }
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
