"""Stage 2 trained a few steps on one process through the shared loop, without Ray (its `Stage`:
set up from the stage-1 checkpoint, built by its recipe): metrics and a checkpoint the
`Tokenizer` loads."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from pairalign.data.views import ViewConfig
from pairalign.models.decoder_kinds import DecoderConfig
from pairalign.objectives.refine_config import RefineObjective, TeacherConfig
from pairalign.stages.local import MARKER, LocalRun, fresh_out_dir, run_local
from pairalign.stages.refine import REFINE, RefineConfig
from pairalign.stages.vq import VQ, VQStageConfig
from pairalign.tokenizing.tokenizer import Tokenizer
from pairalign.training.local import LocalReporter, ViewCache
from pairalign.training.loop import TrainConfig, run_loop


def test_refine_trains_a_few_steps_without_ray(tone_rows, small_checkpoints, tmp_path):
    config = RefineConfig(
        decoder=DecoderConfig(dim=32, layers=1, heads=2, max_len=32),
        objective=RefineObjective(teacher=TeacherConfig(start=2, ramp=1)),
        train=TrainConfig(
            max_steps=3, batch_size=4, warmup_steps=1, report_every=1, checkpoint_every=3
        ),
        views=ViewConfig(clip_seconds=1.0),
        watch_clips=0,
    )
    config = replace(config, init_checkpoint=small_checkpoints["vq"])
    run = REFINE.build(config, REFINE.setup(config))
    run.start(0, {}, "cpu")
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    reporter = LocalReporter(
        "refine", str(tmp_path / "run"), model_config=run.model.config, stage_config={}
    )
    batches = ViewCache(tone_rows, config.views, str(tmp_path / "cache")).batches(4)
    assert run_loop(batches, config.train, run.model, run.optimizer, run.hooks, reporter) == 3
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    metrics = [json.loads(line) for line in lines]
    assert [m["step"] for m in metrics] == [1, 2, 3]
    assert metrics[-1]["targets/teacher_fraction"] == 1.0  # step 2 (0-based): all teacher
    assert all(m["loss/total"] == m["loss/total"] for m in metrics)  # finite, not NaN
    moved = [k for k, v in run.model.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("decoder.") for k in moved) and any(k.startswith("vq.") for k in moved)
    tokenizer = Tokenizer.from_checkpoint(reporter.checkpoint)
    assert tokenizer.pairalign.config.decoding.timing_seconds == 1.0  # the views' clip
    assert len(tokenizer(torch.zeros(2, 16_000).numpy())) == 2


def test_a_local_run_empties_only_a_local_runs_folder(tmp_path):
    runs = tmp_path / "runs"
    (runs / "vq-tiny").mkdir(parents=True)
    (runs / "vq-tiny" / "checkpoint.pt").write_text("a run to keep")
    config = VQStageConfig(storage_path=str(tmp_path))
    with pytest.raises(FileExistsError, match=r"local\.out_dir=.*runs: .*not a local run's"):
        run_local(VQ, config, LocalRun(out_dir=str(runs)), inputs={})
    assert (runs / "vq-tiny" / "checkpoint.pt").read_text() == "a run to keep"
    for earlier in (MARKER, "figures.json"):  # an earlier local run's folder starts afresh
        old = tmp_path / f"local-{earlier}"
        (old / "checkpoint").mkdir(parents=True)
        (old / earlier).write_text("{}")
        fresh_out_dir(str(old))
        assert sorted(p.name for p in old.iterdir()) == [MARKER]
    fresh_out_dir(str(tmp_path / "new" / "dir"))  # a new folder, made
    assert (tmp_path / "new" / "dir" / MARKER).exists()
