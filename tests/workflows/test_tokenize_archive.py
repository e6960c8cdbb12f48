"""workflows/tokenize_archive.py on a real local Ray cluster: an archive with planted bad files, a
long clip tokenized by windows, a second run that adds nothing, and an archive on S3 (moto)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest
import soundfile as sf

from pairalign.data.audio import load_audio
from pairalign.data.manifest import manifest_table, read_manifest, write_manifest
from pairalign.jobs.tokenize_job import TokenizeConfig, tokenize_archives
from pairalign.models.checkpoint import export_tokenizer
from pairalign.tokenizing.archive import read_archive, read_archive_rejects, read_info
from pairalign.tokenizing.kinds import TokenizerSpec, load_tokenizer
from pairalign.tokenizing.windows import tokenize_clips
from workflows.cli import CONFIG_DIR, load_config
from workflows.tokenize_archive import main

SR = 16_000
BAD = {"truncated": "truncated", "not_audio": "", "missing": "not found"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> tuple[str, list[str]]:
    """9 good clips (one 8 s long) and 3 bad ones, listed in a manifest."""
    root = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(0)
    rows, good = [], []
    for i in range(9):
        seconds = 8.0 if i == 0 else 1.0 + 0.25 * i
        path = root / f"clip{i}.wav"
        sf.write(path, 0.1 * rng.standard_normal(int(seconds * SR)).astype(np.float32), SR)
        rows.append({"utterance_id": f"u{i}", "path": str(path), "speaker": "s", "split": "test"})
        good.append(f"u{i}")
    whole = (root / "clip1.wav").read_bytes()
    (root / "truncated.wav").write_bytes(whole[: len(whole) // 2])
    (root / "not_audio.wav").write_text("this is not audio\n")
    for name in BAD:
        rows.append({"utterance_id": name, "path": str(root / f"{name}.wav"), "split": "test"})
    manifest = str(root / "manifest.parquet")
    write_manifest(manifest_table(rows), manifest)
    return manifest, good


def run(manifest: str, out: str, checkpoint: str, *extra: str) -> dict[str, float]:
    return main(
        [
            f"corpus.manifest={manifest}",
            f"out_dir={out}",
            "tokenizer.name=vq",
            "tokenizer.kind=vq",
            f"tokenizer.checkpoint={checkpoint}",
            "batch_size=4",
            "pool_size=2",
            "cpus_per_actor=0.5",
            *extra,
        ]
    )


def test_archive_rows_rejects_and_resume(ray_session, archive, small_checkpoints, tmp_path, capsys):
    manifest, good = archive
    out = str(tmp_path / "archive")
    totals = run(manifest, out, small_checkpoints["vq"])
    table = read_archive(f"{out}/vq")
    assert sorted(table["utterance_id"].to_pylist()) == sorted(good)  # none lost, none twice
    rejects = read_archive_rejects(f"{out}/vq").to_pylist()
    assert sorted(r["utterance_id"] for r in rejects) == sorted(BAD)
    for r in rejects:
        assert r["path"].endswith(f"{r['utterance_id']}.wav") and r["reason"]
        assert BAD[r["utterance_id"]] in r["reason"]
    assert totals["clips"] == 9 and totals["rejects"] == 3 and totals["run/clips"] == 9
    assert totals["tokens"] == pc.sum(table["token_count"]).as_py() > 0
    assert totals["seconds"] == pytest.approx(
        8.0 + sum(1.0 + 0.25 * i for i in range(1, 9)), rel=1e-4
    )
    assert read_info(f"{out}/vq")["checkpoint_id"] == table["checkpoint_id"][0].as_py()
    printed = capsys.readouterr().out
    assert "clips 9" in printed and "rejects 3" in printed

    # the rows hold what the tokenizer gives for each clip on its own (the 8 s one by windows)
    tokenizer = load_tokenizer(TokenizerSpec("vq", "vq", small_checkpoints["vq"]))
    by_id = {r["utterance_id"]: r for r in table.to_pylist()}
    for uid in ("u0", "u3"):
        audio = load_audio(manifest.replace("manifest.parquet", f"clip{uid[1:]}.wav"))
        (expected,) = tokenize_clips(tokenizer, [audio], SR)
        assert by_id[uid]["tokens"] == expected and by_id[uid]["token_count"] == len(expected)

    again = run(manifest, out, small_checkpoints["vq"])
    assert again["run/clips"] == 0 and again["run/rejects"] == 0
    assert again["clips"] == 9 and again["rejects"] == 3
    assert read_archive(f"{out}/vq").sort_by("utterance_id").equals(table.sort_by("utterance_id"))


def test_a_second_checkpoint_cannot_write_into_the_same_archive(
    ray_session, archive, small_checkpoints, tmp_path
):
    manifest, _ = archive
    out = str(tmp_path / "archive")
    run(manifest, out, small_checkpoints["vq"], "max_clips=2")
    with pytest.raises(ValueError, match=r"tokenizer\.json"):
        run(manifest, out, small_checkpoints["refine"], "max_clips=2")


def test_archive_on_s3(ray_session, s3_server, archive, small_checkpoints):
    manifest, _ = archive
    out = f"{s3_server}/archive"
    totals = run(manifest, out, small_checkpoints["vq"], "max_clips=6")
    table, rejects = read_archive(f"{out}/vq"), read_archive_rejects(f"{out}/vq")
    assert totals["clips"] + totals["rejects"] == 6 == len(table) + len(rejects)
    assert run(manifest, out, small_checkpoints["vq"], "max_clips=6")["run/clips"] == 0


def user_csv(root: Path, write_tone) -> Path:
    """A user's folder: clips/*.wav listed in clips.csv by relative paths, no durations, text ids
    that look like missing values, and one row whose file is not there."""
    (root / "clips").mkdir(parents=True)
    for i, seconds in enumerate((0.5, 1.0, 4.5)):
        write_tone(root / "clips" / f"{i}.wav", seconds=seconds, frequency=300.0 + 100 * i)
    csv = root / "clips.csv"
    csv.write_text(
        "utterance_id,path,speaker,content_id\n"
        "NA,clips/0.wav,alice,s1\nnull,clips/1.wav,bob,s1\n"
        "0003,clips/2.wav,alice,s2\ngone,clips/missing.wav,bob,s2\n"
    )
    return csv


def test_a_csv_manifest_as_typed(ray_session, small_checkpoints, tmp_path, write_tone):
    """corpus.manifest=<csv>: relative paths found, NA-like ids kept as text, the 4.5 s clip
    tokenized by windows, the missing file rejected with its reason and the rest archived."""
    csv = user_csv(tmp_path / "data", write_tone)
    out = str(tmp_path / "archive")
    totals = run(str(csv), out, small_checkpoints["vq"])
    table = read_archive(f"{out}/vq")
    assert sorted(table["utterance_id"].to_pylist()) == ["0003", "NA", "null"]
    rejects = read_archive_rejects(f"{out}/vq").to_pylist()
    assert [(r["utterance_id"], r["reason"]) for r in rejects] == [("gone", "file not found")]
    assert totals["clips"] == 3 and totals["rejects"] == 1
    long = table.filter(pc.equal(table["utterance_id"], "0003")).to_pylist()[0]
    assert long["duration"] == pytest.approx(4.5)
    tokenizer = load_tokenizer(TokenizerSpec("vq", "vq", small_checkpoints["vq"]))
    (expected,) = tokenize_clips(tokenizer, [load_audio(str(tmp_path / "data/clips/2.wav"))], SR)
    assert long["tokens"] == expected


def test_a_csv_manifest_on_s3(ray_session, s3_server, small_checkpoints, tmp_path, write_tone):
    """The same folder copied to S3: the CSV's relative paths resolve to s3:// URLs."""
    import s3fs

    local = user_csv(tmp_path / "data", write_tone).parent
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": os.environ["AWS_ENDPOINT_URL"]})
    fs.put(str(local), f"{s3_server.removeprefix('s3://')}/user", recursive=True)
    out = str(tmp_path / "archive")
    totals = run(f"{s3_server}/user/clips.csv", out, small_checkpoints["vq"])
    assert sorted(read_archive(f"{out}/vq")["utterance_id"].to_pylist()) == ["0003", "NA", "null"]
    assert totals["rejects"] == 1


