"""Fit the reward estimator on logged rollouts of the dialogue environment.

Rollouts mix the scripted support agent with random acts (``epsilon``), so the log holds
good, bad and expected-but-unpleasant acts (bad news) in many states. Episodes are split
into train and validation by episode; the ridge penalty is chosen on validation and the
model refitted on all data. Metrics compare it with an act-mean baseline and zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emorl.reward.emotion_reward import emotion_values
from emorl.reward.estimator import RewardEstimator

ALPHAS = (0.1, 1.0, 10.0, 100.0)


@dataclass
class Rollouts:
    """Logged transitions: observation before the act, act, posterior change, episode id."""

    obs: np.ndarray
    acts: np.ndarray
    delta_p: np.ndarray
    episode: np.ndarray


def collect_rollouts(
    episodes: int,
    *,
    seed: int = 0,
    epsilon: float = 0.5,
    num_envs: int = 16,
    env_kwargs: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> tuple[Rollouts, dict[str, Any]]:
    """Run ``episodes`` calls in a vectorised environment and log every transition."""
    from emorl.envs.policies import ScriptedSupportAgent
    from emorl.envs.vector import EmoDialogueVectorEnv
    from emorl.progress import task_progress

    kwargs = {**(env_kwargs or {}), "reward": "delta", "estimator": None}
    num_envs = max(1, min(num_envs, episodes))
    venv = EmoDialogueVectorEnv(num_envs, **kwargs)
    first = venv.envs[0]
    agent = ScriptedSupportAgent(first.feature_names, first.act_names)
    rng = np.random.default_rng(seed)
    obs, _ = venv.reset(seed=seed)
    logs: dict[str, list[Any]] = {"obs": [], "acts": [], "delta_p": [], "episode": []}
    episode_of = np.arange(num_envs)
    next_episode, finished = num_envs, 0
    resetting = np.zeros(num_envs, dtype=bool)
    with task_progress(progress) as bar:
        task = bar.add_task("rollouts", total=episodes)
        while finished < episodes:
            acts = np.array(
                [
                    int(rng.integers(len(first.act_names))) if rng.random() < epsilon else agent(o)
                    for o in obs
                ]
            )
            new_obs, _, terminated, truncated, _ = venv.step(acts)
            dp = np.stack([env.posterior_change for env in venv.envs])
            for i in range(num_envs):
                if resetting[i]:
                    episode_of[i] = next_episode
                    next_episode += 1
                    continue
                if episode_of[i] < episodes:
                    logs["obs"].append(obs[i])
                    logs["acts"].append(acts[i])
                    logs["delta_p"].append(dp[i])
                    logs["episode"].append(episode_of[i])
                    if terminated[i] or truncated[i]:
                        finished += 1
                        bar.advance(task)
            resetting = terminated | truncated
            obs = new_obs
    if getattr(venv.recognizer, "cache_path", None) is not None:
        venv.recognizer.save_cache()  # type: ignore[attr-defined]
    rollouts = Rollouts(
        np.asarray(logs["obs"], np.float64),
        np.asarray(logs["acts"], np.int64),
        np.asarray(logs["delta_p"], np.float64),
        np.asarray(logs["episode"], np.int64),
    )
    info = {"act_names": list(first.act_names), "labels": list(first.reward_fn.labels)}
    return rollouts, info


def _r2(target: np.ndarray, predicted: np.ndarray) -> float:
    total = float(((target - target.mean()) ** 2).sum())
    return 1.0 - float(((target - predicted) ** 2).sum()) / total if total > 0 else 0.0


def evaluate(pred: np.ndarray, delta_p: np.ndarray, f: np.ndarray) -> dict[str, float]:
    """MSE of ΔP and R² of the reward term Σ f·ΔP."""
    return {
        "mse_delta_p": float(((pred - delta_p) ** 2).mean()),
        "r2_reward": _r2(delta_p @ f, pred @ f),
    }


def fit_estimator(
    rollouts: Rollouts,
    *,
    act_names: Sequence[str],
    labels: Sequence[str],
    values: Mapping[str, float] | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    reaction_acts: Sequence[str] = ("deliver_bad_news",),
    compare_mlp: bool = False,
    metadata: Mapping[str, Any] | None = None,
) -> RewardEstimator:
    """Choose the ridge penalty on an episode-exclusive validation split, refit on all.

    Metrics (validation): the shipped form (state model + ``reaction_acts``), a state
    model alone, a model per act (how much the acts themselves explain), an act-mean
    baseline, zero, and optionally a small MLP on (observation, act).
    """
    f = emotion_values(values, labels)
    episodes = np.unique(rollouts.episode)
    rng = np.random.default_rng(seed)
    val_eps = rng.choice(episodes, max(1, int(len(episodes) * val_fraction)), replace=False)
    val = np.isin(rollouts.episode, val_eps)
    tr = ~val
    x, a, y = rollouts.obs, rollouts.acts, rollouts.delta_p
    n_acts = len(act_names)
    metrics: dict[str, Any] = {
        "train_transitions": int(tr.sum()),
        "val_transitions": int(val.sum()),
    }
    act_mean = np.zeros((n_acts, y.shape[1]))
    for i in range(n_acts):
        rows = tr & (a == i)
        act_mean[i] = y[rows].mean(0) if rows.any() else 0.0
    metrics["baseline_zero"] = evaluate(np.zeros_like(y[val]), y[val], f)
    metrics["baseline_act_mean"] = evaluate(act_mean[a[val]], y[val], f)

    def ridge(alpha: float, acts: Sequence[str]) -> dict[str, float]:
        model = RewardEstimator.fit(
            x[tr], a[tr], y[tr], act_names=act_names, labels=labels, alpha=alpha, reaction_acts=acts
        )
        return evaluate(model.predict_delta(x[val], a[val]), y[val], f)

    by_alpha = {alpha: ridge(alpha, reaction_acts) for alpha in ALPHAS}
    best = min(by_alpha, key=lambda k: by_alpha[k]["mse_delta_p"])
    metrics["ridge_by_alpha"] = {str(k): v for k, v in by_alpha.items()}
    metrics["ridge"] = {"alpha": best, "reaction_acts": list(reaction_acts), **by_alpha[best]}
    metrics["ridge_state_only"] = ridge(best, ())
    metrics["ridge_per_act"] = ridge(best, tuple(act_names))
    if compare_mlp:
        metrics["mlp"] = _mlp_metrics(x, a, y, tr, val, n_acts, f, seed)
    meta = {
        **(metadata or {}),
        "metrics": metrics,
        "reward_values": dict(zip(labels, f.tolist(), strict=True)),
    }
    return RewardEstimator.fit(
        x,
        a,
        y,
        act_names=act_names,
        labels=labels,
        alpha=best,
        reaction_acts=reaction_acts,
        metadata=meta,
    )


def _mlp_metrics(x, a, y, tr, val, n_acts, f, seed) -> dict[str, float]:
    """A small MLP on [obs, onehot(act)] for comparison (scikit-learn; not shipped)."""
    try:
        from sklearn.neural_network import MLPRegressor
    except ImportError:
        return {"skipped": "scikit-learn not installed"}
    feats = np.concatenate([x, np.eye(n_acts)[a]], axis=1)
    mean, std = feats[tr].mean(0), feats[tr].std(0) + 1e-8
    mlp = MLPRegressor(
        hidden_layer_sizes=(64, 64),
        alpha=1e-3,
        max_iter=200,
        early_stopping=True,
        random_state=seed,
    )
    mlp.fit((feats[tr] - mean) / std, y[tr])
    return evaluate(mlp.predict((feats[val] - mean) / std), y[val], f)


def train_reward_estimator(
    episodes: int,
    out: str | Path,
    *,
    seed: int = 0,
    epsilon: float = 0.5,
    env_kwargs: Mapping[str, Any] | None = None,
    reaction_acts: Sequence[str] = ("deliver_bad_news",),
    compare_mlp: bool = False,
    progress: bool = True,
) -> RewardEstimator:
    """Collect rollouts, fit, save to ``out`` with config, data description and metrics."""
    kwargs = dict(env_kwargs or {})
    rollouts, info = collect_rollouts(
        episodes, seed=seed, epsilon=epsilon, env_kwargs=kwargs, progress=progress
    )
    serialisable = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in kwargs.items()
        if k != "recognizer_cache"  # a speed-up only: the posteriors are the same
    }
    meta = {
        "training": {
            "episodes": episodes,
            "seed": seed,
            "epsilon": epsilon,
            "behaviour": "scripted support agent, random act with probability epsilon",
            "env_kwargs": serialisable,
        }
    }
    model = fit_estimator(
        rollouts,
        act_names=info["act_names"],
        labels=info["labels"],
        values=kwargs.get("emotion_values"),
        seed=seed,
        reaction_acts=reaction_acts,
        compare_mlp=compare_mlp,
        metadata=meta,
    )
    model.save_pretrained(out)
    return model
