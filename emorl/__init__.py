"""emorl: emotion-aware dialogue toolkit.

IEmoNet speech and text emotion recognition, and its use as a
reinforcement-learning reward. Importing the package loads no model; it registers
the ``EmoDialogue-v1`` Gymnasium environment (by entry point, nothing is built).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]


def _register_envs() -> None:
    try:
        from gymnasium.envs.registration import register, registry
    except ImportError:  # gymnasium is a dependency; tolerate a partial install
        return
    if "EmoDialogue-v1" not in registry:
        # no max_episode_steps: the environment truncates at its own ``max_turns``
        register(
            id="EmoDialogue-v1",
            entry_point="emorl.envs.emo_dialogue:EmoDialogueEnv",
            vector_entry_point="emorl.envs.vector:EmoDialogueVectorEnv",
        )


_register_envs()
