"""pairalign/config.py: `PathStr` fields are checked as strings and made absolute by
`resolve_paths`, through nested sections and tuples of sections; URLs and "" are kept."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

from pairalign.config import ConfigError, PathStr, from_dict, resolve_path, resolve_paths, to_dict
from pairalign.tokenizing.kinds import TokenizerSpec


@dataclass(frozen=True)
class Section:
    path: PathStr = "data/x"
    label: str = "data/y"  # a plain string that looks like a path: never touched


@dataclass(frozen=True)
class Top:
    out_dir: PathStr = "runs"
    maybe: PathStr | None = None
    section: Section = field(default_factory=Section)
    sections: tuple[Section, ...] = ()
    paths: tuple[PathStr, ...] = ()
    specs: tuple[TokenizerSpec, ...] = ()
    names: tuple[str, ...] = ()
    count: int = 0


def test_from_dict_takes_path_fields_as_strings():
    config = from_dict(
        Top, {"out_dir": "a", "maybe": "b", "paths": ["c", "d"], "sections": [{"path": "e"}]}
    )
    assert (config.out_dir, config.maybe, config.paths) == ("a", "b", ("c", "d"))
    assert config.sections == (Section(path="e"),)
    with pytest.raises(ConfigError, match=r"out_dir: expected str, got int 3"):
        from_dict(Top, {"out_dir": 3})
    with pytest.raises(ConfigError, match=r"sections\[0\]\.path: expected str"):
        from_dict(Top, {"sections": [{"path": ["x"]}]})


def test_relative_paths_become_absolute_against_the_base(tmp_path):
    base = str(tmp_path)
    config = resolve_paths(
        from_dict(
            Top,
            {
                "out_dir": "runs/../runs/./x",
                "maybe": "m",
                "section": {"path": "../up"},
                "sections": [{"path": "s0"}, {"path": str(tmp_path / "abs" / ".." / "s1")}],
                "paths": ["p", "q/r"],
                "specs": [{"name": "vq", "kind": "vq", "checkpoint": "ck/pt"}],
                "names": ["plain/name"],
                "count": 3,
            },
        ),
        base,
    )
    assert config.out_dir == os.path.join(base, "runs", "x")  # `..` and `.` normalised
    assert config.maybe == os.path.join(base, "m")
    assert config.section == Section(path=os.path.join(os.path.dirname(base), "up"))
    assert config.sections == (
        Section(path=os.path.join(base, "s0")),
        Section(path=os.path.join(base, "s1")),
    )
    assert config.paths == (os.path.join(base, "p"), os.path.join(base, "q", "r"))
    assert config.specs == (TokenizerSpec("vq", "vq", os.path.join(base, "ck", "pt")),)
    assert (config.names, config.count, config.section.label) == (("plain/name",), 3, "data/y")


def test_urls_empty_strings_and_none_are_kept(tmp_path):
    urls = (
        "s3://bucket/runs",
        "gs://b/x",
        "http://mlflow:5000",
        "https://h/p",
        "file://rel/x",
        "hf://org/model",
    )
    config = Top(out_dir="", paths=urls, section=Section(path="s3://b/../c"))
    config = resolve_paths(config, tmp_path)
    assert config.out_dir == "" and config.maybe is None
    assert config.paths == urls and config.section.path == "s3://b/../c"


def test_a_relative_base_and_home_are_expanded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_path("x", "base") == str(tmp_path / "base" / "x")
    assert resolve_path("~/runs", "/elsewhere") == str(tmp_path / "home" / "runs")


def test_resolved_config_is_a_new_equal_typed_copy(tmp_path):
    config = Top(out_dir=str(tmp_path), section=Section(path=str(tmp_path / "s")))
    again = resolve_paths(config, "/unused")
    assert again == config and to_dict(again) == to_dict(config)  # absolute paths unchanged
    assert resolve_paths(resolve_paths(Top(), tmp_path), "/other") == resolve_paths(Top(), tmp_path)
    with pytest.raises(TypeError):
        resolve_paths(Top, tmp_path)
