"""emorl: emotion-aware dialogue toolkit.

IEmoNet speech and text emotion recognition, and its use as a
reinforcement-learning reward. Importing the package loads no model; it registers
the ``EmoDialogue-v0`` Gymnasium environment (by entry point, nothing is built).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]


def _register_envs() -> None:
    try:
        from gymnasium.envs.registration import register, registry
    except ImportError:  # gymnasium is a dependency; tolerate a partial install
        return
    if "EmoDialogue-v0" not in registry:
        register(
            id="EmoDialogue-v0",
            entry_point="emorl.envs.emo_dialogue:EmoDialogueEnv",
            max_episode_steps=20,
        )


_register_envs()
