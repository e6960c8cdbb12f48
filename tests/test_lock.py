"""requirements.lock pins what pyproject.toml asks for: a changed dependency without a refreshed
lock (`make lock`) fails here, before a user installs an environment nobody tested."""

import re
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def locked() -> dict[str, list[tuple[str, str]]]:
    """package -> [(version, marker)] as pinned in the lock file."""
    pins: dict[str, list[tuple[str, str]]] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        found = re.match(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", line)
        if found:
            name, version, marker = found.groups()
            pins.setdefault(canonical(name), []).append((version, marker or ""))
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_dependency_is_locked_at_a_version_pyproject_allows():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = locked()
    env = default_environment() | {"python_full_version": "3.11.7", "sys_platform": "linux"}
    for text in project["dependencies"] + project["optional-dependencies"]["dev"]:
        requirement = Requirement(text)
        versions = [
            v
            for v, m in pins.get(canonical(requirement.name), [])
            if not m or Requirement(f"x; {m}").marker.evaluate(env)
        ]
        assert versions, f"{requirement.name} is not in requirements.lock: run `make lock`"
        assert all(requirement.specifier.contains(v, prereleases=True) for v in versions), (
            f"requirements.lock pins {requirement.name}=={versions} "
            f"outside {requirement.specifier}:"
            " run `make lock`"
        )


def test_torch_and_torchaudio_are_one_build():
    pins = locked()
    assert [v for v, _ in pins["torch"]] == [v for v, _ in pins["torchaudio"]]


def test_every_pin_carries_hashes():
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pinned = [i for i, line in enumerate(lines) if re.match(r"^[A-Za-z0-9._-]+==", line)]
    assert len(pinned) > 100  # every transitive dependency, not just the direct ones
    for i in pinned:
        assert lines[i + 1].strip().startswith("--hash=sha256:"), lines[i]
