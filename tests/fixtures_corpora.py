"""Small corpora written in their real layouts, for reader tests (and any test needing one).

IEMOCAP cannot be shipped, so :func:`write_iemocap` builds a two-session tree in the release
layout with silent wav files of the labelled durations (standard-library ``wave`` only).
"""

from __future__ import annotations

import wave
from pathlib import Path

#: (session, dialog, utterance, code, start, end) written by :func:`write_iemocap`.
IEMOCAP_UTTERANCES: tuple[tuple[int, str, str, str, float, float], ...] = (
    (1, "Ses01F_impro01", "Ses01F_impro01_F000", "neu", 6.2901, 10.2357),  # 3.95 s, kept
    (1, "Ses01F_impro01", "Ses01F_impro01_M000", "exc", 11.0, 16.5),  # excited -> happy
    (1, "Ses01F_impro01", "Ses01F_impro01_F001", "xxx", 17.0, 21.0),  # no majority
    (1, "Ses01F_impro01", "Ses01F_impro01_M001", "ang", 22.0, 23.5),  # 1.5 s: too short
    (1, "Ses01F_impro01", "Ses01F_impro01_F002", "fru", 24.0, 28.0),  # dropped in four
    (1, "Ses01M_script01_1", "Ses01M_script01_1_M000", "sad", 1.0, 4.5),  # no transcript
    (1, "Ses01M_script01_1", "Ses01M_script01_1_F000", "hap", 5.0, 21.0),  # 16 s: too long
    (2, "Ses02F_impro02", "Ses02F_impro02_F000", "hap", 2.0, 8.0),
    (2, "Ses02F_impro02", "Ses02F_impro02_M000", "ang", 9.0, 13.0),
)

IEMOCAP_TEXTS: dict[str, str] = {
    "Ses01F_impro01_F000": "Excuse me.",
    "Ses01F_impro01_M000": "Do you have your forms?",
    "Ses01F_impro01_F001": "Yeah.",
    "Ses01F_impro01_M001": "Let me see them.",
    "Ses01F_impro01_F002": "Is there a problem?",
    "Ses01M_script01_1_F000": "What a day!",
    "Ses02F_impro02_F000": "I got the job!",
    "Ses02F_impro02_M000": "You did what?",
}


def write_wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    """A silent 16-bit mono wav of ``seconds``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * round(seconds * rate))
    return path


def write_iemocap(root: Path, *, rate: int = 16000) -> Path:
    """Write :data:`IEMOCAP_UTTERANCES` under ``root`` in the IEMOCAP release layout."""
    dialogs: dict[tuple[int, str], list[tuple[str, str, float, float]]] = {}
    for session, dialog, utt, code, start, end in IEMOCAP_UTTERANCES:
        dialogs.setdefault((session, dialog), []).append((utt, code, start, end))
    for (session, dialog), utts in dialogs.items():
        base = root / f"Session{session}"
        evaluation = base / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        evaluation.parent.mkdir(parents=True, exist_ok=True)
        lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        transcript = []
        for utt, code, start, end in utts:
            lines += [
                f"[{start:.4f} - {end:.4f}]\t{utt}\t{code}\t[2.5000, 3.0000, 3.5000]",
                "C-E2:\tNeutral;\t()",
                "C-E4:\tNeutral;\tFrustration;\t()",
                "A-E3:\tval 3; act 2; dom  2;\t()",
                "",
            ]
            if utt in IEMOCAP_TEXTS:
                transcript.append(f"{utt} [{start:08.4f}-{end:08.4f}]: {IEMOCAP_TEXTS[utt]}")
            write_wav(base / "sentences" / "wav" / dialog / f"{utt}.wav", end - start, rate)
        evaluation.write_text("\n".join(lines) + "\n", encoding="ascii")
        if not dialog.startswith("Ses01M_script01_1"):  # one dialog without transcripts
            transcript += ["M: breathing", f"{dialog}_MXX0 [000.0000-001.0000]: Hmm."]
            path = base / "dialog" / "transcriptions" / f"{dialog}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(transcript) + "\n", encoding="ascii")
    # macOS resource-fork junk found in some copies of the release: must be ignored.
    (root / "Session1" / "dialog" / "EmoEvaluation" / "._Ses01F_impro01.txt").write_bytes(
        b"\x00\x05\x16\x07\xff\xfe"
    )
    return root


def touch_all(folder: Path, names: list[str]) -> list[Path]:
    """Create empty files ``folder/name`` (names may hold sub-folders)."""
    paths = []
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        paths.append(path)
    return paths
