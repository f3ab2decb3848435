"""The built-in caller: goal, patience, politeness, a fitted mood, and replies that answer.

:class:`SupportCaller` implements :class:`~emorl.simulator.protocol.UserSimulator`. Each
turn it appraises the system's act and utterance against its goal and the call so far
(progress, repetition, being ignored, empathy, bad news, resolution), moves its mood
(:class:`~emorl.simulator.mood.Mood`, dynamics fitted to DailyDialog and MELD), draws
the emotion it shows, and words a reply for the intent in that emotion through a caller
language (the template one by default; an LLM-worded one is an optional extra).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from emorl.emotions import FOUR_CLASS
from emorl.simulator.bank import UtteranceBank
from emorl.simulator.mood import Appraisal, EmotionDynamics, Mood, fitted_dynamics
from emorl.simulator.protocol import Goal, SystemTurn, UserTurn
from emorl.simulator.scenario import Scenario

#: Distinct simulated voices (espeak-ng variant x base pitch, see emorl.envs.tts).
N_VOICES = 12
#: A caller whose valence is below this refuses the alternative offered after bad news.
REFUSE_VALENCE = -0.55


class SupportCaller:
    """A simulated caller for one scenario (``reset(goal, rng)``, ``respond(system, rng)``).

    ``dynamics`` defaults to the shipped fitted values; ``lingering`` and
    ``expected_reaction`` override its two declared parameters. ``language`` is any
    object with ``realise(intent, emotion, rng, *, intensity, politeness, context)``.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        bank: UtteranceBank | None = None,
        language: Any = None,
        dynamics: EmotionDynamics | None = None,
        lingering: float | None = None,
        expected_reaction: float | None = None,
    ) -> None:
        self.scenario = scenario
        if language is None:
            from emorl.simulator.caller_language import TemplateCallerLanguage

            language = TemplateCallerLanguage(bank)
        if not callable(getattr(language, "realise", None)):
            raise TypeError("language must have realise(intent, emotion, rng, ...)")
        self.language = language
        dynamics = dynamics if dynamics is not None else fitted_dynamics()
        changes = {
            k: float(v)
            for k, v in (("lingering", lingering), ("expected_reaction", expected_reaction))
            if v is not None
        }
        self.dynamics = dynamics.replace(**changes) if changes else dynamics
        self.dynamics.validate()
        self.goal: Goal | None = None
        self.mood: Mood | None = None
        self.politeness = 0.0
        self.voice = 0
        self.patience_left = 0
        self._said: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._bad_news = self._refused = self._resolved = self._alternative = False
        self._confirmed = False  # the caller has said a read-back was right
        self._ended = False

    # ------------------------------------------------------------------ protocol
    def reset(self, goal: Goal, rng: np.random.Generator) -> UserTurn:
        traits = self.scenario.user
        self.goal = goal
        self.politeness = float(rng.uniform(*traits.politeness))
        baseline = np.array(
            [rng.uniform(*traits.baseline_valence), rng.uniform(*traits.baseline_arousal)]
        )
        initial = baseline + np.array([rng.uniform(*traits.initial_valence_offset), 0.2])
        self.mood = Mood(baseline, initial, self.dynamics, self.politeness)
        self.voice = int(rng.integers(N_VOICES))
        self.patience_left = int(rng.integers(traits.patience[0], traits.patience[1] + 1))
        self._said, self._counts = {}, {}
        self._bad_news = self._refused = self._resolved = self._alternative = False
        self._confirmed = False  # the caller has said a read-back was right
        self._ended = False
        index, p, intensity = self.mood.opening(rng)
        return self._turn("open", index, p, intensity, Appraisal(), rng, {})

    def respond(self, system: SystemTurn, rng: np.random.Generator) -> UserTurn:
        if self.goal is None or self.mood is None:
            raise RuntimeError("call reset() before respond()")
        if self._ended:
            raise RuntimeError("the call has ended")
        count = self._counts.get(system.act, 0)
        self._counts[system.act] = count + 1
        appraisal, intent, fill = self.appraise(system, count)
        if appraisal.repetition > 0 or appraisal.ignored > 0:
            self.patience_left -= 1 + int(appraisal.repetition >= 1.0)
        index, p, intensity = self.mood.react(appraisal, rng)
        ends = system.act in ("close", "escalate")
        if not ends and (
            self.patience_left <= 0 or self.mood.valence <= self.scenario.user.hangup_valence
        ):
            intent, fill, ends = "hangup", {}, True
        self._ended = ends or intent == "hangup"
        return self._turn(intent, index, p, intensity, appraisal, rng, fill, system, ends)

    # ------------------------------------------------------------------ appraisal
    def appraise(self, system: SystemTurn, count: int) -> tuple[Appraisal, str, dict[str, str]]:
        """How the caller takes ``system`` (``count``: earlier uses of the act this call)."""
        assert self.goal is not None and self.mood is not None
        goal, act = self.goal, system.act
        needed = goal.problem.slots
        upset = self.mood.valence < -0.1 or self._bad_news
        if act == "greet":
            if count == 0:
                return Appraisal(progress=0.3), "greet_back", {}
            return Appraisal(repetition=1.0), "repeat_complaint", {}
        if act.startswith("ask_"):
            slot = system.slot or act[4:]
            prompt = self.scenario.slots[slot].prompt
            if slot not in needed:
                return Appraisal(ignored=0.6), "not_needed", {"prompt": prompt}
            if slot in self._said:
                return (
                    Appraisal(repetition=1.0),
                    "already_gave",
                    {"prompt": prompt, "value": goal.values[slot], "slot": slot},
                )
            self._said[slot] = goal.values[slot]
            return (
                Appraisal(progress=0.6),
                "provide_slot",
                {"prompt": prompt, "value": goal.values[slot], "slot": slot},
            )
        if act == "confirm":
            if not set(needed) <= set(system.heard):
                return Appraisal(ignored=0.5), "confirm_missing", {}
            wrong = [s for s in needed if system.heard.get(s) != goal.values[s]]
            if wrong:
                slot = wrong[0]
                return (
                    Appraisal(ignored=0.2),
                    "confirm_correct",
                    {
                        "prompt": self.scenario.slots[slot].prompt,
                        "value": goal.values[slot],
                        "slot": slot,
                    },
                )
            if count > 0 and self._confirmed:
                return Appraisal(repetition=1.0), "repeat_complaint", {}
            self._confirmed = True
            return Appraisal(progress=0.4), "confirm_yes", {}
        if act in ("inform_resolution", "deliver_bad_news", "offer_alternative"):
            return self._appraise_outcome(system)
        if act == "apologise":
            if count >= 2:
                return Appraisal(repetition=0.5), "repeat_complaint", {}
            return Appraisal(empathy=0.5 if upset else 0.1), "acknowledge_apology", {}
        if act == "show_empathy":
            if count >= 2:
                return Appraisal(repetition=0.7), "repeat_complaint", {}
            return Appraisal(empathy=1.0 if upset else 0.3), "acknowledge_empathy", {}
        if act == "escalate":
            return Appraisal(progress=0.2) if upset else Appraisal(ignored=0.3), "transferred", {}
        if act == "close":
            if self._resolved or self._refused:
                return Appraisal(resolution=0.3), "goodbye", {}
            return Appraisal(ignored=1.0), "hangup", {}
        raise ValueError(f"the caller does not know the act {act!r}")

    def _appraise_outcome(self, system: SystemTurn) -> tuple[Appraisal, str, dict[str, str]]:
        act, lookup = system.act, system.lookup
        if act == "offer_alternative":
            if self._refused and not self._alternative:
                self._alternative = True
                assert self.mood is not None
                if self.mood.valence < REFUSE_VALENCE:
                    return Appraisal(progress=0.3), "refuse_alternative", {}
                return Appraisal(progress=0.8, resolution=0.4), "accept_alternative", {}
            if self._alternative:
                return Appraisal(repetition=0.7), "repeat_complaint", {}
            return Appraisal(ignored=0.6), "not_helpful", {}
        if lookup == "incomplete":
            return Appraisal(ignored=0.8), "premature", {}
        if lookup == "no_record":
            wrong = self._wrong_slot(system)
            return Appraisal(ignored=0.6), "wrong_record", {"prompt": wrong}
        if act == "inform_resolution":
            if lookup == "granted" and not self._resolved:
                self._resolved = True
                return Appraisal(resolution=1.0), "thank", {}
            if self._resolved:
                return Appraisal(repetition=0.5), "repeat_complaint", {}
            return Appraisal(ignored=0.8), "not_resolved", {}
        # deliver_bad_news
        if self._bad_news:
            return Appraisal(repetition=1.0), "repeat_complaint", {}
        self._bad_news = True
        if lookup == "refused":
            self._refused = True
            return Appraisal(bad_news=1.0), "react_bad_news", {}
        return Appraisal(bad_news=1.0, ignored=0.5), "react_bad_news", {}

    def _wrong_slot(self, system: SystemTurn) -> str:
        assert self.goal is not None
        for slot in self.goal.problem.slots:
            if system.heard.get(slot) != self.goal.values[slot]:
                return self.scenario.slots[slot].prompt
        return self.scenario.slots[self.goal.problem.slots[0]].prompt

    # ------------------------------------------------------------------ wording
    def _turn(
        self,
        intent: str,
        index: int,
        p: np.ndarray,
        intensity: float,
        appraisal: Appraisal,
        rng: np.random.Generator,
        fill: Mapping[str, str],
        system: SystemTurn | None = None,
        ends: bool = False,
    ) -> UserTurn:
        assert self.mood is not None and self.goal is not None
        emotion = FOUR_CLASS[index]
        context = {
            "problem": self.goal.problem.description,
            "problem_type": self.goal.problem.type,
            "system_text": system.text if system is not None else "",
            **{k: v for k, v in fill.items() if k != "slot"},
        }
        text = self.language.realise(
            intent,
            emotion,
            rng,
            intensity=float(intensity),
            politeness=self.politeness,
            context=context,
        )
        slot = fill.get("slot")
        slots = (
            {slot: fill["value"]} if slot and intent in ("provide_slot", "confirm_correct") else {}
        )
        return UserTurn(
            text=text,
            intent=intent,
            emotion=emotion,
            valence=self.mood.valence,
            arousal=self.mood.arousal,
            slots=slots,
            ends_call=ends or intent == "hangup",
            emotion_p=p,
            intensity=float(intensity),
            appraisal=appraisal.as_dict(),
        )
