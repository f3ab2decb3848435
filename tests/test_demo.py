"""The live demo, headless: a recording the test makes (espeak-ng phrases between silences)."""

from __future__ import annotations

import re
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from emorl.asr import corpus_wer
from emorl.demo.log import read_log
from emorl.emotions import FOUR_CLASS
from emorl.reward import DEFAULT_EMOTION_VALUES

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")

PHRASES = (
    ("I was charged twice on my last bill and I am really upset about it.", "angry"),
    ("My name is Anna Miller and I have been a customer for years.", "neutral"),
    ("Thank you so much, that is wonderful news.", "happy"),
)
GAP = 1.2  # seconds of silence before, between and after the phrases
SR = 16_000


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[float, float]]]:
    """The WAV file and where each phrase lies in it (seconds)."""
    import soundfile as sf

    from emorl.envs.tts import SpeechSynthesiser

    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng")
    tts = SpeechSynthesiser()
    gap = np.zeros(int(GAP * SR), np.float32)
    parts, spans, t = [gap], [], GAP
    for text, emotion in PHRASES:
        clip = tts.synthesise(text, emotion, 0)
        voiced = np.flatnonzero(np.abs(clip) > 0.01)
        spans.append((t + voiced[0] / SR, t + voiced[-1] / SR))
        parts += [clip, gap]
        t += len(clip) / SR + GAP
    path = tmp_path_factory.mktemp("demo") / "three_utterances.wav"
    sf.write(path, np.concatenate(parts), SR)
    return path, spans


@needs_espeak
def test_segmenter_finds_each_phrase_whatever_the_block_size(recording) -> None:
    import soundfile as sf

    from emorl.demo.segmenter import UtteranceSegmenter

    path, spans = recording
    samples, _ = sf.read(path, dtype="float32")
    found, tentative = [], []
    for block in (1600, 4096):
        segmenter = UtteranceSegmenter()
        segments = [
            s for i in range(0, len(samples), block) for s in segmenter.push(samples[i : i + block])
        ]
        segments += list(segmenter.flush())
        found.append([(s.speech_start, s.speech_end) for s in segments if s.final])
        tentative.append([s for s in segments if not s.final])
        finals = [s for s in segments if s.final]
    assert found[0] == found[1]
    assert len(found[0]) == len(spans)
    for (start, end), (true_start, true_end) in zip(found[0], spans, strict=True):
        assert abs(start - true_start) < 0.15 and abs(end - true_end) < 0.3
    # each phrase is also given out tentatively, with exactly its final samples, before
    # the end-of-speech silence has run out
    assert len(tentative[1]) == len(finals)
    for early, final in zip(tentative[1], finals, strict=True):
        assert early.same_speech(final) and early.detected < final.detected


def test_a_tentative_segment_is_superseded_when_speech_resumes() -> None:
    from emorl.demo.segmenter import FRAME, SegmenterConfig, UtteranceSegmenter

    # a scripted VAD: 1 s speech, 0.35 s pause (past speculation, short of the end),
    # 1 s speech, then silence
    pattern = [1.0] * 31 + [0.0] * 11 + [1.0] * 31 + [0.0] * 40
    probabilities = iter(pattern)
    segmenter = UtteranceSegmenter(SegmenterConfig(), vad=lambda frame: next(probabilities))
    segments = list(segmenter.push(np.zeros(len(pattern) * FRAME, np.float32)))
    assert [s.final for s in segments] == [False, False, True]
    first, second, final = segments
    assert first.speech_end < second.speech_end == final.speech_end
    assert not first.same_speech(final) and second.same_speech(final)
    with pytest.raises(ValueError, match="speculate_ms"):
        SegmenterConfig(speculate_ms=100)
    quiet = UtteranceSegmenter(SegmenterConfig(speculate_ms=None), vad=lambda f: 1.0)
    assert all(s.final for s in quiet.push(np.zeros(FRAME * 10, np.float32)))


@needs_espeak
@pytest.mark.integration
def test_headless_demo_logs_transcripts_posteriors_and_rewards(
    recording, tmp_path, monkeypatch, capsys
) -> None:
    from emorl.cli import main

    path, spans = recording
    log = tmp_path / "turns.jsonl"
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # headless must not need PortAudio
    rc = main(["demo", "--input-file", str(path), "--fast", "--plain", "--log", str(log)])
    assert rc == 0
    turns = read_log(log)
    assert len(turns) == len(PHRASES)
    assert all(turn["speculative"] for turn in turns)  # recognised during the silence
    # each turn line shows the measured recognition time and end of speech -> display
    printed = re.findall(
        r"recognised in (\d+\.\d\d) s, shown (\d+\.\d\d) s after you stopped",
        capsys.readouterr().err,
    )
    assert printed == [
        (f"{t['latency']['recognition']:.2f}", f"{t['latency']['end_of_speech_to_display']:.2f}")
        for t in turns
    ]
    assert all(t["latency"]["recognition"] == t["timings"]["recognition"] > 0.05 for t in turns)
    for turn, (start, end) in zip(turns, spans, strict=True):
        assert abs(turn["segment"]["speech_start"] - start) < 0.15
        assert abs(turn["segment"]["speech_end"] - end) < 0.3
        for branch in ("ser", "ter", "fused"):
            assert sorted(turn[branch]) == sorted(FOUR_CLASS)
            assert sum(turn[branch].values()) == pytest.approx(1.0, abs=1e-4)
        assert turn["latency"]["processing"] > 0
    errors = corpus_wer(
        (text, turn["transcript"]) for (text, _), turn in zip(PHRASES, turns, strict=True)
    )
    assert errors.wer <= 0.2, [t["transcript"] for t in turns]
    # the scripted agent: greet, then collect the billing problem's slots
    assert [t["act"] for t in turns] == ["greet", "ask_account_number", "ask_full_name"]
    assert turns[0]["reward"] is None and turns[0]["answered_act"] is None
    f = np.array([DEFAULT_EMOTION_VALUES[e] for e in FOUR_CLASS])
    for before, turn in zip(turns, turns[1:], strict=False):
        assert turn["answered_act"] == before["act"]
        p = np.array([turn["fused"][e] for e in FOUR_CLASS])
        prev = np.array([before["fused"][e] for e in FOUR_CLASS])
        r = turn["reward"]
        assert r["delta"] == pytest.approx(float(f @ (p - prev)), abs=1e-6)
        assert r["level"] == pytest.approx(float(f @ p), abs=1e-6)
        assert r["reward"] == pytest.approx(r["delta"] - r["r_est"], abs=1e-9)
        assert r["r_est"] != 0.0  # the shipped estimator was asked


