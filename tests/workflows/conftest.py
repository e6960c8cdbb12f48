"""A real local Ray cluster, one per test module (Ray takes seconds to start on two cores)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def ray_session(s3_server: str) -> Iterator[None]:
    """Started after the S3 server so that workers inherit its endpoint and credentials."""
    import ray

    ray.init(
        num_cpus=2,
        object_store_memory=300 * 1024 * 1024,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        yield
    finally:
        ray.shutdown()
