"""The caller's and the agent's words: coverage, enumeration, determinism, provenance."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from emorl.emotions import FOUR_CLASS
from emorl.simulator.bank import DEFAULT_BANK_DIR, UtteranceBank, normalise
from emorl.simulator.caller_language import (
    INTENTS,
    TemplateCallerLanguage,
    main,
    scenario_fills,
)
from emorl.simulator.scenario import Scenario, ScenarioError
from emorl.simulator.system_language import TemplateSystemLanguage

EXPECTED_INTENTS = [
    "open",
    "greet_back",
    "provide_slot",
    "already_gave",
    "not_needed",
    "confirm_yes",
    "confirm_correct",
    "confirm_missing",
    "repeat_complaint",
    "wrong_record",
    "premature",
    "not_resolved",
    "thank",
    "react_bad_news",
    "accept_alternative",
    "refuse_alternative",
    "not_helpful",
    "acknowledge_apology",
    "acknowledge_empathy",
    "transferred",
    "goodbye",
    "hangup",
]
COMMON = ("open", "provide_slot", "confirm_yes", "thank", "react_bad_news", "hangup")
BAND_POINTS = (0.1, 0.5, 0.9)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.load()


@pytest.fixture(scope="module")
def caller() -> TemplateCallerLanguage:
    return TemplateCallerLanguage()


@pytest.fixture(scope="module")
def replies(caller, scenario) -> list[str]:
    return caller.all_replies(scenario)


def _context(scenario: Scenario, intent: str, rng: np.random.Generator) -> dict[str, str]:
    fills = scenario_fills(scenario, intent)
    problem = scenario.problems[int(rng.integers(len(scenario.problems)))]
    extra = {"problem": problem.description, "problem_type": problem.type, "system_text": "Hi."}
    return {**extra, **fills[int(rng.integers(len(fills)))]}


def _well_formed(text: str) -> None:
    assert text and text == text.strip(), repr(text)
    assert "{" not in text and "}" not in text, text
    assert "  " not in text, text
    assert text[-1] in ".!?", text
    assert text[0].isupper(), text


def test_intents_are_the_agreed_ones() -> None:
    assert list(INTENTS) == EXPECTED_INTENTS


def test_every_intent_emotion_and_band_realises_well_formed_text(caller, scenario) -> None:
    rng = np.random.default_rng(0)
    for intent in INTENTS:
        for emotion in FOUR_CLASS:
            for intensity in BAND_POINTS:
                for politeness in BAND_POINTS:
                    for _ in range(3):
                        text = caller.realise(
                            intent,
                            emotion,
                            rng,
                            intensity=intensity,
                            politeness=politeness,
                            context=_context(scenario, intent, rng),
                        )
                        _well_formed(text)


def test_every_enumerated_reply_is_well_formed_and_the_list_is_small_and_fast(
    caller, scenario, replies
) -> None:
    assert len(replies) == len(set(replies))
    assert 5_000 < len(replies) < 40_000
    for text in replies:
        _well_formed(text)
    start = time.perf_counter()
    again = caller.all_replies(scenario)
    assert time.perf_counter() - start < 1.0
    assert again == replies


def test_realise_only_says_what_all_replies_lists(caller, scenario, replies) -> None:
    known = set(replies)
    rng = np.random.default_rng(1)
    for _ in range(4_000):
        intent = INTENTS[int(rng.integers(len(INTENTS)))]
        emotion = FOUR_CLASS[int(rng.integers(4))]
        text = caller.realise(
            intent,
            emotion,
            rng,
            intensity=float(rng.random()),
            politeness=float(rng.random()),
            context=_context(scenario, intent, rng),
        )
        assert text in known, (intent, emotion, text)


def test_common_intents_have_many_surface_forms(caller, scenario) -> None:
    counts = caller.counts(scenario)
    for intent in COMMON:
        for emotion in FOUR_CLASS:
            assert counts[intent][emotion] >= 20, (intent, emotion, counts[intent])
    for intent in INTENTS:
        assert min(counts[intent][e] for e in FOUR_CLASS) >= 20, (intent, counts[intent])


def test_emotions_sound_different(caller, scenario) -> None:
    fills = scenario_fills(scenario, "react_bad_news")
    by_emotion = {e: set(caller.replies("react_bad_news", e, fills)) for e in FOUR_CLASS}
    for a in FOUR_CLASS:
        for b in FOUR_CLASS:
            if a < b:
                assert len(by_emotion[a] & by_emotion[b]) < 0.05 * len(by_emotion[a])


def test_slot_replies_carry_the_value_and_problem_replies_the_problem(caller, scenario) -> None:
    rng = np.random.default_rng(2)
    for intent in ("provide_slot", "confirm_correct"):
        for emotion in FOUR_CLASS:
            text = caller.realise(
                intent,
                emotion,
                rng,
                intensity=0.5,
                politeness=0.5,
                context={"prompt": "postcode", "value": "EH3 9QP"},
            )
            assert "EH3 9QP" in text
    problem = scenario.problems[0].description
    text = caller.realise(
        "open", "angry", rng, intensity=0.9, politeness=0.1, context={"problem": problem}
    )
    assert problem[1:-1].lower() in text.lower()
    with pytest.raises(ValueError, match="unknown intent"):
        caller.realise("sing", "happy", rng, intensity=0.5, politeness=0.5, context={})


def test_realise_is_deterministic_under_a_seed(caller, scenario) -> None:
    def draw(seed: int) -> list[str]:
        rng = np.random.default_rng(seed)
        return [
            caller.realise(
                intent,
                emotion,
                rng,
                intensity=0.7,
                politeness=0.3,
                context=_context(scenario, intent, np.random.default_rng(9)),
            )
            for intent in INTENTS
            for emotion in FOUR_CLASS
        ]

    assert draw(5) == draw(5)
    assert draw(5) != draw(6)


def test_corpus_reactions_are_drawn_from_the_whole_bank(caller, scenario) -> None:
    lines = caller.corpus_lines("thank", "happy")
    assert len(lines) >= 5
    rng = np.random.default_rng(3)
    seen = set()
    for _ in range(3_000):
        text = caller.realise("thank", "happy", rng, intensity=0.9, politeness=0.5, context={})
        seen.update(line for line in lines if text.startswith(line))
    assert seen == set(lines)


def test_counts_command_prints_every_intent(capsys) -> None:
    assert main(["--counts", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["intents"]) == set(INTENTS) and data["total"] > 5_000


# ------------------------------------------------------------------ system language
def test_system_language_fills_prompts_heard_values_and_problem_phrases(scenario) -> None:
    system = TemplateSystemLanguage()
    rng = np.random.default_rng(0)
    problem = scenario.problems[0]
    for slot in scenario.slots.values():
        text = system.realise(f"ask_{slot.name}", rng, scenario=scenario, problem=problem, heard={})
        assert slot.prompt in text
    heard = {"account_number": "90210", "full_name": "Tom Baker"}
    for _ in range(5):
        text = system.realise("confirm", rng, scenario=scenario, problem=problem, heard=heard)
        assert "account number 90210 and name Tom Baker" in text
    say = {
        act: system.realise(act, rng, scenario=scenario, problem=problem, heard=heard)
        for act in ("inform_resolution", "deliver_bad_news", "offer_alternative")
    }
    assert problem.resolution[1:] in say["inform_resolution"]
    assert problem.refusal[1:] in say["deliver_bad_news"]
    assert problem.alternative[1:] in say["offer_alternative"]
    acts = ["greet", "apologise", "show_empathy", "escalate", "close", "confirm"]
    for act in acts:
        for _ in range(4):
            _well_formed(system.realise(act, rng, scenario=scenario, problem=problem, heard={}))
    with pytest.raises(ValueError, match="unknown"):
        system.realise("dance", rng, scenario=scenario, problem=problem, heard={})
    utterances = system.all_utterances(scenario)
    assert len(utterances) == len(set(utterances)) and len(utterances) > 50
    for text in utterances:
        _well_formed(text)


def test_scenario_phrase_fields_default_and_validate(tmp_path, scenario) -> None:
    with open(scenario.source, encoding="utf-8") as f:
        raw = json.load(f)
    assert all(p.resolution and p.refusal and p.alternative for p in scenario.problems)
    plain = json.loads(json.dumps(raw))
    for p in plain["problems"]:
        for key in ("resolution", "refusal", "alternative"):
            p.pop(key, None)
    loaded = Scenario.from_dict(plain, source="s.json")
    assert loaded.problems[0].resolution and loaded.problems[0].refusal
    for key, bad in (("resolution", 3), ("refusal", ""), ("alternative", "a {slot}")):
        broken = json.loads(json.dumps(raw))
        broken["problems"][1][key] = bad
        with pytest.raises(ScenarioError, match=rf"s.json: field 'problems\[1\].{key}'"):
            Scenario.from_dict(broken, source="s.json")
    broken = json.loads(json.dumps(raw))
    broken["problems"][0]["resolutoin"] = "typo"
    with pytest.raises(ScenarioError, match=r"field 'problems\[0\].resolutoin': unknown"):
        Scenario.from_dict(broken, source="s.json")


# ------------------------------------------------------------------ provenance
def test_shipped_bank_is_read_whole() -> None:
    bank = UtteranceBank.load()
    rows = [json.loads(x) for x in (DEFAULT_BANK_DIR / "reactions.jsonl").read_text().splitlines()]
    assert len(bank) == len({(r["emotion"], r["act"], r["text"]) for r in rows})
    assert {r["source"] for r in rows} == {"meld", "dailydialog"}
    assert all(r["id"].startswith(("dev_", "validation_")) for r in rows)


@pytest.mark.data
def test_no_shipped_line_occurs_in_the_recognizer_training_splits(shared_data, replies) -> None:
    from emorl.data import load_corpus
    from emorl.simulator.system_language import TemplateSystemLanguage

    train = set()
    for name, rel in (("meld", "meld/train_sent_emo.csv"), ("dailydialog", "dailydialog/train")):
        train |= {
            normalise(u.text)
            for u in load_corpus(name, shared_data / rel, labels="full").utterances
        }
    rows = [json.loads(x) for x in (DEFAULT_BANK_DIR / "reactions.jsonl").read_text().splitlines()]
    bank_hits = [r["text"] for r in rows if normalise(r["text"]) in train]
    assert not bank_hits
    reply_hits = [t for t in replies if normalise(t) in train]
    assert not reply_hits, reply_hits[:10]
    system = TemplateSystemLanguage().all_utterances(Scenario.load())
    assert not [t for t in system if normalise(t) in train]
