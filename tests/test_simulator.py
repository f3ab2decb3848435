"""The user simulator: scenario files, the utterance bank, mood and appraisal."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emorl.simulator import (
    Appraisal,
    BankFormatError,
    Mood,
    Scenario,
    ScenarioError,
    UserSimulator,
    UtteranceBank,
    build_bank,
)
from emorl.simulator.bank import DEFAULT_BANK_DIR


@pytest.fixture(scope="module")
def sim() -> UserSimulator:
    return UserSimulator(Scenario.load(), UtteranceBank.load())


def test_shipped_bank_covers_every_emotion_and_carries_its_licences() -> None:
    bank = UtteranceBank.load(per_group=None)
    counts = bank.counts()
    assert all(sum(acts.values()) > 50 for acts in counts.values())
    size = sum(p.stat().st_size for p in DEFAULT_BANK_DIR.glob("*.jsonl"))
    assert size < 600_000
    notes = (DEFAULT_BANK_DIR / "README.md").read_text()
    assert "CC BY-NC-SA 4.0" in notes and "GPL-3.0" in notes


def test_bank_errors_name_file_line_and_field(tmp_path) -> None:
    bad = tmp_path / "bank.jsonl"
    bad.write_text(
        '{"text": "hi there you", "emotion": "happy", "act": "inform"}\n'
        '{"text": "x", "emotion": "bored", "act": "inform"}\n'
    )
    with pytest.raises(BankFormatError, match=r"bank.jsonl:2: field 'emotion'"):
        UtteranceBank.load(bad)
    bad.write_text('{"text": "hi", "emotion": "happy"}\n')
    with pytest.raises(BankFormatError, match=r"bank.jsonl:1: field 'act'"):
        UtteranceBank.load(bad)
    bad.write_text("not json\n")
    with pytest.raises(BankFormatError, match=r"bank.jsonl:1: malformed JSON"):
        UtteranceBank.load(bad)
    bad.write_text('{"text": "hi there you", "emotion": "happy", "act": "inform"}\n[1, 2]\n')
    with pytest.raises(BankFormatError, match=r"bank.jsonl:2: expected a JSON object"):
        UtteranceBank.load(bad)
    with pytest.raises(FileNotFoundError):
        UtteranceBank.load(tmp_path / "missing.jsonl")


def test_own_bank_is_used(tmp_path) -> None:
    lines = [
        {"text": f"My own {e} line.", "emotion": e, "act": "inform"}
        for e in ("neutral", "happy", "sad", "angry")
    ]
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    bank = UtteranceBank.load(path)
    assert bank.sample("sad", "question", np.random.default_rng(0)) == "My own sad line."


def test_scenario_errors_name_file_and_field(tmp_path) -> None:
    from emorl.simulator.scenario import DEFAULT_SCENARIO

    scenario = json.loads(DEFAULT_SCENARIO.read_text())
    path = tmp_path / "s.json"
    scenario["problems"][1]["slots"] = ["account_number", "shoe_size"]
    path.write_text(json.dumps(scenario))
    with pytest.raises(ScenarioError, match=r"s.json: field 'problems\[1\].slots': unknown slot"):
        Scenario.load(path)
    scenario["problems"][1]["slots"] = ["account_number"]
    scenario["user"]["patience"] = [5]
    path.write_text(json.dumps(scenario))
    with pytest.raises(ScenarioError, match=r"field 'user.patience'"):
        Scenario.load(path)
    path.write_text('{"slots": {}\n,,}')
    with pytest.raises(ScenarioError, match=r"s.json:2"):
        Scenario.load(path)


def test_same_seed_same_call(sim: UserSimulator) -> None:
    def run(seed: int) -> list[tuple[str, str, float]]:
        rng = np.random.default_rng(seed)
        out = [(sim.reset(rng).text, "", 0.0)]
        for act in ("greet", "confirm", "ask_postcode", "show_empathy"):
            if sim.state.ended:
                break
            t = sim.respond(act, rng)
            out.append((t.text, t.emotion, t.valence))
        return out

    assert run(3) == run(3)
    assert run(3) != run(4)


def neutral_mood() -> Mood:
    """A caller at a neutral baseline, starting there."""
    return Mood(
        np.zeros(2),
        np.zeros(2),
        decay=0.8,
        gain=0.5,
        momentary_gain=0.7,
        temperature=0.12,
        politeness=0.0,
    )


def test_mood_lingers_and_decays_towards_baseline() -> None:
    mood = neutral_mood()
    rng = np.random.default_rng(0)
    mood.react(Appraisal(repetition=1.0, ignored=1.0), rng)
    after_bad = mood.valence
    assert after_bad < -0.4
    mood.react(Appraisal(), rng)
    assert after_bad < mood.valence < 0  # decays but lingers
    low = mood.emotion_distribution(mood.state + Appraisal(progress=1.0).impulse() * 0.7)
    fresh = neutral_mood()
    high = fresh.emotion_distribution(fresh.state + Appraisal(progress=1.0).impulse() * 0.7)
    assert low[1] < high[1]  # the same good act is less likely to make a low-mood caller happy


def test_appraisal_of_acts(sim: UserSimulator) -> None:
    rng = np.random.default_rng(1)
    sim.reset(rng)
    first = sim.goal.problem.slots[0]
    assert sim.respond(f"ask_{first}", rng).appraisal.progress > 0
    again = sim.respond(f"ask_{first}", rng)
    assert again.appraisal.repetition == 1.0 and again.intent == "repeat_complaint"
    value = sim.goal.values[first]
    sim.reset(np.random.default_rng(1))
    assert value in sim.respond(f"ask_{first}", np.random.default_rng(2)).text


def test_transition_changes_state_but_not_mood(sim: UserSimulator) -> None:
    rng = np.random.default_rng(3)
    sim.reset(rng)
    first = sim.goal.problem.slots[0]
    mood, patience = sim.mood.state.copy(), sim.state.patience_left
    appraisal, intent, fill = sim.transition(f"ask_{first}")
    assert intent == "provide_slot" and fill["value"] == sim.goal.values[first]
    assert first in sim.state.filled and sim.state.turn == 1
    assert sim.state.act_counts == {f"ask_{first}": 1} and sim.state.last_act == f"ask_{first}"
    assert np.array_equal(sim.mood.state, mood) and sim.state.patience_left == patience
    assert sim.transition(f"ask_{first}")[0].repetition == 1.0


def test_scripted_call_succeeds_and_impatient_caller_hangs_up(sim: UserSimulator) -> None:
    rng = np.random.default_rng(5)
    sim.reset(rng)
    for slot in sim.goal.problem.slots:
        sim.respond(f"ask_{slot}", rng)
    sim.respond("confirm", rng)
    sim.respond("inform_resolution" if sim.goal.grantable else "deliver_bad_news", rng)
    last = sim.respond("close", rng)
    assert sim.state.ended == "success" and last.intent == "goodbye"
    sim.reset(rng)
    for _ in range(20):
        if sim.state.ended:
            break
        sim.respond("greet", rng)
    assert sim.state.ended == "hangup"
    with pytest.raises(RuntimeError, match="ended"):
        sim.respond("greet", rng)


def test_build_bank_from_corpora(tmp_path) -> None:
    dd = tmp_path / "data" / "dailydialog"
    for split in ("train", "validation"):
        folder = dd / split
        folder.mkdir(parents=True)
        (folder / "dialogues.txt").write_text(
            "I am so happy today ! __eou__ That is terrible news , I hate it . __eou__\n"
        )
        (folder / "dialogues_emotion.txt").write_text("4 1\n")
        (folder / "dialogues_act.txt").write_text("1 3\n")
    meld = tmp_path / "data" / "meld"
    meld.mkdir()
    header = (
        "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,"
        "Season,Episode,StartTime,EndTime\n"
    )
    row = (
        "1,Why would you do that to me?,Ross,sadness,negative,0,0,1,1,"
        '"00:00:01,000","00:00:02,000"\n'
    )
    for name in ("train_sent_emo.csv", "dev_sent_emo.csv"):
        (meld / name).write_text(header + row)
    written = build_bank(tmp_path / "data", tmp_path / "bank")
    assert written == {"dailydialog": 2, "meld": 1}
    entries = [json.loads(x) for x in (tmp_path / "bank" / "meld.jsonl").read_text().splitlines()]
    assert entries[0]["act"] == "question" and entries[0]["emotion"] == "sad"
    dd_entries = (tmp_path / "bank" / "dailydialog.jsonl").read_text()
    assert '"act": "directive"' in dd_entries and "I hate it." in dd_entries


@pytest.mark.data
def test_shipped_bank_is_rebuilt_exactly_from_the_shared_data(shared_data, tmp_path) -> None:
    build_bank(shared_data, tmp_path)
    for name in ("dailydialog.jsonl", "meld.jsonl"):
        assert (tmp_path / name).read_bytes() == (DEFAULT_BANK_DIR / name).read_bytes()
