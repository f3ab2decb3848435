"""The rich progress bar every long job shows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from emorl.console import make_console


@contextmanager
def training_progress(enabled: bool = True) -> Iterator[Progress]:
    """A progress bar with steps, elapsed and remaining time and a running ``loss`` field."""
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=make_console(stderr=True),
        disable=not enabled,
    )
    with bar:
        yield bar


@contextmanager
def task_progress(enabled: bool = True) -> Iterator[Progress]:
    """A plain progress bar with counts and times."""
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=make_console(stderr=True),
        disable=not enabled,
    )
    with bar:
        yield bar
