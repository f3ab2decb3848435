"""The emotion reward on another dialogue environment.

A toy order-status bot (not EmoDialogue): the user's reply is in ``info["user_text"]``,
so ``EmotionRewardWrapper`` can hear it and add the emotion reward. Run:

    python examples/reward_wrapper.py            # with the shipped text recognizer
    python examples/reward_wrapper.py --oracle   # no model: the toy's own emotion label
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from emorl.envs.recognition import OracleRecognizer, TextRecognizer
from emorl.envs.wrappers import EmotionRewardWrapper
from emorl.reward import EmotionReward

REPLIES = {
    0: ("Great, thank you so much, that's exactly what I needed!", "happy"),
    1: ("I've asked you three times already. This is ridiculous!", "angry"),
    2: ("Okay, my order number is 1234.", "neutral"),
}


class OrderStatusBot(gym.Env):
    """Three acts: answer (0), repeat a question (1), ask for the order number (2)."""

    def __init__(self) -> None:
        self.action_space = spaces.Discrete(3)
        self.observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
        self.turn = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.turn = 0
        return np.zeros(1, np.float32), {
            "user_text": "Hi, where is my order?",
            "true_emotion": "neutral",
        }

    def step(self, action):
        self.turn += 1
        text, emotion = REPLIES[int(action)]
        done = int(action) == 0
        obs = np.array([min(self.turn / 10, 1.0)], np.float32)
        return obs, float(done), done, self.turn >= 10, {"user_text": text, "true_emotion": emotion}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--oracle", action="store_true")
    args = parser.parse_args()
    recognizer = OracleRecognizer(0.1) if args.oracle else TextRecognizer()
    env = EmotionRewardWrapper(OrderStatusBot(), recognizer, EmotionReward(variant="delta"))
    obs, info = env.reset(seed=0)
    for action in (2, 1, 0):
        obs, reward, terminated, truncated, info = env.step(action)
        terms = info["emotion_reward"]
        print(
            f"act {action}: {info['user_text']!r} -> reward {reward:+.3f} "
            f"(emotion {terms['reward']:+.3f})"
        )
        if terminated or truncated:
            break


if __name__ == "__main__":
    main()
