"""Assemble and run the demo from options (the ``emorl demo`` command and the example)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from emorl.console import make_console


@dataclass
class DemoOptions:
    """What ``emorl demo`` accepts (see ``emorl demo --help``)."""

    input_file: Path | None = None
    device: str | int | None = None
    fast: bool = False
    agent: Path | None = None
    agent_algorithm: str = "auto"
    trust_agent_pickle: bool = False  # load --agent with SB3's pickle-based loader
    speak: bool = False
    log: Path | None = None
    problem: str | None = None
    grantable: bool = True
    reward: str = "eq2"
    model: Path | None = None
    ser: str | None = None  # a SER folder or shipped name: the IEmoNet built on it
    beam_size: int = 1
    min_silence_ms: int = 500
    vad_threshold: float = 0.5
    adapt_speaker: bool = True
    speculate: bool = True
    live: bool | None = None  # None: live panel when the console is a terminal


def prepare_threads() -> None:
    """Passive OpenMP waiting: Whisper (CTranslate2) and torch share the cores turn by turn.

    Must run before torch or CTranslate2 is imported; an explicit setting is kept.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def open_source(options: DemoOptions) -> Any:
    """The file or microphone source (raises NoInputDeviceError without a microphone)."""
    from emorl.demo.audio_source import FileSource, MicrophoneSource

    if options.input_file is not None:
        return FileSource(options.input_file, fast=options.fast)
    if options.fast:
        raise ValueError("--fast needs --input-file (a microphone delivers in real time)")
    return MicrophoneSource(options.device)


def build_session(options: DemoOptions) -> Any:
    """IEmoNet, reward, estimator, dialogue and agent (loads the models)."""
    prepare_threads()
    from emorl.asr import WhisperTranscriber
    from emorl.demo.agents import make_agent
    from emorl.demo.dialogue import DemoDialogue
    from emorl.demo.session import DemoSession
    from emorl.recognizers.iemonet import IEmoNet
    from emorl.reward import EmotionReward, RewardEstimator

    dialogue = DemoDialogue(problem=options.problem, grantable=options.grantable)
    agent = make_agent(
        options.agent,
        dialogue.feature_names,
        dialogue.act_names,
        options.agent_algorithm,
        trust_pickle=options.trust_agent_pickle,
        observation_space=dialogue.env.observation_space,
    )
    reward = EmotionReward(variant=options.reward)  # type: ignore[arg-type]
    estimator = None
    if reward.estimator_kind is not None:
        from emorl.reward.estimator import shipped_estimator_dir

        # the live caller is heard by IEmoNet, for which no estimator is shipped: the demo
        # uses the one fitted on text-recognizer rollouts
        folder = shipped_estimator_dir("text", reward.estimator_kind)
        estimator = RewardEstimator.from_pretrained(folder)
        estimator.check_fits(
            kind=reward.estimator_kind,
            obs_names=dialogue.feature_names,
            act_names=dialogue.act_names,
            recognizer="text",
            values=reward.values,
        )
    # the segmenter already cut the speech out: Whisper's own VAD pass would repeat it
    asr = WhisperTranscriber(beam_size=options.beam_size, vad_filter=False, word_timestamps=False)
    model = IEmoNet.from_pretrained(options.model, asr=asr, ser=options.ser)
    return DemoSession(
        model, reward, estimator, dialogue, agent, adapt_speaker=options.adapt_speaker
    )


def warm_up(session: Any) -> float:
    """Run one synthetic second through the models so the first utterance is not slow."""
    import numpy as np

    begun = time.perf_counter()
    t = np.arange(16_000) / 16_000
    tone = (0.1 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(
        np.float32
    )
    with warnings.catch_warnings():  # the tone has no speaker statistics; that is fine here
        warnings.simplefilter("ignore", UserWarning)
        session.model.predict(tone, sampling_rate=16_000, check_speech=False)
    if session.model.asr is not None:
        session.model.asr.load()
    return time.perf_counter() - begun


@contextlib.contextmanager
def watch_interrupts() -> Iterator[list[bool]]:
    """Record a Ctrl-C while loading: a library may turn it into another error.

    (An interrupted import of a compiled module surfaces as ``ImportError: initialization
    failed``, say.) The yielded list is non-empty once SIGINT arrived.
    """
    hit: list[bool] = []
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield hit  # SIGINT ignored, or not ours to handle here
        return

    def handler(signum: int, frame: Any) -> None:
        hit.append(True)
        previous(signum, frame)

    signal.signal(signal.SIGINT, handler)
    try:
        yield hit
    finally:
        signal.signal(signal.SIGINT, previous)


def load(options: DemoOptions, console: Console) -> tuple[Any, float] | None:
    """The session and its warm-up seconds; None (after a message) on Ctrl-C."""
    try:
        with watch_interrupts() as hit:
            try:
                session = build_session(options)
                return session, warm_up(session)
            except KeyboardInterrupt:
                raise
            except Exception:
                if not hit:
                    raise
                raise KeyboardInterrupt from None
    except KeyboardInterrupt:
        console.print("interrupted while loading the models; no turns were taken")
        return None


def run(options: DemoOptions, console: Console | None = None) -> Any:
    """Run the demo until the source ends or Ctrl-C; returns the run summary."""
    from emorl.demo.audio_source import BlockQueue
    from emorl.demo.display import LiveDisplay, PlainDisplay
    from emorl.demo.log import TurnLog
    from emorl.demo.segmenter import SegmenterConfig, UtteranceSegmenter
    from emorl.demo.session import RunSummary, run_demo

    console = console or make_console()
    source = open_source(options)  # fails fast, before any model loads
    log = TurnLog(options.log) if options.log is not None else None
    try:
        console.print(f"[dim]loading models for {source.description} ...[/]")
        loaded = load(options, console)
        if loaded is None:
            return RunSummary([], interrupted=True, overflows=0)
        session, seconds = loaded
        console.print(f"[dim]ready in {seconds:.1f} s warm-up; agent: {session.agent.name}[/]")
        segmenter = UtteranceSegmenter(
            SegmenterConfig(
                threshold=options.vad_threshold,
                min_silence_ms=options.min_silence_ms,
                speculate_ms=SegmenterConfig.speculate_ms if options.speculate else None,
            )
        )
        sink = BlockQueue(maxsize=64 if options.fast else 0)
        voice = None
        if options.speak:
            from emorl.demo.voice import AgentVoice

            voice = AgentVoice(sink, mute=source.hears_playback)
        live = console.is_terminal if options.live is None else options.live
        display = LiveDisplay(source.description, session.agent.name, console) if live else None
        view = display or PlainDisplay(console)

        noted: list[str] = []

        def on_turn(turn: Any) -> None:
            if log is not None:
                log.write(turn.to_dict())
            view.show(turn)
            if voice is not None and voice.error is None:
                voice.say(turn.agent_text)
            elif voice is not None and not noted:
                noted.append(voice.error)
                view.note(f"[yellow]{voice.error}[/]")

        with view, warnings.catch_warnings():
            # one unknown speaker: the SER normalises with its training set's statistics
            warnings.filterwarnings("ignore", message="no speaker given", category=UserWarning)
            summary = run_demo(
                source, session, segmenter, on_turn=on_turn, on_status=view.set_status, sink=sink
            )
        if voice is not None:
            voice.wait()
        ended = "interrupted" if summary.interrupted else "input ended"
        where = f"; log: {options.log}" if options.log is not None else ""
        console.print(f"{ended} after {len(summary.turns)} turns{where}")
        return summary
    finally:
        if log is not None:
            log.close()
