"""The shared epoch loop: best-epoch selection, early stopping, checkpoint keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from emorl.recognizers.training import CHECKPOINT_NAME, LoopSettings, run_epochs


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    net = nn.Linear(3, 2)
    x = torch.randn(20, 3)
    y = (x[:, 0] > 0).long()

    def loss_of_batch(batch: np.ndarray):
        loss = nn.functional.cross_entropy(net(x[batch]), y[batch])
        return loss, loss

    return net, loss_of_batch, torch.optim.SGD(net.parameters(), lr=0.1)


def test_best_epoch_is_kept_and_patience_stops(tmp_path: Path) -> None:
    net, loss_of_batch, optimizer = _setup()
    scores = iter([0.1, 0.5, 0.3, 0.2, 0.9, 0.9])
    snapshots = []

    def evaluate():
        snapshots.append(net.weight.detach().clone())
        return {"ua": next(scores)}

    settings = LoopSettings(epochs=6, batch_size=5, seed=0, select="val_ua", patience=2)
    result = run_epochs(
        net,
        20,
        loss_of_batch,
        optimizer,
        settings,
        evaluate=evaluate,
        checkpoint_dir=tmp_path,
        key="k",
        progress=False,
    )
    assert result.best_epoch == 2
    assert result.history["val_ua"] == [0.1, 0.5, 0.3, 0.2]  # stopped after 2 worse epochs
    assert len(result.history["train_loss"]) == 4
    torch.testing.assert_close(net.weight.detach(), snapshots[1])
    assert (tmp_path / CHECKPOINT_NAME).is_file()


def test_select_without_validation_is_refused() -> None:
    net, loss_of_batch, optimizer = _setup()
    settings = LoopSettings(epochs=1, batch_size=5, seed=0, select="val_ua")
    with pytest.raises(ValueError, match="needs validation data"):
        run_epochs(net, 20, loss_of_batch, optimizer, settings, progress=False)


def test_checkpoint_of_another_run_is_refused(tmp_path: Path) -> None:
    net, loss_of_batch, optimizer = _setup()
    settings = LoopSettings(epochs=1, batch_size=5, seed=0)
    run_epochs(
        net,
        20,
        loss_of_batch,
        optimizer,
        settings,
        checkpoint_dir=tmp_path,
        key="a",
        progress=False,
    )
    with pytest.raises(ValueError, match="other settings"):
        run_epochs(
            net,
            20,
            loss_of_batch,
            optimizer,
            settings,
            checkpoint_dir=tmp_path,
            key="b",
            progress=False,
        )


def test_gradient_norm_is_clipped() -> None:
    net = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        net.weight.zero_()
    x = torch.ones(4, 3) * 100.0

    def loss_of_batch(batch: np.ndarray):
        loss = net(x[batch]).sum() * 1000.0
        return loss, loss

    optimizer = torch.optim.SGD(net.parameters(), lr=1.0)
    settings = LoopSettings(epochs=1, batch_size=4, seed=0, max_grad_norm=0.5)
    run_epochs(net, 4, loss_of_batch, optimizer, settings, progress=False)
    # one SGD step of a gradient clipped to norm 0.5 moves the weights by exactly 0.5
    assert torch.linalg.vector_norm(net.weight).item() == pytest.approx(0.5, rel=1e-5)
