"""The reward estimator: the emotional reaction expected for a (dialogue state, system act).

Two ridge regressors on the standardised observation ``x`` (features ``[1, x]``), each
predicting ``ΔP_est``, the expected change of the four posteriors (eq. 1):

* a *state* model fitted on every logged transition: the change expected in this state
  whatever the agent does (a lingering mood fading back, a caller calming down);
* one model per *expected-reaction act* (default ``deliver_bad_news``), fitted on that
  act's transitions: the reaction the act brings however well it is done ("bad news
  brings anger"), so delivering necessary bad news is not punished.

Other acts get the state model's estimate, so their own effect stays in the reward: a
model of every (state, act) pair would predict each act's average effect and leave every
act an expected reward of zero. ``r_est = Σ_e f(e)·ΔP_est(e)`` (eq. 2; for a linear
regressor the same as fitting the reward itself). Fitted in closed form; saved as
``model.safetensors`` (weights, feature mean and scale) with ``config.json`` (shapes,
act names, penalty, training data and metrics).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emorl import __version__
from emorl.artifacts import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    atomic_write,
    require_model_folder,
    write_json,
)

MODEL_TYPE = "reward-estimator"
DEFAULT_ESTIMATOR_DIR = Path(__file__).resolve().parents[1] / "models" / "reward-estimator"


class RewardEstimator:
    """Predicts ``ΔP_est`` for (observation, act) pairs; ``fit``, ``save_pretrained``,
    ``from_pretrained``."""

    def __init__(
        self,
        weights: np.ndarray,
        mean: np.ndarray,
        scale: np.ndarray,
        *,
        act_names: Sequence[str],
        labels: Sequence[str],
        alpha: float,
        reaction_acts: Sequence[str] = ("deliver_bad_news",),
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.act_names = tuple(act_names)
        self.labels = tuple(labels)
        self.alpha = float(alpha)
        self.reaction_acts = tuple(reaction_acts)
        unknown = [a for a in self.reaction_acts if a not in self.act_names]
        if unknown:
            raise ValueError(
                f"expected-reaction acts {unknown} are not acts {list(self.act_names)}"
            )
        self.metadata = dict(metadata or {})
        # block 0: the state model; block k: the k-th expected-reaction act
        self._block = np.zeros(len(self.act_names), dtype=np.int64)
        for k, name in enumerate(self.reaction_acts, 1):
            self._block[self.act_names.index(name)] = k
        expected = ((1 + len(self.reaction_acts)) * (self.obs_dim + 1), len(self.labels))
        if self.weights.shape != expected:
            raise ValueError(
                f"estimator weights have shape {self.weights.shape}, expected {expected}"
            )

    @property
    def obs_dim(self) -> int:
        return int(self.mean.shape[0])

    # ------------------------------------------------------------------ features
    @staticmethod
    def _with_bias(x: np.ndarray) -> np.ndarray:
        return np.concatenate([np.ones((x.shape[0], 1)), x], axis=1)

    def _check(self, obs: np.ndarray, acts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        obs = np.atleast_2d(np.asarray(obs, dtype=np.float64))
        acts = np.atleast_1d(np.asarray(acts, dtype=np.int64))
        if obs.shape[1] != self.obs_dim:
            raise ValueError(
                f"estimator expects observations of size {self.obs_dim}, got {obs.shape[1]}: "
                "it was trained for another scenario (train one: emorl train reward-estimator)"
            )
        if np.any(acts < 0) or np.any(acts >= len(self.act_names)):
            raise ValueError(f"act index out of range 0..{len(self.act_names) - 1}")
        return obs, acts

    def predict_delta(self, obs: np.ndarray, acts: np.ndarray | int) -> np.ndarray:
        """``ΔP_est``: ``(n, labels)`` (or ``(labels,)`` for one observation)."""
        single = np.asarray(obs).ndim == 1
        obs, acts = self._check(obs, acts)
        x = self._with_bias((obs - self.mean) / self.scale)
        d = x.shape[1]
        blocks = self.weights.reshape(-1, d, self.weights.shape[1])
        out = np.einsum("nd,ndk->nk", x, blocks[self._block[acts]])
        return out[0] if single else out

    def predict_reward(self, obs: np.ndarray, acts: np.ndarray | int, f: np.ndarray) -> Any:
        """``r_est = Σ_e f(e)·ΔP_est(e)``."""
        return self.predict_delta(obs, acts) @ np.asarray(f, dtype=np.float64)

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(
        cls,
        obs: np.ndarray,
        acts: np.ndarray,
        delta_p: np.ndarray,
        *,
        act_names: Sequence[str],
        labels: Sequence[str],
        alpha: float = 1.0,
        reaction_acts: Sequence[str] = ("deliver_bad_news",),
        metadata: Mapping[str, Any] | None = None,
    ) -> RewardEstimator:
        """Closed-form ridge fits: the state model on all rows, one per expected-reaction act."""
        unknown = [a for a in reaction_acts if a not in act_names]
        if unknown:
            raise ValueError(f"expected-reaction acts {unknown} are not acts {list(act_names)}")
        obs = np.asarray(obs, dtype=np.float64)
        acts = np.asarray(acts, dtype=np.int64)
        y = np.asarray(delta_p, dtype=np.float64)
        mean = obs.mean(axis=0)
        scale = obs.std(axis=0)
        scale[scale < 1e-8] = 1.0
        x = cls._with_bias((obs - mean) / scale)
        penalty = alpha * np.eye(x.shape[1])
        penalty[0, 0] = 0.0  # the intercept is not shrunk

        def ridge(rows: np.ndarray) -> np.ndarray:
            if not rows.any():
                return np.zeros((x.shape[1], y.shape[1]))
            xr = x[rows]
            return np.linalg.solve(xr.T @ xr + penalty + 1e-9 * np.eye(x.shape[1]), xr.T @ y[rows])

        blocks = [ridge(np.ones(len(acts), dtype=bool))]
        blocks += [ridge(acts == list(act_names).index(name)) for name in reaction_acts]
        return cls(
            np.concatenate(blocks, axis=0),
            mean,
            scale,
            act_names=act_names,
            labels=labels,
            alpha=alpha,
            reaction_acts=reaction_acts,
            metadata=metadata,
        )

    # ------------------------------------------------------------------ persistence
    def save_pretrained(self, folder: str | Path) -> Path:
        from safetensors.numpy import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {
            "weights": self.weights.astype(np.float32),
            "mean": self.mean.astype(np.float32),
            "scale": self.scale.astype(np.float32),
        }
        atomic_write(folder / WEIGHTS_NAME, lambda tmp: save_file(tensors, str(tmp)))
        config = {
            "type": MODEL_TYPE,
            "model_type": "emorl-reward-estimator",
            "architectures": ["RewardEstimator"],
            "emorl_version": __version__,
            "regressor": "ridge: a state model and one model per expected-reaction act",
            "reaction_acts": list(self.reaction_acts),
            "alpha": self.alpha,
            "obs_dim": self.obs_dim,
            "act_names": list(self.act_names),
            "labels": list(self.labels),
            **self.metadata,
        }
        write_json(folder / CONFIG_NAME, config)
        from emorl.reward.card import estimator_card

        card = estimator_card(config)
        atomic_write(folder / "README.md", lambda tmp: tmp.write_text(card, encoding="utf-8"))
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path | None = None) -> RewardEstimator:
        """Load a saved estimator (the shipped default when ``folder`` is None)."""
        from safetensors.numpy import load_file

        folder = Path(folder) if folder is not None else DEFAULT_ESTIMATOR_DIR
        config = require_model_folder(folder, MODEL_TYPE)
        tensors = load_file(str(folder / WEIGHTS_NAME))
        missing = {"weights", "mean", "scale"} - set(tensors)
        if missing:
            raise ValueError(f"{folder / WEIGHTS_NAME}: missing tensors {sorted(missing)}")
        for key in ("act_names", "labels", "alpha"):
            if key not in config:
                raise ValueError(f"{folder / CONFIG_NAME}: missing field {key!r}")
        meta = {
            k: v
            for k, v in config.items()
            if k
            not in (
                "type",
                "emorl_version",
                "regressor",
                "alpha",
                "obs_dim",
                "act_names",
                "labels",
                "reaction_acts",
            )
        }
        return cls(
            tensors["weights"],
            tensors["mean"],
            tensors["scale"],
            act_names=config["act_names"],
            labels=config["labels"],
            alpha=config["alpha"],
            reaction_acts=config.get("reaction_acts", ()),
            metadata=meta,
        )
