"""The caller's emotions: a lingering mood and a momentary emotion drawn from an appraisal.

The mood is a point in valence/arousal space. Each turn the system act is appraised
(progress, repetition, being ignored, empathy, bad news, resolution) into an impulse;
a zero-mean Gaussian noise impulse is added (everything the appraisal does not
capture). With ``d`` = :class:`EmotionDynamics`::

    impulse = appraisal impulse (bad_news scaled by d.expected_reaction) + d.impulse_noise * N(0, I)
    mood    = clip(baseline + d.lingering * (mood - baseline) + d.gain * impulse, -1, 1)
    core    = clip(mood + d.momentary_gain * impulse, -1, 1)
    P(e)    = softmax(-|core - prototype_e|^2 / d.temperature
                      + [e == neutral] * (d.neutral_bias + d.politeness_neutral_bias * politeness))

so the same act yields a worse emotion when the mood is still low from an earlier turn.
The dynamics the simulator ships are fitted to DailyDialog and MELD
(:func:`fitted_dynamics`, ``emorl/simulator/fitted/dynamics.json``, made by
``emorl env fit-dynamics``; see ``docs/simulator-dynamics.md``); :data:`DESIGNED` keeps the
earlier hand-set values. The vectorised functions (:func:`mood_step`,
:func:`emotion_probabilities`, :func:`intensity`) are the very equations :class:`Mood`
runs, so that :mod:`emorl.simulator.dynamics` simulates many chains at once.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emorl.emotions import FOUR_CLASS

#: Valence/arousal prototype of each emotion (Russell's circumplex, rough positions).
PROTOTYPES = np.array(
    [[0.0, -0.1], [0.8, 0.4], [-0.7, -0.4], [-0.7, 0.7]], dtype=np.float64
)  # neutral, happy, sad, angry (FOUR_CLASS order)
assert len(PROTOTYPES) == len(FOUR_CLASS)

#: Appraisal dimension -> (valence, arousal) impulse of one unit (designed, not fitted).
IMPULSES: dict[str, tuple[float, float]] = {
    "progress": (0.45, 0.0),
    "repetition": (-0.6, 0.45),
    "ignored": (-0.55, 0.4),
    "empathy": (0.35, -0.25),
    "bad_news": (-0.8, 0.1),
    "resolution": (1.0, 0.2),
}

#: Distance of the farthest point of the [-1, 1]^2 square from the neutral prototype:
#: :func:`intensity` divides by it.
MAX_DISTANCE = float(
    max(
        np.hypot(v - PROTOTYPES[0, 0], a - PROTOTYPES[0, 1])
        for v in (-1.0, 1.0)
        for a in (-1.0, 1.0)
    )
)

#: The shipped fitted dynamics.
FITTED_JSON = Path(__file__).resolve().parent / "fitted" / "dynamics.json"
#: ``format`` field of that file.
DYNAMICS_FORMAT = "emorl.emotion-dynamics/1"

#: Documented range (inclusive) of every numeric field of :class:`EmotionDynamics`.
RANGES: dict[str, tuple[float, float]] = {
    "lingering": (0.0, 0.95),
    "expected_reaction": (0.0, 2.0),
    "temperature": (0.01, 2.0),
    "neutral_bias": (-5.0, 5.0),
    "politeness_neutral_bias": (0.0, 5.0),
    "impulse_noise": (0.0, 2.0),
    "gain": (0.0, 2.0),
    "momentary_gain": (0.0, 2.0),
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
        """The nominal (valence, arousal) impulse (``bad_news`` unscaled)."""
        out = np.zeros(2)
        for name, (dv, da) in IMPULSES.items():
            weight = getattr(self, name)
            out += weight * np.array([dv, da])
        return out

    @property
    def negative(self) -> bool:
        return self.repetition + self.ignored + self.bad_news > 0

    def as_dict(self) -> dict[str, float]:
        # per turn on the environment's hot path: a plain dict, not dataclasses.asdict
        return {name: getattr(self, name) for name in APPRAISAL_FIELDS}


APPRAISAL_FIELDS = tuple(f.name for f in dataclasses.fields(Appraisal))


@dataclass(frozen=True)
class EmotionDynamics:
    """The parameters of the caller's emotion dynamics (see the module docstring).

    - ``lingering`` in [0, 0.95]: the share of a turn's mood deviation from the caller's
      baseline that carries into the next turn (0: no memory; the old ``decay``).
    - ``expected_reaction`` in [0, 2]: scale of the bad-news impulse, i.e. how strongly
      unavoidable bad news brings anger or sadness whatever the agent does; 1.0 is the
      appraisal's nominal impulse (:data:`IMPULSES` ``["bad_news"]``).
    - ``temperature`` in [0.01, 2]: softmax temperature over squared prototype distances.
    - ``neutral_bias`` in [-5, 5]: logit added to neutral for every caller.
    - ``politeness_neutral_bias`` in [0, 5]: extra neutral logit per unit of politeness.
    - ``impulse_noise`` in [0, 2]: std of the zero-mean Gaussian valence/arousal impulse
      added every turn.
    - ``gain``, ``momentary_gain`` in [0, 2]: how much of the turn's impulse moves the mood,
      and how much more of it shows in this turn's core affect only.
    - ``provenance``: what data, command and fit produced the values (not compared).

    Constructing an instance validates it; :meth:`validate` raises ``ValueError`` naming
    the field that is out of its range.
    """

    lingering: float = 0.8
    expected_reaction: float = 1.0
    temperature: float = 0.12
    neutral_bias: float = 0.0
    politeness_neutral_bias: float = 0.5
    impulse_noise: float = 0.0
    gain: float = 0.5
    momentary_gain: float = 0.7
    provenance: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.provenance, Mapping):
            raise ValueError("EmotionDynamics.provenance: must be a mapping")
        object.__setattr__(self, "provenance", copy.deepcopy(dict(self.provenance)))
        for name in RANGES:
            value = getattr(self, name)
            if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(
                value, bool
            ):
                object.__setattr__(self, name, float(value))
        self.validate()

    def validate(self) -> EmotionDynamics:
        """Raise ``ValueError`` naming the first field outside its documented range."""
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"EmotionDynamics.{name}: must be a number, got {value!r}")
            if not math.isfinite(value) or not low <= value <= high:
                raise ValueError(f"EmotionDynamics.{name}: {value!r} is outside [{low}, {high}]")
        return self

    def replace(self, **changes: Any) -> EmotionDynamics:
        """A copy with ``changes`` applied (validated)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"EmotionDynamics: unknown field {sorted(unknown)[0]!r}")
        return dataclasses.replace(self, **changes)

    def as_dict(self, *, provenance: bool = True) -> dict[str, Any]:
        """Plain JSON-able dict of every field (``provenance`` optional)."""
        out: dict[str, Any] = {name: getattr(self, name) for name in RANGES}
        if provenance:
            out["provenance"] = copy.deepcopy(dict(self.provenance))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmotionDynamics:
        """Inverse of :meth:`as_dict`; unknown keys raise ``ValueError``, missing ones default."""
        if not isinstance(data, Mapping):
            raise ValueError("EmotionDynamics: expected a mapping of field -> value")
        unknown = set(data) - {*RANGES, "provenance"}
        if unknown:
            raise ValueError(f"EmotionDynamics: unknown field {sorted(unknown)[0]!r}")
        return cls(**dict(data))


