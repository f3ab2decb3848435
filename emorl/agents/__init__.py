"""Stable-Baselines3 agents on ``EmoDialogue-v1``: training, evaluation, the reward study.

``emorl.agents.train`` trains a PPO, A2C or DQN policy (hyperparameters in
``hyperparams/<algo>.yml`` keyed by env id); ``emorl.agents.evaluate`` scores a trained
model or a baseline (random, scripted) on the true emotions and mood; ``emorl.agents.study``
compares the reward variants; ``emorl.agents.main`` is the main job behind ``make run``.
Nothing here is imported by ``import emorl``.
"""

from __future__ import annotations

from emorl.reward.emotion_reward import VARIANTS as REWARDS

ALGOS = ("ppo", "a2c", "dqn")
POLICIES = ("random", "scripted")

__all__ = ["ALGOS", "POLICIES", "REWARDS"]
