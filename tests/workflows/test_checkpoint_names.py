"""Workflows refuse what is not a checkpoint in one line, before Ray starts."""

from __future__ import annotations

import time

import pytest
import ray

from workflows import refine, tokenize_archive


@pytest.fixture
def snapshot(tmp_path):
    run = tmp_path / "vq-tiny"
    run.mkdir()
    (run / "checkpoint_manager_snapshot.json").write_text("{}")
    return run / "checkpoint_manager_snapshot.json"


def test_refine_refuses_rays_snapshot_file_before_ray_starts(tmp_path, snapshot):
    start = time.perf_counter()
    with pytest.raises(SystemExit) as exit_:
        refine.main([f"init_checkpoint={snapshot}", f"storage_path={tmp_path}"])
    message = str(exit_.value.code)
    assert message.startswith(f"error: init_checkpoint={snapshot}: ")
    assert "give the run directory" in message and "\n" not in message
    assert not ray.is_initialized() and time.perf_counter() - start < 10


def test_tokenize_archive_refuses_a_text_file_before_ray_starts(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SystemExit, match=r"tokenizer\.checkpoint: .*notes\.txt: not a checkpoint"):
        tokenize_archive.main(
            [f"tokenizer.checkpoint={tmp_path / 'notes.txt'}", f"out_dir={tmp_path}"]
        )
    assert not ray.is_initialized()


def test_refine_names_a_wrong_init_checkpoint_once_and_a_missing_one_in_one_line(tmp_path):
    with pytest.raises(SystemExit) as exit_:
        refine.main([f"storage_path={tmp_path}"])
    assert str(exit_.value.code) == (
        "error: set init_checkpoint=<stage-1 checkpoint> or init_mlflow_run_id=<vq run id>"
    )
    missing = tmp_path / "nowhere"
    with pytest.raises(SystemExit) as exit_:
        refine.main([f"init_checkpoint={missing}", f"storage_path={tmp_path}"])
    message = str(exit_.value.code)
    assert message.startswith(f"error: init_checkpoint={missing}: no such file")
    assert message.count(str(missing)) == 1 and not ray.is_initialized()
