"""Speech emotion recognition (SER): IS09 frames into the paper's TDNN+BiLSTM+attention.

``SpeechEmotionRecognizer.from_pretrained()`` loads the shipped four-class model;
``predict_proba("clip.wav")`` returns labelled posteriors. Audio enters through
``emorl.audio.load_audio`` (any rate or channel count, validated), features through
openSMILE, then the normaliser fitted on the training data and saved with the model.

Speaker normalisation: a model trained with ``normalization="speaker"`` z-normalises
each speaker with that speaker's own statistics. For a new speaker, give a few of their
unlabelled clips to :meth:`adapt_speaker` (or pass ``speaker=`` with clips already
adapted); a clip from an unknown speaker falls back to the training set's global
statistics, with a warning once per speaker.

Input shapes: one clip is a path or a numpy array; a 2-D array is one multi-channel clip
(``(n, channels)`` or ``(channels, n)``, downmixed by ``emorl.audio``), never a batch. A
batch is a list (or tuple) of clips.

No speech, no emotion: :meth:`predict_proba` and :meth:`predict` first run the Silero
voice-activity detector (``emorl.audio.detect_speech``). A clip without speech (white
noise, a tone, music) is not given an emotion: ``predict`` returns ``None`` for it and
``predict_proba`` equal posteriors (``1 / len(labels)`` each), with a ``NoSpeechWarning``
saying which clips. ``check_speech=False`` turns the check off. The array methods
(``probabilities``, ``features``, ``*_from_frames``), used on labelled corpora, do not check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from emorl import __version__
from emorl.artifacts import (
    WEIGHTS_NAME,
    ModelFolderError,
    atomic_write,
    check_head,
    check_labels,
    load_safetensors,
    model_type_fields,
    require_model_folder,
    write_json,
)
from emorl.emotions import FOUR_CLASS
from emorl.recognizers.speech.features import (
    FeatureConfig,
    FeatureNormalizer,
    SpeechFeatureExtractor,
    pad_or_truncate,
)
from emorl.recognizers.speech.network import PRESETS, SERNet, SERNetConfig

MODEL_TYPE = "ser"
DEFAULT_SER_DIR = Path(__file__).resolve().parents[2] / "models" / "ser-ravdess-4class"
AudioInput = str | Path | np.ndarray


@dataclass
class SERConfig:
    """Architecture, features and normalisation of a speech emotion recognizer.

    Defaults are the recipe measured under speaker-exclusive cross-validation on RAVDESS:
    frames trimmed of leading/trailing silence (``trim_db`` 35 below the loudest frame,
    ``None`` keeps every frame) and dropout 0.4 before the BiLSTM2 and the classifier.
    """

    labels: tuple[str, ...] = FOUR_CLASS
    preset: str = "128attDim"
    tdnn_kernel: int = 16
    lstm_units: int = 64
    dropout: float = 0.4
    feature_set: str = "IS09"
    max_frames: int = 384
    normalization: Literal["speaker", "global", "utterance"] = "speaker"
    trim_db: float | None = 35.0

    def __post_init__(self) -> None:
        self.labels = tuple(self.labels)
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels must be at least two distinct names, got {self.labels}")
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        if self.normalization not in ("speaker", "global", "utterance"):
            raise ValueError(f"unknown normalization {self.normalization!r}")

    def net_config(self, input_size: int) -> SERNetConfig:
        return SERNetConfig(
            input_size=input_size,
            tdnn_kernel=self.tdnn_kernel,
            lstm_units=self.lstm_units,
            dropout=self.dropout,
            num_labels=len(self.labels),
            **PRESETS[self.preset],
        )

    def feature_config(self) -> FeatureConfig:
        return FeatureConfig(
            feature_set=self.feature_set, max_frames=self.max_frames, trim_db=self.trim_db
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SERConfig:
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown SER config field(s): {', '.join(sorted(unknown))}")
        # a config saved before silence trimming existed describes an untrimmed model
        return cls(**{"trim_db": None, **data})


class SpeechEmotionRecognizer:
    """A speech emotion recognizer: ``predict_proba("clip.wav") -> {"angry": 0.8, ...}``."""

    modality = "speech"

    def __init__(
        self,
        config: SERConfig,
        net: SERNet,
        normalizer: FeatureNormalizer | None,
        *,
        metadata: Mapping[str, Any] | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.config = config
        self.net = net.eval()
        self.normalizer = normalizer
        self.extractor = SpeechFeatureExtractor(config.feature_config(), cache_dir=cache_dir)
        self.metadata: dict[str, Any] = dict(metadata or {})

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls, config: SERConfig | None = None, *, seed: int = 0, input_size: int = 32
    ) -> SpeechEmotionRecognizer:
        """An untrained recognizer (its normaliser is fitted by training)."""
        config = config or SERConfig()
        torch.manual_seed(seed)
        return cls(config, SERNet(config.net_config(input_size)), None)

    @classmethod
    def from_pretrained(
        cls, folder: str | Path | None = None, *, cache_dir: str | Path | None = None
    ) -> SpeechEmotionRecognizer:
        """Load a saved recognizer (the shipped default when ``folder`` is None)."""
        folder = Path(folder) if folder is not None else DEFAULT_SER_DIR
        saved = require_model_folder(folder, MODEL_TYPE)
        check_labels(saved, folder)
        config = SERConfig.from_dict(saved["model"])
        if not isinstance(saved.get("input_size"), int):
            raise ModelFolderError(f"{folder / 'config.json'}: input_size must be an integer")
        state = load_safetensors(folder / WEIGHTS_NAME)
        net = SERNet(config.net_config(int(saved["input_size"])))
        weights = {k[len("net.") :]: v for k, v in state.items() if k.startswith("net.")}
        if "classifier.weight" in weights:
            check_head(weights["classifier.weight"].shape[0], config.labels, WEIGHTS_NAME, folder)
        expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        missing = sorted(set(expected) - set(weights))
        unexpected = sorted(set(weights) - set(expected))
        wrong = sorted(k for k in set(expected) & set(weights) if expected[k] != weights[k].shape)
        if missing or unexpected or wrong:
            raise ModelFolderError(
                f"{folder / WEIGHTS_NAME} does not match its config: "
                f"missing {missing[:3]}, unexpected {unexpected[:3]}, other shape {wrong[:3]}"
            )
        net.load_state_dict(weights)
        normalizer = FeatureNormalizer.from_arrays(
            {k: v.numpy() for k, v in state.items() if k.startswith("norm.")},
            config.normalization,
        )
        metadata = {
            k: v
            for k, v in saved.items()
            if k not in ("type", "model", "model_type", "architectures")
        }
        return cls(config, net, normalizer, metadata=metadata, cache_dir=cache_dir)

    def save_pretrained(self, folder: str | Path, **metadata: Any) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (weights + normaliser) atomically."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {
            f"net.{k}": v.detach().contiguous().clone() for k, v in self.net.state_dict().items()
        }
        if self.normalizer is not None:
            for name, array in self.normalizer.to_arrays().items():
                state[name] = torch.from_numpy(np.ascontiguousarray(array))
        atomic_write(folder / WEIGHTS_NAME, lambda tmp: save_file(state, str(tmp)))
        self.metadata.update(metadata)
        config = {
            "type": MODEL_TYPE,
            **model_type_fields(MODEL_TYPE),
            "emorl_version": __version__,
            "model": {**asdict(self.config), "labels": list(self.config.labels)},
            "label2id": {label: i for i, label in enumerate(self.labels)},
            "input_size": self.net.config.input_size,
            "feature_key": self.extractor.config.key(),
            **{
                k: v
                for k, v in self.metadata.items()
                if k not in ("label2id", "input_size", "model_type", "architectures")
            },
        }
        write_json(folder / "config.json", config)
        return folder

    # ------------------------------------------------------------------ features
    @property
    def labels(self) -> tuple[str, ...]:
        """Class names in the fixed order of every probability array."""
        return self.config.labels

    def frames(self, audio: AudioInput, sampling_rate: int | None = None) -> np.ndarray:
        """Unpadded, unnormalised IS09 frames of one clip (file path or array)."""
        if isinstance(audio, (str, Path)):
            return self.extractor.frames_file(audio)
        from emorl.audio import load_audio

        loaded = load_audio(audio, sampling_rate)
        return self.extractor.frames(loaded.samples, loaded.sampling_rate)

    def adapt_speaker(
        self,
        speaker: str,
        clips: Sequence[AudioInput | np.ndarray],
        *,
        frames: bool = False,
        sampling_rate: int | None = None,
    ) -> None:
        """Fit ``speaker``'s normalisation statistics from their unlabelled clips.

        ``frames=True`` means ``clips`` are already frame arrays from :meth:`frames`;
        ``sampling_rate`` is that of sample arrays among ``clips``.
        """
        if self.config.normalization != "speaker" or self.normalizer is None:
            raise ValueError("adapt_speaker needs a model trained with normalization='speaker'")
        sequences = list(clips) if frames else [self.frames(c, sampling_rate) for c in clips]
        self.normalizer = self.normalizer.adapt(
            sequences, [speaker] * len(sequences), overwrite=True
        )

    def batch(
        self, sequences: Sequence[np.ndarray], speakers: Sequence[str | None] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalise, pad/truncate and stack frame sequences into ``(x, lengths)``."""
        speakers = list(speakers) if speakers is not None else [None] * len(sequences)
        padded, lengths = [], []
        for sequence, speaker in zip(sequences, speakers, strict=True):
            if self.normalizer is None:
                raise ValueError("this recognizer has no fitted normaliser: train it first")
            sequence = self.normalizer.transform(sequence, speaker)
            array, length = pad_or_truncate(sequence, self.config.max_frames)
            padded.append(array)
            lengths.append(length)
        return torch.from_numpy(np.stack(padded)).float(), torch.tensor(lengths)

    def _run(
        self,
        sequences: Sequence[np.ndarray],
        speakers: Sequence[str | None] | None,
        batch_size: int,
        output: Literal["proba", "features"],
    ) -> np.ndarray:
        speakers = list(speakers) if speakers is not None else [None] * len(sequences)
        chunks = []
        self.net.eval()
        device = next(self.net.parameters()).device  # a GPU while training there
        with torch.inference_mode():
            for start in range(0, len(sequences), batch_size):
                x, lengths = self.batch(
                    sequences[start : start + batch_size], speakers[start : start + batch_size]
                )
                x, lengths = x.to(device), lengths.to(device)
                if output == "proba":
                    chunks.append(torch.softmax(self.net(x, lengths), dim=-1).cpu().numpy())
                else:
                    chunks.append(self.net.features(x, lengths).cpu().numpy())
        return np.concatenate(chunks).astype(np.float32)

    def probabilities_from_frames(
        self,
        sequences: Sequence[np.ndarray],
        speakers: Sequence[str | None] | None = None,
        *,
        batch_size: int = 32,
    ) -> np.ndarray:
        """Posteriors ``(n, len(labels))`` for precomputed frame sequences."""
        return self._run(sequences, speakers, batch_size, "proba")

    def features_from_frames(
        self,
        sequences: Sequence[np.ndarray],
        speakers: Sequence[str | None] | None = None,
        *,
        batch_size: int = 32,
    ) -> np.ndarray:
        """Penultimate features ``(n, 4 * lstm_units)`` for precomputed frame sequences."""
        return self._run(sequences, speakers, batch_size, "features")

    # ------------------------------------------------------------------ inference
    @staticmethod
    def _clips(audio: AudioInput | Sequence[AudioInput]) -> tuple[list[AudioInput], bool]:
        # an array is always one clip: (2, n) is stereo (downmixed), not a batch of two
        single = isinstance(audio, (str, Path, np.ndarray))
        if not single and not isinstance(audio, (list, tuple)):
            raise TypeError(
                "audio must be a path, a numpy array (one clip, mono or multi-channel) or a "
                f"list of them, got {type(audio).__name__}"
            )
        clips = [audio] if single else list(audio)
        if not clips:
            raise ValueError("no audio given (empty batch)")
        return clips, single

    def _frames_of(
        self, audio: AudioInput | Sequence[AudioInput], sampling_rate: int | None
    ) -> tuple[list[np.ndarray], bool]:
        clips, single = self._clips(audio)
        return [self.frames(clip, sampling_rate) for clip in clips], single

    def speech_checks(
        self, audio: AudioInput | Sequence[AudioInput], *, sampling_rate: int | None = None
    ) -> list[Any]:
        """``emorl.audio.SpeechCheck`` of each clip (voice-activity detection)."""
        from emorl.audio import detect_speech

        clips, _ = self._clips(audio)
        # as in ``frames``: a file's own rate is used, ``sampling_rate`` is for arrays
        return [
            detect_speech(clip, None if isinstance(clip, (str, Path)) else sampling_rate)
            for clip in clips
        ]

    def _abstain(self, probs: np.ndarray, checks: Sequence[Any]) -> list[bool]:
        """Equal posteriors for clips without speech (in place); which clips abstained."""
        import warnings

        from emorl.audio import NoSpeechWarning

        silent = [i for i, check in enumerate(checks) if not check.has_speech]
        if silent:
            probs[silent] = 1.0 / len(self.labels)
            warnings.warn(
                f"{len(silent)} clip(s) (first: index {silent[0]}) hold no speech: "
                f"{checks[silent[0]].note}",
                NoSpeechWarning,
                stacklevel=3,
            )
        return [i in silent for i in range(len(checks))]

    def probabilities(
        self,
        audio: AudioInput | Sequence[AudioInput],
        *,
        sampling_rate: int | None = None,
        speaker: str | None = None,
    ) -> np.ndarray:
        """Posteriors ``(n, len(labels))`` for one clip or a list of clips (one speaker)."""
        sequences, _ = self._frames_of(audio, sampling_rate)
        return self.probabilities_from_frames(sequences, [speaker] * len(sequences))

    def features(
        self,
        audio: AudioInput | Sequence[AudioInput],
        *,
        sampling_rate: int | None = None,
        speaker: str | None = None,
    ) -> np.ndarray:
        """Penultimate-layer features for the fusion block."""
        sequences, _ = self._frames_of(audio, sampling_rate)
        return self.features_from_frames(sequences, [speaker] * len(sequences))

    def predict_proba(
        self,
        audio: AudioInput | Sequence[AudioInput],
        *,
        sampling_rate: int | None = None,
        speaker: str | None = None,
        check_speech: bool = True,
    ) -> dict[str, float] | list[dict[str, float]]:
        """Labelled posteriors: a dict for one clip, a list of dicts for several.

        A clip without speech gets equal posteriors and a ``NoSpeechWarning`` (see the
        module docstring); ``check_speech=False`` skips the voice-activity check.
        """
        sequences, single = self._frames_of(audio, sampling_rate)
        probs = self.probabilities_from_frames(sequences, [speaker] * len(sequences))
        if check_speech:
            self._abstain(probs, self.speech_checks(audio, sampling_rate=sampling_rate))
        labelled = [dict(zip(self.labels, map(float, row), strict=True)) for row in probs]
        return labelled[0] if single else labelled

    def predict(
        self,
        audio: AudioInput | Sequence[AudioInput],
        *,
        sampling_rate: int | None = None,
        speaker: str | None = None,
        check_speech: bool = True,
    ) -> str | None | list[str | None]:
        """The most probable label of each clip; ``None`` where the clip holds no speech."""
        sequences, single = self._frames_of(audio, sampling_rate)
        probs = self.probabilities_from_frames(sequences, [speaker] * len(sequences))
        abstained = [False] * len(sequences)
        if check_speech:
            abstained = self._abstain(probs, self.speech_checks(audio, sampling_rate=sampling_rate))
        names = [
            None if skip else self.labels[int(i)]
            for i, skip in zip(probs.argmax(axis=1), abstained, strict=True)
        ]
        return names[0] if single else names
