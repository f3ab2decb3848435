"""The caller's emotions: a slow mood and a momentary emotion drawn from an appraisal.

The mood is a point in valence/arousal space that decays towards a personal baseline
and lingers across turns. Each turn the system act is appraised (progress, repetition,
being ignored, empathy, bad news, resolution); the appraisal moves the mood and, on top
of it, sets the momentary core affect. The emotion shown this turn is drawn from a
softmax over the distances of that core affect to each emotion's prototype, so the same
act yields a worse emotion when the mood is still low from an earlier turn.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from emorl.emotions import FOUR_CLASS

#: Valence/arousal prototype of each emotion (Russell's circumplex, rough positions).
PROTOTYPES = np.array(
    [[0.0, -0.1], [0.8, 0.4], [-0.7, -0.4], [-0.7, 0.7]], dtype=np.float64
)  # neutral, happy, sad, angry (FOUR_CLASS order)
assert len(PROTOTYPES) == len(FOUR_CLASS)

#: Appraisal dimension -> (valence, arousal) impulse of one unit.
IMPULSES: dict[str, tuple[float, float]] = {
    "progress": (0.45, 0.0),
    "repetition": (-0.6, 0.45),
    "ignored": (-0.55, 0.4),
    "empathy": (0.35, -0.25),
    "bad_news": (-0.8, 0.1),
    "resolution": (1.0, 0.2),
}


@dataclass(frozen=True)
class Appraisal:
    """How the caller appraises one system act; each dimension in [0, 1]."""

    progress: float = 0.0
    repetition: float = 0.0
    ignored: float = 0.0
    empathy: float = 0.0
    bad_news: float = 0.0
    resolution: float = 0.0

    def impulse(self) -> np.ndarray:
        out = np.zeros(2)
        for name, (dv, da) in IMPULSES.items():
            weight = getattr(self, name)
            out += weight * np.array([dv, da])
        return out

    @property
    def negative(self) -> bool:
        return self.repetition + self.ignored + self.bad_news > 0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


class Mood:
    """Valence/arousal mood decaying towards ``baseline``; randomness from the caller's rng."""

    def __init__(
        self,
        baseline: np.ndarray,
        initial: np.ndarray,
        *,
        decay: float,
        gain: float,
        momentary_gain: float,
        temperature: float,
        politeness: float,
    ) -> None:
        self.baseline = np.asarray(baseline, dtype=np.float64)
        self.state = np.clip(np.asarray(initial, dtype=np.float64), -1.0, 1.0)
        self.decay, self.gain = decay, gain
        self.momentary_gain, self.temperature = momentary_gain, temperature
        self.politeness = politeness

    @property
    def valence(self) -> float:
        return float(self.state[0])

    @property
    def arousal(self) -> float:
        return float(self.state[1])

    def emotion_distribution(self, core: np.ndarray) -> np.ndarray:
        """P(emotion | core affect): softmax of negative squared prototype distances."""
        logits = -((PROTOTYPES - core) ** 2).sum(axis=1) / self.temperature
        logits[0] += 0.5 * self.politeness  # polite callers keep a neutral face more often
        logits -= logits.max()
        p = np.exp(logits)
        return p / p.sum()

    def react(self, appraisal: Appraisal, rng: np.random.Generator) -> tuple[int, np.ndarray]:
        """Move the mood by ``appraisal`` and draw this turn's emotion index."""
        impulse = appraisal.impulse()
        self.state = np.clip(
            self.baseline + self.decay * (self.state - self.baseline) + self.gain * impulse,
            -1.0,
            1.0,
        )
        core = np.clip(self.state + self.momentary_gain * impulse, -1.0, 1.0)
        p = self.emotion_distribution(core)
        return int(rng.choice(len(p), p=p)), p

    def opening(self, rng: np.random.Generator) -> tuple[int, np.ndarray]:
        """The emotion of the caller's first words: the mood alone."""
        p = self.emotion_distribution(self.state)
        return int(rng.choice(len(p), p=p)), p
