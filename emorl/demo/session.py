"""One turn per utterance (recognise, reward, act) and the loop that feeds it.

For each utterance the session runs IEmoNet (transcript, SER, TER and fused posteriors),
then, when the utterance answers an agent act, the emotion reward: ``ΔP`` against the
previous utterance and the estimator's ``r_est`` for (observation at the act, act), as
the environment computes them. The agent then picks its next act from the updated
observation. The first utterance of a call answers no act and earns no reward.

The shipped SER normalises its features per speaker. With ``adapt_speaker`` (the
default) the caller is that speaker: before each utterance is recognised, the caller's
statistics are refitted on their utterances so far, this one included (the last
``adapt_window``), so the first utterance is normalised by its own statistics and later
ones by the caller's voice. Without it, the SER uses its training set's global
statistics, which an unseen voice or microphone can shift wholesale towards one class.

Speculation: :func:`run_demo` hands a tentative segment (the segmenter's, once a short
silence follows the speech) to :meth:`DemoSession.prepare`, which recognises it while the
endpointing silence runs. If the final segment has the same speech, :meth:`turn` uses
that recognition; otherwise it recognises the final segment. Nothing of the dialogue
changes before :meth:`turn`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from emorl.demo.agents import Agent
from emorl.demo.audio_source import AudioSource, BlockQueue
from emorl.demo.dialogue import DemoDialogue
from emorl.demo.segmenter import SAMPLING_RATE, SpeechSegment, UtteranceSegmenter
from emorl.emotions import FOUR_CLASS
from emorl.reward.features import expected_reaction, past_turns

#: The name the caller's SER statistics are stored under.
CALLER = "caller"


@dataclass(frozen=True)
class Recognition:
    """IEmoNet's prediction for one utterance, its SER frames (when adapting) and times."""

    prediction: Any
    frames: np.ndarray | None
    adapt_seconds: float
    seconds: float


@dataclass
class Turn:
    """Everything one utterance produced (``to_dict`` is the log record)."""

    index: int
    call: int
    time: str
    segment: dict[str, float]
    transcript: str | None
    label: str
    fused: dict[str, float]
    ser: dict[str, float] | None
    ter: dict[str, float] | None
    branches: list[str]
    answered_act: str | None
    reward: dict[str, Any] | None
    act: str
    agent_text: str
    call_ended: str | None
    timings: dict[str, float]
    speculative: bool = False
    latency: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class DemoSession:
    """Recognizer, reward, estimator, dialogue state and agent, one turn at a time."""

    def __init__(
        self,
        model: Any,
        reward: Any,
        estimator: Any,
        dialogue: DemoDialogue,
        agent: Agent,
        *,
        adapt_speaker: bool = True,
        adapt_window: int = 30,
    ) -> None:
        missing = [e for e in FOUR_CLASS if e not in model.labels]
        if missing:
            raise ValueError(f"the recognizer lacks the labels {missing} the reward needs")
        self.model, self.reward, self.estimator = model, reward, estimator
        self.dialogue, self.agent = dialogue, agent
        self.turns = 0
        self.rewards: list[float] = []
        self._previous = np.full(len(FOUR_CLASS), 1 / len(FOUR_CLASS))
        # the call's utterances so far ({"act" answered, "posteriors"}), as the env logs them
        self._heard: list[dict[str, Any]] = []
        ser = getattr(model, "ser", None)
        # the IS09 SER says its normalisation; the Whisper SER always normalises per speaker
        config = getattr(ser, "config", None)
        per_speaker = getattr(config, "normalization", "speaker") == "speaker"
        self.adapt_speaker = bool(adapt_speaker and ser is not None and per_speaker)
        self.adapt_window = int(adapt_window)
        self._caller_frames: list[np.ndarray] = []
        self._prepared: tuple[SpeechSegment, Recognition] | None = None

    def recognise(self, samples: np.ndarray) -> Recognition:
        """IEmoNet on one utterance, the caller's SER statistics refitted to include it.

        What the SER's normaliser read of the utterance (IS09 frames, or the Whisper SER's
        head input) joins the caller's history only when its turn is taken.
        """
        begun = time.perf_counter()
        speaker = history = None
        if self.adapt_speaker:
            speaker = CALLER
            history = (
                self._caller_frames[-(self.adapt_window - 1) :] if self.adapt_window > 1 else []
            )
        # the segmenter's voice-activity model already found speech: no second VAD pass
        prediction = self.model.predict(
            samples,
            sampling_rate=SAMPLING_RATE,
            speaker=speaker,
            speaker_history=history,
            check_speech=False,
        )
        frames = prediction.speech_input if self.adapt_speaker else None
        adapted = prediction.timings.get("adapt", 0.0)
        return Recognition(prediction, frames, adapted, time.perf_counter() - begun)

    def prepare(self, segment: SpeechSegment) -> None:
        """Recognise a tentative segment ahead of the end-of-speech decision."""
        self._prepared = (segment, self.recognise(segment.samples))

    def turn(self, segment: SpeechSegment) -> Turn:
        """Process one utterance."""
        begun = time.perf_counter()
        prepared, self._prepared = self._prepared, None
        speculative = prepared is not None and prepared[0].same_speech(segment)
        recognition = prepared[1] if speculative else self.recognise(segment.samples)
        if recognition.frames is not None:
            self._caller_frames.append(recognition.frames)
            del self._caller_frames[: -self.adapt_window]
        if self.dialogue.ended is not None:
            self.dialogue.reset()
        prediction = recognition.prediction
        p = np.array([prediction.fused[e] for e in FOUR_CLASS], dtype=np.float64)
        answered = self.dialogue.last_act
        terms: dict[str, Any] | None = None
        if answered is not None and self.dialogue.obs_at_act is not None:
            act_index = self.dialogue.act_names.index(answered)
            obs_at_act = self.dialogue.obs_at_act
            names = (self.dialogue.feature_names, self.dialogue.act_names)
            exempt = bool(expected_reaction(obs_at_act, act_index, *names)[0])
            r_est, dp_est = 0.0, None
            if self.estimator is not None and self.reward.needs_estimate:
                past_p, past_a = past_turns(self._heard, self.dialogue.act_names)
                r_est, dp_est = self.estimator.estimate(obs_at_act, act_index, past_p, past_a)
            terms = self.reward(
                p, self._previous, r_est=r_est, delta_p_est=dp_est, exempt=exempt
            ).as_dict()
            terms["delta_p"] = dict(zip(FOUR_CLASS, (p - self._previous).tolist(), strict=True))
            self.rewards.append(float(terms["reward"]))
        call = self.dialogue.call
        obs = self.dialogue.hear(p)
        self._previous = p
        if answered is None:  # a call opens
            self._heard = []
        self._heard.append({"act": answered, "posteriors": p})
        act = self.agent(obs)
        text = self.dialogue.act(act)
        timings = {k: round(v, 5) for k, v in prediction.timings.items()}
        timings["adapt"] = round(recognition.adapt_seconds, 5)
        timings["recognition"] = round(recognition.seconds, 5)
        timings["turn"] = round(time.perf_counter() - begun, 5)
        record = Turn(
            index=self.turns,
            call=call,
            time=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            segment={
                "speech_start": round(segment.speech_start, 3),
                "speech_end": round(segment.speech_end, 3),
                "detected": round(segment.detected, 3),
                "duration": round(segment.duration, 3),
            },
            transcript=prediction.transcript,
            label=prediction.label,
            fused=prediction.fused,
            ser=prediction.ser,
            ter=prediction.ter,
            branches=list(prediction.branches),
            answered_act=answered,
            reward=terms,
            act=self.dialogue.act_names[act],
            agent_text=text,
            call_ended=self.dialogue.ended,
            timings=timings,
            speculative=speculative,
        )
        self.turns += 1
        return record


