"""A real local Ray cluster, one per test module (Ray takes seconds to start on two cores)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def ray_session(s3_server: str) -> Iterator[None]:
    """Started after the S3 server so that workers inherit its endpoint and credentials."""
    import ray

    for attempt in (1, 2):  # a loaded 2-core machine can miss Ray's 30 s raylet start-up window
        try:
            ray.init(
                num_cpus=2,
                object_store_memory=300 * 1024 * 1024,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
            break
        except Exception as err:
            ray.shutdown()
            if attempt == 2 or "timed out during startup" not in str(err):
                raise
    try:
        yield
    finally:
        ray.shutdown()
