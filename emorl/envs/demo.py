"""A scripted demonstration of how a lingering mood fools each reward variant.

For each seed the scripted support agent greets the caller and asks for the first
slot. The good act is then asking for the second slot (progress). In the *clean*
context it follows directly; in the *after a bad turn* context the agent first asks
for the first slot again (a repetition, which sours the caller's mood). The same good
act is then scored by every variant. A reward that credits the act, not the mood the
act inherited, scores it alike in both contexts and above zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np

VARIANTS_SHOWN = ("level", "delta", "eq1", "eq2")
_ENVS: dict[str, Any] = {}
_EQ1: dict[str, Any] = {}
#: A score below this counts as "scored negative" (a neutral reply scores about 0).
NEGATIVE = -0.1


def _play(seed: int, bad_turn: bool, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    from emorl.envs.emo_dialogue import EmoDialogueEnv
    from emorl.reward import RewardEstimator
    from emorl.reward.estimator import shipped_estimator_dir

    key = repr(sorted(env_kwargs.items()))
    if key not in _ENVS:
        _ENVS[key] = EmoDialogueEnv(**env_kwargs)
        folder = shipped_estimator_dir(_ENVS[key].recognizer_name, "eq1")
        _EQ1[key] = RewardEstimator.from_pretrained(folder)
    env = _ENVS[key]
    eq1 = _EQ1[key]
    env.reset(seed=seed)
    first, second = env.simulator.goal.problem.slots[:2]
    for name in ("greet", f"ask_{first}"):
        _, _, terminated, _, _ = env.step(env.act_names.index(name))
        if terminated:
            return {}
    good = env.act_names.index(f"ask_{second}")
    out: dict[str, Any] = {"good_act": env.act_names[good]}
    if bad_turn:
        _, _, terminated, _, info = env.step(env.act_names.index(f"ask_{first}"))
        if terminated:
            return {}
        out["bad"] = _terms(info, env, eq1)
    out["valence_before"] = env.simulator.mood.valence
    _, _, _, _, info = env.step(good)
    out["good"] = _terms(info, env, eq1)
    out["true_happy"] = float(info["true_emotion"] == "happy")
    return out


def _terms(info: dict[str, Any], env: Any, eq1: Any) -> dict[str, float]:
    """The turn's terms; ``eq1`` with the shipped eq1 estimator on the same transition."""
    t, last = info["reward_terms"], env.last_transition
    dp_est = eq1.predict_delta(last.obs, last.act, last.past_p[None], last.past_a[None])
    eq1_term = float((last.posteriors - last.previous - dp_est) @ env.reward_fn.values)
    return {"level": t["level"], "delta": t["delta"], "eq1": eq1_term, "eq2": t["eq2"]}


def lingering_mood_demo(seeds: int = 200, recognizer: str = "text") -> dict[str, Any]:
    """Mean (and standard error) of each variant's score of the same good act, per context."""
    kwargs = {"recognizer": recognizer, "reward": "eq2", "estimator": "default"}
    rows: dict[str, dict[str, list[float]]] = {
        v: {"clean": [], "after_bad": [], "bad_act": []} for v in VARIANTS_SHOWN
    }
    extra = {"valence_clean": [], "valence_after_bad": [], "happy_clean": [], "happy_after_bad": []}
    used = 0
    for seed in range(seeds):
        clean, after = _play(seed, False, kwargs), _play(seed, True, kwargs)
        if not clean or not after:
            continue
        used += 1
        for v in VARIANTS_SHOWN:
            rows[v]["clean"].append(clean["good"][v])
            rows[v]["after_bad"].append(after["good"][v])
            rows[v]["bad_act"].append(after["bad"][v])
        extra["valence_clean"].append(clean["valence_before"])
        extra["valence_after_bad"].append(after["valence_before"])
        extra["happy_clean"].append(clean["true_happy"])
        extra["happy_after_bad"].append(after["true_happy"])

    def stat(xs: list[float]) -> dict[str, float]:
        a = np.asarray(xs)
        return {"mean": float(a.mean()), "se": float(a.std(ddof=1) / np.sqrt(len(a)))}

    table = {}
    for v, cols in rows.items():
        shift = np.asarray(cols["after_bad"]) - np.asarray(cols["clean"])
        table[v] = {
            "good_act_clean": stat(cols["clean"]),
            "good_act_after_bad_turn": stat(cols["after_bad"]),
            "shift": stat(list(shift)),
            "bad_act": stat(cols["bad_act"]),
            "good_act_scored_negative_after_bad_turn": float(
                np.mean(np.asarray(cols["after_bad"]) < NEGATIVE)
            ),
        }
    return {
        "seeds": used,
        "recognizer": recognizer,
        "variants": table,
        "caller": {k: stat(v) for k, v in extra.items()},
    }


def print_demo(result: dict[str, Any]) -> None:
    """The demonstration as a rich table."""
    from rich.table import Table

    from emorl.console import make_console

    table = Table(
        title=f"Same good act, clean vs after a bad turn ({result['seeds']} seeds, "
        f"{result['recognizer']} recognizer); mean ± s.e."
    )
    for col in (
        "variant",
        "good act, clean",
        "good act, after bad turn",
        "shift",
        "bad act",
        "good act < -0.1 after bad",
    ):
        table.add_column(col, justify="right")
    for v, row in result["variants"].items():
        cells = [
            f"{row[k]['mean']:+.3f} ± {row[k]['se']:.3f}"
            for k in ("good_act_clean", "good_act_after_bad_turn", "shift", "bad_act")
        ]
        table.add_row(v, *cells, f"{row['good_act_scored_negative_after_bad_turn']:.0%}")
    make_console().print(table)
    c = result["caller"]
    make_console().print(
        f"caller valence before the good act: clean {c['valence_clean']['mean']:+.3f}, "
        f"after bad turn {c['valence_after_bad']['mean']:+.3f}; true 'happy' after it: "
        f"{c['happy_clean']['mean']:.0%} vs {c['happy_after_bad']['mean']:.0%}"
    )
