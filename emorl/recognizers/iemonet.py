"""IEmoNet: the bimodal recognizer (ASR -> TER, SER, fusion block) as one object.

``IEmoNet.from_pretrained()`` loads the shipped four-class model; ``predict(audio,
transcript=None)`` returns the transcript used, the SER, TER and fused posteriors
(labelled, fixed order) and per-stage timings. Sub-models are swapped with
``IEmoNet.from_parts(asr=..., ser=..., ter=..., fusion=...)``: any trained TER or SER with
the same labels works, needing at most a new fusion block.

Two speech branches (``emorl.recognizers.speech.branch``): the paper's IS09 frames ->
TDNN-BiLSTM-attention SER, or the Whisper SER (``ser="ser-whisper-tiny-4class"``), a head
over Whisper encoder states. With the Whisper SER and the ASR on the same Whisper model,
one encoder pass serves both: the clip's mel is computed once, its 30 s window encoded
once, the decoder runs on that encoder output and the SER reads the states of the clip's
own frames from it, so the SER adds only its head to the ASR's cost. With a provided
transcript (no ASR pass) the Whisper SER encodes the clip itself.

Transcript modes (``transcripts=``):

* ``"provided"``: the ``transcript`` argument is used as is;
* ``"asr"``: the ASR transcribes ``audio``;
* ``"noisy"``: the provided transcript with simulated recognition errors at ``wer``;
* ``"auto"`` (default): provided when given, else ASR when the model has one.

Single-branch calls: with no audio, the fused posteriors are the TER's; with audio but no
usable transcript (no ASR, ``transcripts="none"``, or the ASR heard no words) they are
the SER's. ``branches`` in the result says which branches contributed.

No speech, no emotion: before the SER or the ASR hear a clip, the Silero voice-activity
detector (``emorl.audio.detect_speech``) checks it holds speech. Without speech (white
noise, a tone, music), the clip contributes nothing: the result is the TER's on a provided
transcript, or, with no transcript, an abstention: ``abstained`` is True, ``label`` is
None, ``fused`` holds equal posteriors and ``branches`` is empty. ``notes`` says why, and
a ``NoSpeechWarning`` is issued. ``check_speech=False`` turns the check off.

On disk an IEmoNet folder holds only the fusion block (``model.safetensors``) and a
``config.json`` naming the TER and SER folders (a shipped model's name, or a path) with
the SHA-256 of their weights, so a mismatched sub-model is refused at load time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from emorl.artifacts import (
    WEIGHTS_NAME,
    ModelFolderError,
    model_type_fields,
    require_model_folder,
    write_json,
)
from emorl.fingerprint import sha256_file
from emorl.recognizers.fusion.features import fusion_inputs, head_probabilities
from emorl.recognizers.fusion.model import FusionBlock, softmax
from emorl.recognizers.speech.branch import load_ser, speech_branch
from emorl.recognizers.text.model import TextEmotionRecognizer
from emorl.recognizers.threads import torch_threads

MODEL_TYPE = "iemonet"
MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
DEFAULT_IEMONET_DIR = MODELS_DIR / "iemonet-4class"
TranscriptMode = Literal["auto", "provided", "asr", "noisy", "none"]
STAGES: tuple[str, ...] = ("vad", "asr", "features", "ser", "ter", "fusion")


def weights_fingerprint(folder: str | Path) -> str:
    """SHA-256 of a model folder's ``model.safetensors``."""
    return sha256_file(Path(folder) / WEIGHTS_NAME)


def part_reference(folder: str | Path, relative_to: Path | None = None) -> dict[str, str]:
    """How a saved IEmoNet names a sub-model folder: shipped name or path, plus SHA-256."""
    folder = Path(folder).resolve()
    if folder.parent == MODELS_DIR.resolve():
        name = folder.name
    elif relative_to is not None and folder.is_relative_to(relative_to.resolve()):
        name = str(folder.relative_to(relative_to.resolve()))
    else:
        name = str(folder)
    return {"name": name, "sha256": weights_fingerprint(folder)}


