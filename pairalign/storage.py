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
    """fsspec options for `url`; for S3 an explicit AWS_ENDPOINT_URL (e.g. a local server) is honoured."""
    if url.startswith("s3://"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return {"client_kwargs": {"endpoint_url": endpoint}} if endpoint else {}
    return {}


def url_to_fs(url: str) -> tuple[AbstractFileSystem, str]:
    """The filesystem holding `url` and the path inside it."""
    return fsspec.core.url_to_fs(str(url), **storage_options(str(url)))


def is_remote(url: str) -> bool:
    return "://" in str(url) and not str(url).startswith("file://")


def join(base: str, *parts: str) -> str:
    """Join path parts with '/' for URLs and os.path for local paths."""
    if is_remote(base):
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return os.path.join(base, *parts)
