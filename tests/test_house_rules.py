"""House rules that a check keeps (ARCHITECTURE.md, "Where things go"): few flat modules, one
VQ-string rule, no dispatch on decoder classes, formatting left to the formatter, and a bench/
that composes the library without patching it or naming one machine's paths."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "pairalign"
BENCH = ROOT / "bench"
MAX_FLAT_MODULES = 4  # besides __init__.py and __main__.py
MAX_FMT_SKIPS = 50  # in pairalign/: only where a table reads better


def sources(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.py"))


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_library_keeps_few_flat_modules():
    flat = sorted(
        p.name for p in LIBRARY.glob("*.py") if p.name not in ("__init__.py", "__main__.py")
    )
    assert len(flat) <= MAX_FLAT_MODULES, f"flat modules in pairalign/: {flat}"


def test_formatting_is_the_formatters_job():
    skips = {relative(p): p.read_text().count("# fmt: skip") for p in sources(LIBRARY)}
    assert sum(skips.values()) < MAX_FMT_SKIPS, {k: v for k, v in skips.items() if v}
    lint = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "E501" not in lint.get("ignore", []), "line length is checked in the library"
    ignored = [glob for glob, rules in lint.get("per-file-ignores", {}).items() if "E501" in rules]
    assert not [glob for glob in ignored if glob.startswith(("pairalign", "*", "**"))], ignored


def test_the_vq_string_rule_is_called_in_one_package():
    call = re.compile(r"\b(merge_short_runs|reduce_runs|budget_runs)\(")
    outside = [
        f"{relative(p)}:{n}"
        for p in sources(LIBRARY, BENCH)
        if LIBRARY / "strings" not in p.parents
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if call.search(line) and not line.lstrip().startswith("def ")
    ]
    assert not outside, f"run operations called outside pairalign/strings/: {outside}"


def test_nothing_dispatches_on_a_decoder_class():
    check = re.compile(r"isinstance\([^)]*\b(TokenDecoder|SegmentDecoder)\b")
    registry = LIBRARY / "models" / "decoder_kinds.py"
    found = [
        f"{relative(p)}:{n}"
        for p in sources(LIBRARY, BENCH, ROOT / "workflows")
        if p != registry
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if check.search(line)
    ]
    assert not found, f"isinstance on a decoder class outside the registry: {found}"


def test_bench_neither_patches_the_library_nor_names_a_machine():
    patch = re.compile(r"\bmonkeypatch\b|\bsetattr\(\s*(pairalign|dense|tokenizing)\b|mock\.patch")
    machine = re.compile(r"(?<![\w.])/(work|root|home|tmp)/")
    files = [*sources(BENCH), *sorted(BENCH.rglob("*.yaml"))]
    patched = [relative(p) for p in files if patch.search(p.read_text())]
    named = [
        f"{relative(p)}:{n}"
        for p in files
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if machine.search(line)
    ]
    assert not patched, f"bench/ patches the library: {patched}"
    assert not named, f"one machine's paths in bench/: {named}"