@dataclass
class RunSummary:
    turns: list[Turn]
    interrupted: bool
    overflows: int


def run_demo(
    source: AudioSource,
    session: DemoSession,
    segmenter: UtteranceSegmenter,
    *,
    on_turn: Callable[[Turn], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    sink: BlockQueue | None = None,
) -> RunSummary:
    """Stream ``source`` through the segmenter and the session until it ends or Ctrl-C.

    ``sink`` is the capture queue (a fresh one by default; pass one bounded for ``--fast``
    and shared with the agent's voice, which mutes it while speaking). ``on_turn`` sees
    every turn (display, log, voice) before the next block is read;
    ``latency`` then holds ``endpoint`` (silence waited before the end was decided),
    ``queue`` (how long the deciding block waited, e.g. behind a speculative
    recognition), ``processing`` (end decided to turn shown), ``end_of_speech_to_display``
    (their sum; wall time in real-time pace) and ``recognition`` (IEmoNet and speaker
    statistics for the utterance, whenever they ran).
    """
    sink = sink if sink is not None else BlockQueue()
    turns: list[Turn] = []
    interrupted = False
    was_speech = False

    def handle(segment: SpeechSegment, arrived: float) -> None:
        emitted = time.perf_counter()
        turn = session.turn(segment)
        measure_latency(turn, segment, arrived, emitted)
        if on_turn is not None:
            on_turn(turn)
        turns.append(turn)

    source.start(sink)
    try:
        arrived = time.perf_counter()
        for block in sink.blocks():
            arrived = block.arrived
            for segment in segmenter.push(block.samples):
                if segment.final:
                    handle(segment, arrived)
                else:  # recognise while the end-of-speech silence runs
                    session.prepare(segment)
            if on_status is not None and segmenter.in_speech != was_speech:
                was_speech = segmenter.in_speech
                on_status("hearing speech" if was_speech else "listening")
        for segment in segmenter.flush():
            handle(segment, arrived)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        source.stop()
    return RunSummary(turns, interrupted, sink.overflows)


def measure_latency(turn: Turn, segment: SpeechSegment, arrived: float, emitted: float) -> None:
    """Fill ``turn.latency`` (seconds); called right before the turn is shown."""
    endpoint = segment.detected - segment.speech_end
    queue = max(0.0, emitted - arrived)
    processing = time.perf_counter() - emitted
    turn.latency = {
        "endpoint": round(endpoint, 4),
        "queue": round(queue, 4),
        "processing": round(processing, 4),
        "end_of_speech_to_display": round(endpoint + queue + processing, 4),
        "recognition": turn.timings["recognition"],
    }
