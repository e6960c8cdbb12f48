"""The Ray and MLflow side: the Ray Train glue that runs any stage of `pairalign.stages` on
workers, the paired-view and tokenization pipelines, corpus preparation as Ray tasks, the Tune
sweep, run tracking and comparison. Workflows (workflows/*.py) start these; nothing here calls
ray.init."""
