"""Map rows through a pool of Ray Data actors that each load their model once.

An actor class takes its model's description in ``__init__`` (paths and settings, never
a loaded model: each actor loads its own) and maps one batch, a list of row dicts, to
one output dict per row in :meth:`BatchActor.rows`. :func:`map_rows` feeds a list of rows
through ``ray.data.from_items(...).map_batches(cls, compute=ActorPoolStrategy(size=workers))``
and returns each input row updated with its outputs, in input order, with the node that
produced it (``_node``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from emorl.scale.cluster import require_ray

INDEX, NODE = "_index", "_node"


class BatchActor:
    """Base of the actors :func:`map_rows` runs: subclasses implement :meth:`rows`."""

    threads = 1  # torch threads per actor: one actor per core

    def __init__(self) -> None:
        import torch

        torch.set_num_threads(self.threads)

    def rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One output dict per input row, same order (override)."""
        raise NotImplementedError

    def __call__(self, batch: Mapping[str, np.ndarray]) -> dict[str, list[Any]]:
        import ray

        n = len(batch[INDEX])
        rows = [{k: _plain(v[i]) for k, v in batch.items()} for i in range(n)]
        out = self.rows(rows)
        if len(out) != n:
            raise RuntimeError(f"{type(self).__name__} returned {len(out)} rows for {n}")
        node = ray.get_runtime_context().get_node_id()
        for row, result in zip(rows, out, strict=True):
            result[INDEX], result[NODE] = row[INDEX], node
        return {key: [r[key] for r in out] for key in out[0]} if out else {}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def map_rows(
    rows: Sequence[Mapping[str, Any]],
    actor: type[BatchActor],
    *,
    constructor_kwargs: Mapping[str, Any] | None = None,
    workers: int = 1,
    batch_size: int = 8,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """``actor``'s outputs for ``rows`` (plain str/int/float/bool/bytes values), in order.

    ``workers`` actors (one CPU each) serve batches of ``batch_size`` rows. Ray must be
    connected (see :func:`emorl.scale.cluster.ray_session`).
    """
    require_ray()
    import ray.data

    if workers < 1 or batch_size < 1:
        raise ValueError("workers and batch_size must be positive")
    if not rows:
        return []
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress
    context.print_on_execution_start = False
    # every actor loads its model before the first batch is dealt, and holds one batch
    # at a time, so the batches spread over the whole pool (not the first actor up)
    context.wait_for_min_actors_s = max(context.wait_for_min_actors_s, 600)
    items = [{INDEX: i, **row} for i, row in enumerate(rows)]
    blocks = min(len(items), max(workers, math.ceil(len(items) / batch_size)))
    dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
        actor,
        fn_constructor_kwargs=dict(constructor_kwargs or {}),
        compute=ray.data.ActorPoolStrategy(size=workers, max_tasks_in_flight_per_actor=1),
        batch_size=batch_size,
        num_cpus=1,
    )
    out = sorted(dataset.take_all(), key=lambda r: r[INDEX])
    if [r[INDEX] for r in out] != list(range(len(items))):
        raise RuntimeError("Ray Data lost or duplicated rows")
    return [
        {**row, **{k: _plain(v) for k, v in r.items()}} for row, r in zip(rows, out, strict=True)
    ]
