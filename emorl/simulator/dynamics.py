"""The caller's emotion dynamics fitted to real dialogues (DailyDialog, MELD).

- :func:`corpus_statistics`: per speaker, consecutive turns of the same speaker in a
  dialogue give four-class transition counts, the neutral share, the persistence of each
  emotion, (DailyDialog) the matrix conditioned on the other side's dialogue act in
  between, and the lift of a negative reply after the other side's negative turn.
- :func:`simulate_statistics`: the same statistics of chains run through the
  :mod:`emorl.simulator.mood` equations in a generic conversation.
- :func:`fit_dynamics`: grid + Nelder-Mead on common random numbers.
- :func:`fidelity_report`, :func:`refit`, :func:`plot_transitions`.

Turns whose label is outside the four classes (surprise, fear, disgust) are kept in the
dialogue (they still separate a speaker's turns and count in the chain lengths) but every
transition pair with such a turn at either end is left out of the counts and counted in
``skipped_pairs``; they are not re-linked across, which would skip a time step. The same
goes for the other side's turn: a negative (sad/angry) or neutral one enters the
reaction statistic; happy or non-four-class ones enter neither side of the lift.

See ``docs/simulator-dynamics.md`` for the model, the statistics and the fit.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emorl.data.utterance import Utterance
from emorl.emotions import FOUR_CLASS, FOUR_CLASS_MAPS
from emorl.simulator.mood import (
    DYNAMICS_FORMAT,
    FITTED_JSON,
    IMPULSES,
    RANGES,
    EmotionDynamics,
    emotion_probabilities,
    mood_step,
    turn_impulse,
)

K = len(FOUR_CLASS)
NEUTRAL = FOUR_CLASS.index("neutral")
NEGATIVE = tuple(FOUR_CLASS.index(e) for e in ("sad", "angry"))
#: The DailyDialog dialogue acts (the other side's act between a speaker's two turns).
ACTS = ("inform", "question", "directive", "commissive")
#: Longest chain (turns of one speaker in one dialogue) simulated; longer ones are cut.
MAX_CHAIN = 24

_TRAILING_INT = re.compile(r"(\d+)$")


# ===================================================================== corpus statistics
def _four(utterance: Utterance) -> int | None:
    label = utterance.label
    if label in FOUR_CLASS:
        return FOUR_CLASS.index(label)
    mapped = FOUR_CLASS_MAPS.get(utterance.corpus, {}).get(label)
    return FOUR_CLASS.index(mapped) if mapped is not None else None


def _position(utterance: Utterance, index: int) -> tuple[int, int]:
    turn = utterance.extra.get("turn") if utterance.extra else None
    if isinstance(turn, int):
        return turn, index
    match = _TRAILING_INT.search(utterance.id)
    return (int(match.group(1)) if match else index), index


def _rows(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), np.nan)
    return out


def _matrix_block(counts: np.ndarray) -> dict[str, Any]:
    matrix = _rows(counts)
    return {
        "counts": np.asarray(counts).round(6).tolist(),
        "matrix": [[None if np.isnan(x) else round(float(x), 6) for x in row] for row in matrix],
    }


def _reaction_block(table: np.ndarray) -> dict[str, Any]:
    """``table[condition, category, outcome]``: condition 0 any own previous emotion,
    1 own previous neutral; category 0 other side negative, 1 other side neutral;
    outcome 0 pairs, 1 negative replies."""
    out: dict[str, Any] = {}
    for c, name in enumerate(("any_previous", "previous_neutral")):
        block: dict[str, Any] = {}
        rates = []
        for g, cat in enumerate(("after_negative", "after_neutral")):
            pairs, negative = float(table[c, g, 0]), float(table[c, g, 1])
            rate = negative / pairs if pairs > 0 else None
            rates.append(rate)
            block[cat] = {
                "pairs": round(pairs, 6),
                "negative_replies": round(negative, 6),
                "p_negative": None if rate is None else round(rate, 6),
            }
        lift = rates[0] / rates[1] if rates[0] is not None and rates[1] else None
        block["lift"] = None if lift is None else round(lift, 6)
        out[name] = block
    return out


def corpus_statistics(utterances: Iterable[Utterance], *, name: str | None = None) -> dict:
    """Transition statistics of one corpus's dialogues (JSON-able dict).

    Utterances need ``dialogue`` and ``speaker``; their order in a dialogue is
    ``extra["turn"]`` when present, else the trailing number of the id, else input order.
    Labels may be four-class or any corpus's full labels (mapped by
    :data:`emorl.emotions.FOUR_CLASS_MAPS`). Keys:

    - ``counts``/``matrix``: ``[e_prev][e_next]`` over consecutive turns of one speaker;
    - ``neutral_share``: neutral among all four-class turns; ``persistence``: P(e | e);
    - ``by_act``: the same counts/matrix split by the other side's act on the turn just
      before the reply (DailyDialog, only when acts are present);
    - ``reaction``: P(negative reply) after the other side's negative vs neutral turn
      (the turn just before the reply), for any own previous emotion and for an own
      previous neutral turn, and their ratio ``lift``;
    - ``other_negative_rate``: the share of counted pairs whose reply follows a negative
      turn of the other side (the simulator's event rate);
    - ``chain_lengths``: {turns of one speaker in one dialogue: how many such chains}.
    """
    dialogues: dict[str, list[tuple[tuple[int, int], Utterance]]] = defaultdict(list)
    corpora: Counter[str] = Counter()
    n = 0
    for i, u in enumerate(utterances):
        if u.dialogue is None or u.speaker is None:
            raise ValueError(f"utterance {u.id!r} has no dialogue or speaker")
        dialogues[u.dialogue].append((_position(u, i), u))
        corpora[u.corpus] += 1
        n += 1
    counts = np.zeros((K, K))
    by_act = {act: np.zeros((K, K)) for act in ACTS}
    reaction = np.zeros((2, 2, 2))
    chain_lengths: Counter[int] = Counter()
    label_counts = np.zeros(K)
    other_turns = skipped = after_negative = 0
    for turns in dialogues.values():
        turns.sort(key=lambda item: item[0])
        seq = [u for _, u in turns]
        labels = [_four(u) for u in seq]
        for lab in labels:
            if lab is None:
                other_turns += 1
            else:
                label_counts[lab] += 1
        last: dict[str, int] = {}
        per_speaker: Counter[str] = Counter()
        for j, u in enumerate(seq):
            per_speaker[u.speaker] += 1
            i = last.get(u.speaker)
            last[u.speaker] = j
            if i is None:
                continue
            prev, nxt = labels[i], labels[j]
            if prev is None or nxt is None:
                skipped += 1
                continue
            counts[prev, nxt] += 1
            if j - 1 == i:
                continue  # the same speaker again, no other-side turn in between
            other, other_label = seq[j - 1], labels[j - 1]
            act = other.extra.get("act") if other.extra else None
            if act in by_act:
                by_act[act][prev, nxt] += 1
            if other_label is None:
                continue
            if other_label in NEGATIVE:
                g = 0
                after_negative += 1
            elif other_label == NEUTRAL:
                g = 1
            else:
                continue
            neg = float(nxt in NEGATIVE)
            reaction[0, g] += (1.0, neg)
            if prev == NEUTRAL:
                reaction[1, g] += (1.0, neg)
        chain_lengths.update(per_speaker.values())
    n_pairs = float(counts.sum())
    matrix = _rows(counts)
    stats: dict[str, Any] = {
        "corpus": name or ("+".join(sorted(c for c in corpora if c)) or "utterances"),
        "n_dialogues": len(dialogues),
        "n_utterances": n,
        "n_chains": int(sum(chain_lengths.values())),
        "n_pairs": int(n_pairs),
        "skipped_pairs": int(skipped),
        "turns_other_label": int(other_turns),
        "label_counts": {e: int(label_counts[k]) for k, e in enumerate(FOUR_CLASS)},
        "neutral_share": _share(label_counts[NEUTRAL], label_counts.sum()),
        **_matrix_block(counts),
        "persistence": {
            e: None if np.isnan(matrix[k, k]) else round(float(matrix[k, k]), 6)
            for k, e in enumerate(FOUR_CLASS)
        },
        "reaction": _reaction_block(reaction),
        "other_negative_rate": _share(after_negative, n_pairs),
        "chain_lengths": {str(k): v for k, v in sorted(chain_lengths.items())},
    }
    if any(b.sum() for b in by_act.values()):
        stats["by_act"] = {act: _matrix_block(b) for act, b in by_act.items()}
    return stats


def _share(part: float, whole: float) -> float | None:
    return round(float(part) / float(whole), 6) if whole else None


# ===================================================================== simulation
@dataclass(frozen=True)
class CommonNumbers:
    """The random numbers of one simulated corpus, drawn once and reused for every
    candidate dynamics (common random numbers make the fit's objective smooth)."""

    lengths: np.ndarray  # (n,) chain lengths
    baseline: np.ndarray  # (n, 2)
    politeness: np.ndarray  # (n,)
    noise: np.ndarray  # (n, T, 2) standard normal
    event_u: np.ndarray  # (n, T) uniform: an event happens when < event_rate


def _user_ranges(scenario: Any = None) -> dict[str, tuple[float, float]]:
    from emorl.simulator.scenario import Scenario

    if scenario is None or isinstance(scenario, (str, Path)):
        scenario = Scenario.load(scenario)
    user = scenario.user
    return {
        "baseline_valence": tuple(user.baseline_valence),
        "baseline_arousal": tuple(user.baseline_arousal),
        "politeness": tuple(user.politeness),
    }


def common_numbers(
    rng: np.random.Generator,
    chain_lengths: Mapping[str | int, int] | None,
    *,
    n_chains: int = 4000,
    scenario: Any = None,
) -> CommonNumbers:
    """Draw ``n_chains`` chains: lengths from ``chain_lengths`` ({length: count}, capped at
    :data:`MAX_CHAIN`; default all 6), baselines and politeness uniformly from the
    scenario's ``user`` ranges (the shipped call-centre scenario by default)."""
    ranges = _user_ranges(scenario)
    if chain_lengths:
        sizes = np.array([min(int(k), MAX_CHAIN) for k in chain_lengths], dtype=np.int64)
        weights = np.array(list(chain_lengths.values()), dtype=np.float64)
        lengths = rng.choice(sizes, size=n_chains, p=weights / weights.sum())
    else:
        lengths = np.full(n_chains, 6, dtype=np.int64)
    t = int(lengths.max())
    baseline = np.stack(
        [
            rng.uniform(*ranges["baseline_valence"], n_chains),
            rng.uniform(*ranges["baseline_arousal"], n_chains),
        ],
        axis=1,
    )
    politeness = rng.uniform(*ranges["politeness"], n_chains)
    noise = rng.standard_normal((n_chains, t, 2))
    event_u = rng.random((n_chains, t))
    return CommonNumbers(lengths, baseline, politeness, noise, event_u)


def _simulate(dynamics: EmotionDynamics, crn: CommonNumbers, event_rate: float) -> dict:
    """Expected statistics of the chains (Rao-Blackwellised: the emotion drawn at a turn
    does not feed back into the mood, so given the mood path two turns' emotions are
    independent and the expected pair counts are sums of products of probabilities)."""
    n, t = crn.event_u.shape
    state = crn.baseline.copy()
    bad = np.asarray(IMPULSES["bad_news"])
    counts = np.zeros((K, K))
    reaction = np.zeros((2, 2, 2))
    share = np.zeros(2)
    prev_p = None
    for step in range(t):
        alive = crn.lengths > step
        event = (crn.event_u[:, step] < event_rate) & (step > 0)
        nominal = event[:, None] * bad  # the other side's bad turn: one unit of bad news
        impulse = turn_impulse(nominal, event.astype(np.float64), crn.noise[:, step], dynamics)
        state, core = mood_step(state, crn.baseline, impulse, dynamics)
        p = emotion_probabilities(core, dynamics, crn.politeness)
        w = alive.astype(np.float64)
        share += ((w * p[:, NEUTRAL]).sum(), w.sum())
        if prev_p is not None:
            counts += np.einsum("n,ni,nj->ij", w, prev_p, p)
            neg = p[:, NEGATIVE].sum(axis=1)
            for g, mask in enumerate((event, ~event)):
                m = w * mask
                reaction[0, g] += (m.sum(), (m * neg).sum())
                mp = m * prev_p[:, NEUTRAL]
                reaction[1, g] += (mp.sum(), (mp * neg).sum())
        prev_p = p
    matrix = _rows(counts)
    return {
        "corpus": "simulator",
        "n_chains": int(n),
        "n_pairs": round(float(counts.sum()), 3),
        **_matrix_block(counts),
        "neutral_share": round(float(share[0] / share[1]), 6),
        "persistence": {e: round(float(matrix[k, k]), 6) for k, e in enumerate(FOUR_CLASS)},
        "reaction": _reaction_block(reaction),
        "other_negative_rate": round(float(event_rate), 6),
    }


def simulate_statistics(
    dynamics: EmotionDynamics,
    rng: np.random.Generator,
    *,
    chain_lengths: Mapping[str | int, int] | None = None,
    n_chains: int = 4000,
    event_rate: float = 0.05,
    scenario: Any = None,
) -> dict:
    """The :func:`corpus_statistics` of chains run through the :class:`~emorl.simulator.
    mood.Mood` equations in a generic conversation: no call-centre appraisal, only the
    noise impulse each turn, plus, before a turn with probability ``event_rate``, a
    negative turn of the other side (one unit of ``bad_news``, scaled by
    ``expected_reaction``). Each chain starts at its caller's baseline (drawn from the
    scenario's ``user`` ranges) with lengths drawn from ``chain_lengths``. Values are
    expectations given the mood paths, so they carry no emotion-sampling noise."""
    crn = common_numbers(rng, chain_lengths, n_chains=n_chains, scenario=scenario)
    return _simulate(dynamics, crn, event_rate)


# ===================================================================== distances
def _matrix(stats: Mapping[str, Any]) -> np.ndarray:
    return np.array(
        [[np.nan if x is None else x for x in row] for row in stats["matrix"]], dtype=np.float64
    )


def transition_tv(a: Mapping[str, Any], b: Mapping[str, Any], *, weighted: bool = False) -> float:
    """Total-variation distance of two transition matrices: the mean over rows of
    ``0.5 * sum_j |a_ij - b_ij|`` (rows empty in either are left out). ``weighted``: rows
    weighted by ``b``'s row counts instead of equally."""
    pa, pb = _matrix(a), _matrix(b)
    row_tv = 0.5 * np.abs(pa - pb).sum(axis=1)
    ok = ~np.isnan(row_tv)
    if not ok.any():
        return float("nan")
    if weighted:
        w = np.asarray(b["counts"], dtype=np.float64).sum(axis=1)[ok]
        return float((row_tv[ok] * w).sum() / w.sum())
    return float(row_tv[ok].mean())


def _lift(stats: Mapping[str, Any]) -> float | None:
    return stats["reaction"]["previous_neutral"]["lift"]


# ===================================================================== fitting
#: Parameters the fit moves by default; the others keep the base dynamics' values.
DEFAULT_FREE = ("lingering", "impulse_noise", "temperature", "neutral_bias", "expected_reaction")
#: Search box of each parameter (inside its documented range).
FIT_BOUNDS: dict[str, tuple[float, float]] = {
    "lingering": (0.0, 0.95),
    "expected_reaction": (0.0, 2.0),
    "temperature": (0.02, 1.0),
    "neutral_bias": (-4.0, 4.0),
    "politeness_neutral_bias": (0.0, 3.0),
    "impulse_noise": (0.0, 1.5),
    "gain": (0.0, 2.0),
    "momentary_gain": (0.0, 2.0),
}
#: Coarse grid (before Nelder-Mead) per parameter.
DEFAULT_GRID: dict[str, tuple[float, ...]] = {
    "lingering": (0.1, 0.4, 0.7, 0.9),
    "impulse_noise": (0.2, 0.5, 1.0),
    "temperature": (0.06, 0.15, 0.4),
    "neutral_bias": (-1.0, 0.5, 2.0),
    "expected_reaction": (1.0,),
}
#: Weight of the |log lift gap| term of the objective.
LIFT_WEIGHT = 0.25


def _objective_parts(sim: Mapping[str, Any], target: Mapping[str, Any]) -> dict[str, float]:
    parts = {
        "tv": transition_tv(sim, target),
        "neutral_gap": abs(sim["neutral_share"] - target["neutral_share"]),
    }
    lt, ls = _lift(target), _lift(sim)
    parts["log_lift_gap"] = abs(np.log(ls) - np.log(lt)) if lt and ls else 0.0
    return parts


def _score(parts: Mapping[str, float], lift_weight: float) -> float:
    return parts["tv"] + parts["neutral_gap"] + lift_weight * parts["log_lift_gap"]


def _to_x(values: Mapping[str, float], free: Sequence[str]) -> np.ndarray:
    x = []
    for name in free:
        lo, hi = FIT_BOUNDS[name]
        u = np.clip((values[name] - lo) / (hi - lo), 1e-6, 1 - 1e-6)
        x.append(np.log(u / (1 - u)))
    return np.array(x)


def _from_x(x: np.ndarray, free: Sequence[str]) -> dict[str, float]:
    out = {}
    for name, xi in zip(free, x, strict=True):
        lo, hi = FIT_BOUNDS[name]
        out[name] = float(lo + (hi - lo) / (1.0 + np.exp(-xi)))
    return out


def _as_corpora(stats: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    if "matrix" in stats:  # one corpus's statistics
        return {str(stats.get("corpus", "corpus")): stats}
    return dict(stats)


def fit_dynamics(
    stats: Mapping[str, Any],
    *,
    seed: int = 0,
    base: EmotionDynamics | None = None,
    free: Sequence[str] = DEFAULT_FREE,
    grid: Mapping[str, Sequence[float]] | None = None,
    weights: Mapping[str, float] | None = None,
    n_chains: int = 4000,
    lift_weight: float = LIFT_WEIGHT,
    maxiter: int = 600,
    scenario: Any = None,
) -> EmotionDynamics:
    """Fit the ``free`` parameters of ``base`` (default the hand-set dynamics) to ``stats``.

    ``stats`` is one :func:`corpus_statistics` dict or a mapping name -> such dict (each
    corpus simulated with its own chain lengths and event rate). The objective, for each
    corpus, is the row-mean total-variation distance of the simulated and corpus
    transition matrices, plus the absolute neutral-share gap, plus ``lift_weight`` times
    the absolute gap of the log negative-reaction lift (after an own neutral turn); the
    corpora are averaged with ``weights`` (default equal). The search is deterministic:
    the common random numbers are drawn once from ``seed``; every point of a coarse grid
    (``grid``, free parameters only; missing ones at the base value) is scored, then
    scipy's Nelder-Mead runs from the best point in logit coordinates of
    :data:`FIT_BOUNDS`. The result's ``provenance`` holds the inputs and the outcome.
    """
    from scipy.optimize import minimize

    base = base or EmotionDynamics()
    free = tuple(free)
    for name in free:
        if name not in FIT_BOUNDS:
            raise ValueError(f"fit_dynamics: unknown parameter {name!r}")
    corpora = _as_corpora(stats)
    weights = dict(weights) if weights is not None else {c: 1.0 for c in corpora}
    total_w = sum(weights[c] for c in corpora)
    rng = np.random.default_rng(seed)
    crns = {
        c: common_numbers(rng, s.get("chain_lengths"), n_chains=n_chains, scenario=scenario)
        for c, s in corpora.items()
    }
    rates = {c: float(s.get("other_negative_rate") or 0.0) for c, s in corpora.items()}
    evaluations = 0

    def evaluate(values: Mapping[str, float]) -> tuple[float, dict[str, dict[str, float]]]:
        nonlocal evaluations
        evaluations += 1
        dyn = base.replace(**values)
        parts = {
            c: _objective_parts(_simulate(dyn, crns[c], rates[c]), corpora[c]) for c in corpora
        }
        score = sum(weights[c] * _score(parts[c], lift_weight) for c in corpora) / total_w
        return float(score), parts

    grid = grid if grid is not None else DEFAULT_GRID
    axes = [tuple(grid.get(name, (getattr(base, name),))) for name in free]
    best_values, best_score = None, np.inf
    for point in np.array(np.meshgrid(*axes, indexing="ij")).reshape(len(free), -1).T:
        values = dict(zip(free, map(float, point), strict=True))
        score, _ = evaluate(values)
        if score < best_score:
            best_values, best_score = values, score
    assert best_values is not None
    grid_evaluations = evaluations
    result = minimize(
        lambda x: evaluate(_from_x(x, free))[0],
        _to_x(best_values, free),
        method="Nelder-Mead",
        options={"maxiter": maxiter, "xatol": 1e-4, "fatol": 1e-6},
    )
    values = _from_x(result.x, free) if result.fun <= best_score else best_values
    score, parts = evaluate(values)
    provenance = {
        "fit": {
            "method": "grid, then Nelder-Mead (scipy) in logit coordinates of the bounds",
            "objective": "sum_c w_c [TV_rows(sim, corpus) + |neutral gap| + "
            f"{lift_weight} |log lift gap|] / sum_c w_c",
            "seed": seed,
            "n_chains_per_corpus": n_chains,
            "free": list(free),
            "fixed": {k: v for k, v in base.as_dict(provenance=False).items() if k not in free},
            "bounds": {k: list(FIT_BOUNDS[k]) for k in free},
            "grid": {k: list(v) for k, v in zip(free, axes, strict=True)},
            "corpus_weights": {c: weights[c] for c in corpora},
            "grid_best": {"values": best_values, "objective": round(best_score, 6)},
            "evaluations": {"grid": grid_evaluations, "total": evaluations},
            "nelder_mead": {
                "iterations": int(result.nit),
                "converged": bool(result.success),
                "message": str(result.message),
            },
            "objective_value": round(score, 6),
            "objective_parts": {
                c: {k: round(float(v), 6) for k, v in p.items()} for c, p in parts.items()
            },
        },
        "targets": {
            c: {
                "n_dialogues": s.get("n_dialogues"),
                "n_pairs": s.get("n_pairs"),
                "counts": s["counts"],
                "neutral_share": s["neutral_share"],
                "lift": _lift(s),
                "other_negative_rate": s.get("other_negative_rate"),
            }
            for c, s in corpora.items()
        },
    }
    return base.replace(**{k: round(v, 4) for k, v in values.items()}, provenance=provenance)


# ===================================================================== fidelity
def _row_persistence(stats: Mapping[str, Any]) -> dict[str, float | None]:
    return dict(stats["persistence"])


def fidelity_report(
    dynamics: EmotionDynamics,
    heldout_stats: Mapping[str, Any],
    train_stats: Mapping[str, Any],
    *,
    seed: int = 1,
    n_chains: int = 20000,
    scenario: Any = None,
) -> dict:
    """How close the simulator is to held-out dialogues, with the train-vs-held-out floor.

    ``heldout_stats``/``train_stats``: one :func:`corpus_statistics` dict each or mappings
    name -> dict with the same names. Per corpus: the simulator run with the held-out
    chain lengths and event rate (``seed``); TV (row mean, and row-count weighted) of the
    simulator vs held-out, simulator vs train and train vs held-out (the floor: what a
    perfect copy of the train statistics would score); neutral share, persistence per
    emotion and negative-reaction lift of each.
    """
    held, train = _as_corpora(heldout_stats), _as_corpora(train_stats)
    if set(held) != set(train):
        raise ValueError(f"fidelity_report: corpora differ: {sorted(held)} vs {sorted(train)}")
    rng = np.random.default_rng(seed)
    report: dict[str, Any] = {"seed": seed, "n_chains_per_corpus": n_chains, "corpora": {}}
    for c in held:
        h, t = held[c], train[c]
        crn = common_numbers(rng, h.get("chain_lengths"), n_chains=n_chains, scenario=scenario)
        sim = _simulate(dynamics, crn, float(h.get("other_negative_rate") or 0.0))
        report["corpora"][c] = {
            "heldout_corpus": h.get("corpus"),
            "heldout_pairs": h.get("n_pairs"),
            "train_pairs": t.get("n_pairs"),
            "tv": {
                "simulator_vs_heldout": round(transition_tv(sim, h), 4),
                "simulator_vs_train": round(transition_tv(sim, t), 4),
                "train_vs_heldout": round(transition_tv(t, h), 4),
            },
            "tv_weighted": {
                "simulator_vs_heldout": round(transition_tv(sim, h, weighted=True), 4),
                "simulator_vs_train": round(transition_tv(sim, t, weighted=True), 4),
                "train_vs_heldout": round(transition_tv(t, h, weighted=True), 4),
            },
            "neutral_share": {
                "simulator": sim["neutral_share"],
                "heldout": h["neutral_share"],
                "train": t["neutral_share"],
            },
            "persistence": {
                "simulator": _row_persistence(sim),
                "heldout": _row_persistence(h),
                "train": _row_persistence(t),
            },
            "lift": {"simulator": _lift(sim), "heldout": _lift(h), "train": _lift(t)},
            "simulator_matrix": sim["matrix"],
        }
    return report


# ===================================================================== the whole refit
#: Train and held-out files under the data folder.
TRAIN_FILES = {"dailydialog": "dailydialog/train", "meld": "meld/train_sent_emo.csv"}
HELDOUT_FILES = {"dailydialog": "dailydialog/validation", "meld": "meld/dev_sent_emo.csv"}


def load_statistics(data_dir: str | Path, files: Mapping[str, str]) -> dict[str, dict]:
    """:func:`corpus_statistics` of each corpus in ``files`` (name -> path under
    ``data_dir``), read in full-label mode with the project's readers."""
    from emorl.data import load_corpus

    data_dir = Path(data_dir)
    out = {}
    for name, rel in files.items():
        path = data_dir / rel
        if not path.exists():
            raise FileNotFoundError(f"{name}: not found: {path}")
        corpus = load_corpus(name, path, labels="full")
        stats = corpus_statistics(corpus.utterances, name=f"{name}:{rel}")
        stats["reader_skipped"] = dict(corpus.skipped)
        out[name] = stats
    return out


def refit(
    data_dir: str | Path,
    out_json: str | Path | None = FITTED_JSON,
    *,
    seed: int = 0,
    command: str | None = None,
    n_chains: int = 4000,
    plot: str | Path | None = None,
) -> dict:
    """Fit on DailyDialog train + MELD train (equal weights), report fidelity on
    DailyDialog validation + MELD dev, write the dynamics JSON atomically to
    ``out_json`` (skipped when None) and return its content."""
    from emorl.artifacts import write_json

    train = load_statistics(data_dir, TRAIN_FILES)
    held = load_statistics(data_dir, HELDOUT_FILES)
    dynamics = fit_dynamics(train, seed=seed, n_chains=n_chains)
    fidelity = fidelity_report(dynamics, held, train, seed=seed + 1)
    provenance = {
        "source": "emorl.simulator.dynamics.refit",
        "command": command or f"emorl env fit-dynamics --data {data_dir} --seed {seed}",
        "data": {
            "train": {c: _files(data_dir, r) for c, r in TRAIN_FILES.items()},
            "heldout": {c: _files(data_dir, r) for c, r in HELDOUT_FILES.items()},
        },
        "n_dialogues": {
            "train": {c: s["n_dialogues"] for c, s in train.items()},
            "heldout": {c: s["n_dialogues"] for c, s in held.items()},
        },
        "reader_skipped": {c: s["reader_skipped"] for c, s in train.items()},
        "label_treatment": "pairs with a surprise/fear/disgust turn at either end are left out",
        **dict(dynamics.provenance),
    }
    content = {
        "format": DYNAMICS_FORMAT,
        "description": "Caller emotion dynamics fitted to DailyDialog train + MELD train; "
        "see docs/simulator-dynamics.md",
        "dynamics": dynamics.as_dict(provenance=False),
        "ranges": {k: list(v) for k, v in RANGES.items()},
        "provenance": _plain(provenance),
        "fidelity": fidelity,
        "statistics": {
            "train": {c: _summary(s) for c, s in train.items()},
            "heldout": {c: _summary(s) for c, s in held.items()},
        },
    }
    if out_json is not None:
        write_json(out_json, content)
    if plot is not None:
        plot_transitions(train, fidelity, plot)
    return content


def _files(data_dir: str | Path, rel: str) -> list[str]:
    path = Path(data_dir) / rel
    if path.is_dir():
        return sorted(f"{rel}/{p.name}" for p in path.iterdir() if p.is_file())
    return [rel]


def _summary(stats: Mapping[str, Any]) -> dict:
    keep = (
        "corpus",
        "n_dialogues",
        "n_utterances",
        "n_pairs",
        "skipped_pairs",
        "turns_other_label",
        "label_counts",
        "neutral_share",
        "counts",
        "matrix",
        "persistence",
        "reaction",
        "other_negative_rate",
        "by_act",
    )
    return {k: stats[k] for k in keep if k in stats}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def plot_transitions(
    train_stats: Mapping[str, Any], fidelity: Mapping[str, Any], path: str | Path
) -> Path:
    """Heatmaps: each corpus's train transition matrix above the simulator's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from emorl.artifacts import atomic_write

    corpora = list(fidelity["corpora"])
    fig, axes = plt.subplots(2, len(corpora), figsize=(4.2 * len(corpora), 7.6), squeeze=False)
    for col, c in enumerate(corpora):
        tv = fidelity["corpora"][c]["tv"]["simulator_vs_heldout"]
        rows = [
            (f"{c} train", _matrix(train_stats[c])),
            (
                f"simulator (TV vs held-out {tv:.3f})",
                _matrix({"matrix": fidelity["corpora"][c]["simulator_matrix"]}),
            ),
        ]
        for row, (title, m) in enumerate(rows):
            ax = axes[row][col]
            ax.imshow(np.nan_to_num(m), vmin=0, vmax=1, cmap="Blues")
            for i in range(K):
                for j in range(K):
                    v = m[i, j]
                    ax.text(
                        j,
                        i,
                        "-" if np.isnan(v) else f"{v:.2f}",
                        ha="center",
                        va="center",
                        color="white" if v > 0.6 else "black",
                        fontsize=9,
                    )
            ax.set_xticks(range(K), FOUR_CLASS)
            ax.set_yticks(range(K), FOUR_CLASS)
            ax.set_xlabel("next turn of the same speaker")
            ax.set_ylabel("previous turn")
            ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    return path


def print_fidelity(content: Mapping[str, Any]) -> None:
    """Rich tables of a :func:`refit` result: fitted values, then fidelity per corpus."""
    from rich.table import Table

    from emorl.cli.common import console

    fit = content["provenance"].get("fit", {})
    values = Table(title="fitted emotion dynamics")
    for col in ("parameter", "value", "range", "fitted?"):
        values.add_column(col)
    free = set(fit.get("free", ()))
    for name, value in content["dynamics"].items():
        low, high = RANGES[name]
        at = " (at bound)" if name in free and value in (low, high) else ""
        values.add_row(
            name, f"{value:.4g}", f"[{low:g}, {high:g}]", ("yes" if name in free else "fixed") + at
        )
    console.print(values)
    console.print(f"objective {fit.get('objective_value')}; {fit.get('objective')}")
    table = Table(title="fidelity: transition matrices (TV, row mean) and shares")
    for col in (
        "corpus",
        "TV sim-heldout",
        "TV train-heldout (floor)",
        "TV sim-train",
        "neutral sim/heldout/train",
        "lift sim/heldout/train",
    ):
        table.add_column(col, justify="right")
    for name, c in content["fidelity"]["corpora"].items():
        ns, lift = c["neutral_share"], c["lift"]
        table.add_row(
            name,
            f"{c['tv']['simulator_vs_heldout']:.3f}",
            f"{c['tv']['train_vs_heldout']:.3f}",
            f"{c['tv']['simulator_vs_train']:.3f}",
            "/".join(f"{ns[k]:.3f}" for k in ("simulator", "heldout", "train")),
            "/".join(
                "-" if lift[k] is None else f"{lift[k]:.2f}"
                for k in ("simulator", "heldout", "train")
            ),
        )
    console.print(table)
    persistence = Table(
        title="persistence P(e_next = e | e_prev = e): simulator / held-out / train"
    )
    persistence.add_column("corpus")
    for e in FOUR_CLASS:
        persistence.add_column(e, justify="right")
    for name, c in content["fidelity"]["corpora"].items():
        p = c["persistence"]
        persistence.add_row(
            name,
            *(
                "/".join(
                    "-" if p[k][e] is None else f"{p[k][e]:.2f}"
                    for k in ("simulator", "heldout", "train")
                )
                for e in FOUR_CLASS
            ),
        )
    console.print(persistence)
