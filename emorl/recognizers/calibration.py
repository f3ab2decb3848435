"""Temperature scaling: one scalar that makes posteriors mean what they say.

``fit_temperature`` minimises the negative log-likelihood of validation labels under
``softmax(logits / T)``; accuracy is unchanged, confidence is rescaled. The expected
calibration error before and after is what the model card reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from emorl.evaluation import expected_calibration_error
from emorl.recognizers.fusion.model import softmax


@dataclass(frozen=True)
class Calibration:
    """A fitted temperature with the validation ECE and NLL before and after."""

    temperature: float
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float
    n: int

    def to_dict(self) -> dict[str, float]:
        return {
            "temperature": round(self.temperature, 4),
            "ece_before": round(self.ece_before, 4),
            "ece_after": round(self.ece_after, 4),
            "nll_before": round(self.nll_before, 4),
            "nll_after": round(self.nll_after, 4),
            "n": self.n,
        }


def _nll(logits: torch.Tensor, y: torch.Tensor, temperature: float | torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits / temperature, y)


def fit_temperature(logits: np.ndarray, labels: Sequence[int]) -> Calibration:
    """The temperature in [0.05, 20] minimising validation NLL (LBFGS on log T)."""
    z = torch.as_tensor(np.asarray(logits, dtype=np.float64))
    y = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    if z.ndim != 2 or z.shape[0] != y.shape[0] or z.shape[0] == 0:
        raise ValueError(f"logits {tuple(z.shape)} and {tuple(y.shape)} labels do not match")
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = _nll(z, y, log_t.clamp(np.log(0.05), np.log(20.0)).exp())
        loss.backward()
        return loss

    optimizer.step(closure)
    temperature = float(log_t.detach().clamp(np.log(0.05), np.log(20.0)).exp())
    with torch.no_grad():
        nll_before, nll_after = float(_nll(z, y, 1.0)), float(_nll(z, y, temperature))
    if nll_after > nll_before:  # never make things worse
        temperature, nll_after = 1.0, nll_before
    y_np = y.numpy()
    return Calibration(
        temperature=temperature,
        ece_before=expected_calibration_error(softmax(z.numpy()), y_np),
        ece_after=expected_calibration_error(softmax(z.numpy() / temperature), y_np),
        nll_before=nll_before,
        nll_after=nll_after,
        n=int(len(y_np)),
    )
