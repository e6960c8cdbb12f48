"""Audio, manifests and shards on S3, through a real S3 API (moto) on loopback."""

from __future__ import annotations

import os
import re

import boto3
import numpy as np
import pytest

from pairalign.data.audio import AudioError, audio_duration, load_audio, load_row_audio
from pairalign.data.corpora import (
    read_audio_shards,
    read_user_manifest,
    scan_librispeech,
    write_audio_shards,
)
from pairalign.data.manifest import manifest_table, read_manifest, write_manifest
from pairalign.data.storage import url_to_fs


@pytest.fixture(scope="module")
def s3_audio(s3_server, tmp_path_factory, write_tone):
    """Two audio files uploaded under <bucket>/corpus/clips/ through pairalign's filesystem."""
    local = tmp_path_factory.mktemp("s3_audio")
    fs, _ = url_to_fs(s3_server)
    files = {}
    for name, fmt, rate in [("a.flac", "FLAC", 44_100), ("b.WAV", "NIST", 16_000)]:
        write_tone(local / name, seconds=0.5, sample_rate=rate, format=fmt)
        url = f"{s3_server}/corpus/clips/{name}"
        fs.put_file(str(local / name), url_to_fs(url)[1])
        files[name] = (url, local / name)
    return files


def test_s3fs_uses_the_local_endpoint(s3_server, s3_audio):
    """What pairalign writes through fsspec is what the S3 API at AWS_ENDPOINT_URL holds."""
    fs, _ = url_to_fs(s3_server)
    assert fs.client_kwargs["endpoint_url"] == os.environ["AWS_ENDPOINT_URL"]
    assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    bucket = s3_server.removeprefix("s3://")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="corpus/")["Contents"]]
    assert set(keys) >= {"corpus/clips/a.flac", "corpus/clips/b.WAV"}
    body = client.get_object(Bucket=bucket, Key="corpus/clips/a.flac")["Body"].read()
    assert body == s3_audio["a.flac"][1].read_bytes()


def test_load_audio_from_s3(s3_audio):
    for url, local in s3_audio.values():
        np.testing.assert_array_equal(load_audio(url), load_audio(local))
        assert audio_duration(url) == pytest.approx(0.5)
    missing = s3_audio["a.flac"][0].replace("a.flac", "nope.flac")
    with pytest.raises(AudioError, match=f"^{re.escape(missing)}: file not found"):
        load_audio(missing)


def test_manifest_on_s3(s3_server, s3_audio):
    url_a = s3_audio["a.flac"][0]
    table = manifest_table([{"utterance_id": "a", "path": url_a, "duration": 0.5}])
    write_manifest(table, f"{s3_server}/manifests/m.parquet")
    back = read_manifest(f"{s3_server}/manifests/m.parquet")
    assert back.equals(table)
    assert len(load_row_audio(back.to_pylist()[0])) == 8_000


def test_user_csv_on_s3_with_relative_paths(s3_server, s3_audio):
    fs, _ = url_to_fs(s3_server)
    csv_url = f"{s3_server}/corpus/list.csv"
    with fs.open(url_to_fs(csv_url)[1], "w") as f:
        f.write("utterance_id,path,speaker\na,clips/a.flac,s1\nb,./clips/b.WAV,s2\n")
    table = read_user_manifest(csv_url)
    assert table.column("path").to_pylist() == [s3_audio["a.flac"][0], s3_audio["b.WAV"][0]]
    assert table.column("duration").to_pylist() == pytest.approx([0.5, 0.5])
    assert table.column("split").to_pylist() == ["train", "train"]
    for row in table.to_pylist():
        assert len(load_row_audio(row)) == 8_000


def test_shards_on_s3_round_trip(s3_server, s3_audio):
    table = manifest_table(
        [{"utterance_id": name, "path": url} for name, (url, _) in s3_audio.items()]
    )
    out = f"{s3_server}/shards/v1"
    written = write_audio_shards(table, out, rows_per_shard=1)
    assert written == [f"{out}/shard-00000.parquet", f"{out}/shard-00001.parquet"]
    back = read_audio_shards(out)
    assert back.column("path").null_count == 2
    for row, (_, local) in zip(back.to_pylist(), s3_audio.values(), strict=True):
        assert row["audio"] == local.read_bytes()
        np.testing.assert_array_equal(load_row_audio(row), load_audio(local))


def test_scan_corpus_tree_on_s3(s3_server, s3_audio):
    """Directory listing works on S3 too: a one-chapter LibriSpeech subset."""
    fs, _ = url_to_fs(s3_server)
    chapter = f"{s3_server}/libri/dev-clean/84/121123"
    fs.put_file(str(s3_audio["a.flac"][1]), url_to_fs(f"{chapter}/84-121123-0000.flac")[1])
    with fs.open(url_to_fs(f"{chapter}/84-121123.trans.txt")[1], "w") as f:
        f.write("84-121123-0000 GO DO YOU HEAR\n")
    rows = scan_librispeech(f"{s3_server}/libri").to_pylist()
    assert [(r["utterance_id"], r["split"], r["text"]) for r in rows] == [
        ("84-121123-0000", "dev-clean", "GO DO YOU HEAR")
    ]
    assert rows[0]["path"] == f"{chapter}/84-121123-0000.flac"
    assert rows[0]["duration"] == pytest.approx(0.5)
