"""Compare MLflow runs side by side: a table (terminal and Markdown) and trade-off plots with the
Pareto front marked, saved as files and logged to MLflow (pairalign/jobs/comparison.py).

    python workflows/compare.py sweep=tune-tiny                  # the trials of a workflows/tune.py sweep
    python workflows/compare.py run_ids=[<run id>,<run id>] sort=none \
        columns=[eval/pairalign/token_rate,eval/pairalign/consistency] \
        rate=eval/pairalign/token_rate quality=[eval/pairalign/consistency]
    python workflows/compare.py experiment_runs=true             # every finished run: vq/refine runs' end-of-run figures
    ray job submit --working-dir . -- python workflows/compare.py sweep=tune-tiny \
        storage_path=/shared/runs tracking.tracking_uri=http://mlflow:5000
    mlflow ui --backend-store-uri sqlite:///runs/mlflow.db       # the same runs in the browser
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pairalign.jobs.comparison import CompareConfig, compare
from workflows.cli import parse_args, setup_logging


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    config = parse_args(CompareConfig, "compare.yaml", argv, description=__doc__)
    setup_logging()
    try:
        return compare(config)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from err


if __name__ == "__main__":
    main()