def test_no_kind_needed_the_archive_is_named_after_and_records_the_kind_it_holds(
    ray_session, small_checkpoints, tmp_path, write_tone, capsys
):
    """tokenizer.kind=auto (the default): a stage-1 checkpoint gives vq, and so does a refine
    export that records vq as its measured choice; the archive is `<out_dir>/vq` either way."""
    csv = str(user_csv(tmp_path / "data", write_tone))
    export = export_tokenizer(
        small_checkpoints["refine"],
        str(tmp_path / "tok.pt"),
        default_kind="vq",
        kind_note="MAP 0.93 vs 0.58",
    )
    for out, checkpoint, why in (
        (tmp_path / "stage1", small_checkpoints["vq"], "auto: a stage-1 tokenizer, no decoder"),
        (tmp_path / "export", export, "auto: the export's measured choice: MAP 0.93 vs 0.58"),
    ):
        main(
            [
                f"corpus.manifest={csv}",
                f"out_dir={out}",
                f"tokenizer.checkpoint={checkpoint}",
                "pool_size=1",
                "cpus_per_actor=0.5",
            ]
        )
        assert f"tokenizer vq: kind vq ({why})" in capsys.readouterr().out
        assert sorted(p.name for p in out.iterdir()) == ["vq"]
        info = read_info(str(out / "vq"))
        assert (info["name"], info["kind"]) == ("vq", "vq")
        assert len(read_archive(str(out / "vq"))) == 3
    # the export's archive holds the VQ strings of the refine checkpoint
    table = read_archive(str(tmp_path / "export" / "vq"))
    long = table.filter(pc.equal(table["utterance_id"], "0003")).to_pylist()[0]
    vq = load_tokenizer(TokenizerSpec("vq", "vq", small_checkpoints["refine"]))
    (expected,) = tokenize_clips(vq, [load_audio(str(tmp_path / "data/clips/2.wav"))], SR)
    assert long["tokens"] == expected


