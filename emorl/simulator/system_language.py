"""The agent's words: a support-line employee's utterance for each system act.

``ask_<slot>`` names the slot's prompt; ``confirm`` reads back the values the system
*heard* (which may be wrong); ``inform_resolution``, ``deliver_bad_news`` and
``offer_alternative`` use the problem's ``resolution``, ``refusal`` and ``alternative``
phrases from the scenario file. Several variants per act, drawn with the caller's
generator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import product

import numpy as np

from emorl.simulator.acts import FIXED_ACTS
from emorl.simulator.scenario import Problem, Scenario

#: act -> variants; ``{prompt}``, ``{readback}``, ``{resolution}``, ``{refusal}`` and
#: ``{alternative}`` are filled in.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "greet": (
        "Hello, thank you for calling. How can I help you today?",
        "Good morning, you're through to customer support. What can I do for you?",
        "Hi, thanks for holding. How can I help?",
    ),
    "ask": (
        "Could I take your {prompt}, please?",
        "Can you tell me your {prompt}?",
        "And what's your {prompt}, please?",
        "May I take your {prompt}?",
    ),
    "confirm": (
        "Let me read that back: {readback}. Is that right?",
        "Just to confirm, that's {readback}. Correct?",
        "So I have {readback}. Is that all correct?",
    ),
    "confirm_empty": (
        "Let me confirm your details. Is everything correct?",
        "Can I just confirm your details are right?",
    ),
    "inform_resolution": (
        "Good news: {resolution}.",
        "Thanks for waiting. {resolution}.",
        "All done: {resolution}.",
    ),
    "deliver_bad_news": (
        "I'm sorry, but {refusal}.",
        "Unfortunately, {refusal}.",
        "I'm afraid {refusal}.",
    ),
    "apologise": (
        "I'm very sorry about all this.",
        "I apologise for the trouble this has caused.",
        "Sorry for the inconvenience.",
    ),
    "show_empathy": (
        "I understand how frustrating this must be.",
        "That sounds really stressful, I completely understand.",
        "I can see why you're upset about this.",
    ),
    "offer_alternative": (
        "What I can do is this: {alternative}.",
        "As an alternative, {alternative}.",
        "Instead, {alternative}. Would that help?",
    ),
    "escalate": (
        "Let me transfer you to a colleague who can help with this.",
        "I'll put you through to my supervisor.",
        "I'm going to pass you to a specialist team, one moment.",
    ),
    "close": (
        "Is there anything else I can help with? Thanks for calling, goodbye.",
        "Thank you for calling, have a good day.",
        "Thanks for your patience. Goodbye.",
    ),
}


def readback(scenario: Scenario, heard: Mapping[str, str]) -> str:
    """``"account number 90210 and name Tom Baker"`` for the heard values, in slot order."""
    items = [
        f"{slot.prompt} {heard[name]}" for name, slot in scenario.slots.items() if heard.get(name)
    ]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _sentence_start(text: str) -> str:
    return text[:1].upper() + text[1:]


def _clause(text: str) -> str:
    """A phrase used after "but"/"Unfortunately,": lowercased unless it starts with I."""
    if text.startswith("I ") or text.startswith("I'"):
        return text
    return text[:1].lower() + text[1:]


class TemplateSystemLanguage:
    """The agent's utterances for a scenario's acts (``greet``, ``ask_<slot>``, ...)."""

    def templates(self, act: str, scenario: Scenario, heard: Mapping[str, str]) -> tuple[str, ...]:
        if act.startswith("ask_"):
            if act[4:] not in scenario.slots:
                raise ValueError(f"unknown slot in act {act!r}; slots are {list(scenario.slots)}")
            return TEMPLATES["ask"]
        if act == "confirm" and not readback(scenario, heard):
            return TEMPLATES["confirm_empty"]
        if act not in TEMPLATES or act == "ask":
            raise ValueError(f"unknown act {act!r}; acts are greet, ask_<slot>, {list(FIXED_ACTS)}")
        return TEMPLATES[act]

    def realise(
        self,
        act: str,
        rng: np.random.Generator,
        *,
        scenario: Scenario,
        problem: Problem,
        heard: Mapping[str, str],
        slot: str | None = None,
    ) -> str:
        """The agent's words for ``act``; ``heard`` holds the slot values the system heard."""
        variants = self.templates(act, scenario, heard)
        template = variants[int(rng.integers(len(variants)))]
        return self._fill(template, act, scenario, problem, heard, slot)

    def _fill(
        self,
        template: str,
        act: str,
        scenario: Scenario,
        problem: Problem,
        heard: Mapping[str, str],
        slot: str | None,
    ) -> str:
        name = slot or (act[4:] if act.startswith("ask_") else None)
        prompt = scenario.slots[name].prompt if name in scenario.slots else ""
        text = template.format(
            prompt=prompt,
            readback=readback(scenario, heard),
            resolution=problem.resolution,
            refusal=_clause(problem.refusal),
            alternative=_clause(problem.alternative),
        )
        return _sentence_start(text)

    def all_utterances(
        self,
        scenario: Scenario,
        heard_values: Sequence[Mapping[str, str]] | None = None,
    ) -> list[str]:
        """Every utterance for ``scenario``'s acts and problems, over ``heard_values``.

        ``heard_values`` defaults to the empty record plus every combination of the
        scenario's slot values for each problem's slots (what a correct hearing can give).
        """
        acts = ("greet", *(f"ask_{s}" for s in scenario.slots), *FIXED_ACTS)
        out: dict[str, None] = {}
        for problem in scenario.problems:
            records = heard_values
            if records is None:
                records = [{}] + [
                    dict(zip(problem.slots, combo, strict=True))
                    for combo in product(*(scenario.slots[s].values for s in problem.slots))
                ]
            for act in acts:
                for heard in records if act == "confirm" else [{}]:
                    for template in self.templates(act, scenario, heard):
                        out.setdefault(self._fill(template, act, scenario, problem, heard, None))
        return list(out)
