"""cluster/: every YAML parses and holds no secret; its images run the pinned Ray on Python 3.11;
aws.yaml passes Ray's own cluster schema; the jobs' pip list is pyproject.toml's; every
`python workflows/...` command in cluster/ names a workflow that exists, parses into that
workflow's config, and fits a node type of both clusters; every placeholder is documented."""

from __future__ import annotations

import ast
import fnmatch
import importlib
import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import ray
import ray.autoscaler
import yaml
from packaging.requirements import Requirement
from ray.runtime_env import RuntimeEnv

from workflows.cli import CONFIG_DIR, load_config

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "cluster"
FILES = ("aws.yaml", "kuberay/raycluster.yaml", "kuberay/rayjob.yaml", "runtime_env.yaml")
SECRETS = {"AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "RAY_AUTH_TOKEN"}
IMAGE = re.compile(r"rayproject/ray:(\d+\.\d+\.\d+)-py311-(cpu|gpu)")


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((CLUSTER / name).read_text())


def walk(node: Any, path: tuple = ()):
    """(key path, value) of every scalar in a parsed YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, (*path, str(i)))
    else:
        yield path, node


def job_runtime_env() -> dict[str, Any]:
    return yaml.safe_load(load("kuberay/rayjob.yaml")["spec"]["runtimeEnvYAML"])


def node_shapes() -> dict[str, list[tuple[dict[str, float], int]]]:
    """Per cluster: (resources of one worker node, most nodes) of each worker type."""
    aws = load("aws.yaml")
    kube = load("kuberay/raycluster.yaml")["spec"]
    return {
        "aws": [
            (t["resources"], t["max_workers"])
            for name, t in aws["available_node_types"].items()
            if name != aws["head_node_type"]
        ],
        "kuberay": [
            (
                {
                    "CPU": float(g["rayStartParams"]["num-cpus"]),
                    "GPU": float(g["rayStartParams"].get("num-gpus", 0)),
                },
                g["maxReplicas"],
            )
            for g in kube["workerGroupSpecs"]
        ],
    }


def commands() -> list[tuple[str, list[str]]]:
    """Every `python workflows/...` command in cluster/: the RayJob's and the README's."""
    found = [
        ("kuberay/rayjob.yaml", shlex.split(load("kuberay/rayjob.yaml")["spec"]["entrypoint"]))
    ]
    readme = (CLUSTER / "README.md").read_text().replace("\\\n", " ")
    for block in re.findall(r"```bash\n(.*?)```", readme, re.S):
        for line in block.splitlines():
            if "python workflows/" in line:
                command = line.split(" -- ", 1)[-1].split("#")[0]
                found.append(("README.md", shlex.split(command)))
    return found


def workflow_config(script: str) -> tuple[type, Path]:
    """The config class and default YAML that `workflows/<name>.py` hands to `parse_args`."""
    tree = ast.parse((REPO / script).read_text())
    (call,) = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "parse_args"
    ]
    module = importlib.import_module(f"workflows.{Path(script).stem}")
    return getattr(module, call.args[0].id), CONFIG_DIR / call.args[1].value


def test_every_yaml_parses_and_holds_no_secret():
    assert sorted(str(p.relative_to(CLUSTER)) for p in CLUSTER.rglob("*.yaml")) == sorted(FILES)
    documents = {name: load(name) for name in FILES} | {"runtimeEnvYAML": job_runtime_env()}
    for name, document in documents.items():
        assert isinstance(document, dict), name
        for path, _ in walk(document):
            assert path[-1] not in SECRETS, f"{name}: {'.'.join(path)} holds a value"
            if path[-1] == "value" and len(path) > 1:  # a Kubernetes env entry: {name, value}
                entry = document
                for key in path[:-1]:
                    entry = entry[int(key) if isinstance(entry, list) else key]
                assert entry.get("name") not in SECRETS, f"{name}: {'.'.join(path)}"
    mount = load("aws.yaml")["file_mounts"]["~/.ray/auth_token"]
    assert mount == "~/.ray/auth_token"  # the token's file on the launching machine, not a token


def test_images_run_the_pinned_ray_on_python_311():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    (ray_spec,) = [
        Requirement(d) for d in pyproject["project"]["dependencies"] if d.startswith("ray")
    ]
    images = {
        (name, ".".join(path)): value
        for name in FILES
        for path, value in walk(load(name))
        if path[-1] in ("image", "head_image", "worker_image")
    }
    assert len(images) == 5
    for where, image in images.items():
        match = IMAGE.fullmatch(image)
        assert match, f"{where}: {image}"
        assert match[1] in ray_spec.specifier and match[1] == ray.__version__, where
    # GPU images exactly where the nodes have GPUs.
    aws = load("aws.yaml")
    for name, node_type in aws["available_node_types"].items():
        image = node_type.get("docker", {}).get("worker_image", aws["docker"]["image"])
        assert image.endswith("-gpu") == bool(node_type["resources"].get("GPU")), name
    kube = load("kuberay/raycluster.yaml")["spec"]
    for group in kube["workerGroupSpecs"]:
        (container,) = group["template"]["spec"]["containers"]
        gpus = container["resources"]["limits"].get("nvidia.com/gpu", "0")
        assert gpus == group["rayStartParams"].get("num-gpus", "0"), group["groupName"]
        assert container["image"].endswith("-gpu") == (gpus != "0"), group["groupName"]
    assert kube["rayVersion"] == ray.__version__


def test_aws_yaml_passes_rays_cluster_schema_and_runs_nothing_on_the_head():
    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    config = load("aws.yaml")
    jsonschema.validate(config, schema)
    types = config["available_node_types"]
    assert types[config["head_node_type"]]["resources"] == {"CPU": 0}
    workers = [t for name, t in types.items() if name != config["head_node_type"]]
    assert all(0 <= t["min_workers"] <= t["max_workers"] for t in workers)
    assert sum(t["max_workers"] for t in workers) <= config["max_workers"]
    kube = load("kuberay/raycluster.yaml")["spec"]
    assert kube["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    assert all(
        0 <= g["minReplicas"] <= g["replicas"] <= g["maxReplicas"] for g in kube["workerGroupSpecs"]
    )


def test_jobs_install_pyprojects_dependencies_and_upload_every_tracked_source_file():
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    expected = [d for d in dependencies if Requirement(d).name != "ray"]
    local, job = load("runtime_env.yaml"), job_runtime_env()
    assert local["pip"]["packages"] == expected and job["pip"] == local["pip"]
    assert job["env_vars"] == local["env_vars"]
    assert re.fullmatch(r"s3://[^/]+/.+\.zip", job["working_dir"])
    for env in (local, job):
        RuntimeEnv(**env)  # Ray's own validation of every field
    tracked = subprocess.run(
        ["git", "ls-files", "pairalign", "workflows"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(tracked) > 20
    for path in tracked:
        parts = Path(path).parts
        for pattern in local["excludes"]:  # .gitignore style: a leading "/" anchors to the top
            where = parts[:1] if pattern.startswith("/") else parts
            assert not any(fnmatch.fnmatch(part, pattern.lstrip("/")) for part in where), path


@pytest.mark.parametrize(
    ("where", "argv"), commands(), ids=lambda x: x if isinstance(x, str) else x[1]
)
def test_command_parses_into_its_workflows_config_and_fits_a_node_type(where, argv):
    assert argv[:2] == ["python", argv[1]] and argv[1].startswith("workflows/"), argv
    assert (REPO / argv[1]).is_file(), f"{where}: {argv[1]} does not exist"
    cls, path = workflow_config(argv[1])
    overrides = argv[2:]
    if overrides[:1] == ["--config"]:
        path, overrides = REPO / overrides[1], overrides[2:]
    config = load_config(cls, path, overrides)  # unknown keys, wrong types: ConfigError
    stage = getattr(config, "refine", config)  # a sweep's trials are refine stages
    for cluster, shapes in node_shapes().items():
        if hasattr(stage, "train"):  # a Ray Train stage: num_workers workers of this shape
            worker = {"CPU": stage.train.cpus_per_worker, "GPU": float(stage.train.use_gpu)}
            room = sum(
                max_nodes * min(node.get(k, 0) // v for k, v in worker.items() if v)
                for node, max_nodes in shapes
            )
            assert room >= stage.train.num_workers, f"{where} on {cluster}: {worker}"
        if hasattr(stage, "pipeline"):
            assert any(node["CPU"] >= stage.pipeline.num_cpus_per_task for node, _ in shapes)
        if hasattr(config, "cpus_per_actor"):  # batch tokenization's actors
            gpu = {"cuda": 1.0, "cpu": 0.0}.get(config.device, 0.0)
            assert any(
                node["CPU"] >= config.cpus_per_actor and node.get("GPU", 0) >= gpu
                for node, _ in shapes
            ), f"{where} on {cluster}"


def test_every_placeholder_is_listed_in_the_readme():
    """Each CHANGE-ME value is named in the README's "What to edit": by its key (or the key above
    it), or by the `key=` / `key:` it follows inside an entrypoint or a runtime env string."""
    readme = (CLUSTER / "README.md").read_text()
    section = readme.split("## What to edit", 1)[1].split("\n## ", 1)[0]
    found = 0
    for name in FILES:
        for path, value in walk(load(name)):
            if "CHANGE-ME" not in str(value):
                continue
            keys = [k for k in path if not k.isdigit()]
            inner = (
                re.findall(r"([\w.]+)(?:=|:\s)\S*CHANGE-ME", str(value))
                if " " in str(value)
                else []
            )
            for options in [[k] for k in inner] or [keys[-2:]]:
                found += 1
                assert f"`{name}`" in section and any(f"`{k}`" in section for k in options), (
                    name,
                    options,
                )
    assert found >= 8