def test_shipped_yaml_documents_the_defaults():
    config = load_config(TokenizeConfig, CONFIG_DIR / "tokenize_archive.yaml")
    assert config == TokenizeConfig() and config.tokenizer.kind == "auto"


def _actor_pids(marker: str = "MapBatches(TokenizeWorker)") -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def test_a_killed_actor_loses_and_duplicates_nothing(
    ray_session, archive, small_checkpoints, tmp_path
):
    """SIGKILL one tokenizing actor once the first parts are written: Ray Data restarts it and
    retries its batch; every clip ends up in the archive (or the rejects) exactly once."""
    manifest, _ = archive
    rows = read_manifest(manifest).to_pylist()
    # 40 clips: the manifest's 12 repeated under new ids, so the job outlives the kill
    many = [{**r, "utterance_id": f"{r['utterance_id']}-{i}"} for i in range(4) for r in rows][:40]
    big = str(tmp_path / "many.parquet")
    write_manifest(manifest_table(many), big)
    out = str(tmp_path / "archive")
    result: dict = {}
    job = threading.Thread(
        target=lambda: result.update(run(big, out, small_checkpoints["vq"], "batch_size=2"))
    )
    job.start()
    parts = Path(out) / "vq" / "tokens"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (parts.exists() and any(parts.glob("*.parquet"))):
        time.sleep(0.05)
    victims = _actor_pids()
    assert victims, "no tokenizing actor found to kill"
    written_at_kill = len(list(parts.glob("*.parquet")))
    os.kill(victims[0], signal.SIGKILL)
    job.join(timeout=600)
    assert not job.is_alive() and result, "the job did not finish after the actor was killed"
    assert written_at_kill < 20  # the kill landed while batches were still pending
    ids = read_archive(f"{out}/vq")["utterance_id"].to_pylist()
    rejected = read_archive_rejects(f"{out}/vq")["utterance_id"].to_pylist()
    assert len(ids) == len(set(ids)) and len(rejected) == len(set(rejected))
    expected = {r["utterance_id"] for r in many}
    assert set(ids) | set(rejected) == expected and not set(ids) & set(rejected)
    assert set(rejected) == {u for u in expected if u.rsplit("-", 1)[0] in BAD}
    assert result["clips"] == len(ids) and result["rejects"] == len(rejected)


def test_one_pass_fills_archives_that_are_at_different_points(
    ray_session, archive, small_checkpoints, tmp_path
):
    """vq already holds 6 clips; one pass over the manifest adds the rest to vq and every clip to
    pairalign, and nothing is written twice."""
    manifest, good = archive
    out = str(tmp_path / "archive")
    run(manifest, out, small_checkpoints["vq"], "max_clips=6")
    first = read_archive(f"{out}/vq").sort_by("utterance_id")
    config = TokenizeConfig(out_dir=out, batch_size=4, pool_size=1, cpus_per_actor=0.5)
    specs = [
        TokenizerSpec("vq", "vq", small_checkpoints["vq"]),
        TokenizerSpec("pairalign", "pairalign", small_checkpoints["refine"]),
    ]
    totals = tokenize_archives(config, read_manifest(manifest), specs)
    assert totals["vq"]["run/clips"] + totals["vq"]["run/rejects"] == 12 - 6
    assert totals["pairalign"]["run/clips"] == 9 and totals["pairalign"]["run/rejects"] == 3
    for name in ("vq", "pairalign"):
        ids = read_archive(f"{out}/{name}")["utterance_id"].to_pylist()
        assert sorted(ids) == sorted(good)  # each once
    again = read_archive(f"{out}/vq").filter(
        pc.is_in(read_archive(f"{out}/vq")["utterance_id"], first["utterance_id"])
    )
    assert again.sort_by("utterance_id").equals(first)  # the first run's rows untouched
