"""DailyDialog reader and its detokenizer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from emorl.data._common import CorpusBuilder, read_lines
from emorl.data.utterance import Corpus, CorpusFormatError, Utterance
from emorl.emotions import CORPUS_LABELS, LabelMode

NAME = "dailydialog"
#: Emotion code -> canonical label: the codes index ``CORPUS_LABELS["dailydialog"]``.
EMOTIONS: tuple[str, ...] = CORPUS_LABELS[NAME]
ACTS: dict[int, str] = {1: "inform", 2: "question", 3: "directive", 4: "commissive"}
EOU = "__eou__"

#: One count per dialogue skipped whole because its turn and label counts differ.
MISMATCH = "dailydialog: turn/label count mismatch"
#: The turns those dialogues held (so the utterances lost are counted too).
MISMATCH_TURNS = "dailydialog: turns lost to turn/label count mismatch"
EMPTY_TEXT = "empty text"

_NOT_SPLITS = {"emotion", "act", "text", "topic"}

_SPACE_BEFORE = re.compile(r"\s+(?=[.,?!;:%)\]}])")
_SPACE_AFTER = re.compile(r"(?<=[(\[{$£€¥])\s+")
_NT = re.compile(r"\s+n(['’])t\b", re.IGNORECASE)
_CONTRACTION = re.compile(r"(?<=\w) ?(['’]) ?(s|t|m|d|ll|ve|re|clock)\b", re.IGNORECASE)
_TIME = re.compile(r"(?<=\d): (?=\d\d\b)")
_AM_PM = re.compile(r"(?<![A-Za-z])([ap])\. ?m\.", re.IGNORECASE)
_MAAM = re.compile(r"\b(ma) ?(['’]) ?(am)\b", re.IGNORECASE)
_SPACES = re.compile(r"\s{2,}")


def detokenize(text: str) -> str:
    """Undo DailyDialog's tokenisation spaces, conservatively.

    - no space before ``. , ? ! ; : % ) ] }`` or ``...``: ``"Say , Jim ?"`` -> ``"Say, Jim?"``;
    - no space after ``( [ {`` or a currency sign: ``"$ 100"`` -> ``"$100"``;
    - contractions rejoin: ``"do n't"`` -> ``"don't"``, ``"it ' s"`` -> ``"it's"``,
      ``"I ’ Ve"`` -> ``"I’ve"`` (the apostrophe kept as written, the suffix lowercased),
      ``"o ’ clock"`` -> ``"o’clock"``, ``"ma ’ am"`` -> ``"ma’am"``;
    - times and their marks: ``"8 : 30 a . m ."`` -> ``"8:30 a.m."``;
    - runs of spaces collapse; quotes and dashes are left alone.
    """
    text = _SPACE_BEFORE.sub("", text)
    text = _SPACE_AFTER.sub("", text)
    text = _NT.sub(lambda m: f"n{m.group(1)}t", text)
    text = _CONTRACTION.sub(_join_contraction, text)
    text = _MAAM.sub(r"\1\2\3", text)
    text = _TIME.sub(":", text)
    text = _AM_PM.sub(r"\1.m.", text)
    return _SPACES.sub(" ", text).strip()


def _join_contraction(match: re.Match[str]) -> str:
    if " " not in match.group(0):
        return match.group(0)  # already joined: left exactly as written
    return match.group(1) + match.group(2).lower()


@dataclass(frozen=True)
class _Split:
    prefix: str
    text: Path
    emotion: Path
    act: Path | None


def read_dailydialog(
    path: str | Path, *, labels: LabelMode = "four", detokenize_text: bool = True
) -> Corpus:
    """Read one DailyDialog split folder.

    Two layouts: ``dialogues.txt`` (or ``dialogues_text.txt``) + ``dialogues_emotion.txt``
    [+ ``dialogues_act.txt``], ids prefixed with the folder name; or the official
    ``dialogues_<split>.txt`` + ``dialogues_emotion_<split>.txt`` [+ ``dialogues_act_<split>.txt``],
    ids prefixed with ``<split>`` (several splits in one folder are read in sorted order).

    One line is one dialogue, turns separated by ``__eou__``. Ids are
    ``{prefix}_{dialogue_index}_{turn_index}`` (both 0-based), dialogues
    ``{prefix}_{dialogue_index}``, speakers ``{dialogue}_A`` / ``{dialogue}_B`` alternating
    from the first turn. Text is :func:`detokenize`-d (unless ``detokenize_text=False``);
    ``extra`` keeps ``raw_text``, ``turn`` and, with an act file, ``act``.

    A dialogue whose turn count differs from its label (or act) count is skipped whole:
    ``skipped[MISMATCH]`` counts such dialogues and ``skipped[MISMATCH_TURNS]`` their turns.
    Files with different line counts, non-integer or unknown codes raise
    :class:`CorpusFormatError` at ``file:line``.
    """
    path = Path(path)
    if not path.is_dir():
        raise CorpusFormatError(path, None, "expected a DailyDialog split folder")
    builder = CorpusBuilder(NAME, labels)
    for split in _find_splits(path):
        _read_split(split, builder, detokenize_text)
    return builder.build()


def _find_splits(folder: Path) -> list[_Split]:
    for name in ("dialogues.txt", "dialogues_text.txt"):
        text = folder / name
        if text.is_file():
            emotion = folder / "dialogues_emotion.txt"
            if not emotion.is_file():
                raise CorpusFormatError(folder, None, f"{name} found but no dialogues_emotion.txt")
            act = folder / "dialogues_act.txt"
            return [_Split(folder.name, text, emotion, act if act.is_file() else None)]
    splits = []
    for text in sorted(folder.glob("dialogues_*.txt")):
        split = text.stem[len("dialogues_") :]
        if split in _NOT_SPLITS or split.split("_", 1)[0] in _NOT_SPLITS:
            continue
        emotion = folder / f"dialogues_emotion_{split}.txt"
        if not emotion.is_file():
            raise CorpusFormatError(folder, None, f"{text.name} found but no {emotion.name}")
        act = folder / f"dialogues_act_{split}.txt"
        splits.append(_Split(split, text, emotion, act if act.is_file() else None))
    if not splits:
        raise CorpusFormatError(
            folder,
            None,
            "no DailyDialog files: expected dialogues.txt + dialogues_emotion.txt "
            "or dialogues_<split>.txt + dialogues_emotion_<split>.txt",
        )
    return splits


def _codes(line: str, path: Path, lineno: int, valid: range) -> list[int]:
    codes = []
    for token in line.split():
        try:
            code = int(token)
        except ValueError:
            raise CorpusFormatError(path, lineno, f"non-integer label {token!r}") from None
        if code not in valid:
            raise CorpusFormatError(path, lineno, f"unknown code {code}")
        codes.append(code)
    return codes


def _read_split(split: _Split, builder: CorpusBuilder, detok: bool) -> None:
    texts = read_lines(split.text)
    emotions = read_lines(split.emotion)
    acts = read_lines(split.act) if split.act is not None else None
    for other, lines in ((split.emotion, emotions), (split.act, acts)):
        if lines is not None and len(lines) != len(texts):
            raise CorpusFormatError(
                other, None, f"{len(lines)} lines but {split.text.name} has {len(texts)}"
            )
    for index, line in enumerate(texts):
        lineno = index + 1
        turns = [turn.strip() for turn in line.split(EOU)]
        while turns and not turns[-1]:
            turns.pop()
        codes = _codes(emotions[index], split.emotion, lineno, range(len(EMOTIONS)))
        act_codes = (
            _codes(acts[index], split.act, lineno, range(1, 5))
            if acts is not None and split.act is not None
            else None
        )
        if len(codes) != len(turns) or (act_codes is not None and len(act_codes) != len(turns)):
            builder.skip(MISMATCH)
            builder.skip(MISMATCH_TURNS, len(turns))
            continue
        dialogue = f"{split.prefix}_{index}"
        for turn, (raw, code) in enumerate(zip(turns, codes, strict=True)):
            label = builder.map_label(EMOTIONS[code], split.emotion, lineno)
            if label is None:
                continue
            if not raw:
                builder.skip(EMPTY_TEXT)
                continue
            extra: dict[str, object] = {"raw_text": raw, "turn": turn}
            if act_codes is not None:
                extra["act"] = ACTS[act_codes[turn]]
            utterance = Utterance(
                id=f"{dialogue}_{turn}",
                label=label,
                text=detokenize(raw) if detok else raw,
                speaker=f"{dialogue}_{'AB'[turn % 2]}",
                dialogue=dialogue,
                corpus=NAME,
                extra=extra,
            )
            builder.add(utterance, split.text, lineno)
