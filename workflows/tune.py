"""A Ray Tune sweep over the stage-2 (refine) objective: early stopping, held-out selection, MLflow.

    python workflows/tune.py refine.init_checkpoint=runs/vq-tiny/checkpoint_<time>
    python workflows/tune.py refine.init_checkpoint=... search.num_samples=16 search.algorithm=optuna
    ray job submit --working-dir . -- python workflows/tune.py storage_path=/shared/runs \
        refine.init_checkpoint=/shared/runs/vq-base/checkpoint_<time> search.max_concurrent_trials=4 \
        refine.train.use_gpu=true refine.train.num_workers=1 refine.train.cpus_per_worker=4

The sweep itself (trials, held-out selection, MLflow runs, resources): pairalign/jobs/tuning.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pairalign.config import ConfigError
from pairalign.evaluation.heldout import halves_table
from pairalign.jobs.comparison import plain
from pairalign.jobs.tuning import SweepConfig, param_space, run_sweep
from workflows.cli import init_ray, parse_args, seed_everything, setup_logging


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    config = parse_args(SweepConfig, "tune.yaml", argv, description=__doc__)
    try:
        space = param_space(config)
    except ConfigError as err:
        raise SystemExit(f"error: {err}") from err
    setup_logging()
    seed_everything(config.seed)
    init_ray()
    try:
        summary = run_sweep(config, space)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from err
    print(json.dumps(summary, indent=1))
    print(plain(*halves_table(summary, ("best", "baseline"))))
    return summary


if __name__ == "__main__":
    main()
