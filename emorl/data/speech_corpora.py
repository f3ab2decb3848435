"""Acted speech corpora labelled by file name: RAVDESS, EmoDB, TESS, CREMA-D.

These readers only parse names (``.wav``/``.flac``, searched recursively, sorted, dot files
left out); they never open the audio. A name that does not follow the corpus's scheme
raises :class:`CorpusFormatError` naming the file, except in TESS, whose real copies hold
irregular names: there it is skipped and counted. Ids are the file stems; the same stem
twice (say ``.wav`` and ``.flac``) is a duplicate-id error.
"""

from __future__ import annotations

import re
from pathlib import Path

from emorl.data._common import CorpusBuilder, find_audio
from emorl.data.utterance import Corpus, CorpusFormatError, Utterance
from emorl.emotions import LabelMode

# --- RAVDESS -----------------------------------------------------------------------------

RAVDESS_EMOTIONS: dict[str, str] = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}
RAVDESS_STATEMENTS: dict[str, str] = {
    "01": "Kids are talking by the door",
    "02": "Dogs are sitting by the door",
}
RAVDESS_INTENSITY: dict[str, str] = {"01": "normal", "02": "strong"}
SONG = "song, not speech"
_RAVDESS = re.compile(r"(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)")


def read_ravdess(path: str | Path, *, labels: LabelMode = "four") -> Corpus:
    """RAVDESS ``MM-VV-EE-II-SS-RR-AA``: modality, vocal channel (01 speech, 02 song),
    emotion, intensity, statement, repetition, actor.

    Song files are counted under ``"song, not speech"``. Speaker ``ravdess_{AA}``; text the
    statement sentence; ``extra``: intensity (normal/strong), statement and repetition
    (ints), gender (odd actors male, even female). Four-class mode reads ``calm`` as
    ``neutral`` (see ``emorl.emotions``).
    """
    builder = CorpusBuilder("ravdess", labels)
    for file in find_audio(Path(path)):
        m = _RAVDESS.fullmatch(file.stem)
        if m is None:
            raise CorpusFormatError(file, None, "not a RAVDESS name (MM-VV-EE-II-SS-RR-AA)")
        modality, channel, emotion, intensity, statement, repetition, actor = m.groups()
        if modality not in ("01", "02", "03") or channel not in ("01", "02"):
            raise CorpusFormatError(file, None, f"bad modality/channel {modality}-{channel}")
        if channel == "02":
            builder.skip(SONG)
            continue
        if emotion not in RAVDESS_EMOTIONS or intensity not in RAVDESS_INTENSITY:
            raise CorpusFormatError(file, None, f"bad emotion/intensity {emotion}-{intensity}")
        if statement not in RAVDESS_STATEMENTS or repetition not in ("01", "02"):
            raise CorpusFormatError(file, None, f"bad statement/repeat {statement}-{repetition}")
        if actor == "00":
            raise CorpusFormatError(file, None, "actor 00")
        label = builder.map_label(RAVDESS_EMOTIONS[emotion], file, None)
        if label is None:
            continue
        extra = {
            "intensity": RAVDESS_INTENSITY[intensity],
            "statement": int(statement),
            "repetition": int(repetition),
            "gender": "male" if int(actor) % 2 else "female",
        }
        builder.add_file(
            Utterance(
                id=file.stem,
                label=label,
                text=RAVDESS_STATEMENTS[statement],
                audio_path=file,
                speaker=f"ravdess_{actor}",
                corpus="ravdess",
                extra=extra,
            ),
            file,
        )
    return builder.build()


# --- EmoDB -------------------------------------------------------------------------------

EMODB_EMOTIONS: dict[str, str] = {
    "W": "angry",
    "L": "boredom",
    "E": "disgust",
    "A": "fear",
    "F": "happy",
    "T": "sad",
    "N": "neutral",
}
_EMODB = re.compile(r"(\d\d)([a-z]\d\d)([A-Z])([a-z])")


def read_emodb(path: str | Path, *, labels: LabelMode = "four") -> Corpus:
    """EmoDB ``NNtttEv`` (e.g. ``03a01Fa``): speaker, text code, emotion letter (W anger,
    L boredom, E disgust, A fear, F happiness, T sadness, N neutral), version.

    Speaker ``emodb_{NN}``; text ``None`` (German sentences); ``extra``: text_code, version.
    """
    builder = CorpusBuilder("emodb", labels)
    for file in find_audio(Path(path)):
        m = _EMODB.fullmatch(file.stem)
        if m is None or m.group(3) not in EMODB_EMOTIONS:
            raise CorpusFormatError(file, None, "not an EmoDB name (e.g. 03a01Fa)")
        speaker, text_code, emotion, version = m.groups()
        label = builder.map_label(EMODB_EMOTIONS[emotion], file, None)
        if label is None:
            continue
        builder.add_file(
            Utterance(
                id=file.stem,
                label=label,
                audio_path=file,
                speaker=f"emodb_{speaker}",
                corpus="emodb",
                extra={"text_code": text_code, "version": version},
            ),
            file,
        )
    return builder.build()


# --- TESS --------------------------------------------------------------------------------