@needs_espeak
@pytest.mark.integration
def test_ctrl_c_ends_cleanly_with_the_log_flushed(recording, tmp_path) -> None:
    from emorl.demo.app import DemoOptions, build_session
    from emorl.demo.audio_source import FileSource
    from emorl.demo.log import TurnLog
    from emorl.demo.segmenter import UtteranceSegmenter
    from emorl.demo.session import run_demo

    path, _ = recording
    session = build_session(DemoOptions())
    log_path = tmp_path / "turns.jsonl"
    log = TurnLog(log_path)

    def on_turn(turn) -> None:
        log.write(turn.to_dict())
        raise KeyboardInterrupt  # Ctrl-C right after the first turn

    summary = run_demo(FileSource(path, fast=True), session, UtteranceSegmenter(), on_turn=on_turn)
    assert summary.interrupted
    assert len(read_log(log_path)) == 1  # written before the interrupt, without close()
    log.close()
    # the caller's SER statistics were fitted on that first utterance
    (frames,) = session._caller_frames
    mean, std = session.model.ser.normalizer.speaker_stats["caller"]
    np.testing.assert_allclose(mean, frames.mean(axis=0), rtol=1e-4, atol=1e-4)
    assert read_log(log_path)[0]["timings"]["adapt"] > 0


def _fake_sounddevice(devices: list[dict]) -> types.ModuleType:
    module = types.ModuleType("sounddevice")
    module.PortAudioError = type("PortAudioError", (Exception,), {})
    module.query_devices = lambda device=None, kind=None: devices
    return module


def test_no_input_device_lists_devices_and_suggests_a_file(monkeypatch, capsys) -> None:
    from emorl.cli import main
    from emorl.demo.audio_source import MicrophoneSource, NoInputDeviceError

    speakers = [{"name": "HDMI out", "max_input_channels": 0, "max_output_channels": 2}]
    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice(speakers))
    with pytest.raises(NoInputDeviceError, match="HDMI out") as err:
        MicrophoneSource()
    assert "--input-file" in str(err.value)
    assert main(["demo", "--plain"]) == 2
    assert "no audio input device" in capsys.readouterr().err


def test_missing_or_bad_input_file_is_a_clear_error(tmp_path, capsys) -> None:
    from emorl.cli import main

    assert main(["demo", "--input-file", str(tmp_path / "nope.wav"), "--plain"]) == 2
    assert "nope.wav" in capsys.readouterr().err
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    assert main(["demo", "--input-file", str(bad), "--plain"]) == 2
    assert "bad.wav" in capsys.readouterr().err


def test_demo_observation_is_the_environment_layout() -> None:
    import gymnasium as gym

    import emorl  # noqa: F401  (registers the environment)
    from emorl.demo.agents import ScriptedAgent
    from emorl.demo.dialogue import DemoDialogue

    dialogue = DemoDialogue(problem="billing_error", grantable=False)
    env = gym.make("EmoDialogue-v1", recognizer="oracle")
    assert dialogue.feature_names == env.unwrapped.feature_names
    agent = ScriptedAgent(dialogue.feature_names, dialogue.act_names)
    acts = []
    while dialogue.ended is None:
        obs = dialogue.hear(np.array([0.7, 0.1, 0.1, 0.1]))
        assert env.observation_space.contains(obs)
        acts.append(dialogue.act_names[agent(obs)])
        dialogue.act(dialogue.act_names.index(acts[-1]))
    assert acts == [
        "greet",
        "ask_account_number",
        "ask_full_name",
        "confirm",
        "show_empathy",
        "deliver_bad_news",
        "offer_alternative",
        "close",
    ]
    assert dialogue.ended == "success"


def test_sb3_agent_must_match_the_observation(tmp_path) -> None:
    from emorl.demo.agents import load_sb3_agent

    with pytest.raises(FileNotFoundError):
        load_sb3_agent(tmp_path / "missing.zip", 10, 3)
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a Stable-Baselines3"):
        load_sb3_agent(junk, 10, 3)
