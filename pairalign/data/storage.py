"""Paths and URLs through fsspec: local files and `s3://` (s3fs) look the same to callers.

S3 credentials and endpoints come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_ENDPOINT_URL, instance roles), never from configs.
"""

from __future__ import annotations

import os
from typing import Any

import fsspec
from fsspec import AbstractFileSystem


def storage_options(url: str) -> dict[str, Any]:
    """fsspec options for `url`; for S3 an explicit AWS_ENDPOINT_URL (e.g. a local server) is
    honoured."""
    if url.startswith("s3://"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return {"client_kwargs": {"endpoint_url": endpoint}} if endpoint else {}
    return {}


def url_to_fs(url: str) -> tuple[AbstractFileSystem, str]:
    """The filesystem holding `url` and the path inside it."""
    return fsspec.core.url_to_fs(str(url), **storage_options(str(url)))


def arrow_filesystem(url: str) -> tuple[Any, str]:
    """A pyarrow filesystem and the path inside it, for Ray Train's
    `RunConfig(storage_filesystem=, storage_path=)`: for a URL, a pyarrow view of the fsspec
    filesystem `url_to_fs` gives (so the same
    AWS_ENDPOINT_URL and environment credentials apply, and none are pickled into the config); for
    a local path, (None, its absolute path)."""
    if not is_remote(url):
        return None, os.path.abspath(url)
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    fs, path = url_to_fs(url)
    return PyFileSystem(FSSpecHandler(fs)), path


def to_url(like: str, path: str) -> str:
    """`path` inside the filesystem of `like` as a URL ("bucket/runs/x" -> "s3://bucket/runs/x");
    a local `like` leaves `path` as it is."""
    if not is_remote(like):
        return path
    fs, _ = url_to_fs(like)
    return fs.unstrip_protocol(path)


def upload_dir(local_dir: str, url: str) -> str:
    """Copy the files under the local directory `local_dir` to `url` (path or URL); return `url`."""
    fs, root = url_to_fs(url)
    for directory, _, files in os.walk(local_dir):
        for name in files:
            relative = os.path.relpath(os.path.join(directory, name), local_dir)
            target = f"{root.rstrip('/')}/{relative.replace(os.sep, '/')}"
            fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            fs.put_file(os.path.join(directory, name), target)
    return url


def is_remote(url: str) -> bool:
    return "://" in str(url) and not str(url).startswith("file://")


def join(base: str, *parts: str) -> str:
    """Join path parts with '/' for URLs and os.path for local paths."""
    if is_remote(base):
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return os.path.join(base, *parts)
