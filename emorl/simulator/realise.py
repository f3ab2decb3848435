"""Realise a caller's intent as text: a real line of the chosen emotion plus the content.

The emotional part is retrieved from the :class:`~emorl.simulator.bank.UtteranceBank` by
emotion and dialogue act; the content part (the problem, a slot value, thanks) comes
from short templates with the slot values filled in.
"""

from __future__ import annotations

import numpy as np

from emorl.emotions import FOUR_CLASS
from emorl.simulator.bank import UtteranceBank
from emorl.simulator.scenario import Scenario

#: intent -> (bank dialogue act, content templates; "" means the retrieved line alone).
INTENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "open": ("inform", ("{problem}", "{problem} Can you help?")),
    "provide_slot": ("inform", ("My {prompt} is {value}.", "It's {value}.")),
    "confirm_yes": ("commissive", ("Yes, that's right.", "Correct.")),
    "confirm_missing": ("directive", ("You don't have my details yet.",)),
    "repeat_complaint": ("question", ("I already told you that.", "Again?")),
    "irrelevant": ("question", ("What does that have to do with my problem?", "")),
    "not_helpful": ("directive", ("That doesn't solve anything.", "")),
    "thank": ("inform", ("Thank you.", "Great, thanks.", "")),
    "react_bad_news": ("inform", ("", "Are you serious?", "That's not what I wanted to hear.")),
    "accept_alternative": ("commissive", ("Okay, I'll take that.", "Fine, let's do that.")),
    "acknowledge": ("inform", ("Okay.", "", "Hmm.")),
    "transferred": ("commissive", ("Okay, put me through.",)),
    "goodbye": ("inform", ("Bye.", "Goodbye.")),
    "hangup": ("directive", ("I'm hanging up.", "Forget it.")),
}


def _join(intent: str, line: str, content: str) -> str:
    if not content:
        return line
    if intent in ("open", "provide_slot", "thank", "goodbye"):
        return f"{line} {content}"
    return f"{content} {line}"


def all_replies(scenario: Scenario, bank: UtteranceBank) -> list[str]:
    """Every text the simulator can say with this scenario and bank (for a warm cache)."""
    fills: dict[str, list[dict[str, str]]] = {
        "open": [{"problem": p.description} for p in scenario.problems],
        "provide_slot": [
            {"prompt": slot.prompt, "value": value}
            for slot in scenario.slots.values()
            for value in slot.values
        ],
    }
    out: dict[str, None] = {}
    for intent, (act, templates) in INTENTS.items():
        contents = {t.format(**fill) for t in templates for fill in fills.get(intent, [{}])}
        for emotion in FOUR_CLASS:
            for line in bank.lines(emotion, act):
                for content in sorted(contents):
                    out.setdefault(_join(intent, line, content))
    return list(out)


def realise(
    intent: str,
    emotion: str,
    bank: UtteranceBank,
    rng: np.random.Generator,
    **fill: str,
) -> str:
    """The caller's reply for ``intent`` in ``emotion``, with ``fill`` values substituted."""
    act, templates = INTENTS[intent]
    line = bank.sample(emotion, act, rng)
    content = templates[int(rng.integers(len(templates)))].format(**fill)
    return _join(intent, line, content)
