"""Fit the reward estimators on logged rollouts of the dialogue environment.

:func:`collect_rollouts` plays calls of ``EmoDialogue-v1`` (any environment kwargs, any
recognizer) with a behaviour policy (:func:`behaviour_policy`: ``scripted``, ``random``,
``epsilon-scripted:EPS``, a fixed policy of :mod:`emorl.envs.policies`, or a saved SB3
agent) and logs every transition with what the estimators, the premise check and the
credit study need. Call ``c`` is seeded ``seed + c`` whatever the number of vectorised
copies, and a behaviour's own random choices in call ``c`` come from a generator seeded
by ``(seed, c)``: the same arguments give the same log, and two behaviours meet the same
callers.

:func:`fit_estimator` splits the calls into train and held-out calls
(``GroupShuffleSplit`` by call), fits ridge regression on every feature set of
:mod:`emorl.reward.features` (penalty per target chosen by ``GroupKFold`` over the
training calls), reports held-out R² per target and the correlation of the resulting
reward with ``level``, keeps the feature set with the best held-out R² (``eq1``: mean
over emotions; ``eq2``: the scalar) and refits it on all calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from emorl.reward.emotion_reward import emotion_values
from emorl.reward.estimator import RewardEstimator, check_kind
from emorl.reward.features import FEATURE_SETS, HISTORY_DEPTH, KINDS, FeatureSet, history_of

ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)
#: Environment kwargs that change what the caller feels or the recognizer hears: an
#: estimator (and a rollout log) depends on them; task terms do not matter.
TASK_KWARGS = frozenset({"success_bonus", "hangup_penalty", "escalation_cost", "reward"})
BEHAVIOURS = "scripted, random, epsilon-scripted:EPS, a fixed policy name, or an SB3 agent .zip"

#: dtype of each :class:`Rollouts` field.
ROW_TYPES: dict[str, Any] = {
    **dict.fromkeys(
        ("obs", "previous", "posteriors", "past_p", "valence_before", "valence", "effect"),
        np.float64,
    ),
    **dict.fromkeys(("acts", "past_a", "episode", "step"), np.int64),
    "exempt": bool,
    "grantable": bool,
    "outcome": str,
}
BatchPolicy = Callable[[np.ndarray, Sequence[np.random.Generator]], np.ndarray]


@dataclass
class Rollouts:
    """Logged transitions, one row each (see :class:`~emorl.envs.emo_dialogue.Transition`).

    ``episode`` is the call index (call ``c`` was seeded ``seed + c``), ``step`` the turn
    within it (0-based), ``grantable`` whether the call's request can be granted,
    ``outcome`` how the call ended at this row ("" while it goes on; "turn_limit" on
    truncation), ``effect`` the act's true valence impulse on the caller (the
    appraisal's impulse, bad news scaled by ``expected_reaction``, without noise; NaN
    for a simulator that does not say).
    """

    obs: np.ndarray
    acts: np.ndarray
    previous: np.ndarray
    posteriors: np.ndarray
    past_p: np.ndarray
    past_a: np.ndarray
    exempt: np.ndarray
    episode: np.ndarray
    step: np.ndarray
    grantable: np.ndarray
    outcome: np.ndarray
    valence_before: np.ndarray
    valence: np.ndarray
    effect: np.ndarray

    def __len__(self) -> int:
        return int(self.acts.shape[0])

    @property
    def delta_p(self) -> np.ndarray:
        return self.posteriors - self.previous

    def subset(self, rows: np.ndarray) -> Rollouts:
        return Rollouts(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})


# --------------------------------------------------------------------------- behaviour
def behaviour_policy(
    spec: str, feature_names: Sequence[str], act_names: Sequence[str]
) -> BatchPolicy:
    """The behaviour ``spec`` names (:data:`BEHAVIOURS`) as ``(obs batch, rngs) -> acts``."""
    from emorl.envs.policies import FIXED_POLICIES, ScriptedSupportAgent

    spec = str(spec).strip()
    n = len(act_names)
    if spec in FIXED_POLICIES:
        agent = FIXED_POLICIES[spec](feature_names, act_names)
        return lambda obs, rngs: np.array([agent(o) for o in obs], dtype=np.int64)
    if spec == "random":
        return lambda obs, rngs: np.array([int(r.integers(n)) for r in rngs], dtype=np.int64)
    if spec.startswith("epsilon-scripted:"):
        try:
            eps = float(spec.partition(":")[2])
        except ValueError:
            eps = float("nan")
        if not 0.0 <= eps <= 1.0:
            raise ValueError(f"behaviour {spec!r}: EPS must be a number in [0, 1]")
        scripted = ScriptedSupportAgent(feature_names, act_names)

        def epsilon(obs: np.ndarray, rngs: Sequence[np.random.Generator]) -> np.ndarray:
            out = []
            for o, r in zip(obs, rngs, strict=True):
                explore, random_act = r.random() < eps, int(r.integers(n))
                out.append(random_act if explore else scripted(o))
            return np.array(out, dtype=np.int64)

        return epsilon
    path = Path(spec)
    if path.suffix == ".zip" or path.is_dir():
        from emorl.agents.evaluate import load_model

        model = load_model(path)  # a pickle format: trusted files only

        def agent_policy(obs: np.ndarray, rngs: Sequence[np.random.Generator]) -> np.ndarray:
            return np.asarray(model.predict(obs, deterministic=True)[0], dtype=np.int64)

        return agent_policy
    raise ValueError(f"behaviour {spec!r}: expected {BEHAVIOURS}")


def _call_rng(seed: int, call: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(call), 0xB3])


def recognizer_signature(env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The recognizer an environment with these kwargs hears with (name and settings)."""
    name = env_kwargs.get("recognizer", "text")
    if not isinstance(name, str):
        return {"name": "custom", "type": type(name).__name__}
    out: dict[str, Any] = {"name": name}
    if name == "oracle":
        out["oracle_confusion"] = env_kwargs.get("oracle_confusion", 0.1)
    if name == "bimodal":
        out["transcripts"] = env_kwargs.get("transcripts", "noisy")
        out["wer"] = env_kwargs.get("wer", 0.06)
    return out


