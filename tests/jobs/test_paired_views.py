"""The paired-view Ray Data pipeline on a local cluster: streaming, rejects, determinism, S3."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import s3fs
import soundfile as sf

from pairalign.data.manifest import manifest_table
from pairalign.data.pair_batches import read_rejects
from pairalign.data.views import ViewConfig
from pairalign.jobs.paired_views import build_paired_views, iter_pair_batches

SR = 16_000


def _speech(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = round(seconds * SR)
    return (
        0.3 * np.repeat(rng.uniform(0, 1, n // 800 + 1), 800)[:n] * rng.standard_normal(n)
    ).astype(np.float32)


def _corpus_with_bad_files(root) -> tuple[pa.Table, dict[str, str]]:
    rows, bad = [], {}
    for i in range(10):
        path = root / f"good{i}.flac"
        sf.write(path, _speech(2.0 + 0.3 * i, i), SR)
        rows.append(
            {
                "utterance_id": f"good{i}",
                "path": str(path),
                "speaker": f"s{i % 3}",
                "content_id": f"c{i % 4}",
            }
        )
    (root / "empty.wav").write_bytes(b"")
    (root / "text.wav").write_text("this is not audio at all\n" * 20)
    sf.write(root / "full.wav", _speech(1.0, 99), SR)
    (root / "truncated.wav").write_bytes((root / "full.wav").read_bytes()[:9_000])
    sf.write(root / "nan.wav", np.full(SR, np.nan, np.float32), SR, subtype="FLOAT")
    for name, kind in [
        ("missing.wav", "not found"),
        ("empty.wav", "empty"),
        ("text.wav", "not"),
        ("truncated.wav", "truncated"),
        ("nan.wav", "non-finite"),
    ]:
        rows.append({"utterance_id": f"bad-{name}", "path": str(root / name)})
        bad[f"bad-{name}"] = kind
    return manifest_table(rows), bad


def _collect(ds) -> dict[str, dict]:
    return {row["utterance_id"]: row for row in ds.iter_rows()}


def test_rejects_are_recorded_and_nothing_is_lost(ray_session, tmp_path):
    manifest, bad = _corpus_with_bad_files(tmp_path)
    rejects_dir = str(tmp_path / "rejects")
    ds = build_paired_views(manifest, ViewConfig(), rejects_dir=rejects_dir)
    rows = _collect(ds)
    rejects = read_rejects(rejects_dir).to_pylist()
    assert len(manifest) == len(rows) + len(rejects)  # counts in = counts out + rejects
    assert sorted(rows) == [f"good{i}" for i in range(10)]
    by_id = {r["utterance_id"]: r for r in rejects}
    assert sorted(by_id) == sorted(bad)
    for uid, word in bad.items():
        assert word in by_id[uid]["reason"], by_id[uid]
        assert by_id[uid]["path"].endswith(uid.removeprefix("bad-"))
    view = rows["good3"]["view_a"]
    assert view.shape == (ViewConfig().clip_samples,) and np.isfinite(view).all()


def test_same_seed_same_views_on_any_partitioning(ray_session, tmp_path):
    manifest, _ = _corpus_with_bad_files(tmp_path)
    manifest = manifest.slice(0, 10)
    first = _collect(
        build_paired_views(manifest, ViewConfig(seed=3), rejects_dir=str(tmp_path / "r1"))
    )
    from pairalign.stages.config import PipelineConfig

    other = build_paired_views(
        manifest,
        ViewConfig(seed=3),
        rejects_dir=str(tmp_path / "r2"),
        pipeline=PipelineConfig(batch_size=3),
    )
    second = _collect(other)
    for uid in first:
        np.testing.assert_array_equal(first[uid]["view_b"], second[uid]["view_b"])
    epoch1 = _collect(
        build_paired_views(manifest, ViewConfig(seed=3), rejects_dir=str(tmp_path / "r3"), epoch=1)
    )
    assert not np.allclose(epoch1["good0"]["view_a"], first["good0"]["view_a"])


def test_streams_torch_batches(ray_session, tmp_path):
    manifest, _ = _corpus_with_bad_files(tmp_path)
    ds = build_paired_views(manifest, ViewConfig(), rejects_dir=str(tmp_path / "rejects"))
    sizes = []
    for batch in iter_pair_batches(ds, batch_size=4):
        assert batch["view_a"].shape[1:] == batch["view_b"].shape[1:] == (48_000,)
        assert str(batch["view_a"].dtype) == "torch.float32"
        assert ((batch["warp_a"] > 0.85) & (batch["warp_a"] < 1.15)).all()
        sizes.append(len(batch["view_a"]))
    assert sum(sizes) == 10


def test_s3_manifest_and_audio_through_ray_workers(ray_session, s3_server, tmp_path):
    fs = s3fs.S3FileSystem()
    rows = []
    for i in range(4):
        local = tmp_path / f"u{i}.wav"
        sf.write(local, _speech(2.5, i), SR)
        fs.put(str(local), f"{s3_server}/views/u{i}.wav")
        rows.append({"utterance_id": f"u{i}", "path": f"{s3_server}/views/u{i}.wav"})
    rows.append({"utterance_id": "gone", "path": f"{s3_server}/views/gone.wav"})
    rejects_dir = f"{s3_server}/views/rejects"
    rows_out = _collect(
        build_paired_views(manifest_table(rows), ViewConfig(), rejects_dir=rejects_dir)
    )
    assert sorted(rows_out) == ["u0", "u1", "u2", "u3"]
    rejects = read_rejects(rejects_dir).to_pylist()
    assert [r["utterance_id"] for r in rejects] == ["gone"]
    assert "not found" in rejects[0]["reason"]


@pytest.mark.parametrize("bad_key", ["views.nope=1", "views.noise.min_snr_db=loud"])
def test_demo_config_rejects_bad_overrides(bad_key):
    from pairalign.config import ConfigError
    from pairalign.jobs.demo import DemoConfig
    from workflows.cli import CONFIG_DIR, load_config

    with pytest.raises(ConfigError, match=bad_key.split("=")[0].split(".")[-1]):
        load_config(DemoConfig, CONFIG_DIR / "demo.yaml", [bad_key])


def test_cross_voice_pairs_on_the_workers(ray_session, tmp_path):
    manifest = _corpus_with_bad_files(tmp_path)[0].slice(0, 10)  # every content read twice
    from pairalign.timing import DTWConfig

    # no path rejected: these synthetic renditions are not speech (rejection: test_partners.py)
    views = ViewConfig(cross_voice=1.0, dtw=DTWConfig(max_cost=None))
    rows = _collect(build_paired_views(manifest, views, rejects_dir=str(tmp_path / "r")))
    assert len(rows) == 10
    for row in rows.values():
        assert row["speaker_b"] != row["speaker"] and row["content_id_b"] == row["content_id"]
        assert row["view_b"].shape == (views.clip_samples,) and np.isfinite(row["view_b"]).all()
