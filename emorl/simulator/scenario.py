"""Scenario files: what the simulated caller wants and who the caller is.

A scenario is a JSON file (the shipped default is ``emorl/simulator/scenarios/
call_centre.json``) with ``slots`` (name -> ``prompt`` and ``values``), ``problems``
(``type``, ``description``, ``slots`` to collect, ``grant_probability``, and the agent's
optional phrases ``resolution``, ``refusal``, ``alternative``) and ``user`` (ranges the
caller's traits are drawn from). Errors name the file and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "call_centre.json"


class ScenarioError(ValueError):
    """A scenario file is malformed; the message names the file (and line) and field."""

    def __init__(self, path: Path | str, field: str, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: field {field!r}: {message}")


@dataclass(frozen=True)
class Slot:
    name: str
    prompt: str
    values: tuple[str, ...]


#: Defaults of a problem's agent phrases (the system language completes them).
DEFAULT_RESOLUTION = "I've sorted that out for you"
DEFAULT_REFUSAL = "I'm not able to do that for you"
DEFAULT_ALTERNATIVE = "I can pass your case to a specialist team"
#: Optional phrase fields of a problem and their defaults.
PHRASE_FIELDS: dict[str, str] = {
    "resolution": DEFAULT_RESOLUTION,
    "refusal": DEFAULT_REFUSAL,
    "alternative": DEFAULT_ALTERNATIVE,
}


@dataclass(frozen=True)
class Problem:
    """A caller's problem; ``resolution``, ``refusal`` and ``alternative`` are the agent's
    words for fixing it, refusing it and offering something else (clauses without the
    final full stop, e.g. ``"I've refunded the second charge"``)."""

    type: str
    description: str
    slots: tuple[str, ...]
    grant_probability: float
    resolution: str = DEFAULT_RESOLUTION
    refusal: str = DEFAULT_REFUSAL
    alternative: str = DEFAULT_ALTERNATIVE


@dataclass(frozen=True)
class UserTraits:
    """Ranges (low, high) each caller's traits are drawn from, and fixed dynamics."""

    patience: tuple[int, int] = (4, 8)
    politeness: tuple[float, float] = (0.0, 1.0)
    baseline_valence: tuple[float, float] = (-0.2, 0.3)
    baseline_arousal: tuple[float, float] = (-0.2, 0.2)
    initial_valence_offset: tuple[float, float] = (-0.5, 0.0)
    mood_decay: float = 0.8
    mood_gain: float = 0.5
    momentary_gain: float = 0.7
    temperature: float = 0.12
    hangup_valence: float = -0.8


