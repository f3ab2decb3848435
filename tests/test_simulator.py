"""The built-in caller: scenario files, the utterance bank, mood, appraisal, the protocol."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emorl.envs.tracker import DialogueTracker
from emorl.simulator import (
    Appraisal,
    BankFormatError,
    Goal,
    Mood,
    Scenario,
    ScenarioError,
    SupportCaller,
    SystemTurn,
    UserSimulator,
    UtteranceBank,
    build_bank,
)
from emorl.simulator.bank import DEFAULT_BANK_DIR
from emorl.simulator.mood import DESIGNED


class Call:
    """The built-in caller with the environment's tracker: ``say(act)`` plays one turn."""

    def __init__(self, seed: int, grantable: bool | None = None) -> None:
        self.scenario = Scenario.load()
        self.caller = SupportCaller(self.scenario)
        self.tracker = DialogueTracker(self.scenario)
        self.rng = np.random.default_rng(seed)
        problem = self.scenario.problems[seed % len(self.scenario.problems)]
        values = {s: self.scenario.slots[s].values[0] for s in problem.slots}
        granted = bool(seed % 2) if grantable is None else grantable
        self.goal = Goal(problem, values, granted)
        self.tracker.reset(self.goal)
        self.opening = self.caller.reset(self.goal, self.rng)

    def say(self, act: str):
        turn = self.caller.respond(self.tracker.system_turn(act, f"({act})"), self.rng)
        self.tracker.update(act, turn, self.rng)
        return turn


def test_shipped_bank_covers_every_emotion_and_carries_its_licences() -> None:
    bank = UtteranceBank.load()
    counts = bank.counts()
    assert all(sum(acts.values()) >= 1 for acts in counts.values())
    assert len(bank) == len((DEFAULT_BANK_DIR / "reactions.jsonl").read_text().splitlines())
    size = sum(p.stat().st_size for p in DEFAULT_BANK_DIR.glob("*.jsonl"))
    assert size < 600_000
    notes = (DEFAULT_BANK_DIR / "README.md").read_text()
    assert "CC BY-NC-SA 4.0" in notes and "GPL-3.0" in notes
    assert (DEFAULT_BANK_DIR / "LICENSE-MELD.txt").is_file()


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


def test_the_built_in_caller_implements_the_protocol() -> None:
    assert isinstance(SupportCaller(Scenario.load()), UserSimulator)


def test_same_seed_same_call() -> None:
    def run(seed: int) -> list[tuple[str, str, float]]:
        call = Call(seed)
        out = [(call.opening.text, "", 0.0)]
        for act in ("greet", "confirm", "ask_postcode", "show_empathy"):
            if call.tracker.state.ended:
                break
            t = call.say(act)
            out.append((t.text, t.emotion, t.valence))
        return out

    assert run(3) == run(3)
    assert run(3) != run(5)


def neutral_mood(**changes: float) -> Mood:
    """A caller at a neutral baseline, starting there (no noise impulse)."""
    dynamics = DESIGNED.replace(impulse_noise=0.0, **changes)
    return Mood(np.zeros(2), np.zeros(2), dynamics, politeness=0.0)


def test_mood_lingers_and_decays_towards_baseline() -> None:
    mood = neutral_mood()
    rng = np.random.default_rng(0)
    mood.react(Appraisal(repetition=1.0, ignored=1.0), rng)
    after_bad = mood.valence
    assert after_bad < -0.4
    mood.react(Appraisal(), rng)
    assert after_bad < mood.valence < 0  # decays but lingers
    forgetful = neutral_mood(lingering=0.0)
    forgetful.react(Appraisal(repetition=1.0, ignored=1.0), rng)
    forgetful.react(Appraisal(), rng)
    assert forgetful.valence == pytest.approx(0.0)  # no lingering: back to baseline
    low = mood.emotion_distribution(mood.state + Appraisal(progress=1.0).impulse() * 0.7)
    fresh = neutral_mood()
    high = fresh.emotion_distribution(fresh.state + Appraisal(progress=1.0).impulse() * 0.7)
    assert low[1] < high[1]  # the same good act is less likely to make a low-mood caller happy


def test_appraisal_of_acts() -> None:
    call = Call(1)
    first = call.goal.problem.slots[0]
    given = call.say(f"ask_{first}")
    assert given.appraisal["progress"] > 0 and given.intent == "provide_slot"
    assert call.goal.values[first] in given.text and given.slots == {first: call.goal.values[first]}
    again = call.say(f"ask_{first}")
    assert again.appraisal["repetition"] == 1.0 and again.intent == "already_gave"
    other = next(s for s in call.scenario.slot_names if s not in call.goal.problem.slots)
    assert call.say(f"ask_{other}").intent == "not_needed"
    assert call.say("inform_resolution").intent == "premature"


