"""The emotional user simulator: a support-line caller with goal, patience and mood."""

from __future__ import annotations

from emorl.simulator.acts import FIXED_ACTS, act_names
from emorl.simulator.bank import BankFormatError, UtteranceBank, build_bank
from emorl.simulator.mood import Appraisal, Mood
from emorl.simulator.scenario import Scenario, ScenarioError
from emorl.simulator.user import DialogueState, Goal, UserSimulator, UserTurn

__all__ = [
    "FIXED_ACTS",
    "Appraisal",
    "BankFormatError",
    "DialogueState",
    "Goal",
    "Mood",
    "Scenario",
    "ScenarioError",
    "UserSimulator",
    "UserTurn",
    "UtteranceBank",
    "act_names",
    "build_bank",
]
