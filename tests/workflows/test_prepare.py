import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pairalign.data.corpora.prepare import PrepareConfig
from pairalign.data.manifest import ManifestError, read_manifest
from workflows.cli import CONFIG_DIR, load_config
from workflows.prepare import main

TINY = ["corpus.train_sentences=2", "corpus.test_sentences=1"]


def test_shipped_config_matches_the_dataclass_defaults():
    assert load_config(PrepareConfig, CONFIG_DIR / "prepare.yaml") == PrepareConfig()


def test_main_without_ray_writes_corpus_and_reports(tmp_path, capsys):
    table = main([f"out_dir={tmp_path}", "use_ray=false", *TINY])
    assert table.num_rows == 3 * 8
    assert read_manifest(str(tmp_path / "manifest.parquet")).equals(table)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["train/utterances"] == 16 and summary["test/utterances"] == 8
    assert summary["train/voices"] == 16 and summary["test/voices"] == 8
    assert summary["train/seconds"] == pytest.approx(
        sum(
            d
            for d, s in zip(table["duration"].to_pylist(), table["split"].to_pylist(), strict=True)
            if s == "train"
        ),
        abs=0.1,
    )


def test_bad_override_is_rejected_with_its_name(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([f"out_dir={tmp_path}", "corpus.voices=3"])
    assert "corpus.voices" in capsys.readouterr().err


@pytest.mark.slow
def test_ray_render_is_byte_identical_to_the_thread_pool(tmp_path):
    ray = pytest.importorskip("ray")
    threads = main([f"out_dir={tmp_path / 'threads'}", "use_ray=false", *TINY])
    try:
        ray_table = main(
            [f"out_dir={tmp_path / 'ray'}", "use_ray=true", "num_cpus=2", "chunk_size=5", *TINY]
        )
    finally:
        ray.shutdown()
    for a, b in zip(threads["path"].to_pylist(), ray_table["path"].to_pylist(), strict=True):
        assert Path(a).read_bytes() == Path(b).read_bytes()


def test_preparation_says_how_far_it_is(tmp_path, caplog):
    caplog.set_level("INFO", logger="pairalign")
    main([f"out_dir={tmp_path}", "use_ray=false", *TINY])
    lines = [r.getMessage() for r in caplog.records if "built-in corpus" in r.getMessage()]
    assert any(
        line.startswith("built-in corpus: 24/24 utterances  utterances/s ") for line in lines
    )
    caplog.clear()
    main(
        [f"out_dir={tmp_path}", "use_ray=false", *TINY]
    )  # all on disk: said once, nothing rendered
    lines = [r.getMessage() for r in caplog.records]
    assert "built-in corpus: 24 of 24 utterances already on disk" in lines


def test_a_folder_of_recordings_becomes_a_manifest_split_by_sentence(tmp_path, write_tone):
    """kind=auto on a folder: manifest.parquet of the readable files, split by content_id (no
    sentence in two parts), and the unreadable file in rejects.parquet with its reason."""
    corpus = tmp_path / "recordings"
    for speaker in ("alice", "bob", "carol"):
        (corpus / speaker).mkdir(parents=True)
        for sentence in range(8):
            write_tone(corpus / speaker / f"{sentence:02d}.wav", seconds=0.2)
    (corpus / "bob" / "99.wav").write_text("a text file with an audio name")
    out = tmp_path / "prepared"
    args = ["kind=auto", f"source={corpus}", f"out_dir={out}", "splits=train:2,dev:1,test:1"]
    table = main(args)
    assert table.num_rows == 24 and read_manifest(str(out / "manifest.parquet")).equals(table)
    parts: dict[str, set[str]] = {}
    for row in table.to_pylist():
        parts.setdefault(row["split"], set()).add(row["content_id"])
    assert {k: len(v) for k, v in parts.items()} == {"train": 4, "dev": 2, "test": 2}
    assert len(set.union(*parts.values())) == 8  # disjoint
    rejects = pq.read_table(out / "rejects.parquet").to_pylist()
    assert [r["utterance_id"] for r in rejects] == ["bob/99"] and rejects[0]["reason"]
    assert main(args).equals(table)  # the same split again


def test_user_corpus_errors_name_the_key(tmp_path):
    with pytest.raises(ManifestError, match="set source="):
        main(["kind=auto", f"out_dir={tmp_path}"])
    with pytest.raises(ValueError, match="positive share"):
        main(["kind=auto", f"source={tmp_path}", f"out_dir={tmp_path}", "splits=train"])


def test_the_readme_commands_for_your_own_recordings_parse():
    """Each `python workflows/...` line of README's "Your own recordings" builds its config."""
    from pairalign.jobs.tokenize_job import TokenizeConfig

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Your own recordings", 1)[1].split("\n## ", 1)[0]
    commands = [line.split()[1:] for line in section.splitlines() if line.startswith("python ")]
    configs = {
        "workflows/prepare.py": (PrepareConfig, "prepare.yaml"),
        "workflows/tokenize_archive.py": (TokenizeConfig, "tokenize_archive.yaml"),
    }
    assert [c[0] for c in commands] == [
        "workflows/tokenize_archive.py",
        "workflows/prepare.py",
        "workflows/tokenize_archive.py",
    ]
    for script, *overrides in commands:
        cls, yaml_name = configs[script]
        config = load_config(cls, CONFIG_DIR / yaml_name, overrides)
        assert config.corpus.manifest if cls is TokenizeConfig else config.source
