"""The Ray and MLflow side: the training loop every stage shares, the stages' per-worker
functions, the paired-view and tokenization pipelines, corpus preparation, the Tune sweep,
run tracking and comparison. Workflows (workflows/*.py) start these; nothing here calls ray.init."""
