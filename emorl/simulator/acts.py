"""The system acts an agent can choose, and the dialogue state they change."""

from __future__ import annotations

from collections.abc import Sequence

#: Acts every scenario has; ``ask_<slot>`` acts for the scenario's slots follow ``greet``.
FIXED_ACTS: tuple[str, ...] = (
    "confirm",
    "inform_resolution",
    "deliver_bad_news",
    "apologise",
    "show_empathy",
    "offer_alternative",
    "escalate",
    "close",
)


def act_names(slot_names: Sequence[str]) -> tuple[str, ...]:
    """``greet``, one ``ask_<slot>`` per slot, then :data:`FIXED_ACTS`."""
    return ("greet", *(f"ask_{slot}" for slot in slot_names), *FIXED_ACTS)
