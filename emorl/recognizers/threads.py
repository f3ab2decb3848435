"""Torch's intra-op thread count for a block of code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` torch intra-op threads, then restore the previous count.

    One utterance through the SER is hundreds of tiny operations (an LSTM step each
    frame). With emorl's passive OpenMP wait policy every parallel operation first wakes
    the sleeping workers, which costs more than a second thread saves: on 2 cores the
    SER stage of one 3 s clip took 44 ms with 2 threads and 4 ms with 1. The count is
    process-wide, so this is for code that owns the process's torch work while it runs.
    """
    previous = torch.get_num_threads()
    if previous == count:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
