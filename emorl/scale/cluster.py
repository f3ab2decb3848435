"""Joining a Ray cluster, or starting a local one, for the length of a job."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

RAY_INSTALL_HINT = "this needs Ray: pip install 'emorl[ray]'"


def require_ray() -> ModuleType:
    """The ``ray`` module, or an :class:`ImportError` that says how to install it."""
    try:
        import ray
    except ImportError as err:
        raise ImportError(RAY_INSTALL_HINT) from err
    return ray


def quiet_environment() -> None:
    """No usage statistics and no auth-token banner for the Ray processes this one starts."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[ModuleType]:
    """Ray for the length of a ``with`` block.

    Already connected (a caller or a test did ``ray.init``): used as is and left
    running. ``address`` (``"HOST:PORT"`` of a head node, or ``"auto"``): that cluster
    is joined, and left when the block ends. Else a local instance with ``num_cpus``
    (default: every core), no dashboard, no usage statistics, on loopback, shut down
    when the block ends.
    """
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    quiet_environment()
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(
            address="local",  # a new instance, even where a cluster runs on this machine
            num_cpus=num_cpus or os.cpu_count() or 1,
            include_dashboard=False,
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
        )
    try:
        yield ray
    finally:
        ray.shutdown()


def cluster_cpus() -> int:
    """CPUs of the connected cluster (all nodes)."""
    ray = require_ray()
    return int(ray.cluster_resources().get("CPU", 1))
