"""`python -m pairalign tokenize | search | export` on real files and tiny checkpoints."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from pairalign.cli import main
from pairalign.cli.default import DEFAULT_TOKENIZER
from pairalign.tokenizing.archive import read_archive, read_archive_rejects
from pairalign.tokenizing.kinds import TokenizerSpec, load_tokenizer
from pairalign.tokenizing.windows import tokenize_clips

SR = 16_000
SPAN = re.compile(r"^(-?\d+)@(\d+\.\d\d)-(\d+\.\d\d)$")


@pytest.fixture
def recordings(tmp_path):
    """A folder of 4 noise clips (one 7 s long, one in a sub-folder, one FLAC), a broken WAV, an
    empty FLAC and a text file."""
    folder = tmp_path / "recordings"
    (folder / "day2").mkdir(parents=True)
    rng = np.random.default_rng(0)
    clips = {"a.wav": 1.5, "b.wav": 2.0, "day2/c.flac": 2.5, "long.wav": 7.0}
    for name, seconds in clips.items():
        sf.write(folder / name, 0.1 * rng.standard_normal(round(seconds * SR)), SR)
    (folder / "broken.wav").write_bytes(b"RIFF not really audio")
    (folder / "empty.flac").write_bytes(b"")
    (folder / "notes.txt").write_text("not audio, not read")
    ids = {name.rsplit(".", 1)[0]: name for name in clips}  # a file's id: its path, no extension
    return {"folder": folder, "clips": clips, "ids": ids}


def test_a_folder_with_bad_files_is_tokenized_with_spans_and_the_bad_ones_named(
    recordings, small_checkpoints, capsys
):
    folder = recordings["folder"]
    status = main(["tokenize", str(folder), "--tokenizer", small_checkpoints["refine"]])
    out, err = capsys.readouterr()
    assert status == 0
    lines = {line.split("  ")[0]: line for line in out.splitlines()}
    assert set(lines) == {"a", "b", "day2/c", "long"}  # the good files, by path in the folder
    assert (
        f"skipped {folder / 'broken.wav'}: " in err and f"skipped {folder / 'empty.flac'}: " in err
    )
    assert "empty file" in err and "notes.txt" not in err
    assert "tokenized 4 files" in err and "2 skipped" in err
    tok = load_tokenizer(TokenizerSpec("pairalign", "pairalign", small_checkpoints["refine"]))
    for uid, name in recordings["ids"].items():
        seconds = recordings["clips"][name]
        _, secs, count, *spans = lines[uid].split("  ")
        assert secs == f"{seconds:.2f} s"
        parsed = [
            SPAN.match(s).groups() for s in (spans[0].split(" ") if spans and spans[0] else [])
        ]
        assert count == f"{len(parsed)} tokens"
        wave, _ = sf.read(folder / name, dtype="float32")
        assert [int(t) for t, _, _ in parsed] == tokenize_clips(tok, [wave], SR)[
            0
        ]  # archive strings
        bounds = [(float(s), float(e)) for _, s, e in parsed]
        assert all(0 <= s <= e <= seconds + 0.005 for s, e in bounds)
        assert all(a[1] == pytest.approx(b[0], abs=0.011) for a, b in itertools.pairwise(bounds))


def test_an_archive_is_searched_with_a_query_clip(recordings, small_checkpoints, tmp_path, capsys):
    folder, archive = recordings["folder"], tmp_path / "archive"
    argv = ["tokenize", str(folder), "--tokenizer", small_checkpoints["vq"], "--out", str(archive)]
    assert main(argv) == 0
    rows = read_archive(str(archive))
    assert sorted(rows["utterance_id"].to_pylist()) == sorted(recordings["ids"])
    assert sorted(read_archive_rejects(str(archive))["utterance_id"].to_pylist()) == [
        "broken",
        "empty",
    ]
    capsys.readouterr()
    assert main(["search", str(archive), str(folder / "day2" / "c.flac"), "-k", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"query {folder / 'day2' / 'c.flac'}: ") and "4 clips in" in out[0]
    ranked = [line.split() for line in out[2:]]
    assert len(ranked) == 3 and [r[0] for r in ranked] == ["1", "2", "3"]
    distances = [float(r[1]) for r in ranked]
    assert distances == sorted(distances) and distances[0] == 0.0
    assert "day2/c" in [r[4] for r in ranked if float(r[1]) == 0.0]  # the clip finds itself
    assert main(["search", str(archive), "a", "-k", "2"]) == 0  # an utterance id as the query
    assert capsys.readouterr().out.splitlines()[2].split()[1] == "0.000"


def test_jsonl_output_holds_strings_spans_and_errors_and_is_searchable(
    recordings, small_checkpoints, tmp_path, capsys
):
    out = tmp_path / "strings.jsonl"
    argv = [
        "tokenize",
        str(recordings["folder"]),
        "--tokenizer",
        small_checkpoints["refine"],
        "--kind",
        "vq",
        "--out",
        str(out),
        "--batch-size",
        "2",
    ]
    assert main(argv) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    good = {r["utterance_id"]: r for r in rows if "tokens" in r}
    assert set(good) == set(recordings["ids"]) and len(rows) == 6
    assert all(r["kind"] == "vq" and len(r["spans"]) == len(r["tokens"]) for r in good.values())
    assert {r["utterance_id"] for r in rows if "error" in r} == {"broken", "empty"}
    assert main(["search", str(out), str(recordings["folder"] / "a.wav"), "-k", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[2].split()[1:] == [
        "0.000",
        str(len(good["a"]["tokens"])),
        "1.50",
        "a",
    ]


def test_nothing_to_tokenize_and_a_missing_default_say_what_to_do(
    tmp_path, small_checkpoints, monkeypatch, capsys
):
    monkeypatch.setattr("pairalign.cli.inputs.DEFAULT_TOKENIZER", tmp_path / "absent.pt")
    sf.write(tmp_path / "one.wav", np.zeros(SR), SR)
    assert main(["tokenize", str(tmp_path / "one.wav")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no default tokenizer: ") and "python -m pairalign export" in err
    (tmp_path / "empty").mkdir()
    assert main(["tokenize", str(tmp_path / "empty"), "--tokenizer", small_checkpoints["vq"]]) == 2
    assert "a folder with no audio files" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.wav").write_bytes(b"nope")
    assert main(["tokenize", str(tmp_path / "bad"), "--tokenizer", small_checkpoints["vq"]]) == 1
    snapshot = tmp_path / "checkpoint_manager_snapshot.json"
    snapshot.write_text("{}")
    assert main(["tokenize", str(tmp_path / "one.wav"), "--tokenizer", str(snapshot)]) == 2
    assert "Ray Train's record of a run, not a checkpoint" in capsys.readouterr().err
    assert main(["search", str(tmp_path), str(tmp_path / "one.wav")]) == 2
    assert "not a tokenized archive" in capsys.readouterr().err


def test_export_then_tokenize_with_the_exported_file_from_the_command_line(
    recordings, small_checkpoints, tmp_path, capsys
):
    exported = tmp_path / "tok.pt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-m", "pairalign", "export", small_checkpoints["refine"], str(exported)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert (
        done.stdout.startswith(f"wrote {exported} (")
        and "format pairalign-tokenizer v3" in done.stdout
    )
    clip = recordings["folder"] / "a.wav"
    by_export = subprocess.run(
        [sys.executable, "-m", "pairalign", "tokenize", str(clip), "--tokenizer", str(exported)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert main(["tokenize", str(clip), "--tokenizer", small_checkpoints["refine"]]) == 0
    assert by_export.stdout.startswith("a  1.50 s  ")
    assert by_export.stdout == capsys.readouterr().out  # the same strings and spans


@pytest.mark.skipif(not DEFAULT_TOKENIZER.exists(), reason="no default tokenizer in this checkout")
def test_the_shipped_default_tokenizer_loads_and_tokenizes(recordings, capsys):
    assert DEFAULT_TOKENIZER.stat().st_size < 20e6  # a few MB in the repository
    assert main(["tokenize", str(recordings["folder"] / "long.wav")]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("long  7.00 s  ") and int(line.split("  ")[2].split()[0]) > 0


def test_a_manifest_names_its_clips_by_utterance_id(
    recordings, small_checkpoints, tmp_path, capsys
):
    folder = recordings["folder"]
    manifest = tmp_path / "clips.csv"
    manifest.write_text(
        "utterance_id,path,duration\n"
        + "".join(
            f"u{i},{folder / name},{seconds}\n"
            for i, (name, seconds) in enumerate(recordings["clips"].items())
        )
        + f"bad,{folder / 'broken.wav'},1.0\n"
    )
    assert main(["tokenize", str(manifest), "--tokenizer", small_checkpoints["vq"]]) == 0
    out, err = capsys.readouterr()
    assert sorted(line.split("  ")[0] for line in out.splitlines()) == ["u0", "u1", "u2", "u3"]
    assert f"skipped {folder / 'broken.wav'}: " in err and "tokenized 4 files" in err


def test_an_export_that_records_vq_gives_vq_strings_without_a_kind(
    recordings, small_checkpoints, tmp_path, capsys
):
    """`export --default-kind vq`: `tokenize` with no --kind prints exactly the strings of
    `--kind vq` and says why it chose them; an export without the field keeps the old rule."""
    folder, note = str(recordings["folder"]), "MAP 0.93 (vq) vs 0.58 (pairalign) on the test half"
    chosen, plain = str(tmp_path / "chosen.pt"), str(tmp_path / "plain.pt")
    assert (
        main(
            [
                "export",
                small_checkpoints["refine"],
                chosen,
                "--default-kind",
                "vq",
                "--kind-note",
                note,
            ]
        )
        == 0
    )
    assert main(["export", small_checkpoints["refine"], plain]) == 0
    printed = capsys.readouterr().out
    assert f"default kind vq ({note})" in printed and printed.count("default kind") == 1

    def tokenize(*argv: str) -> tuple[str, str]:
        assert main(["tokenize", folder, *argv]) == 0
        return capsys.readouterr()

    auto, auto_err = tokenize("--tokenizer", chosen)
    named, named_err = tokenize("--tokenizer", chosen, "--kind", "vq")
    decoded, _ = tokenize("--tokenizer", chosen, "--kind", "pairalign")
    assert auto == named != decoded  # VQ strings, as --kind vq gives them
    assert f"with vq (auto: the export's measured choice: {note}) " in auto_err.splitlines()[-1]
    assert "auto" not in named_err  # a named kind needs no reason
    old_rule, old_err = tokenize("--tokenizer", plain)
    assert old_rule == decoded  # no recorded choice: PairAlign, the tokenizer has a decoder
    assert "with pairalign (auto: the tokenizer has a decoder) " in old_err.splitlines()[-1]
    archive = tmp_path / "archive"
    assert main(["tokenize", folder, "--tokenizer", chosen, "--out", str(archive)]) == 0
    assert json.loads((archive / "tokenizer.json").read_text())["kind"] == "vq"  # as resolved


def test_search_takes_the_ids_tokenize_printed_and_names_the_nearest_when_one_is_not_there(
    recordings, small_checkpoints, tmp_path, capsys
):
    from pairalign.data.corpora import load_corpus

    folder, archive = str(recordings["folder"]), str(tmp_path / "archive")
    assert main(["tokenize", folder, "--tokenizer", small_checkpoints["vq"]]) == 0
    printed = [line.split("  ")[0] for line in capsys.readouterr().out.splitlines()]
    assert main(["tokenize", folder, "--tokenizer", small_checkpoints["vq"], "--out", archive]) == 0
    # one id scheme: the command line names a folder's files as the folder corpus does
    written = read_archive(archive)["utterance_id"].to_pylist()
    rejected = read_archive_rejects(archive)["utterance_id"].to_pylist()
    corpus = load_corpus("folder", folder)["utterance_id"].to_pylist()
    assert sorted(printed) == sorted(written) and sorted(written + rejected) == sorted(corpus)
    capsys.readouterr()
    for uid in printed:
        assert main(["search", archive, uid, "-k", "4"]) == 0
        ranked = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
        assert uid in [r[4] for r in ranked if float(r[1]) == 0.0]  # the clip finds itself
    for query, nearest in (("day2/c.flac", "day2/c"), ("c", "day2/c"), ("lung", "long")):
        assert main(["search", archive, query]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{query}: neither an audio file nor an utterance id" in err
        assert f"nearest ids: {nearest}" in err


def test_two_files_that_differ_only_by_extension_are_named(tmp_path, small_checkpoints, capsys):
    sf.write(tmp_path / "x.wav", np.zeros(SR), SR)
    sf.write(tmp_path / "x.flac", np.zeros(SR), SR)
    assert main(["tokenize", str(tmp_path), "--tokenizer", small_checkpoints["vq"]]) == 2
    err = capsys.readouterr().err
    assert "x.flac and x.wav would both be utterance 'x'" in err and err.count("\n") == 1
