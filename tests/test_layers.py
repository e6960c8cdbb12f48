"""The library's layers hold: the networks, the objectives, the time maps and the training loop run
without a cluster (no module of them imports `ray` or `mlflow`, not even inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pairalign"
CLUSTER_FREE = ("models", "objectives", "timing", "training")
FORBIDDEN = {"ray", "mlflow"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", CLUSTER_FREE)
def test_no_cluster_imports(package):
    files = sorted((PACKAGE / package).rglob("*.py"))
    assert files
    offenders = {str(f.relative_to(PACKAGE)): sorted(imported_roots(f) & FORBIDDEN) for f in files}
    assert {f: r for f, r in offenders.items() if r} == {}


@pytest.mark.parametrize("package", ("data", "evaluation", "stages"))
def test_no_ray_below_jobs(package):
    """The stages, and what they read (corpora, manifests, figures), import no Ray (a stage-2 run
    may still download its init checkpoint from MLflow)."""
    files = sorted((PACKAGE / package).rglob("*.py"))
    assert files
    assert {str(f.relative_to(PACKAGE)) for f in files if "ray" in imported_roots(f)} == set()


def test_the_scan_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    import ray.train\n    from mlflow import log_metric\n")
    assert imported_roots(module) == {"ray", "mlflow"}
