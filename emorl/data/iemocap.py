"""IEMOCAP reader (release layout ``Session1..5/dialog/EmoEvaluation/*.txt``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from emorl.data._common import CorpusBuilder, dropped_reason, is_hidden, read_lines
from emorl.data.utterance import Corpus, CorpusFormatError, Utterance
from emorl.emotions import LabelMode

NAME = "iemocap"
#: EmoEvaluation code -> canonical label; ``xxx`` (no majority) is skipped, not mapped.
CODES: dict[str, str] = {
    "neu": "neutral",
    "hap": "happy",
    "sad": "sad",
    "ang": "angry",
    "exc": "excited",
    "fru": "frustrated",
    "fea": "fearful",
    "sur": "surprised",
    "dis": "disgusted",
    "oth": "other",
}
NO_MAJORITY = "no majority label (xxx)"

_SESSION = re.compile(r"Session(\d+)")
_EVAL = re.compile(
    r"^\[\s*(?P<start>\d+(?:\.\d*)?)\s*-\s*(?P<end>\d+(?:\.\d*)?)\s*\]\s+"
    r"(?P<utt>\S+)\s+(?P<code>\S+)\s+"
    r"\[\s*(?P<v>[\d.]+)\s*,\s*(?P<a>[\d.]+)\s*,\s*(?P<d>[\d.]+)\s*\]\s*$"
)
_TRANSCRIPT = re.compile(r"^(?P<utt>Ses\S+)\s+\[[^\]]*\]:\s?(?P<text>.*)$")


def duration_reason(min_duration: float | None, max_duration: float | None) -> str:
    """The ``skipped`` key for utterances outside the duration range."""
    low = "0" if min_duration is None else f"{min_duration:g}"
    high = "inf" if max_duration is None else f"{max_duration:g}"
    return f"duration outside {low}-{high} s"


def read_iemocap(
    path: str | Path,
    *,
    labels: LabelMode = "four",
    merge_excited: bool = True,
    min_duration: float | None = 3.0,
    max_duration: float | None = 15.0,
    sessions: Iterable[int] | None = None,
) -> Corpus:
    """Read IEMOCAP utterance labels, transcripts and wav paths from the release root.

    Labels come from the ``[start - end]<TAB>utt<TAB>code<TAB>[V, A, D]`` lines of
    ``SessionN/dialog/EmoEvaluation/*.txt`` (annotator lines are ignored); text from
    ``SessionN/dialog/transcriptions/<dialog>.txt`` (``None`` when absent); ``audio_path``
    is always ``SessionN/sentences/wav/<dialog>/<utt>.wav``, existing or not (the audio is
    never opened here). Speaker ``Ses0N<F|M>`` (gender from the utterance suffix, e.g.
    ``F000``), dialogue the dialog name, ``extra``: duration, start, end, session, valence,
    activation, dominance.

    Checks, in order, each utterance counted once: ``xxx`` -> ``"no majority label (xxx)"``;
    class dropped in four-class mode -> ``"label 'x' not in four-class set"`` (``excited``
    joins ``happy`` there when ``merge_excited``, as in the paper; full mode keeps
    ``excited``); duration outside ``[min_duration, max_duration]`` (the paper's 3-15 s;
    ``None`` leaves a side open) -> ``"duration outside 3-15 s"``. ``sessions`` picks
    session numbers (a missing one is a ``FileNotFoundError``).
    """
    root = Path(path)
    builder = CorpusBuilder(NAME, labels)
    found = {
        int(m.group(1)): p
        for p in root.iterdir()
        if p.is_dir() and (m := _SESSION.fullmatch(p.name))
    }
    if not found:
        raise CorpusFormatError(root, None, "no Session<N> folders (IEMOCAP release layout)")
    wanted = sorted(found) if sessions is None else sorted(set(sessions))
    for number in wanted:
        if number not in found:
            raise FileNotFoundError(f"{root / f'Session{number}'}: no such IEMOCAP session")
        _read_session(number, found[number], builder, merge_excited, min_duration, max_duration)
    return builder.build()


def _read_session(
    number: int,
    folder: Path,
    builder: CorpusBuilder,
    merge_excited: bool,
    min_duration: float | None,
    max_duration: float | None,
) -> None:
    evaluation = folder / "dialog" / "EmoEvaluation"
    if not evaluation.is_dir():
        raise CorpusFormatError(folder, None, "no dialog/EmoEvaluation folder")
    too_long_or_short = duration_reason(min_duration, max_duration)
    for file in sorted(evaluation.glob("*.txt")):
        if is_hidden(file) or not file.is_file():
            continue
        dialog = file.stem
        texts = _transcripts(folder / "dialog" / "transcriptions" / f"{dialog}.txt")
        for lineno, line in enumerate(read_lines(file), start=1):
            if not line.startswith("["):
                continue
            m = _EVAL.match(line)
            if m is None:
                raise CorpusFormatError(file, lineno, f"malformed evaluation line {line[:80]!r}")
            utt, code = m["utt"], m["code"].lower()
            if code == "xxx":
                builder.skip(NO_MAJORITY)
                continue
            if code not in CODES:
                raise CorpusFormatError(
                    file,
                    lineno,
                    f"iemocap: unknown label code {code!r}; expected one of "
                    f"{', '.join([*CODES, 'xxx'])}",
                )
            full = CODES[code]
            if builder.mode == "four" and full == "excited" and merge_excited:
                label: str | None = "happy"
            elif builder.mode == "four" and full == "excited":
                builder.skip(dropped_reason(full))
                label = None
            else:
                label = builder.map_label(full, file, lineno)
            if label is None:
                continue
            start, end = float(m["start"]), float(m["end"])
            duration = round(end - start, 4)
            if (min_duration is not None and duration < min_duration) or (
                max_duration is not None and duration > max_duration
            ):
                builder.skip(too_long_or_short)
                continue
            gender = utt.rsplit("_", 1)[-1][:1].upper()
            if gender not in ("F", "M"):
                raise CorpusFormatError(file, lineno, f"no F/M speaker code in {utt!r}")
            utterance = Utterance(
                id=utt,
                label=label,
                text=texts.get(utt),
                audio_path=folder / "sentences" / "wav" / dialog / f"{utt}.wav",
                speaker=f"Ses{number:02d}{gender}",
                dialogue=dialog,
                corpus=NAME,
                extra={
                    "duration": duration,
                    "start": start,
                    "end": end,
                    "session": number,
                    "valence": float(m["v"]),
                    "activation": float(m["a"]),
                    "dominance": float(m["d"]),
                },
            )
            builder.add(utterance, file, lineno)


def _transcripts(path: Path) -> dict[str, str]:
    """``utt -> text`` from a transcription file; other lines (``M: breathing``) ignored.

    Decoded as UTF-8, or Latin-1 when that fails (transcripts only feed ``text``).
    """
    if not path.is_file():
        return {}
    data = path.read_bytes()
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        content = data.decode("latin-1")
    texts = {}
    for line in content.split("\n"):
        m = _TRANSCRIPT.match(line.strip())
        if m is not None and m["text"].strip():
            texts[m["utt"]] = m["text"].strip()
    return texts
