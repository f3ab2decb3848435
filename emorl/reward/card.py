"""The reward estimator's model card, rendered from its ``config.json`` (no figure by hand)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ROWS = (
    ("baseline_zero", "zero"),
    ("baseline_act_mean", "mean per act"),
    ("ridge_state_only", "ridge, state model only"),
    ("ridge", "**ridge, state model + expected-reaction acts (shipped)**"),
    ("ridge_per_act", "ridge, one model per act (reference)"),
    ("mlp", "MLP 64-64 on (observation, act one-hot), scikit-learn (reference)"),
)


def estimator_card(config: Mapping[str, Any]) -> str:
    """Markdown model card of a saved reward estimator."""
    training = config.get("training", {})
    metrics = config.get("metrics", {})
    env_kwargs = training.get("env_kwargs", {})
    args = " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in env_kwargs.items() if k in ("recognizer",)
    )
    command = (
        f"emorl train reward-estimator --episodes {training.get('episodes', '?')} "
        f"--seed {training.get('seed', 0)} --epsilon {training.get('epsilon', 0.5)} {args} "
        "--compare-mlp --out DIR"
    ).replace("  ", " ")
    reactions = ", ".join(f"`{a}`" for a in config.get("reaction_acts", [])) or "none"
    lines = [
        "---",
        "library_name: emorl",
        "license: apache-2.0",
        "tags: [reward-model, dialogue, emotion]",
        "metrics: [mse, r2]",
        "---",
        "",
        "# reward-estimator: the expected emotional reaction for EmoDialogue-v1",
        "",
        "The `r_est` / `ΔP_est` of the emotion reward (IEmoNet, Heusser et al. 2019, eq. 1 "
        "and 2) for the shipped call-centre scenario, the built-in caller and the "
        "recognizer it was fitted with (`training.env_kwargs` in `config.json`).",
        "",
        "- **What it predicts**: the expected change of the recognizer's four posteriors "
        "(neutral, happy, sad, angry) after a system act, from the observation the agent saw.",
        f"- **Form**: ridge regression (closed form, numpy) on the standardised "
        f"{config.get('obs_dim', '?')}-feature observation: a *state* model fitted on every "
        "transition (what the caller's emotions do in this state whatever the agent does), "
        f"and one model per expected-reaction act ({reactions}). Other acts get the state "
        "estimate, so their own effect stays in the reward. Penalty "
        f"α = {config.get('alpha', '?')}, chosen on the validation calls.",
        f"- **Data**: {training.get('episodes', '?')} simulated calls "
        f"({metrics.get('train_transitions', 0) + metrics.get('val_transitions', 0):,} "
        f"transitions), seed {training.get('seed', 0)}; behaviour: "
        f"{training.get('behaviour', '?')} (ε = {training.get('epsilon', '?')}).",
        f"- **Rebuild**: `{command}`; this card is written from `config.json` by "
        "`emorl.reward.card.estimator_card`.",
        "- **Files**: `model.safetensors` (weights, feature mean and scale), `config.json` "
        "(act names, labels, penalty, training settings, metrics), this card.",
        "",
        f"## Validation metrics ({metrics.get('val_transitions', 0):,} transitions of "
        "held-out calls)",
        "",
        "| model | MSE of ΔP | R² of Σ f·ΔP |",
        "|---|---:|---:|",
    ]
    for key, name in ROWS:
        row = metrics.get(key)
        if isinstance(row, Mapping) and "mse_delta_p" in row:
            lines.append(f"| {name} | {row['mse_delta_p']:.3f} | {row['r2_reward']:.3f} |")
    lines += [
        "",
        "Applies only to the scenario, simulator and recognizer it was trained with (the "
        "environment checks the act names and observation size); train one for your own.",
        "",
    ]
    return "\n".join(lines)
