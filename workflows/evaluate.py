"""The evaluation suite: tokenized archives of a held-out split, measured side by side.

    python workflows/evaluate.py checkpoint=runs/refine-tiny/checkpoint_... dense_dir=runs/dense
    ray job submit --working-dir . -- python workflows/evaluate.py checkpoint=s3://b/runs/refine/checkpoint_... \
        out_dir=s3://b/eval storage_path=s3://b/runs tracking.tracking_uri=http://mlflow:5000

Tokenizers: `pairalign` and `vq` from a refine `checkpoint` (just `vq` from a stage-1 one), every
dense baseline under `dense_dir` (workflows/dense.py), and any listed in `tokenizers`. Each is
tokenized into `<out_dir>/archives/<name>` by workflows/tokenize_archive.py (skipped when already there),
then measured (see ../shared/PAPER.md, "How we measure"):

- token rate, archive tokens, length spread, vocabulary use (codes, entropy, perplexity),
  distinct strings, strings shared across sentences and the mean distance between clips of
  different sentences (non-degeneracy), from the archive;
- retrieval: every clip queries the archive by normalised edit distance, renditions of its
  sentence by other voices are the relevant ones (its own voice is left out); MAP, P@k, MRR and
  the MAP of a random ranking;
- cross-view consistency on paired views of the first `consistency_clips` clips (fixed seed);
- the continuous-sweep probe: 3 s windows moved in 100 ms steps over long utterances (clips of one
  voice joined), neighbour overlap, length spread, drift from the first window by shift.

Each evaluation is a new MLflow run (named `name`, default eval-<UTC time>); it holds every figure as `<tokenizer>/<figure>`, the summary table (Markdown, CSV) and
plots: MAP against tokens per second, the sweep drift, a PairAlign string over its spectrogram.
"""

from __future__ import annotations

from collections.abc import Sequence

from pairalign.jobs.corpus import load_manifest
from pairalign.jobs.evaluation_suite import EvaluateConfig, evaluate
from workflows.cli import init_ray, parse_args, seed_everything, setup_logging


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    config = parse_args(EvaluateConfig, "evaluate.yaml", argv, description=__doc__)
    setup_logging()
    seed_everything(config.seed)
    init_ray()
    return evaluate(config, load_manifest(config.corpus))


if __name__ == "__main__":
    main()
