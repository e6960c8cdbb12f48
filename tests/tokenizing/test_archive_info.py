"""`tokenizer.json` carries a format version; tokenizer kinds are checked where a name is read."""

from __future__ import annotations

import json

import pytest

from pairalign.config import ConfigError, from_dict, to_dict
from pairalign.tokenizing.archive import INFO_VERSION, read_info, write_info
from pairalign.tokenizing.kinds import TokenizerSpec
from pairalign.tokenizing.tokenizer_kind import TokenizerKind


def test_the_info_file_is_written_with_its_version_and_read_back_without_it(tmp_path):
    info = {"name": "vq", "kind": "vq", "checkpoint_id": "c@step1"}
    write_info(str(tmp_path), info)
    assert json.loads((tmp_path / "tokenizer.json").read_text())["format_version"] == INFO_VERSION
    assert read_info(str(tmp_path)) == info
    write_info(str(tmp_path), info)  # the same writer again: accepted
    with pytest.raises(ValueError, match="not"):
        write_info(str(tmp_path), {**info, "checkpoint_id": "other"})


def test_a_file_without_a_version_is_version_1_and_a_later_one_is_refused(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    (old / "tokenizer.json").write_text(json.dumps({"name": "vq"}))
    assert read_info(str(old)) == {"name": "vq"}
    write_info(str(old), {"name": "vq"})  # resuming an archive written before versions
    (new / "tokenizer.json").write_text(json.dumps({"format_version": 99, "name": "vq"}))
    with pytest.raises(ValueError, match=r"new/tokenizer.json: format_version 99"):
        read_info(str(new))


def test_a_tokenizer_kind_is_checked_once_and_named_in_the_error():
    spec = from_dict(TokenizerSpec, {"name": "a", "kind": "vq", "checkpoint": "x"})
    assert spec.kind is TokenizerKind.VQ and to_dict(spec)["kind"] == "vq"
    assert TokenizerSpec("b", "pairalign", "x").kind is TokenizerKind.PAIRALIGN
    with pytest.raises(
        ConfigError, match=r"kind: 'vqq' is not one of \['pairalign', 'vq', 'dense'\]"
    ):
        from_dict(TokenizerSpec, {"name": "a", "kind": "vqq", "checkpoint": "x"})
    with pytest.raises(ValueError, match=r"tokenizer 'c': kind: 'bpe' is not one of"):
        TokenizerSpec("c", "bpe", "x")
    with pytest.raises(ValueError, match="strings= applies to kind vq only"):
        from_dict(TokenizerSpec, {"name": "d", "kind": "dense", "checkpoint": "x", "strings": {}})
