"""The evaluation suite: tokenized archives of a held-out split, measured side by side.

    python workflows/evaluate.py checkpoint=runs/refine-tiny/checkpoint_... dense_dir=runs/dense
    ray job submit --working-dir . -- python workflows/evaluate.py checkpoint=s3://b/runs/refine/checkpoint_... \
        out_dir=s3://b/eval storage_path=s3://b/runs tracking.tracking_uri=http://mlflow:5000

Each tokenizer (PairAlign and VQ of `checkpoint`, every dense baseline under `dense_dir`, any in
`tokenizers`) is tokenized into `<out_dir>/archives/<name>` and measured; one new MLflow run holds
every figure, the table and the plots. What is measured: pairalign/jobs/evaluation_suite.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from pairalign.data.corpora.spec import load_manifest
from pairalign.jobs.corpus import cluster_map
from pairalign.jobs.evaluation_suite import EvaluateConfig, evaluate
from workflows.cli import init_ray, parse_args, seed_everything, setup_logging


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    config = parse_args(EvaluateConfig, "evaluate.yaml", argv, description=__doc__)
    setup_logging()
    seed_everything(config.seed)
    init_ray()
    return evaluate(config, load_manifest(config.corpus, **cluster_map()))


if __name__ == "__main__":
    main()
