"""Compare MLflow runs side by side: a table (terminal and Markdown) and trade-off plots with the
Pareto front marked, saved as files and logged to MLflow.

    python workflows/compare.py sweep=tune-tiny                  # the trials of a workflows/tune.py sweep
    python workflows/compare.py run_ids=[<run id>,<run id>] params=[] sort= \
        columns=[eval/pairalign/token_rate,eval/pairalign/consistency] \
        rate=eval/pairalign/token_rate quality=[eval/pairalign/consistency]
    python workflows/compare.py experiment_runs=true             # every finished run of the experiment
    mlflow ui --backend-store-uri sqlite:///runs/mlflow.db       # the same runs in the browser

Runs come from `run_ids`, else the child runs of the sweep `sweep`, else (`experiment_runs=true`)
every finished run of `tracking.experiment`. Each row is one run: its `params`, then the latest
value of each metric in `columns` (a sweep trial's `best/...` metrics are its figures at its best
checkpoint). A run is on the Pareto front when no other run has both a lower `rate` and a higher
first `quality` figure (pairalign/evaluation/pareto.py). Files go to `out_dir` (default
`<storage_path>/<sweep>/compare` or `<storage_path>/compare`; a temporary directory when
storage_path is remote): `runs.md`, `runs.csv` and `tradeoff.png` (one panel per `quality` figure
against `rate`, each panel's front joined); with `log=true` they are logged under `compare/` to
the sweep's parent run, or to a new run `compare`.
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