def resolve_part(ref: dict[str, str], folder: Path, what: str) -> Path:
    """The sub-model folder ``ref`` names, checked against its SHA-256."""
    name = ref.get("name")
    if not name:
        raise ModelFolderError(f"{folder / 'config.json'}: parts.{what} has no 'name'")
    candidates = [MODELS_DIR / name, folder / name, Path(name).expanduser()]
    found = next((c for c in candidates if (c / "config.json").is_file()), None)
    if found is None:
        raise ModelFolderError(
            f"{folder / 'config.json'}: the {what} model {name!r} was not found "
            f"(looked in {MODELS_DIR}, {folder} and the path itself)"
        )
    expected = ref.get("sha256")
    if expected and weights_fingerprint(found) != expected:
        raise ModelFolderError(
            f"{found} is not the {what} this IEmoNet was trained with (SHA-256 of its weights "
            f"differs from {expected[:12]}...): train a new fusion block for it"
        )
    return found


@dataclass
class IEmoNetPrediction:
    """What :meth:`IEmoNet.predict` returns; posteriors are in ``labels`` order."""

    labels: tuple[str, ...]
    transcript: str | None
    transcript_source: str
    fused: dict[str, float]
    ser: dict[str, float] | None = None
    ter: dict[str, float] | None = None
    branches: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    abstained: bool = False
    notes: tuple[str, ...] = ()
    #: what the SER's normaliser read of this clip (IS09 frames, or the Whisper head's
    #: input): pass a speaker's earlier ones as ``speaker_history`` (not in ``to_dict``)
    speech_input: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str | None:
        """The most probable fused label; None when the model abstained (no speech)."""
        if self.abstained:
            return None
        return max(self.fused, key=self.fused.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "abstained": self.abstained,
            "labels": list(self.labels),
            "transcript": self.transcript,
            "transcript_source": self.transcript_source,
            "branches": list(self.branches),
            "fused": self.fused,
            "ser": self.ser,
            "ter": self.ter,
            "notes": list(self.notes),
            "timings": {k: round(v, 5) for k, v in self.timings.items()},
        }


