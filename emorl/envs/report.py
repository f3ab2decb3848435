"""What the environment's reward model hears, and what a call reads like.

:func:`recognizer_agreement` plays calls (half scripted, half random acts, the same mix
the reward estimator is fitted on) and compares the recognizer's top class with the
caller's true emotion, per class (recall, scikit-learn), with the number of distinct
replies the caller can say and said. :func:`example_dialogue` renders one call as a
markdown transcript (agent words, caller words, intent, true and heard emotion, reward).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from emorl.emotions import FOUR_CLASS

Policy = Callable[[np.ndarray], int]


def recognizer_agreement(
    episodes: int = 400,
    *,
    seed: int = 0,
    epsilon: float = 0.5,
    env_kwargs: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Recognised vs true emotion over ``episodes`` calls; distinct replies said and possible."""
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, recall_score

    from emorl.envs.cache import all_replies
    from emorl.envs.emo_dialogue import EmoDialogueEnv
    from emorl.envs.policies import ScriptedSupportAgent
    from emorl.progress import task_progress
    from emorl.simulator.caller_language import TemplateCallerLanguage

    kwargs = {"estimator": None, "reward": "delta", **(env_kwargs or {})}
    env = EmoDialogueEnv(**kwargs)
    agent = ScriptedSupportAgent.for_env(env)
    rng = np.random.default_rng(seed)
    true, heard, texts = [], [], Counter()
    by_group: dict[tuple[str, str], set[str]] = {}
    with task_progress(progress) as bar:
        task = bar.add_task("calls", total=episodes)
        for i in range(episodes):
            obs, info = env.reset(seed=seed + i)
            done = False
            while True:
                true.append(info["true_emotion"])
                heard.append(max(info["posteriors"], key=info["posteriors"].get))
                texts[info["user_text"]] += 1
                key = (info["intent"], info["true_emotion"])
                by_group.setdefault(key, set()).add(info["user_text"])
                if done:
                    break
                explore = rng.random() < epsilon
                act = int(rng.integers(len(env.act_names))) if explore else agent(obs)
                obs, _, te, tr, info = env.step(act)
                done = te or tr
            bar.advance(task)
    labels = list(FOUR_CLASS)
    recall = recall_score(true, heard, labels=labels, average=None, zero_division=0)
    possible = (
        len(all_replies(env.scenario, env.bank))
        if isinstance(getattr(env.simulator, "language", None), TemplateCallerLanguage)
        else None  # another caller language: not enumerable
    )
    return {
        "episodes": episodes,
        "turns": len(true),
        "recognizer": env.recognizer_name,
        "accuracy": float(np.mean(np.array(true) == np.array(heard))),
        "ua": float(balanced_accuracy_score(true, heard)),
        "recall": dict(zip(labels, map(float, recall), strict=True)),
        "true_share": {e: true.count(e) / len(true) for e in labels},
        "confusion": confusion_matrix(true, heard, labels=labels).tolist(),
        "distinct_replies_said": len(texts),
        "distinct_replies_possible": possible,
        "distinct_per_intent_emotion_median": float(np.median([len(v) for v in by_group.values()])),
    }


def example_dialogue(env: Any, policy: Policy, seed: int, title: str) -> str:
    """One call as a markdown transcript."""
    base = env.unwrapped
    obs, info = env.reset(seed=seed)
    goal = base.goal
    lines = [
        f"### {title} (seed {seed})",
        "",
        f"Goal: {goal.problem.type}, "
        + ", ".join(f"{k} {v}" for k, v in goal.values.items())
        + f"; {'can' if goal.grantable else 'cannot'} be granted.",
        "",
        "| # | agent act | agent says | caller says | intent | true | heard | reward |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def row(i: int, info: dict[str, Any], act: str, reward: float | None) -> str:
        heard = max(info["posteriors"], key=info["posteriors"].get)
        p = info["posteriors"][heard]
        r = "" if reward is None else f"{reward:+.2f}"
        return (
            f"| {i} | {act} | {info['system_text']} | {info['user_text']} | {info['intent']} "
            f"| {info['true_emotion']} | {heard} {p:.2f} | {r} |"
        )

    lines.append(row(0, info, "(call starts)", None))
    done, i = False, 0
    while not done:
        act = int(policy(obs))
        obs, reward, te, tr, info = env.step(act)
        i += 1
        lines.append(row(i, info, base.act_names[act], float(reward)))
        done = te or tr
    lines += [
        "",
        f"Outcome: {info['outcome']}, {info['turns']} turns, final mood valence "
        f"{info['final_mood']['valence']:+.2f}, return {info['episode_return']:+.2f}.",
        "",
    ]
    return "\n".join(lines)


def example_dialogues(
    env_kwargs: dict[str, Any] | None = None,
    *,
    agent: str | Any | None = None,
    seed: int = 0,
) -> str:
    """Five calls as markdown: two scripted, two random, one by a trained agent (if given)."""
    import gymnasium as gym

    import emorl  # noqa: F401
    from emorl.agents.evaluate import load_model, model_policy, random_policy, scripted_policy

    env = gym.make("EmoDialogue-v1", **(env_kwargs or {}))
    scripted = scripted_policy(env)
    plan: list[tuple[str, Policy, int]] = [
        ("Scripted agent, a request that can be granted", scripted, seed),
        ("Scripted agent", scripted, seed + 1),
        ("Random agent", random_policy(env, seed), seed + 2),
        ("Random agent", random_policy(env, seed + 1), seed + 3),
    ]
    if agent is not None:
        plan.append(("Trained PPO agent", model_policy(load_model(agent)), seed + 4))
    else:
        plan.append(("Scripted agent", scripted, seed + 4))
    parts = [
        "# EmoDialogue-v1: example calls",
        "",
        "Written by `emorl env report --examples PATH"
        + (" --agent MODEL" if agent is not None else "")
        + f"` (seed {seed}; environment arguments {env_kwargs or {}}). Each row: the agent's "
        "act and words, the caller's reply, its intent, the emotion the simulator drew "
        "(true) and what the recognizer heard, and the turn's reward.",
        "",
    ]
    for title, policy, call_seed in plan:
        parts.append(example_dialogue(env, policy, call_seed, title))
    env.close()
    return "\n".join(parts)


def print_agreement(result: dict[str, Any]) -> None:
    """The agreement report as a rich table."""
    from rich.table import Table

    from emorl.console import make_console

    table = Table(
        title=f"{result['recognizer']} recognizer vs the caller's true emotion, "
        f"{result['turns']:,} turns of {result['episodes']} calls"
    )
    for column in ("class", "true share", "recall"):
        table.add_column(column, justify="right")
    for label in FOUR_CLASS:
        table.add_row(label, f"{result['true_share'][label]:.3f}", f"{result['recall'][label]:.3f}")
    table.add_row("overall", "", f"accuracy {result['accuracy']:.3f}, UA {result['ua']:.3f}")
    console = make_console()
    console.print(table)
    console.print(
        f"distinct replies said {result['distinct_replies_said']:,} of "
        f"{result['distinct_replies_possible'] or '?'} possible; median distinct per "
        f"(intent, emotion) said {result['distinct_per_intent_emotion_median']:.0f}"
    )
