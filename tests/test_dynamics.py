"""The caller's emotion dynamics: mood equations, corpus statistics, the fit, shipped JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from emorl.data.utterance import Utterance
from emorl.emotions import FOUR_CLASS
from emorl.simulator.dynamics import (
    common_numbers,
    corpus_statistics,
    fidelity_report,
    fit_dynamics,
    simulate_statistics,
    transition_tv,
)
from emorl.simulator.mood import (
    DESIGNED,
    FITTED_JSON,
    RANGES,
    Appraisal,
    EmotionDynamics,
    Mood,
    emotion_probabilities,
    fitted_dynamics,
    mood_step,
    turn_impulse,
)


def _dialogue(name: str, turns: list[tuple[str, str, str | None]]) -> list[Utterance]:
    return [
        Utterance(
            id=f"{name}_{i}",
            label=label,
            speaker=f"{name}_{speaker}",
            dialogue=name,
            corpus="dailydialog",
            extra={"turn": i, **({"act": act} if act else {})},
        )
        for i, (speaker, label, act) in enumerate(turns)
    ]


def test_corpus_statistics_counts_a_known_dialogue() -> None:
    # A: neutral, neutral, anger, anger ; B: happiness, anger, surprise, no emotion
    turns = [
        ("A", "no emotion", "inform"),
        ("B", "happiness", "question"),
        ("A", "no emotion", "inform"),
        ("B", "anger", "directive"),
        ("A", "anger", "inform"),
        ("B", "surprise", "inform"),
        ("A", "anger", "commissive"),
        ("B", "no emotion", "inform"),
    ]
    utterances = _dialogue("d0", turns)
    stats = corpus_statistics(list(reversed(utterances)))  # order comes from extra["turn"]
    n, h, s, a = range(4)
    expected = np.zeros((4, 4))
    expected[n, n] = 1  # A turn 0 -> 2
    expected[n, a] = 1  # A turn 2 -> 4
    expected[a, a] = 1  # A turn 4 -> 6
    expected[h, a] = 1  # B turn 1 -> 3 ; B 3 -> 5 (surprise) and 5 -> 7 are skipped
    assert np.array_equal(np.array(stats["counts"]), expected)
    assert stats["skipped_pairs"] == 2
    assert stats["n_pairs"] == 4 and stats["n_chains"] == 2 and stats["n_dialogues"] == 1
    assert stats["turns_other_label"] == 1
    assert stats["neutral_share"] == pytest.approx(3 / 7)
    assert stats["matrix"][n] == [0.5, 0.0, 0.0, 0.5]
    assert stats["matrix"][s] == [None] * 4  # no pair starts at sad
    assert stats["persistence"]["angry"] == 1.0
    # the other side's act just before the reply: B's "question" sits between A0 and A2
    assert stats["by_act"]["question"]["counts"][n][n] == 1
    assert stats["by_act"]["directive"]["counts"][n][a] == 1
    # reaction: A's reply after B's anger (turn 3) is angry; after B's neutral none exists
    reaction = stats["reaction"]["any_previous"]
    assert reaction["after_negative"] == {"pairs": 1.0, "negative_replies": 1.0, "p_negative": 1.0}
    assert stats["reaction"]["previous_neutral"]["after_negative"]["pairs"] == 1.0
    assert stats["other_negative_rate"] == pytest.approx(1 / 4)
    assert stats["chain_lengths"] == {"4": 2}
    json.dumps(stats)  # JSON-able


def test_corpus_statistics_rows_of_a_long_known_chain() -> None:
    rng = np.random.default_rng(0)
    true = np.array(
        [[0.7, 0.1, 0.1, 0.1], [0.3, 0.6, 0.05, 0.05], [0.3, 0.0, 0.6, 0.1], [0.2, 0.0, 0.1, 0.7]]
    )
    state, turns = 0, []
    for _ in range(10000):
        turns.append(("A", FOUR_CLASS[state], None))
        state = int(rng.choice(4, p=true[state]))
    utterances = [
        Utterance(id=f"x_{i}", label=lab, speaker="A", dialogue="x")
        for i, (_, lab, _) in enumerate(turns)
    ]
    stats = corpus_statistics(utterances)
    assert np.abs(np.array(stats["matrix"]) - true).max() < 0.04
    assert "by_act" not in stats


def test_dynamics_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="lingering"):
        EmotionDynamics(lingering=0.99)
    with pytest.raises(ValueError, match="expected_reaction"):
        DESIGNED.replace(expected_reaction=2.5)
    with pytest.raises(ValueError, match="temperature"):
        DESIGNED.replace(temperature=0.0)
    with pytest.raises(ValueError, match="impulse_noise"):
        DESIGNED.replace(impulse_noise=math.nan)
    with pytest.raises(ValueError, match="gain"):
        DESIGNED.replace(gain=True)
    with pytest.raises(ValueError, match="bogus"):
        DESIGNED.replace(bogus=1.0)
    with pytest.raises(ValueError, match="bogus"):
        EmotionDynamics.from_dict({"bogus": 1.0})
    d = DESIGNED.replace(lingering=0.3, provenance={"note": "x"})
    assert EmotionDynamics.from_dict(d.as_dict()) == d
    assert d.as_dict()["provenance"] == {"note": "x"}
    assert d == d.replace(provenance={})  # provenance is not compared
    for name, (low, high) in RANGES.items():
        assert low <= getattr(DESIGNED, name) <= high


def test_mood_follows_the_vectorised_equations() -> None:
    dyn = DESIGNED.replace(impulse_noise=0.4, lingering=0.6)
    baseline, initial = np.array([0.1, 0.0]), np.array([-0.3, 0.2])
    mood = Mood(baseline, initial, dyn, 0.5)
    rng, ref = np.random.default_rng(3), np.random.default_rng(3)
    state = initial.copy()
    for appraisal in (Appraisal(bad_news=1.0), Appraisal(), Appraisal(progress=0.6)):
        index, p, intensity = mood.react(appraisal, rng)
        noise = ref.standard_normal(2)
        impulse = turn_impulse(appraisal.impulse(), appraisal.bad_news, noise, dyn)
        state, core = mood_step(state, baseline, impulse, dyn)
        expect = emotion_probabilities(core, dyn, 0.5)
        assert index == int(ref.choice(4, p=expect))
        assert np.allclose(mood.state, state) and np.allclose(p, expect)
        assert 0.0 <= intensity <= 1.0
    index, p, intensity = mood.opening(rng)
    assert 0 <= index < 4 and p.sum() == pytest.approx(1.0) and 0.0 <= intensity <= 1.0


def test_expected_reaction_scales_bad_news_only() -> None:
    def after(er: float, appraisal: Appraisal) -> np.ndarray:
        mood = Mood(np.zeros(2), np.zeros(2), DESIGNED.replace(expected_reaction=er), 0.0)
        mood.react(appraisal, np.random.default_rng(0))
        return mood.state

    bad = Appraisal(bad_news=1.0)
    assert np.allclose(after(0.0, bad), 0.0)
    assert np.allclose(after(2.0, bad), 2 * after(1.0, bad))
    other = Appraisal(repetition=1.0)
    assert np.allclose(after(0.0, other), after(2.0, other))


def test_simulated_statistics_are_deterministic_and_react_to_the_parameters() -> None:
    lengths = {"2": 10, "5": 20, "8": 5}
    base = DESIGNED.replace(impulse_noise=0.4)

    def sim(d: EmotionDynamics) -> dict:
        rng = np.random.default_rng(7)
        return simulate_statistics(d, rng, chain_lengths=lengths, n_chains=800, event_rate=0.2)

    a = sim(base)
    assert a == sim(base)
    assert np.allclose(np.array(a["matrix"]).sum(axis=1), 1.0)
    low, high = sim(base.replace(lingering=0.1)), sim(base.replace(lingering=0.9))
    assert high["persistence"]["sad"] > low["persistence"]["sad"]
    calm, strong = sim(base.replace(expected_reaction=0.2)), sim(base.replace(expected_reaction=2))
    lift = lambda s: s["reaction"]["previous_neutral"]["lift"]  # noqa: E731
    assert lift(strong) > lift(calm) > 0
    crn = common_numbers(np.random.default_rng(0), lengths, n_chains=50)
    assert set(crn.lengths.tolist()) <= {2, 5, 8}
    assert ((crn.baseline[:, 0] >= -0.2) & (crn.baseline[:, 0] <= 0.3)).all()


def _mood_chains(dyn: EmotionDynamics, n: int, length: int, seed: int) -> list[Utterance]:
    """Chains drawn by :class:`Mood` itself, one speaker per dialogue, baselines as the
    simulator draws them (the shipped scenario's ranges)."""
    rng = np.random.default_rng(seed)
    out = []
    for c in range(n):
        baseline = np.array([rng.uniform(-0.2, 0.3), rng.uniform(-0.2, 0.2)])
        mood = Mood(baseline, baseline, dyn, float(rng.uniform(0.0, 1.0)))
        for t in range(length):
            index, _, _ = mood.react(Appraisal(), rng)
            out.append(
                Utterance(id=f"c{c}_{t}", label=FOUR_CLASS[index], speaker="A", dialogue=f"c{c}")
            )
    return out


@pytest.mark.parametrize("lingering", [0.5, 0.85])
def test_fit_recovers_a_known_lingering(lingering: float) -> None:
    true = DESIGNED.replace(lingering=lingering, impulse_noise=0.6, temperature=0.15)
    stats = corpus_statistics(_mood_chains(true, 800, 10, seed=12))
    fitted = fit_dynamics(
        stats,
        seed=0,
        base=true.replace(lingering=0.2),
        free=("lingering",),
        grid={"lingering": (0.1, 0.5, 0.9)},
        n_chains=2000,
        maxiter=40,
    )
    assert fitted.lingering == pytest.approx(lingering, abs=0.1)
    fit = fitted.provenance["fit"]
    assert fit["free"] == ["lingering"] and fit["objective_value"] >= 0
    report = fidelity_report(fitted, stats, stats, n_chains=1000)
    (corpus,) = report["corpora"].values()
    assert corpus["tv"]["train_vs_heldout"] == 0.0
    assert corpus["tv"]["simulator_vs_heldout"] < 0.1
    assert transition_tv(stats, stats) == 0.0


def test_shipped_dynamics_load_and_are_in_range() -> None:
    data = json.loads(FITTED_JSON.read_text(encoding="utf-8"))
    dyn = fitted_dynamics()
    dyn.validate()
    for name, (low, high) in RANGES.items():
        assert low <= getattr(dyn, name) <= high
        assert data["dynamics"][name] == getattr(dyn, name)
    prov = dyn.provenance
    assert prov["command"].startswith("emorl env fit-dynamics --data")
    assert set(prov["n_dialogues"]["train"]) == {"dailydialog", "meld"}
    assert "objective_value" in prov["fit"] and "corpora" in prov["fidelity"]
    # each call is a fresh copy: a caller's change never reaches the next one
    dyn.provenance["command"] = "changed"
    assert fitted_dynamics().provenance["command"] == data["provenance"]["command"]
    assert fitted_dynamics().replace(lingering=0.2).lingering == 0.2


def test_fit_dynamics_command_is_registered() -> None:
    from emorl.cli import build_parser

    args = build_parser().parse_args(["env", "fit-dynamics", "--data", "x", "--seed", "3"])
    assert args.seed == 3 and args.out is None and callable(args.handler)


@pytest.mark.data
def test_corpus_statistics_of_the_real_corpora(shared_data) -> None:
    from emorl.data import load_corpus

    dd = load_corpus("dailydialog", shared_data / "dailydialog" / "validation", labels="full")
    stats = corpus_statistics(dd.utterances)
    assert stats["n_dialogues"] == 1000 and stats["n_chains"] == 2000
    assert stats["n_pairs"] + stats["skipped_pairs"] == len(dd) - stats["n_chains"]
    assert sum(map(sum, stats["counts"])) == stats["n_pairs"] > 4000
    assert 0.75 < stats["neutral_share"] < 0.95
    assert set(stats["by_act"]) == {"inform", "question", "directive", "commissive"}
    for row in stats["matrix"]:
        assert sum(row) == pytest.approx(1.0, abs=1e-5)
    meld = load_corpus("meld", shared_data / "meld" / "dev_sent_emo.csv", labels="full")
    stats = corpus_statistics(meld.utterances)
    assert stats["n_dialogues"] == 114 and stats["n_utterances"] == len(meld)
    assert 0.4 < stats["neutral_share"] < 0.7
    assert stats["reaction"]["any_previous"]["lift"] > 1.0  # anger begets anger