class IEmoNet:
    """The bimodal emotion recognizer the reward, the environment and the demo call."""

    def __init__(
        self,
        ter: TextEmotionRecognizer,
        ser: Any,
        fusion: FusionBlock,
        *,
        asr: Any | None = None,
        parts: dict[str, Path] | None = None,
    ) -> None:
        speech = speech_branch(ser)  # a SpeechEmotionRecognizer or a WhisperSER
        for what, model in (("TER", ter), ("SER", ser)):
            if tuple(model.labels) != tuple(fusion.labels):
                raise ValueError(
                    f"the {what} predicts {model.labels}, the fusion block {fusion.labels}"
                )
        if ter.config.hidden_size != fusion.config.text_size:
            raise ValueError(
                f"the TER's features have width {ter.config.hidden_size}, the fusion block "
                f"expects {fusion.config.text_size}: train a fusion block for this TER"
            )
        if speech.feature_size != fusion.config.speech_size:
            raise ValueError(
                f"the SER's features have width {speech.feature_size}, the fusion "
                f"block expects {fusion.config.speech_size}: train a fusion block for this SER"
            )
        self.ter, self.ser, self.fusion, self.asr = ter, ser, fusion, asr
        self.speech = speech
        self.parts: dict[str, Path] = dict(parts or {})
        self._noise: dict[tuple[float, int], Any] = {}

    @property
    def labels(self) -> tuple[str, ...]:
        return self.fusion.labels

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_parts(
        cls,
        *,
        ter: TextEmotionRecognizer | str | Path,
        ser: Any,
        fusion: FusionBlock | str | Path,
        asr: Any | None = None,
    ) -> IEmoNet:
        """Compose from sub-models (objects or model folders); ``asr`` may be None.

        ``ser``: a ``SpeechEmotionRecognizer`` (IS09, the paper's), a ``WhisperSER``, or a
        folder or shipped name of either (``"ser-ravdess-4class"``,
        ``"ser-whisper-tiny-4class"``).
        """
        from emorl.recognizers.speech.branch import resolve_ser_folder

        parts: dict[str, Path] = {}
        if not isinstance(ter, TextEmotionRecognizer):
            parts["ter"] = Path(ter)
            ter = TextEmotionRecognizer.from_pretrained(ter)
        if isinstance(ser, (str, Path)):
            parts["ser"] = resolve_ser_folder(ser)
            ser = load_ser(parts["ser"])
        if not isinstance(fusion, FusionBlock):
            fusion = FusionBlock.from_pretrained(fusion)
        return cls(ter, ser, fusion, asr=asr, parts=parts)

    @classmethod
    def from_pretrained(
        cls,
        folder: str | Path | None = None,
        *,
        asr: Any | None = "default",
        ser: str | Path | None = None,
    ) -> IEmoNet:
        """Load a saved IEmoNet (the shipped default when ``folder`` is None).

        ``asr="default"`` builds the ASR the folder names (the packaged Whisper tiny.en,
        loaded lazily on first use); pass ``None`` for no ASR or any transcriber object.
        ``ser`` (a SER folder or shipped name) picks the IEmoNet built on that SER: without
        ``folder``, the shipped IEmoNet whose fusion block was trained on it; with
        ``folder``, it must be that folder's SER.
        """
        if ser is not None:
            folder = iemonet_for_ser(ser, folder)
        folder = Path(folder) if folder is not None else DEFAULT_IEMONET_DIR
        saved = require_model_folder(folder, MODEL_TYPE)
        parts_ref = saved.get("parts") or {}
        for what in ("ter", "ser"):
            if what not in parts_ref:
                raise ModelFolderError(f"{folder / 'config.json'}: no parts.{what} reference")
        ter_dir = resolve_part(parts_ref["ter"], folder, "ter")
        ser_dir = resolve_part(parts_ref["ser"], folder, "ser")
        fusion = FusionBlock.from_pretrained(folder, kind=MODEL_TYPE)
        if asr == "default":
            asr = default_asr(saved.get("asr"))
        return cls(
            TextEmotionRecognizer.from_pretrained(ter_dir),
            load_ser(ser_dir),
            fusion,
            asr=asr,
            parts={"ter": ter_dir, "ser": ser_dir},
        )

    def save_pretrained(self, folder: str | Path, **metadata: Any) -> Path:
        """Write the fusion block and a config naming the sub-models.

        A sub-model built in memory (no folder yet) is saved into ``folder/ter`` or
        ``folder/ser`` first; one loaded from a folder is referenced, not copied.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for what, model in (("ter", self.ter), ("ser", self.ser)):
            if what not in self.parts:
                self.parts[what] = model.save_pretrained(folder / what)
        self.fusion.save_pretrained(folder, **metadata)
        config = {"type": MODEL_TYPE, **model_type_fields(MODEL_TYPE)}
        config.update({k: v for k, v in self.fusion.config_dict().items() if k not in config})
        config["parts"] = {
            what: part_reference(self.parts[what], folder) for what in ("ter", "ser")
        }
        config["asr"] = asr_description(self.asr)
        write_json(folder / "config.json", config)
        return folder

    # ------------------------------------------------------------------ inference
    def _resolve_mode(self, transcript: str | None, mode: TranscriptMode) -> TranscriptMode:
        if mode == "auto":
            return "provided" if transcript is not None else ("asr" if self.asr else "none")
        return mode

    def _transcript(
        self,
        audio: Any,
        transcript: str | None,
        mode: TranscriptMode,
        wer: float,
        seed: int,
        sampling_rate: int | None,
    ) -> tuple[str | None, str]:
        if mode == "auto":
            mode = "provided" if transcript is not None else ("asr" if self.asr else "none")
        if mode == "provided":
            if transcript is None:
                raise ValueError("transcripts='provided' needs a transcript")
            return transcript, "provided"
        if mode == "noisy":
            if transcript is None:
                raise ValueError("transcripts='noisy' needs the reference transcript to noise")
            key = (float(wer), int(seed))
            if key not in self._noise:
                from emorl.asr import TranscriptNoise

                self._noise[key] = TranscriptNoise(wer=wer, seed=seed)
            return self._noise[key](transcript), f"noisy (wer {wer:g})"
        if mode == "asr":
            if self.asr is None:
                raise ValueError("transcripts='asr' but this IEmoNet has no ASR")
            if audio is None:
                raise ValueError("transcripts='asr' needs audio")
            return self.asr.transcribe(audio, sampling_rate=sampling_rate).text, "asr"
        if mode == "none":
            return None, "none"
        raise ValueError(f"transcripts must be auto, provided, asr, noisy or none, got {mode!r}")

    def predict(
        self,
        audio: str | Path | np.ndarray | None = None,
        transcript: str | None = None,
        *,
        transcripts: TranscriptMode = "auto",
        wer: float = 0.06,
        seed: int = 0,
        sampling_rate: int | None = None,
        speaker: str | None = None,
        speaker_history: list[np.ndarray] | None = None,
        check_speech: bool = True,
        policy: Any | None = None,
        raw_sampling_rate: int | None = None,
    ) -> IEmoNetPrediction:
        """Posteriors of one utterance (see the module docstring for the modes).

        ``speaker_history``: the ``speech_input`` of ``speaker``'s earlier utterances
        (unlabelled); the speaker's SER statistics are then refitted on them and this
        utterance before the SER reads it (live adaptation, as the demo does).

        ``speaker`` names a speaker adapted with ``model.speech.adapt_speaker(name, clips)``
        (or ``model.ser.adapt_speaker``); without one
        the SER normalises with its training set's global statistics. ``policy`` (an
        ``emorl.audio.AudioPolicy``) and ``raw_sampling_rate`` are passed to
        ``emorl.audio.load_audio``. ``check_speech`` runs the voice-activity check.
        """
        if audio is None and transcript is None:
            raise ValueError("predict needs audio, a transcript, or both")
        if audio is not None and not isinstance(audio, (str, Path, np.ndarray)):
            raise TypeError(
                f"audio must be a file path or a numpy array, got {type(audio).__name__}"
            )
        if transcript is not None and not isinstance(transcript, str):
            raise TypeError(
                f"transcript must be a string, got {type(transcript).__name__} "
                "(audio is the first argument, the transcript the second)"
            )
        if audio is None and not transcript.strip():
            raise ValueError("the transcript is empty and no audio was given: nothing to recognise")
        timings = dict.fromkeys(STAGES, 0.0)
        notes: list[str] = []
        begun = time.perf_counter()
        clip = None
        if audio is not None:
            from emorl.audio import DEFAULT_POLICY, load_audio

            clip = load_audio(
                audio,
                sampling_rate,
                policy=policy or DEFAULT_POLICY,
                raw_sampling_rate=raw_sampling_rate,
            )
            notes += clip.notes
        mode = transcripts
        if audio is None and mode in ("asr", "none"):
            raise ValueError(f"transcripts={mode!r} needs audio")
        if audio is None and mode == "auto":
            mode = "provided"
        if clip is not None and check_speech:
            import warnings

            from emorl.audio import NoSpeechWarning, detect_speech

            t0 = time.perf_counter()
            speech = detect_speech(clip)
            timings["vad"] = time.perf_counter() - t0
            if not speech.has_speech:
                notes.append(speech.note)
                warnings.warn(f"{clip.source}: {speech.note}", NoSpeechWarning, stacklevel=2)
                clip = None  # neither the SER nor the ASR hears a clip without speech
                if mode == "asr" or (mode == "auto" and transcript is None):
                    mode = "none"
        t0 = time.perf_counter()
        encoded = None
        mode = self._resolve_mode(transcript, mode)
        if clip is not None and mode == "asr" and self.speech.shares_pass(self.asr):
            # one encoder pass for ASR and SER: the ASR hears the clip as the SER must
            clip = self.speech.prepare(clip)
            result, encoded = self.asr.transcribe_with_states(clip)
            text, source = result.text, "asr"
        else:
            text, source = self._transcript(clip, transcript, mode, wer, seed, None)
        timings["asr"] = time.perf_counter() - t0 if source == "asr" else 0.0
        if text is not None and not text.strip():
            text = None
        probs: dict[str, np.ndarray] = {}
        text_feat = speech_feat = states = speech_input = None
        if text is not None:
            t0 = time.perf_counter()
            with torch_threads(1):  # one sentence: a second thread only adds wake-ups
                text_feat = self.ter.features([text])
                with torch.inference_mode():
                    logits = self.ter.net.classifier(torch.from_numpy(text_feat))
            probs["ter"] = softmax(logits.numpy())[0]
            timings["ter"] = time.perf_counter() - t0
        if clip is not None:
            if encoded is None and self.speech.kind == "whisper":
                self.speech.attach(self.asr)  # its own pass, on the ASR's loaded encoder
            out = self.speech.clip_outputs(
                clip,
                speaker,
                states=self.fusion.needs_states,
                encoded=encoded,
                history=speaker_history,
            )
            speech_feat, states, probs["ser"] = out.features, out.states, out.probs[0]
            speech_input = out.input
            timings.update(out.timings)
        abstained = False
        if text_feat is not None and speech_feat is not None:
            t0 = time.perf_counter()
            inputs = fusion_inputs(
                text_feat,
                speech_feat,
                states,
                text_probs=probs["ter"][None],
                speech_probs=probs["ser"][None],
            )
            fused = self.fusion.probabilities(inputs)[0]
            timings["fusion"] = time.perf_counter() - t0
            branches: tuple[str, ...] = ("ter", "ser")
        elif text_feat is not None or speech_feat is not None:
            branches = ("ter",) if text_feat is not None else ("ser",)
            fused = probs[branches[0]]
        else:
            # no speech in the audio and no transcript to read: claim no emotion
            abstained, branches = True, ()
            fused = np.full(len(self.labels), 1.0 / len(self.labels), dtype=np.float32)
            if not any(n.startswith("no speech") for n in notes):
                notes.append("no usable transcript and no speech: no emotion is claimed")
        timings["total"] = time.perf_counter() - begun

        def labelled(row: np.ndarray | None) -> dict[str, float] | None:
            return None if row is None else dict(zip(self.labels, map(float, row), strict=True))

        return IEmoNetPrediction(
            labels=self.labels,
            transcript=text,
            transcript_source=source,
            fused=labelled(fused),
            ser=labelled(probs.get("ser")),
            ter=labelled(probs.get("ter")),
            branches=branches,
            timings=timings,
            abstained=abstained,
            notes=tuple(notes),
            speech_input=speech_input,
        )

    def predict_proba(
        self,
        audio: str | Path | np.ndarray | None = None,
        text: str | None = None,
        *,
        sampling_rate: int | None = None,
    ) -> dict[str, float]:
        """The recognizer contract: fused labelled posteriors of one utterance."""
        return self.predict(audio, text, sampling_rate=sampling_rate).fused

    def probabilities(
        self,
        audio: list[str | Path | np.ndarray],
        texts: list[str],
        *,
        speakers: list[str | None] | None = None,
        sampling_rate: int | None = None,
        batch_size: int = 32,
    ) -> np.ndarray:
        """Fused posteriors ``(n, len(labels))`` of a batch of clips with their transcripts."""
        if len(audio) != len(texts):
            raise ValueError(f"{len(audio)} clips but {len(texts)} transcripts")
        if self.speech.kind == "whisper":
            self.speech.attach(self.asr)
        out = self.speech.batch_outputs(
            audio,
            speakers or [None] * len(audio),
            sampling_rate=sampling_rate,
            states=self.fusion.needs_states,
            batch_size=batch_size,
        )
        text = self.ter.features(texts, batch_size=batch_size)
        inputs = fusion_inputs(
            text,
            out.features,
            out.states,
            text_probs=head_probabilities(self.ter.net.classifier, text),
            speech_probs=out.probs,
        )
        return self.fusion.probabilities(inputs)


def iemonet_for_ser(ser: str | Path, folder: str | Path | None = None) -> Path:
    """The IEmoNet folder whose fusion block was trained on the SER ``ser``.

    With ``folder``, that folder, checked to be built on ``ser`` (SHA-256 of its weights);
    without, the shipped IEmoNet built on it. Raises :class:`ModelFolderError` saying what
    to train when there is none.
    """
    import json

    from emorl.recognizers.speech.branch import resolve_ser_folder

    ser_dir = resolve_ser_folder(ser)
    wanted = weights_fingerprint(ser_dir)
    candidates = [Path(folder)] if folder is not None else sorted(MODELS_DIR.glob("iemonet-*"))
    for candidate in candidates:
        try:
            config = json.loads((candidate / "config.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if (config.get("parts") or {}).get("ser", {}).get("sha256") == wanted:
            return candidate
    where = f"{folder} is not" if folder is not None else "no shipped IEmoNet is"
    raise ModelFolderError(
        f"{where} built on the SER {ser_dir} (a fusion block is trained for one SER): train "
        f"one with `emorl train fusion --ser {ser_dir} ...`, or use that SER alone"
    )


def default_asr(description: dict[str, Any] | None) -> Any:
    """The transcriber a saved config names: packaged Whisper tiny.en unless a folder is set.

    Without word timings: IEmoNet reads the text only, and aligning words costs time.
    """
    from emorl.asr import WhisperTranscriber

    return WhisperTranscriber(model=(description or {}).get("model"), word_timestamps=False)


def asr_description(asr: Any | None) -> dict[str, Any] | None:
    """What a saved config records about the ASR (its name; ``model`` None = packaged)."""
    if asr is None:
        return {"model": None, "name": "packaged Whisper tiny.en (default)"}
    config = getattr(asr, "config", None)
    return {"model": getattr(config, "model", None), "name": getattr(asr, "name", repr(asr))}
