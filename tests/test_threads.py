"""torch_threads: a temporary intra-op thread count."""

from __future__ import annotations

import pytest
import torch

from emorl.recognizers.threads import torch_threads


def test_thread_count_is_set_and_restored_even_on_error() -> None:
    before = torch.get_num_threads()
    target = 1 if before != 1 else 2
    with torch_threads(target):
        assert torch.get_num_threads() == target
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(target):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
