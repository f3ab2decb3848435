"""EmoDialogue-v1 in a few lines: one call by the scripted support agent, one by random acts.

python examples/quickstart_env.py            # text mode: the shipped text recognizer
python examples/quickstart_env.py --oracle   # oracle mode: no model
"""

from __future__ import annotations

import argparse

import gymnasium as gym

import emorl  # noqa: F401  (registers EmoDialogue-v1)
from emorl.envs.policies import ScriptedSupportAgent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--oracle", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    recognizer = "oracle" if args.oracle else "text"
    env = gym.make("EmoDialogue-v1", recognizer=recognizer, render_mode="human")
    agent = ScriptedSupportAgent.for_env(env)
    for name, policy in (("scripted", agent), ("random", lambda obs: env.action_space.sample())):
        print(f"\n=== {name} agent ===")
        env.action_space.seed(args.seed)
        obs, info = env.reset(seed=args.seed)
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            done = terminated or truncated
        print(
            f"success {info['success']}, hang-up {info['hangup']}, turns {info['turns']}, "
            f"final valence {info['final_mood']['valence']:+.2f}, "
            f"return {info['episode_return']:+.2f}"
        )


if __name__ == "__main__":
    main()