@dataclass(frozen=True)
class Scenario:
    name: str
    slots: Mapping[str, Slot]
    problems: tuple[Problem, ...]
    user: UserTraits
    source: str = "<memory>"

    @property
    def slot_names(self) -> tuple[str, ...]:
        return tuple(self.slots)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Scenario:
        """Read and validate a scenario file (the shipped default when ``path`` is None)."""
        path = Path(path) if path is not None else DEFAULT_SCENARIO
        if not path.is_file():
            raise FileNotFoundError(f"scenario file not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ScenarioError(path, "<json>", err.msg, err.lineno) from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, source: str = "<memory>") -> Scenario:
        """Validate a parsed scenario."""
        if not isinstance(data, dict):
            raise ScenarioError(source, "<root>", "must be a JSON object")
        unknown = set(data) - {"name", "slots", "problems", "user", "description"}
        if unknown:
            raise ScenarioError(source, sorted(unknown)[0], "unknown field")
        slots = _slots(data.get("slots"), source)
        problems = _problems(data.get("problems"), slots, source)
        user = _user(data.get("user", {}), source)
        name = data.get("name", Path(source).stem)
        if not isinstance(name, str):
            raise ScenarioError(source, "name", "must be a string")
        return cls(name=name, slots=slots, problems=problems, user=user, source=source)


def _slots(raw: Any, src: str) -> dict[str, Slot]:
    if not isinstance(raw, dict) or not raw:
        raise ScenarioError(src, "slots", "must be a non-empty object of slot name -> spec")
    slots = {}
    for name, spec in raw.items():
        where = f"slots.{name}"
        if not isinstance(spec, dict):
            raise ScenarioError(src, where, "must be an object with 'prompt' and 'values'")
        prompt = spec.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise ScenarioError(src, f"{where}.prompt", "must be a non-empty string")
        values = spec.get("values")
        if not _strings(values):
            raise ScenarioError(src, f"{where}.values", "must be a non-empty list of strings")
        slots[name] = Slot(name, prompt, tuple(values))
    return slots


def _problems(raw: Any, slots: Mapping[str, Slot], src: str) -> tuple[Problem, ...]:
    if not isinstance(raw, list) or not raw:
        raise ScenarioError(src, "problems", "must be a non-empty list")
    problems = []
    for i, spec in enumerate(raw):
        where = f"problems[{i}]"
        if not isinstance(spec, dict):
            raise ScenarioError(src, where, "must be an object")
        for key in ("type", "description"):
            if not isinstance(spec.get(key), str) or not spec[key]:
                raise ScenarioError(src, f"{where}.{key}", "must be a non-empty string")
        needed = spec.get("slots")
        if not _strings(needed):
            raise ScenarioError(src, f"{where}.slots", "must be a non-empty list of slot names")
        for name in needed:
            if name not in slots:
                raise ScenarioError(src, f"{where}.slots", f"unknown slot {name!r}")
        grant = spec.get("grant_probability", 1.0)
        if not isinstance(grant, (int, float)) or not 0.0 <= grant <= 1.0:
            raise ScenarioError(src, f"{where}.grant_probability", "must be a number in [0, 1]")
        unknown = set(spec) - {"type", "description", "slots", "grant_probability", *PHRASE_FIELDS}
        if unknown:
            raise ScenarioError(src, f"{where}.{sorted(unknown)[0]}", "unknown field")
        phrases = {}
        for key, default in PHRASE_FIELDS.items():
            value = spec.get(key, default)
            if not isinstance(value, str) or not value.strip():
                raise ScenarioError(src, f"{where}.{key}", "must be a non-empty string")
            if "{" in value or "}" in value:
                raise ScenarioError(src, f"{where}.{key}", "must not contain '{' or '}'")
            phrases[key] = value.strip().rstrip(".")
        problems.append(
            Problem(spec["type"], spec["description"], tuple(needed), float(grant), **phrases)
        )
    return tuple(problems)


def _user(raw: Any, src: str) -> UserTraits:
    if not isinstance(raw, dict):
        raise ScenarioError(src, "user", "must be an object")
    defaults = UserTraits()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if not hasattr(defaults, key):
            raise ScenarioError(src, f"user.{key}", "unknown field")
        default = getattr(defaults, key)
        if isinstance(default, tuple):
            ok = (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, (int, float)) and math.isfinite(v) for v in value)
                and value[0] <= value[1]
            )
            if not ok:
                raise ScenarioError(src, f"user.{key}", "must be a [low, high] pair of numbers")
            value = tuple(int(v) for v in value) if key == "patience" else tuple(value)
        elif not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ScenarioError(src, f"user.{key}", "must be a number")
        values[key] = value
    traits = UserTraits(**{**defaults.__dict__, **values})
    if traits.patience[0] < 1:
        raise ScenarioError(src, "user.patience", "must be at least 1")
    if not 0.0 <= traits.mood_decay < 1.0:
        raise ScenarioError(src, "user.mood_decay", "must be in [0, 1)")
    if traits.temperature <= 0:
        raise ScenarioError(src, "user.temperature", "must be positive")
    return traits


def _strings(value: Any) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) > 0
        and all(isinstance(v, str) and v for v in value)
    )