TESS_EMOTIONS: dict[str, str] = {
    "angry": "angry",
    "anger": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "happy": "happy",
    "happiness": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "sadness": "sad",
    "ps": "pleasant_surprise",
    "surprise": "pleasant_surprise",
    "surprised": "pleasant_surprise",
    "pleasant_surprise": "pleasant_surprise",
    "pleasant_surprised": "pleasant_surprise",
}
#: Speaker codes as written in the file names (some copies shorten OAF/YAF to OA/YA).
TESS_SPEAKERS: dict[str, str] = {"oaf": "OAF", "oa": "OAF", "yaf": "YAF", "ya": "YAF"}
TESS_SKIP = "not a TESS name (OAF|YAF_word_emotion)"
_TESS_WORD = re.compile(r"[a-z0-9'-]+")


def parse_tess_name(stem: str) -> tuple[str, str, str] | None:
    """``(speaker, word, emotion)`` of a TESS file stem, or ``None`` if it is not one.

    Lenient with the irregular names of the real corpus: case (``YAF_germ_Fear``),
    surrounding spaces, repeated underscores (``OAF_back__angry``), short speaker codes
    (``OA_bite_neutral`` -> ``OAF``) and the spelled-out ``pleasant_surprise(d)`` for ``ps``.
    ``speaker`` is ``OAF``/``YAF``, ``word`` lower case, ``emotion`` a
    :data:`TESS_EMOTIONS` value.
    """
    pieces = [piece.strip() for piece in stem.strip().lower().split("_")]
    pieces = [piece for piece in pieces if piece]
    if len(pieces) >= 4 and f"{pieces[-2]}_{pieces[-1]}" in TESS_EMOTIONS:
        pieces[-2:] = [f"{pieces[-2]}_{pieces[-1]}"]
    if len(pieces) != 3:
        return None
    who, word, emotion = pieces
    if who not in TESS_SPEAKERS or emotion not in TESS_EMOTIONS:
        return None
    if _TESS_WORD.fullmatch(word) is None:
        return None
    return TESS_SPEAKERS[who], word, TESS_EMOTIONS[emotion]


def read_tess(path: str | Path, *, labels: LabelMode = "four") -> Corpus:
    """TESS ``{OAF|YAF}_{word}_{emotion}`` (e.g. ``YAF_dog_ps``; ``ps`` = pleasant surprise).

    Names are read leniently (:func:`parse_tess_name`: ``OA_bite_neutral``,
    ``YAF_germ_Fear``, trailing spaces, double underscores); a name that still does not fit
    is skipped and counted under :data:`TESS_SKIP`, not an error. Ids are the stems without
    surrounding spaces. Folder names are ignored. Speaker ``tess_OAF`` / ``tess_YAF``; text
    the carrier phrase ``"Say the word {word}"``; ``extra``: word, age (older/younger).
    """
    builder = CorpusBuilder("tess", labels)
    for file in find_audio(Path(path)):
        parsed = parse_tess_name(file.stem)
        if parsed is None:
            builder.skip(TESS_SKIP)
            continue
        who, word, emotion = parsed
        label = builder.map_label(emotion, file, None)
        if label is None:
            continue
        builder.add_file(
            Utterance(
                id=file.stem.strip(),
                label=label,
                text=f"Say the word {word}",
                audio_path=file,
                speaker=f"tess_{who}",
                corpus="tess",
                extra={"word": word, "age": "older" if who == "OAF" else "younger"},
            ),
            file,
        )
    return builder.build()


# --- CREMA-D -----------------------------------------------------------------------------

CREMAD_EMOTIONS: dict[str, str] = {
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fear",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}
CREMAD_SENTENCES: dict[str, str] = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
CREMAD_LEVELS: dict[str, str] = {
    "LO": "low",
    "MD": "medium",
    "HI": "high",
    "XX": "unspecified",
    "X": "unspecified",
}
_CREMAD = re.compile(r"(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{1,2})")


def read_cremad(path: str | Path, *, labels: LabelMode = "four") -> Corpus:
    """CREMA-D ``AAAA_SSS_EEE_LL`` (e.g. ``1001_DFA_ANG_XX``): actor, sentence, emotion
    (ANG DIS FEA HAP NEU SAD), level (LO MD HI XX).

    Speaker ``cremad_{AAAA}``; text the sentence; ``extra``: sentence (code), level.
    """
    builder = CorpusBuilder("cremad", labels)
    for file in find_audio(Path(path)):
        m = _CREMAD.fullmatch(file.stem)
        if (
            m is None
            or m.group(2) not in CREMAD_SENTENCES
            or m.group(3) not in CREMAD_EMOTIONS
            or m.group(4) not in CREMAD_LEVELS
        ):
            raise CorpusFormatError(file, None, "not a CREMA-D name (e.g. 1001_DFA_ANG_XX)")
        actor, sentence, emotion, level = m.groups()
        label = builder.map_label(CREMAD_EMOTIONS[emotion], file, None)
        if label is None:
            continue
        builder.add_file(
            Utterance(
                id=file.stem,
                label=label,
                text=CREMAD_SENTENCES[sentence],
                audio_path=file,
                speaker=f"cremad_{actor}",
                corpus="cremad",
                extra={"sentence": sentence, "level": CREMAD_LEVELS[level]},
            ),
            file,
        )
    return builder.build()