def test_confirm_reads_back_what_was_heard() -> None:
    call = Call(2)
    slots = call.goal.problem.slots
    for slot in slots:
        call.say(f"ask_{slot}")
    wrong = dict(call.tracker.state.heard, **{slots[0]: "nonsense"})
    turn = call.caller.respond(
        SystemTurn("confirm", "(confirm)", None, wrong, "no_record"), call.rng
    )
    assert turn.intent == "confirm_correct" and turn.slots == {slots[0]: call.goal.values[slots[0]]}
    assert call.say("confirm").intent == "confirm_yes"


def test_scripted_call_succeeds_and_impatient_caller_hangs_up() -> None:
    for grantable in (True, False):
        call = Call(5, grantable=grantable)
        for slot in call.goal.problem.slots:
            call.say(f"ask_{slot}")
        call.say("confirm")
        outcome = call.say("inform_resolution" if grantable else "deliver_bad_news")
        assert outcome.intent == ("thank" if grantable else "react_bad_news")
        if not grantable:
            assert call.say("offer_alternative").intent in (
                "accept_alternative",
                "refuse_alternative",
            )
        last = call.say("close")
        assert call.tracker.state.ended == "success" and last.intent == "goodbye"
    call = Call(6)
    for _ in range(20):
        if call.tracker.state.ended:
            break
        last = call.say("greet")
    assert call.tracker.state.ended == "hangup" and last.intent == "hangup" and last.ends_call
    with pytest.raises(RuntimeError, match="ended"):
        call.say("greet")


def test_build_bank_from_corpora(tmp_path) -> None:
    dd = tmp_path / "data" / "dailydialog"
    texts = {
        "train": "Thank you so much ! __eou__ That is terrible news , I hate it . __eou__\n",
        "validation": "Thank you so much ! __eou__ Shame on you ! __eou__ Bob hates it . __eou__\n",
    }
    for split, line in texts.items():
        folder = dd / split
        folder.mkdir(parents=True)
        (folder / "dialogues.txt").write_text(line)
        n = line.count("__eou__")
        (folder / "dialogues_emotion.txt").write_text(" ".join(["4", "1", "1"][:n]) + "\n")
        (folder / "dialogues_act.txt").write_text(" ".join(["1", "3", "1"][:n]) + "\n")
    meld = tmp_path / "data" / "meld"
    meld.mkdir()
    header = (
        "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,"
        "Season,Episode,StartTime,EndTime\n"
    )

    def row(text: str, emotion: str, utt: int = 0) -> str:
        times = '"00:00:01,000","00:00:02,000"'
        return f'1,"{text}",Ross,{emotion},negative,0,{utt},1,1,{times}\n'

    (meld / "train_sent_emo.csv").write_text(
        header + row("Why would you do that to me?", "sadness")
    )
    sad_line = row("Oh no, this is so sad.", "sadness")
    dev = sad_line + row("Why would you do that to me?", "sadness", 1)
    (meld / "dev_sent_emo.csv").write_text(header + dev)
    written = build_bank(tmp_path / "data", tmp_path / "bank")
    # DailyDialog: the train line is excluded, "Bob hates it." is not context-free.
    assert written == {"meld": 1, "dailydialog": 1}
    entries = [
        json.loads(x) for x in (tmp_path / "bank" / "reactions.jsonl").read_text().splitlines()
    ]
    by_text = {e["text"]: e for e in entries}
    assert set(by_text) == {"Shame on you!", "Oh no, this is so sad."}
    assert by_text["Shame on you!"]["act"] == "directive"
    assert by_text["Shame on you!"]["emotion"] == "angry"
    assert by_text["Oh no, this is so sad."]["source"] == "meld"
    with pytest.raises(ValueError, match="per_group"):
        build_bank(tmp_path / "data", tmp_path / "bank", per_group=0)


@pytest.mark.data
def test_shipped_bank_is_rebuilt_exactly_from_the_shared_data(shared_data, tmp_path) -> None:
    build_bank(shared_data, tmp_path)
    name = "reactions.jsonl"
    assert (tmp_path / name).read_bytes() == (DEFAULT_BANK_DIR / name).read_bytes()
