"""emorl: emotion-aware dialogue toolkit.

IEmoNet speech and text emotion recognition, and its use as a
reinforcement-learning reward. Importing the package loads no model.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
