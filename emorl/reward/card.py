"""The reward estimator's model card, rendered from its ``config.json`` (no figure by hand)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KIND_TEXT = {
    "eq1": "`ΔP_est(e|h_t)`, the expected change of every emotion's posterior (eq. 1: "
    "the reward is `Σ_e f(e)·(ΔP − ΔP_est)`)",
    "eq2": "`r_est_t`, the expected reward term `Σ_e f(e)·ΔP(e|h_t)` (eq. 2: the reward is "
    "`Σ_e f(e)·ΔP − r_est`)",
    "eq2_no_badnews": "`r_est_t` as `eq2`, blind to the bad news (no feature says the request "
    "cannot be granted or that bad news was given, and no model of the bad-news act)",
}


def _fmt(value: Any) -> str:
    return f"{value:+.3f}" if isinstance(value, (int, float)) else "-"


def estimator_card(config: Mapping[str, Any]) -> str:
    """Markdown model card of a saved reward estimator."""
    training = config.get("training", {})
    metrics = config.get("metrics", {})
    kind = config.get("kind", "?")
    env_kwargs = training.get("env_kwargs", {})
    recognizer = config.get("recognizer", {}).get("name", "?")
    extra = " ".join(
        f"--env-kwarg {k}={v}" for k, v in env_kwargs.items() if k not in ("recognizer",)
    )
    command = " ".join(
        part
        for part in (
            f"emorl train reward-estimator --kind {kind} --recognizer {recognizer}",
            f"--episodes {training.get('episodes', '?')} --seed {training.get('seed', 0)}",
            f"--behaviour {training.get('behaviour', 'epsilon-scripted:0.5')}",
            extra,
            "--compare-mlp --out DIR" if "mlp" in metrics else "--out DIR",
        )
        if part
    )
    split = metrics.get("split", {})
    fs = config.get("feature_set", {})
    reactions = ", ".join(f"`{a}`" for a in config.get("reaction_acts", [])) or "none"
    targets = metrics.get("targets", config.get("targets", []))
    lines = [
        "---",
        "library_name: emorl",
        "license: apache-2.0",
        "tags: [reward-model, dialogue, emotion]",
        "metrics: [r2]",
        "---",
        "",
        f"# reward estimator `{kind}` for EmoDialogue-v1, `{recognizer}` recognizer",
        "",
        "Part of the emotion reward of IEmoNet (Heusser et al. 2019, eq. 1 and 2) for the "
        "shipped call-centre scenario, the built-in caller and the recognizer it was fitted "
        "on (`recognizer` and `training.env_kwargs` in `config.json`; the environment "
        "refuses it for another recognizer or reward variant).",
        "",
        f"- **What it predicts**: {KIND_TEXT.get(kind, kind)}, from what the agent saw "
        "before the act.",
        f"- **Features**: `{fs.get('name', '?')}` ({len(config.get('columns', []))} columns; "
        "`obs` is the agent's observation, `historyK` adds the posteriors and acts of K "
        "earlier turns), chosen on the held-out calls among the sets below.",
        "- **Form**: ridge regression (scikit-learn) on standardised features, penalty per "
        "target by GroupKFold over the training calls: a *state* model fitted on every "
        "transition (what the caller's emotions do in this state whatever the agent does)"
        + (
            f" and a model of unavoidable bad news ({reactions} when the lookup says the "
            "request cannot be granted, the first time). Other acts get the state estimate, "
            "so their own effect stays in the reward."
            if config.get("reaction_acts")
            else "; no model of its own for the bad-news act."
        ),
        f"- **Data**: {training.get('episodes', '?')} simulated calls "
        f"({split.get('train_transitions', 0) + split.get('test_transitions', 0):,} "
        f"transitions), seed {training.get('seed', 0)}; behaviour "
        f"`{training.get('behaviour', '?')}`.",
        f"- **Rebuild**: `{command}`; this card is written from `config.json` by "
        "`emorl.reward.card.estimator_card`.",
        "- **Files**: `model.safetensors` (feature mean and scale, coefficients), "
        "`config.json` (kind, features, names, labels, f, recognizer, training, metrics), "
        "this card.",
        "",
        f"## Held-out calls ({split.get('test_calls', 0):,} calls, "
        f"{split.get('test_transitions', 0):,} transitions; GroupShuffleSplit by call)",
        "",
        "R² per target; `R² term`: of the reward term `Σ f·ΔP`; `corr(level)`: Pearson "
        "correlation of the resulting reward with `level` (`Σ f·P`) over the held-out "
        f"transitions (the `delta` reward alone: {_fmt(metrics.get('delta_corr_level'))}).",
        "",
        "| model | " + " | ".join(f"R² {t}" for t in targets) + " | R² term | corr(level) |",
        "|---|" + "---:|" * (len(targets) + 2),
    ]
    rows = [("baseline_zero", "zero"), ("baseline_act_mean", "mean per act")]
    rows += [
        (
            f"feature_sets.{name}",
            f"ridge, `{name}`" + (" **(kept)**" if name == fs.get("name") else ""),
        )
        for name in metrics.get("feature_sets", {})
    ]
    if "mlp" in metrics:
        rows.append(("mlp", "MLP 64-64 on the kept features (scikit-learn, reference)"))
    for key, name in rows:
        row: Any = metrics
        for part in key.split("."):
            row = row.get(part, {}) if isinstance(row, Mapping) else {}
        if not isinstance(row, Mapping) or "r2" not in row:
            continue
        cells = [_fmt(row["r2"].get(t)) for t in targets]
        lines.append(
            f"| {name} | " + " | ".join(cells)
            + f" | {_fmt(row.get('r2_reward_term'))} | {_fmt(row.get('corr_reward_level'))} |"
        )  # fmt: skip
    lines += [
        "",
        "Applies only to the scenario, simulator and recognizer it was fitted with; fit one "
        "for your own (for other caller dynamics, e.g. another `lingering`, too).",
        "",
    ]
    return "\n".join(lines)
