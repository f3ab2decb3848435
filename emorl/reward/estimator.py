"""The reward estimators: the emotional reaction expected for a (dialogue state, system act).

Three kinds, one per estimated reward variant (:mod:`emorl.reward.emotion_reward`):

* ``eq1`` predicts ``ΔP_est(e|h_t)``, the change of every emotion's posterior (a vector
  regressor; the reward is ``Σ_e f(e)·(ΔP − ΔP_est)``);
* ``eq2`` predicts ``r_est_t``, the reward term ``Σ_e f(e)·ΔP`` itself (a scalar
  regressor; the reward is ``Σ_e f(e)·ΔP − r_est``);
* ``eq2_no_badnews``: ``eq2`` blind to the bad news (:mod:`emorl.reward.features`).

Each is ridge regression (scikit-learn) on a feature set of
:mod:`emorl.reward.features`, standardised, in two blocks: a *state* model fitted on
every logged transition (the change expected in this state whatever the agent does: a
lingering mood fading back, a caller calming down) and, except for ``eq2_no_badnews``, a
*reaction* model fitted on the acts that are unavoidable bad news
(:func:`~emorl.reward.features.expected_reaction`): the reaction such an act brings
however well it is done. Every other act gets the state model's estimate, so its own
effect stays in the reward: a model of every (state, act) pair would predict each act's
average effect and leave every act an expected reward of zero.

Saved as ``model.safetensors`` (feature mean and scale, coefficients and intercepts of
both blocks) with ``config.json`` (kind, feature set, the observation and act names, the
labels, ``f``, the recognizer and environment kwargs it was fitted for, penalties,
training data and metrics) and a model card. An estimator serves only the kind and the
recognizer it was fitted for: :meth:`RewardEstimator.check_fits` says why not.
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
    model_type_fields,
    require_model_folder,
    staged_folder,
    write_json,
)
from emorl.reward.features import KINDS, FeatureSet, expected_reaction

MODEL_TYPE = "reward-estimator"
#: ``format`` of ``config.json`` (1: emorl <= 0.1, one ΔP model for eq. 1 and 2 alike).
FORMAT = 2
MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
DEFAULT_ESTIMATOR_DIR = MODELS_DIR / "reward-estimator"
#: (recognizer, kind) -> the shipped folder (fitted on EmoDialogue-v1 rollouts of it).
SHIPPED: dict[tuple[str, str], str] = {
    ("text", "eq2"): "reward-estimator",
    ("text", "eq1"): "reward-estimator-eq1",
    ("text", "eq2_no_badnews"): "reward-estimator-eq2-no-badnews",
    ("oracle", "eq2"): "reward-estimator-oracle",
    ("oracle", "eq1"): "reward-estimator-oracle-eq1",
    ("oracle", "eq2_no_badnews"): "reward-estimator-oracle-eq2-no-badnews",
}


def shipped_estimator_dir(recognizer: str, kind: str) -> Path | None:
    """The shipped estimator folder for ``recognizer`` and ``kind`` (None: none shipped)."""
    name = SHIPPED.get((recognizer, kind))
    return MODELS_DIR / name if name is not None else None


def check_kind(kind: Any) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind: unknown estimator kind {kind!r}; choose from {list(KINDS)}")
    return str(kind)


class RewardEstimator:
    """Predicts ``ΔP_est`` (``eq1``) or ``r_est`` (``eq2``, ``eq2_no_badnews``) for
    transitions; ``save_pretrained``, ``from_pretrained``; fitted by
    :func:`emorl.reward.training.fit_estimator`."""

    def __init__(
        self,
        *,
        kind: str,
        feature_set: FeatureSet,
        obs_names: Sequence[str],
        act_names: Sequence[str],
        labels: Sequence[str],
        values: Sequence[float],
        mean: np.ndarray,
        scale: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        reaction_coef: np.ndarray | None = None,
        reaction_intercept: np.ndarray | None = None,
        alpha: Mapping[str, Any] | None = None,
        recognizer: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.kind = check_kind(kind)
        if feature_set.blind != (kind == "eq2_no_badnews"):
            raise ValueError(f"kind {kind!r} and feature set blind={feature_set.blind} disagree")
        self.feature_set = feature_set
        self.obs_names, self.act_names = tuple(obs_names), tuple(act_names)
        self.labels = tuple(labels)
        self.values = np.asarray(values, dtype=np.float64)
        self.columns = feature_set.columns(self.obs_names, self.act_names)
        d, t = len(self.columns), len(self.targets)
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.scale = np.asarray(scale, dtype=np.float64).reshape(-1)
        self.coef = np.asarray(coef, dtype=np.float64).reshape(t, -1)
        self.intercept = np.asarray(intercept, dtype=np.float64).reshape(t)
        if self.mean.shape != (d,) or self.scale.shape != (d,) or self.coef.shape != (t, d):
            raise ValueError(
                f"estimator tensors do not fit {d} features x {t} targets: mean "
                f"{self.mean.shape}, scale {self.scale.shape}, coef {self.coef.shape}"
            )
        has_reaction = reaction_coef is not None
        if has_reaction == (kind == "eq2_no_badnews"):
            raise ValueError(f"kind {kind!r}: a reaction model must be given iff the kind has one")
        self.reaction_coef = (
            np.asarray(reaction_coef, dtype=np.float64).reshape(t, d) if has_reaction else None
        )
        self.reaction_intercept = (
            np.asarray(reaction_intercept, dtype=np.float64).reshape(t) if has_reaction else None
        )
        self.alpha = dict(alpha or {})
        self.recognizer = dict(recognizer or {"name": "unknown"})
        self.metadata = dict(metadata or {})

    # ------------------------------------------------------------------ shapes
    @property
    def targets(self) -> tuple[str, ...]:
        """``delta_p_<emotion>`` per label (``eq1``) or ``("reward",)``."""
        return tuple(f"delta_p_{e}" for e in self.labels) if self.kind == "eq1" else ("reward",)

    @property
    def obs_dim(self) -> int:
        return len(self.obs_names)

    @property
    def reaction_acts(self) -> tuple[str, ...]:
        return () if self.reaction_coef is None else ("deliver_bad_news",)

    # ------------------------------------------------------------------ prediction
    def design(self, obs: Any, past_p: Any = None, past_a: Any = None) -> np.ndarray:
        """The standardised design matrix of observations (and their past turns)."""
        obs = np.atleast_2d(np.asarray(obs, dtype=np.float64))
        if obs.shape[1] != self.obs_dim:
            raise ValueError(
                f"estimator expects observations of size {self.obs_dim}, got {obs.shape[1]}: "
                "it was fitted for another scenario (fit one: emorl train reward-estimator)"
            )
        x = self.feature_set.transform(obs, past_p, past_a, self.obs_names, self.act_names)
        return (x - self.mean) / self.scale

    def predict(self, obs: Any, acts: Any, past_p: Any = None, past_a: Any = None) -> np.ndarray:
        """``(n, targets)``: the state model, or the reaction model for unavoidable bad news."""
        obs = np.atleast_2d(np.asarray(obs, dtype=np.float64))
        acts = np.atleast_1d(np.asarray(acts, dtype=np.int64))
        if acts.shape != (obs.shape[0],):
            raise ValueError(f"{obs.shape[0]} observations but {acts.shape} acts")
        if np.any(acts < 0) or np.any(acts >= len(self.act_names)):
            raise ValueError(f"act index out of range 0..{len(self.act_names) - 1}")
        x = self.design(obs, past_p, past_a)
        out = x @ self.coef.T + self.intercept
        if self.reaction_coef is not None:
            rows = expected_reaction(obs, acts, self.obs_names, self.act_names)
            if rows.any():
                out[rows] = x[rows] @ self.reaction_coef.T + self.reaction_intercept
        return out

    def predict_delta(
        self, obs: Any, acts: Any, past_p: Any = None, past_a: Any = None
    ) -> np.ndarray:
        """``ΔP_est``: ``(n, labels)``, or ``(labels,)`` for one observation (``eq1`` only)."""
        if self.kind != "eq1":
            raise ValueError(f"a {self.kind} estimator predicts r_est, not ΔP_est: use kind eq1")
        out = self.predict(obs, acts, past_p, past_a)
        return out[0] if np.asarray(obs).ndim == 1 else out

    def predict_reward(self, obs: Any, acts: Any, past_p: Any = None, past_a: Any = None) -> Any:
        """``r_est``: ``(n,)`` or a float for one observation (``eq1``: ``Σ f·ΔP_est``)."""
        out = self.predict(obs, acts, past_p, past_a)
        r = out @ self.values if self.kind == "eq1" else out[:, 0]
        return float(r[0]) if np.asarray(obs).ndim == 1 else r

    def estimate(
        self, obs: np.ndarray, act: int, past_p: Any = None, past_a: Any = None
    ) -> tuple[float, np.ndarray | None]:
        """One transition's ``(r_est, ΔP_est or None)``, what :class:`EmotionReward` takes."""
        out = self.predict(obs[None], [act], None if past_p is None else np.asarray(past_p)[None],
                           None if past_a is None else np.asarray(past_a)[None])[0]  # fmt: skip
        if self.kind == "eq1":
            return float(out @ self.values), out
        return float(out[0]), None

    # ------------------------------------------------------------------ compatibility
    def check_fits(
        self,
        *,
        kind: str,
        obs_names: Sequence[str],
        act_names: Sequence[str],
        recognizer: str,
        values: Sequence[float],
    ) -> None:
        """Raise ``ValueError`` saying why this estimator cannot serve that setting."""
        where = self.metadata.get("folder", "the reward estimator")
        if kind != self.kind:
            raise ValueError(
                f"{where} is a {self.kind!r} estimator; reward variant {kind!r} needs a {kind!r} "
                f"one (emorl train reward-estimator --kind {kind})"
            )
        fitted = self.recognizer.get("name")
        if fitted != recognizer:
            raise ValueError(
                f"{where} was fitted on rollouts of the {fitted!r} recognizer, not {recognizer!r}: "
                f"fit one for it (emorl train reward-estimator --kind {kind} --recognizer "
                f"{recognizer}) or pass estimator=None"
            )
        if tuple(act_names) != self.act_names or tuple(obs_names) != self.obs_names:
            raise ValueError(
                f"{where} was fitted for another scenario (acts or observation features "
                "differ): fit one for this scenario with `emorl train reward-estimator --scenario`"
            )
        if self.kind != "eq1" and not np.allclose(np.asarray(values), self.values):
            raise ValueError(
                f"{where} predicts the reward term for emotion values {self.values.tolist()}, "
                f"not {list(values)}: fit one with these emotion values"
            )

    # ------------------------------------------------------------------ persistence
    def config(self) -> dict[str, Any]:
        return {
            "type": MODEL_TYPE,
            **model_type_fields(MODEL_TYPE),
            "format": FORMAT,
            "emorl_version": __version__,
            "kind": self.kind,
            "regressor": "ridge (scikit-learn), standardised features; a state model"
            + ("" if self.reaction_coef is None else " and a model of unavoidable bad news"),
            "feature_set": {
                "name": self.feature_set.name,
                "history": self.feature_set.history,
                "blind_to_bad_news": self.feature_set.blind,
                "posteriors": self.feature_set.posteriors,
            },
            "targets": list(self.targets),
            "reaction_acts": list(self.reaction_acts),
            "alpha": self.alpha,
            "recognizer": self.recognizer,
            "obs_names": list(self.obs_names),
            "act_names": list(self.act_names),
            "labels": list(self.labels),
            "label2id": {label: i for i, label in enumerate(self.labels)},
            "reward_values": dict(zip(self.labels, self.values.tolist(), strict=True)),
            "columns": list(self.columns),
            **{k: v for k, v in self.metadata.items() if k != "folder"},
        }

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write the folder whole or not at all (``config.json``, weights, model card)."""
        from safetensors.numpy import save_file

        from emorl.reward.card import estimator_card

        folder = Path(folder)
        # float64: the features are collinear (posteriors sum to one), so a lightly
        # penalised fit has large cancelling coefficients that float32 would spoil
        tensors = {
            "mean": np.ascontiguousarray(self.mean, dtype=np.float64),
            "scale": np.ascontiguousarray(self.scale, dtype=np.float64),
            "coef": np.ascontiguousarray(self.coef, dtype=np.float64),
            "intercept": np.ascontiguousarray(self.intercept, dtype=np.float64),
        }
        if self.reaction_coef is not None and self.reaction_intercept is not None:
            tensors["reaction_coef"] = np.ascontiguousarray(self.reaction_coef, dtype=np.float64)
            tensors["reaction_intercept"] = np.ascontiguousarray(
                self.reaction_intercept, dtype=np.float64
            )
        config = self.config()
        with staged_folder(folder) as stage:
            save_file(tensors, str(stage / WEIGHTS_NAME))
            write_json(stage / CONFIG_NAME, config)
            card = estimator_card(config)
            atomic_write(stage / "README.md", lambda tmp: tmp.write_text(card, encoding="utf-8"))
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path | None = None) -> RewardEstimator:
        """Load a saved estimator (the shipped text ``eq2`` one when ``folder`` is None)."""
        from safetensors.numpy import load_file

        folder = Path(folder) if folder is not None else DEFAULT_ESTIMATOR_DIR
        config = require_model_folder(folder, MODEL_TYPE)
        where = folder / CONFIG_NAME
        if config.get("format") != FORMAT:
            raise ValueError(
                f"{where}: estimator format {config.get('format', 1)}, this emorl reads "
                f"format {FORMAT} (kinds eq1/eq2/eq2_no_badnews): refit it with "
                "`emorl train reward-estimator --kind eq2 --out DIR`"
            )
        for key in ("kind", "feature_set", "obs_names", "act_names", "labels", "reward_values"):
            if key not in config:
                raise ValueError(f"{where}: missing field {key!r}")
        tensors = load_file(str(folder / WEIGHTS_NAME))
        missing = {"mean", "scale", "coef", "intercept"} - set(tensors)
        if missing:
            raise ValueError(f"{folder / WEIGHTS_NAME}: missing tensors {sorted(missing)}")
        fs = config["feature_set"]
        labels = config["labels"]
        values = [config["reward_values"][label] for label in labels]
        known = {
            "type", "model_type", "architectures", "format", "emorl_version", "kind",
            "regressor", "feature_set", "targets", "reaction_acts", "alpha", "recognizer",
            "obs_names", "act_names", "labels", "label2id", "reward_values", "columns",
        }  # fmt: skip
        meta = {k: v for k, v in config.items() if k not in known}
        meta["folder"] = str(folder)
        try:
            return cls(
                kind=config["kind"],
                feature_set=FeatureSet(
                    int(fs["history"]),
                    bool(fs["blind_to_bad_news"]),
                    bool(fs.get("posteriors", True)),
                ),
                obs_names=config["obs_names"],
                act_names=config["act_names"],
                labels=labels,
                values=values,
                mean=tensors["mean"],
                scale=tensors["scale"],
                coef=tensors["coef"],
                intercept=tensors["intercept"],
                reaction_coef=tensors.get("reaction_coef"),
                reaction_intercept=tensors.get("reaction_intercept"),
                alpha=config.get("alpha"),
                recognizer=config.get("recognizer"),
                metadata=meta,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{folder}: {err}") from None

    def __repr__(self) -> str:
        return (
            f"RewardEstimator(kind={self.kind!r}, features={self.feature_set.name!r}, "
            f"recognizer={self.recognizer.get('name')!r})"
        )
