"""The one record every corpus reader yields."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Utterance:
    """One labelled utterance: text, audio, or both.

    ``label`` is already mapped into the label set the corpus was read with.
    ``dialogue`` holds the dialogue or session id; ``extra`` keeps corpus-specific
    fields (SemEval ``source``, DailyDialog ``act``, IEMOCAP ``duration``...).
    """

    id: str
    label: str
    text: str | None = None
    audio_path: Path | None = None
    speaker: str | None = None
    dialogue: str | None = None
    corpus: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Corpus:
    """Utterances read from one corpus, with the label order and what was skipped.

    ``skipped`` counts every utterance left out and why (``"label fear not in four-class
    set"``, ``"dailydialog: turn/label count mismatch"``...): nothing is dropped silently.
    """

    name: str
    labels: tuple[str, ...]
    utterances: list[Utterance]
    skipped: Counter[str] = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.utterances)

    def label_counts(self) -> dict[str, int]:
        counts = Counter(u.label for u in self.utterances)
        return {label: counts.get(label, 0) for label in self.labels}


class CorpusFormatError(ValueError):
    """A corpus file is malformed; the message names the file and line."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path = Path(path)
        self.line = line
        self.reason = message
