"""The emotional user simulator: the protocol, the built-in support-line caller, its language."""

from __future__ import annotations

from emorl.simulator.acts import FIXED_ACTS, act_names
from emorl.simulator.bank import BankFormatError, UtteranceBank, build_bank
from emorl.simulator.mood import Appraisal, EmotionDynamics, Mood, fitted_dynamics
from emorl.simulator.protocol import LOOKUPS, Goal, SystemTurn, UserSimulator, UserTurn
from emorl.simulator.scenario import Scenario, ScenarioError
from emorl.simulator.user import SupportCaller

__all__ = [
    "FIXED_ACTS",
    "LOOKUPS",
    "Appraisal",
    "BankFormatError",
    "EmotionDynamics",
    "Goal",
    "Mood",
    "Scenario",
    "ScenarioError",
    "SupportCaller",
    "SystemTurn",
    "UserSimulator",
    "UserTurn",
    "UtteranceBank",
    "act_names",
    "build_bank",
    "fitted_dynamics",
]