#: The earlier hand-set dynamics (fitted to nothing), kept for comparison and tests.
DESIGNED = EmotionDynamics(provenance={"source": "hand-set (emorl <= 0.1 defaults), not fitted"})


def load_dynamics(path: str | Path) -> EmotionDynamics:
    """Read a dynamics JSON (``format``, ``dynamics``, ``provenance``, ``fidelity``).

    ``fidelity`` (if present) is folded into the returned ``provenance``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"emotion-dynamics file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: {err.msg}") from None
    if not isinstance(data, dict) or data.get("format") != DYNAMICS_FORMAT:
        raise ValueError(f"{path}: field 'format': expected {DYNAMICS_FORMAT!r}")
    provenance = dict(data.get("provenance", {}))
    if "fidelity" in data:
        provenance["fidelity"] = data["fidelity"]
    try:
        return EmotionDynamics.from_dict({**data.get("dynamics", {}), "provenance": provenance})
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> EmotionDynamics:
    return load_dynamics(path)


def fitted_dynamics(path: str | Path | None = None) -> EmotionDynamics:
    """The shipped dynamics fitted to DailyDialog + MELD (or those in ``path``).

    The file is read once (per path and modification time); each call returns a fresh
    copy, so changing one caller's ``provenance`` never reaches another.
    """
    path = Path(path) if path is not None else FITTED_JSON
    if not path.is_file():
        raise FileNotFoundError(f"emotion-dynamics file not found: {path}")
    cached = _load_cached(str(path), path.stat().st_mtime_ns)
    return dataclasses.replace(cached)


# --------------------------------------------------------------------- the equations
def turn_impulse(
    appraisal_impulse: np.ndarray,
    bad_news: np.ndarray | float,
    noise: np.ndarray,
    dynamics: EmotionDynamics,
) -> np.ndarray:
    """This turn's impulse, ``(..., 2)``: nominal appraisal impulse with ``bad_news``
    rescaled by ``expected_reaction``, plus ``impulse_noise`` times standard normal ``noise``."""
    bad = np.asarray(bad_news, dtype=np.float64)[..., None] * np.asarray(IMPULSES["bad_news"])
    return (
        np.asarray(appraisal_impulse, dtype=np.float64)
        + (dynamics.expected_reaction - 1.0) * bad
        + dynamics.impulse_noise * np.asarray(noise, dtype=np.float64)
    )


def mood_step(
    state: np.ndarray, baseline: np.ndarray, impulse: np.ndarray, dynamics: EmotionDynamics
) -> tuple[np.ndarray, np.ndarray]:
    """One turn: ``(new mood, momentary core affect)``, arrays of shape ``(..., 2)``."""
    new = np.clip(
        baseline + dynamics.lingering * (state - baseline) + dynamics.gain * impulse, -1.0, 1.0
    )
    core = np.clip(new + dynamics.momentary_gain * impulse, -1.0, 1.0)
    return new, core


def emotion_probabilities(
    core: np.ndarray, dynamics: EmotionDynamics, politeness: np.ndarray | float
) -> np.ndarray:
    """P(emotion | core affect), ``(..., 4)`` in :data:`FOUR_CLASS` order."""
    core = np.asarray(core, dtype=np.float64)
    logits = -((core[..., None, :] - PROTOTYPES) ** 2).sum(axis=-1) / dynamics.temperature
    logits[..., 0] += dynamics.neutral_bias + dynamics.politeness_neutral_bias * np.asarray(
        politeness, dtype=np.float64
    )
    logits -= logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=-1, keepdims=True)


def intensity(core: np.ndarray) -> np.ndarray | float:
    """How far the core affect is from the neutral prototype, scaled into [0, 1]."""
    distance = np.linalg.norm(np.asarray(core, dtype=np.float64) - PROTOTYPES[0], axis=-1)
    out = np.clip(distance / MAX_DISTANCE, 0.0, 1.0)
    return float(out) if np.ndim(out) == 0 else out


class Mood:
    """One caller's valence/arousal mood; all randomness from the rng passed to each call.

    ``Mood(baseline, initial, dynamics, politeness)``: ``baseline`` is where the mood
    relaxes to, ``initial`` the mood before the first words, ``politeness`` in [0, 1]
    adds ``dynamics.politeness_neutral_bias * politeness`` to the neutral logit.
    """

    def __init__(
        self,
        baseline: np.ndarray,
        initial: np.ndarray,
        dynamics: EmotionDynamics,
        politeness: float,
    ) -> None:
        if not isinstance(dynamics, EmotionDynamics):
            raise TypeError(f"dynamics must be an EmotionDynamics, got {type(dynamics).__name__}")
        self.baseline = np.asarray(baseline, dtype=np.float64).copy()
        self.state = np.clip(np.asarray(initial, dtype=np.float64), -1.0, 1.0)
        self.dynamics = dynamics
        self.politeness = float(politeness)

    @property
    def valence(self) -> float:
        return float(self.state[0])

    @property
    def arousal(self) -> float:
        return float(self.state[1])

    def emotion_distribution(self, core: np.ndarray) -> np.ndarray:
        """P(emotion | core affect) for this caller."""
        return emotion_probabilities(core, self.dynamics, self.politeness)

    def react(
        self, appraisal: Appraisal, rng: np.random.Generator
    ) -> tuple[int, np.ndarray, float]:
        """Move the mood by ``appraisal`` (+ noise); draw this turn's emotion.

        Returns ``(emotion index, P(emotion), intensity)``; two draws from ``rng`` for the
        noise impulse (always, even when ``impulse_noise`` is 0) and one for the emotion.
        """
        noise = rng.standard_normal(2)
        impulse = turn_impulse(appraisal.impulse(), appraisal.bad_news, noise, self.dynamics)
        self.state, core = mood_step(self.state, self.baseline, impulse, self.dynamics)
        p = self.emotion_distribution(core)
        return int(rng.choice(len(p), p=p)), p, float(intensity(core))

    def opening(self, rng: np.random.Generator) -> tuple[int, np.ndarray, float]:
        """The emotion of the caller's first words: the mood alone, no impulse."""
        p = self.emotion_distribution(self.state)
        return int(rng.choice(len(p), p=p)), p, float(intensity(self.state))