def serialisable_kwargs(env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Environment kwargs as JSON (paths as text, objects by type name; no cache paths)."""
    out: dict[str, Any] = {}
    for key, value in env_kwargs.items():
        if key in ("recognizer_cache", "speech_cache", "estimator"):
            continue  # speed-ups and the reward's own estimator: the posteriors are the same
        if isinstance(value, Path):
            value = str(value)
        elif value is not None and not isinstance(value, (str, int, float, bool, list, dict)):
            value = f"<{type(value).__name__}>"
        out[key] = value
    return out


def collect_rollouts(
    episodes: int,
    *,
    seed: int = 0,
    behaviour: str = "epsilon-scripted:0.5",
    env_kwargs: Mapping[str, Any] | None = None,
    num_envs: int = 16,
    progress: bool = True,
    description: str = "rollouts",
) -> tuple[Rollouts, dict[str, Any]]:
    """Play ``episodes`` calls (call ``c`` seeded ``seed + c``) in a vectorised environment
    with the ``behaviour`` policy (the shipped IEmoNet's posteriors shared on disk:
    :func:`~emorl.envs.shards.with_bimodal_cache`); log every transition. Returns the log
    and a dict with ``act_names``, ``obs_names``, ``labels``, ``values`` (f),
    ``recognizer``."""
    from emorl.envs.shards import with_bimodal_cache
    from emorl.envs.vector import EmoDialogueVectorEnv
    from emorl.progress import task_progress
    from emorl.simulator.mood import Appraisal, turn_impulse

    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    kwargs = with_bimodal_cache({**(env_kwargs or {}), "reward": "none", "estimator": None})
    for key in ("success_bonus", "hangup_penalty", "escalation_cost"):
        kwargs.pop(key, None)
    num_envs = max(1, min(int(num_envs), episodes))
    venv = EmoDialogueVectorEnv(num_envs, **kwargs)
    first = venv.envs[0]
    policy = behaviour_policy(behaviour, first.feature_names, first.act_names)
    dynamics = getattr(first.simulator, "dynamics", None)
    call_of = np.arange(num_envs)
    step_of = np.zeros(num_envs, dtype=np.int64)
    rngs = [_call_rng(seed, c) for c in call_of]
    next_call, finished = num_envs, 0
    active = np.ones(num_envs, dtype=bool)
    resetting = np.zeros(num_envs, dtype=bool)
    rows: dict[str, list[Any]] = {f.name: [] for f in fields(Rollouts)}
    obs, _ = venv.reset(seed=[seed + int(c) for c in call_of])
    with task_progress(progress) as bar:
        task = bar.add_task(description, total=episodes)
        while finished < episodes:
            # only copies playing a logged call act (and draw from their call's generator)
            live = np.flatnonzero(active & ~resetting)
            acts = np.zeros(num_envs, dtype=np.int64)
            acts[live] = policy(obs[live], [rngs[i] for i in live])
            new_obs, _, terminated, truncated, _ = venv.step(acts)
            for i, env in enumerate(venv.envs):
                if resetting[i] or not active[i]:
                    continue
                t = env.last_transition
                assert t is not None and env.goal is not None
                ended = bool(terminated[i] or truncated[i])
                rows["obs"].append(t.obs)
                rows["acts"].append(t.act)
                rows["previous"].append(t.previous)
                rows["posteriors"].append(t.posteriors)
                rows["past_p"].append(t.past_p)
                rows["past_a"].append(t.past_a)
                rows["exempt"].append(t.exempt)
                rows["episode"].append(call_of[i])
                rows["step"].append(step_of[i])
                rows["grantable"].append(env.goal.grantable)
                rows["outcome"].append((t.outcome or "turn_limit") if ended else "")
                rows["valence_before"].append(t.valence_before)
                rows["valence"].append(t.valence)
                effect = float("nan")
                if dynamics is not None and t.appraisal:
                    appraisal = Appraisal(**t.appraisal)
                    impulse = turn_impulse(
                        appraisal.impulse(), appraisal.bad_news, np.zeros(2), dynamics
                    )
                    effect = float(impulse[0])
                rows["effect"].append(effect)
                step_of[i] += 1
                if ended:
                    finished += 1
                    bar.advance(task)
                    if next_call < episodes:
                        call_of[i], step_of[i] = next_call, 0
                        env.reset_rng(seed + next_call)  # the autoreset draws this call
                        rngs[i] = _call_rng(seed, next_call)
                        next_call += 1
                    else:
                        active[i] = False
            resetting = terminated | truncated
            obs = new_obs
    if getattr(venv.recognizer, "cache_path", None) is not None:
        venv.recognizer.save_cache()  # type: ignore[attr-defined]
    flush = getattr(venv.recognizer, "flush", None)
    if callable(flush):  # the posteriors of these calls on disk now, for the next process
        flush()
    log = Rollouts(
        **{name: np.asarray(values, dtype=ROW_TYPES[name]) for name, values in rows.items()}
    )
    info = {
        "act_names": list(first.act_names),
        "obs_names": list(first.feature_names),
        "labels": list(first.reward_fn.labels),
        "values": first.reward_fn.values.tolist(),
        "recognizer": recognizer_signature(kwargs),
    }
    return log, info


# --------------------------------------------------------------------------- fitting
def _targets(rollouts: Rollouts, kind: str, f: np.ndarray) -> np.ndarray:
    dp = rollouts.delta_p
    return dp if kind == "eq1" else (dp @ f)[:, None]


def _cv_alpha(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, alphas: Sequence[float]
) -> np.ndarray:
    """Per target, the penalty with the least GroupKFold mean squared error."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GroupKFold

    n_groups = len(np.unique(groups))
    if n_groups < 3 or len(y) < 10:
        return np.full(y.shape[1], max(alphas))
    folds = GroupKFold(n_splits=min(4, n_groups))
    errors = np.zeros((len(alphas), y.shape[1]))
    for train, test in folds.split(x, y, groups):
        for k, alpha in enumerate(alphas):
            pred = Ridge(alpha=alpha).fit(x[train], y[train]).predict(x[test])
            errors[k] += ((pred.reshape(y[test].shape) - y[test]) ** 2).sum(axis=0)
    return np.asarray(alphas, dtype=np.float64)[errors.argmin(axis=0)]


@dataclass
class _Fit:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    alpha: np.ndarray
    reaction_coef: np.ndarray | None
    reaction_intercept: np.ndarray | None
    reaction_alpha: np.ndarray | None
    reaction_rows: int

    def predict(self, x: np.ndarray, reaction: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.scale
        out = z @ self.coef.T + self.intercept
        if self.reaction_coef is not None and reaction.any():
            out[reaction] = z[reaction] @ self.reaction_coef.T + self.reaction_intercept
        return out


def _fit_blocks(
    x: np.ndarray,
    y: np.ndarray,
    reaction: np.ndarray | None,
    groups: np.ndarray,
    alphas: Sequence[float],
) -> _Fit:
    """Standardise, fit the state model on every row and (``reaction`` given) the
    reaction model on its rows; penalties by GroupKFold."""
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    z = scaler.transform(x)
    alpha = _cv_alpha(z, y, groups, alphas)
    state = Ridge(alpha=alpha).fit(z, y)
    rc = ri = ra = None
    rows = 0
    if reaction is not None:
        rows = int(reaction.sum())
        if rows >= 2:
            ra = _cv_alpha(z[reaction], y[reaction], groups[reaction], alphas)
            model = Ridge(alpha=ra).fit(z[reaction], y[reaction])
            rc, ri = model.coef_.reshape(y.shape[1], -1), np.atleast_1d(model.intercept_)
        else:  # no (or one) unavoidable bad news in the log: the state model stands in
            rc, ri, ra = state.coef_.reshape(y.shape[1], -1), np.atleast_1d(state.intercept_), alpha
    return _Fit(
        scaler.mean_,
        scaler.scale_,
        state.coef_.reshape(y.shape[1], -1),
        np.atleast_1d(state.intercept_),
        alpha,
        rc,
        ri,
        ra,
        rows,
    )


def _r2(target: np.ndarray, predicted: np.ndarray) -> list[float]:
    from sklearn.metrics import r2_score

    return [float(v) for v in r2_score(target, predicted, multioutput="raw_values")]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def held_out_metrics(
    kind: str,
    targets: Sequence[str],
    y: np.ndarray,
    pred: np.ndarray,
    rollouts: Rollouts,
    f: np.ndarray,
) -> dict[str, Any]:
    """R² per target, of the reward term, and the reward's correlation with ``level``."""
    term = rollouts.delta_p @ f
    r_est = pred @ f if kind == "eq1" else pred[:, 0]
    reward = term - r_est
    level = rollouts.posteriors @ f
    r2 = _r2(y, pred)
    return {
        "r2": dict(zip(targets, r2, strict=True)),
        "r2_mean": float(np.mean(r2)),
        "r2_reward_term": _r2(term[:, None], r_est[:, None])[0],
        "corr_reward_level": _corr(reward, level),
        "corr_reward_delta": _corr(reward, term),
        "reward_mean": float(reward.mean()),
        "reward_std": float(reward.std()),
    }


def fit_estimator(
    rollouts: Rollouts,
    *,
    kind: str,
    obs_names: Sequence[str],
    act_names: Sequence[str],
    labels: Sequence[str],
    values: Mapping[str, float] | Sequence[float] | None = None,
    feature_sets: Sequence[str] = FEATURE_SETS,
    alphas: Sequence[float] = ALPHAS,
    test_size: float = 0.2,
    seed: int = 0,
    compare_mlp: bool = False,
    recognizer: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> RewardEstimator:
    """Fit a ``kind`` estimator (see the module docstring); metrics in ``metadata``."""
    from sklearn.model_selection import GroupShuffleSplit

    kind = check_kind(kind)
    if not feature_sets:
        raise ValueError("feature_sets: give at least one feature set")
    for name in feature_sets:
        history_of(name)
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
    f = (
        np.asarray(values, dtype=np.float64)
        if values is not None and not isinstance(values, Mapping)
        else emotion_values(values, labels)
    )
    calls = np.unique(rollouts.episode)
    if len(calls) < 2:
        raise ValueError(f"rollouts hold {len(calls)} call(s): need at least 2 to hold calls out")
    blind = kind == "eq2_no_badnews"
    y = _targets(rollouts, kind, f)
    reaction = None if blind else rollouts.exempt.astype(bool)
    split = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    tr, te = next(split.split(rollouts.obs, groups=rollouts.episode))
    test = rollouts.subset(te)
    targets = [f"delta_p_{e}" for e in labels] if kind == "eq1" else ["reward"]
    metrics: dict[str, Any] = {
        "split": {
            "method": "GroupShuffleSplit by call",
            "test_size": test_size,
            "seed": seed,
            "train_calls": len(np.unique(rollouts.episode[tr])),
            "test_calls": len(np.unique(rollouts.episode[te])),
            "train_transitions": len(tr),
            "test_transitions": len(te),
        },
        "targets": targets,
        "selection": "mean held-out R² over emotions" if kind == "eq1" else "held-out R²",
        "unavoidable_bad_news_rows": int(rollouts.exempt.sum()),
    }
    zero = np.zeros_like(y[te])
    metrics["baseline_zero"] = held_out_metrics(kind, targets, y[te], zero, test, f)
    act_mean = np.zeros((len(act_names), y.shape[1]))
    for a in range(len(act_names)):
        rows = rollouts.acts[tr] == a
        act_mean[a] = y[tr][rows].mean(axis=0) if rows.any() else 0.0
    metrics["baseline_act_mean"] = held_out_metrics(
        kind, targets, y[te], act_mean[rollouts.acts[te]], test, f
    )
    by_set: dict[str, Any] = {}
    designs: dict[str, np.ndarray] = {}
    for name in feature_sets:
        fs = FeatureSet.named(name, blind=blind)
        x = fs.transform(rollouts.obs, rollouts.past_p, rollouts.past_a, obs_names, act_names)
        designs[name] = x
        fit = _fit_blocks(
            x[tr], y[tr], None if reaction is None else reaction[tr], rollouts.episode[tr], alphas
        )
        pred = fit.predict(x[te], np.zeros(len(te), bool) if reaction is None else reaction[te])
        by_set[name] = {
            "features": x.shape[1],
            "alpha": dict(zip(targets, fit.alpha.tolist(), strict=True)),
            **held_out_metrics(kind, targets, y[te], pred, test, f),
        }
    key = "r2_mean" if kind == "eq1" else "r2_reward_term"
    chosen = max(feature_sets, key=lambda name: by_set[name][key])
    metrics["feature_sets"] = by_set
    metrics["chosen"] = chosen
    metrics["held_out"] = by_set[chosen]
    metrics["delta_corr_level"] = _corr(test.delta_p @ f, test.posteriors @ f)
    if compare_mlp:
        metrics["mlp"] = _mlp_metrics(
            designs[chosen], rollouts.exempt, y, tr, te, kind, targets, test, f, seed
        )
    x = designs[chosen]
    final = _fit_blocks(x, y, reaction, rollouts.episode, alphas)
    alpha: dict[str, Any] = {"state": dict(zip(targets, final.alpha.tolist(), strict=True))}
    if final.reaction_alpha is not None:
        alpha["reaction"] = dict(zip(targets, final.reaction_alpha.tolist(), strict=True))
    metrics["reaction_rows"] = final.reaction_rows
    return RewardEstimator(
        kind=kind,
        feature_set=FeatureSet.named(chosen, blind=blind),
        obs_names=obs_names,
        act_names=act_names,
        labels=labels,
        values=f,
        mean=final.mean,
        scale=final.scale,
        coef=final.coef,
        intercept=final.intercept,
        reaction_coef=final.reaction_coef,
        reaction_intercept=final.reaction_intercept,
        alpha=alpha,
        recognizer=recognizer,
        metadata={**(metadata or {}), "metrics": metrics},
    )


def _mlp_metrics(
    x: np.ndarray,
    exempt: np.ndarray,
    y: np.ndarray,
    tr: np.ndarray,
    te: np.ndarray,
    kind: str,
    targets: Sequence[str],
    test: Rollouts,
    f: np.ndarray,
    seed: int,
) -> dict[str, Any]:
    """A small MLP (scikit-learn, 64-64) on the chosen features and the unavoidable-bad-news
    flag, for comparison (not shipped)."""
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    feats = np.concatenate([x, exempt[:, None].astype(np.float64)], axis=1)
    mlp = make_pipeline(
        StandardScaler(),
        MLPRegressor(
            hidden_layer_sizes=(64, 64),
            alpha=1e-3,
            max_iter=200,
            early_stopping=True,
            random_state=seed,
        ),
    )
    mlp.fit(feats[tr], y[tr] if y.shape[1] > 1 else y[tr, 0])
    pred = np.asarray(mlp.predict(feats[te]), dtype=np.float64).reshape(len(te), -1)
    return held_out_metrics(kind, targets, y[te], pred, test, f)


# --------------------------------------------------------------------------- one call
def fit_estimators(
    rollouts: Rollouts,
    info: Mapping[str, Any],
    kinds: Sequence[str] = KINDS,
    *,
    seed: int = 0,
    feature_sets: Sequence[str] = FEATURE_SETS,
    compare_mlp: bool = False,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, RewardEstimator]:
    """One estimator per kind from one rollout log (``info`` from :func:`collect_rollouts`)."""
    return {
        kind: fit_estimator(
            rollouts,
            kind=kind,
            obs_names=info["obs_names"],
            act_names=info["act_names"],
            labels=info["labels"],
            values=info["values"],
            feature_sets=feature_sets,
            seed=seed,
            compare_mlp=compare_mlp,
            recognizer=info["recognizer"],
            metadata=metadata,
        )
        for kind in kinds
    }


def training_metadata(
    episodes: int, seed: int, behaviour: str, env_kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "training": {
            "episodes": episodes,
            "seed": seed,
            "behaviour": behaviour,
            "env_kwargs": serialisable_kwargs(env_kwargs),
            "history_logged": HISTORY_DEPTH,
        }
    }


def train_reward_estimator(
    episodes: int,
    out: str | Path,
    *,
    kind: str = "eq2",
    seed: int = 0,
    behaviour: str = "epsilon-scripted:0.5",
    env_kwargs: Mapping[str, Any] | None = None,
    feature_sets: Sequence[str] = FEATURE_SETS,
    compare_mlp: bool = False,
    num_envs: int = 16,
    progress: bool = True,
) -> RewardEstimator:
    """Collect rollouts, fit a ``kind`` estimator, save it to ``out`` (whole or not at all)."""
    kind = check_kind(kind)
    for name in feature_sets:
        history_of(name)
    behaviour_policy_check(behaviour)
    kwargs = {k: v for k, v in (env_kwargs or {}).items() if k not in TASK_KWARGS}
    rollouts, info = collect_rollouts(
        episodes,
        seed=seed,
        behaviour=behaviour,
        env_kwargs=kwargs,
        num_envs=num_envs,
        progress=progress,
    )
    meta = training_metadata(episodes, seed, behaviour, kwargs)
    model = fit_estimators(
        rollouts,
        info,
        [kind],
        seed=seed,
        feature_sets=feature_sets,
        compare_mlp=compare_mlp,
        metadata=meta,
    )[kind]
    model.save_pretrained(out)
    model.metadata["folder"] = str(out)
    return model


def behaviour_policy_check(spec: str) -> None:
    """Refuse a malformed behaviour before any rollout (the agent file is checked later)."""
    from emorl.envs.policies import FIXED_POLICIES

    if spec in FIXED_POLICIES or spec == "random":
        return
    if str(spec).startswith("epsilon-scripted:"):
        behaviour_policy(spec, ["x"], ["a"])
        return
    path = Path(spec)
    if path.suffix == ".zip" or path.is_dir():
        if not path.exists():
            raise FileNotFoundError(f"behaviour: agent not found: {path}")
        return
    raise ValueError(f"behaviour {spec!r}: expected {BEHAVIOURS}")


def estimators_for(
    env_kwargs: Mapping[str, Any],
    kinds: Sequence[str] = KINDS,
    *,
    episodes: int = 1000,
    seed: int = 0,
    behaviour: str = "epsilon-scripted:0.5",
    cache: str | Path | None = None,
    num_envs: int = 16,
    progress: bool = True,
) -> dict[str, RewardEstimator]:
    """Estimators of ``kinds`` fitted on rollouts of this environment (task kwargs ignored).

    With ``cache`` (a folder), each is saved under ``cache/<kind>-<digest>/`` (the digest
    of the settings) and loaded from there on a later call with the same settings.
    """
    from emorl.fingerprint import sha256_json

    kwargs = {k: v for k, v in env_kwargs.items() if k not in TASK_KWARGS}
    settings = {k: v for k, v in kwargs.items() if k != "bimodal_cache"}  # where, not what
    key = {
        "env_kwargs": serialisable_kwargs(settings),
        "recognizer": recognizer_signature(kwargs),
        "episodes": episodes,
        "seed": seed,
        "behaviour": behaviour,
    }
    digest = sha256_json(key)[:12]
    folders = {k: Path(cache) / f"{k}-{digest}" for k in kinds} if cache is not None else {}
    found = {
        k: RewardEstimator.from_pretrained(p)
        for k, p in folders.items()
        if (p / "config.json").is_file()
    }
    todo = [k for k in kinds if k not in found]
    if todo:
        rollouts, info = collect_rollouts(
            episodes,
            seed=seed,
            behaviour=behaviour,
            env_kwargs=kwargs,
            num_envs=num_envs,
            progress=progress,
            description="estimator rollouts",
        )
        meta = training_metadata(episodes, seed, behaviour, kwargs)
        fitted = fit_estimators(rollouts, info, todo, seed=seed, metadata=meta)
        for k, model in fitted.items():
            if k in folders:
                model.save_pretrained(folders[k])
                model.metadata["folder"] = str(folders[k])
        found.update(fitted)
    return {k: found[k] for k in kinds}
