"""Helpers shared by the corpus readers: label mapping, skip counting, file listing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from emorl.data.utterance import Corpus, CorpusFormatError, Utterance
from emorl.emotions import LabelMode, label_set, to_label_set

AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".flac")


def check_mode(labels: str) -> LabelMode:
    """Validate a label mode (``"four"`` or ``"full"``)."""
    if labels not in ("four", "full"):
        raise ValueError(f"labels must be 'four' or 'full', got {labels!r}")
    return labels  # type: ignore[return-value]


def dropped_reason(label: str) -> str:
    """The ``skipped`` key for an utterance whose class is dropped in four-class mode."""
    return f"label {label!r} not in four-class set"


class CorpusBuilder:
    """Collects utterances for one corpus: maps labels, counts skips, keeps ids unique."""

    def __init__(self, name: str, labels: LabelMode | str) -> None:
        self.name = name
        self.mode = check_mode(labels)
        self.utterances: list[Utterance] = []
        self.skipped: Counter[str] = Counter()
        self._seen: dict[str, str] = {}

    def map_label(self, label: str, path: Path, line: int | None) -> str | None:
        """Map a canonical corpus label into the mode's set.

        Returns ``None`` (and counts the skip) when the class is dropped; raises
        :class:`CorpusFormatError` at ``path:line`` for a label the corpus does not have.
        """
        try:
            mapped = to_label_set(self.name, label, self.mode)
        except ValueError as err:
            raise CorpusFormatError(path, line, str(err)) from None
        if mapped is None:
            self.skip(dropped_reason(label))
        return mapped

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] += count

    def has_id(self, utt_id: str) -> bool:
        return utt_id in self._seen

    def add_file(self, utterance: Utterance, path: Path) -> None:
        """Append an utterance named by its audio file.

        A file name seen before in another folder (copies of a corpus nested inside
        itself are common) is skipped and counted under ``"duplicate file name"``.
        """
        if utterance.id in self._seen:
            self.skip("duplicate file name")
            return
        self.add(utterance, path)

    def add(self, utterance: Utterance, path: Path, line: int | None = None) -> None:
        """Append ``utterance``; a repeated id is a :class:`CorpusFormatError`."""
        if utterance.id in self._seen:
            first = self._seen[utterance.id]
            raise CorpusFormatError(
                path, line, f"duplicate utterance id {utterance.id!r} (first at {first})"
            )
        self._seen[utterance.id] = str(path) if line is None else f"{path}:{line}"
        self.utterances.append(utterance)

    def build(self, labels: tuple[str, ...] | None = None) -> Corpus:
        """The finished corpus; ``labels`` defaults to ``label_set(name, mode)``."""
        if labels is None:
            labels = label_set(self.name, self.mode)
        return Corpus(
            name=self.name, labels=labels, utterances=self.utterances, skipped=self.skipped
        )


def is_hidden(path: Path) -> bool:
    """Dot files (e.g. macOS ``._name`` resource forks) are never corpus files."""
    return path.name.startswith(".")


def find_audio(root: Path) -> list[Path]:
    """Every ``.wav``/``.flac`` under ``root`` (recursive, dot files left out), sorted.

    ``root`` may be one audio file; finding none is a :class:`CorpusFormatError`.
    """
    if root.is_file():
        files = [root] if root.suffix.lower() in AUDIO_SUFFIXES else []
    else:
        files = sorted(
            p
            for p in root.rglob("*")
            if p.suffix.lower() in AUDIO_SUFFIXES and not is_hidden(p) and p.is_file()
        )
    if not files:
        raise CorpusFormatError(root, None, "no .wav or .flac files")
    return files


def split_lines(data: bytes) -> list[bytes]:
    """Split on ``\\n`` only (not on the Unicode separators ``str.splitlines`` knows),
    dropping one trailing empty piece and any ``\\r`` line ends."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def decode_line(raw: bytes, path: Path, line: int) -> str:
    """Decode one line as strict UTF-8 or raise :class:`CorpusFormatError` at ``path:line``."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        message = f"not valid UTF-8 ({err.reason} at byte {err.start})"
        raise CorpusFormatError(path, line, message) from None


def read_lines(path: Path) -> list[str]:
    """A file's lines, strict UTF-8 (BOM dropped), errors naming the line."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return [decode_line(raw, path, i) for i, raw in enumerate(split_lines(data), start=1)]
