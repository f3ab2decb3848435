"""Fusion where a branch is out of its depth: out-of-domain label-paired sets and a
speaker-, voice- and dialogue-exclusive protocol that trains and scores fusion on them.

The label-paired set (:mod:`emorl.recognizers.experiments.paired`) joins RAVDESS clips with
same-label dialogue texts. Its out-of-domain (OOD) variants keep every text and label and
change only the audio:

* ``noise``, ``reverb``, ``speed``, ``telephone``: the clip under one fixed degradation of
  :data:`emorl.recognizers.speech.augment.DEGRADATIONS` (test only);
* ``augmented``: the clip under a random chain of :func:`~emorl.recognizers.speech.augment.augment`
  (training only);
* ``espeak``: the paired text spoken by one of the simulator's espeak-ng callers
  (:class:`emorl.envs.tts.SpeechSynthesiser`, 6 variants x 2 pitch bases), with the
  prosody of a random emotion (by default): TTS audio carries no real emotion, so the right
  fused answer is the text's label;
* ``piper``: the text spoken by the Piper voice (:class:`emorl.envs.tts.PiperSynthesiser`),
  never used for training: a neural voice no block has heard;
* ``clean``: the RAVDESS clip itself. Scored on held-out actors, it is the label-paired set.

Exclusivity. ``pair_by_label`` deals speakers and dialogues into aligned groups; espeak-ng
voices are dealt into the same groups (voice ``v`` is in group ``v % groups``) and a text
of group ``g`` is only spoken by a voice of group ``g``. Test group ``f`` thus holds actors,
dialogues and espeak voices that no model of fold ``f`` has seen.

Out-of-fold speech outputs. A fusion block must learn how far to trust the SER on speakers
the SER has not heard. Per fold the SER never hears the clips whose outputs train the block:

* IS09 SER (its features are its own network's): *blending*. For each training group ``s``
  the SER is trained on group ``s`` alone (the library's default recipe) and the block on
  the other training group ``u``; both ``(s, u)`` arrangements are run. The test group is
  scored with that same SER.
* Whisper SER (features are the frozen Whisper encoder's, the same whatever was trained):
  *cross-fitting*. The SER is trained on both training groups and scores the test group; the
  block trains on both groups, with the speech posteriors of group ``s`` from a classifier
  trained on the other group only.

Speaker normalisation: each (speaker or voice, condition) is normalised with its own
clips, labels unused (the project's protocol for unseen speakers).

Systems per arrangement: the frozen TER; the SER; ``paper_insample`` (the paper's block on
clean clips the SER was trained on: the recipe the first shipped model used);
``paper_oof`` (paper's block, out-of-fold clean clips); ``reliability_oof`` (block with the
branch posteriors, entropies, top probabilities and modality dropout, clean clips);
``ood`` (that block on clean + augmented + espeak clips: the new recipe).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from emorl.artifacts import atomic_write, write_json
from emorl.data.paired import PairedSet
from emorl.evaluation import CVResult, CVRun, classification_report, group_holdout
from emorl.fingerprint import sha256_json
from emorl.progress import task_progress
from emorl.recognizers.calibration import fit_temperature
from emorl.recognizers.fusion.features import (
    fusion_inputs,
    ser_probabilities,
    speech_outputs,
    text_outputs,
)
from emorl.recognizers.fusion.model import RELIABILITY_INPUTS, FusionBlock, FusionConfig
from emorl.recognizers.fusion.training import FusionTrainingConfig, train_fusion

TRAIN_CONDITIONS = ("clean", "augmented", "espeak")
TEST_SETS = ("clean", "noise", "reverb", "speed", "telephone", "espeak", "piper")
SET_NAMES = {
    "clean": "label-paired (held-out actors)",
    "noise": "noise 10 dB",
    "reverb": "reverb RT60 0.6 s",
    "speed": "speed x0.9",
    "telephone": "telephone band",
    "espeak": "espeak-ng voices",
    "piper": "Piper voice",
}
SYSTEMS = {
    "ter": "TER alone (shipped, frozen)",
    "ser": "SER alone (never heard the test actors)",
    "paper_insample": "Fusion, paper's block, SER in-sample (first shipped recipe)",
    "paper_oof": "Fusion, paper's block, out-of-fold SER",
    "reliability_oof": "Fusion + reliability + modality dropout, clean",
    "ood": "Fusion + reliability + modality dropout, clean + OOD audio (new recipe)",
}
#: The new recipe's block options (also the shipped model's).
OOD_FUSION = {"reliability": RELIABILITY_INPUTS, "modality_dropout": 0.25}
Prosody = Literal["random", "label", "neutral"]


@dataclass
class OODConfig:
    """Which OOD audio is made and how.

    ``augment_copies`` random augmentations of each clip join fusion training; espeak-ng
    callers are ``espeak_voices`` voice indices of the simulator's synthesiser, spoken with
    ``tts_prosody`` (``random``: a random emotion's prosody, independent of the label;
    ``label``: the label's, as the simulator does; ``neutral``); ``piper`` adds the Piper
    test set. ``test_per_group`` keeps the test-only sets (degradations, Piper) to that many
    paired items per group, drawn at random with ``seed`` (``None``: every item).
    """

    degradations: tuple[str, ...] = ("noise", "reverb", "speed", "telephone")
    augment_copies: int = 1
    espeak_voices: int = 12
    tts_prosody: Prosody = "random"
    piper: bool = True
    test_per_group: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        from emorl.recognizers.speech.augment import DEGRADATIONS

        self.degradations = tuple(self.degradations)
        unknown = [d for d in self.degradations if d not in DEGRADATIONS]
        if unknown:
            raise ValueError(f"unknown degradation(s) {unknown}: one of {', '.join(DEGRADATIONS)}")
        if self.test_per_group is not None and self.test_per_group < 1:
            raise ValueError(f"test_per_group must be positive, got {self.test_per_group}")
        if self.augment_copies < 0 or self.espeak_voices < 0:
            raise ValueError("augment_copies and espeak_voices must be >= 0")
        if self.tts_prosody not in ("random", "label", "neutral"):
            raise ValueError(
                f"tts_prosody must be random, label or neutral, not {self.tts_prosody!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "degradations": list(self.degradations)}


@dataclass(frozen=True)
class OODItem:
    """One utterance of an OOD set: a paired text, its label and (possibly made) audio.

    ``speaker`` is the normalisation key (speaker or voice, with the condition); ``holder``
    is who spoke it (actor or voice), for speaker-exclusive holdouts.
    """

    id: str
    text: str
    label: str
    speaker: str
    holder: str
    group: int
    condition: str
    audio: Path
    source: Path | None = None
    variant: Any = None


def _write_audio(path: Path, samples: np.ndarray) -> Path:
    """Write 16 kHz audio atomically: ``.wav`` as float samples (exactly as made), ``.flac``
    as 16-bit (the TTS voices' own resolution)."""
    import soundfile as sf

    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        flac = path.suffix == ".flac"
        atomic_write(
            path,
            lambda tmp: sf.write(
                tmp,
                samples,
                16000,
                format="FLAC" if flac else "WAV",
                subtype="PCM_16" if flac else "FLOAT",
            ),
        )
    return path


def _voices_of_group(config: OODConfig, groups: int) -> dict[int, list[int]]:
    voices: dict[int, list[int]] = {g: [] for g in range(groups)}
    for v in range(config.espeak_voices):
        voices[v % groups].append(v)
    return voices


def build_ood_items(
    paired: PairedSet, config: OODConfig, cache: Path, *, progress: bool = True
) -> list[OODItem]:
    """Every OOD variant of every paired item; made audio is cached under ``cache``.

    Degraded and augmented clips are the Whisper SER's clip variants
    (:class:`~emorl.recognizers.speech.whisper.ClipVariant`, seeded with ``config.seed``
    and the clip's SHA-256), so the two speech branches hear the very same audio and the
    Whisper states cached for them are shared.
    """
    from emorl.audio import load_audio
    from emorl.fingerprint import sha256_file
    from emorl.recognizers.speech.augment import Augmentation
    from emorl.recognizers.speech.whisper import ClipVariant

    labels = list(paired.labels)
    if config.espeak_voices and config.espeak_voices < paired.groups:
        raise ValueError(f"{config.espeak_voices} espeak voices for {paired.groups} groups")
    cache = Path(cache)
    rng = np.random.default_rng(config.seed)
    voices = _voices_of_group(config, paired.groups)
    items: list[OODItem] = []
    espeak = piper = None
    if config.espeak_voices:
        from emorl.envs.tts import SpeechSynthesiser

        espeak = SpeechSynthesiser()
    if config.piper:
        from emorl.envs.tts import PiperSynthesiser

        piper = PiperSynthesiser()
    policy = Augmentation(copies=max(1, config.augment_copies))
    dropped: dict[str, int] = {}
    tested = set(range(len(paired.items)))
    if config.test_per_group is not None:
        tested = set()
        for g in range(paired.groups):
            members = [k for k, item in enumerate(paired.items) if item.group == g]
            pick = np.random.default_rng([config.seed, g]).permutation(members)
            tested |= {int(k) for k in pick[: config.test_per_group]}
    with task_progress(progress) as bar:
        task = bar.add_task("OOD audio", total=len(paired))
        for position, item in enumerate(paired.items):
            common = {"text": item.text, "label": item.label, "group": item.group}
            test_too = position in tested
            items.append(
                OODItem(
                    item.id,
                    speaker=item.speaker,
                    holder=item.speaker,
                    condition="clean",
                    audio=Path(item.audio_path),
                    **common,
                )
            )
            samples = None
            clip_id = sha256_file(item.audio_path)
            variants = [
                ClipVariant("degrade", name=name, seed=config.seed)
                for name in (config.degradations if test_too else ())
            ] + [
                ClipVariant("augment", copy=c, policy=policy, seed=config.seed)
                for c in range(config.augment_copies)
            ]
            for variant in variants:
                condition = variant.name if variant.kind == "degrade" else "augmented"
                path = cache / condition / f"{clip_id[:32]}.{variant.key}.wav"
                if not path.is_file():
                    if samples is None:
                        samples = load_audio(item.audio_path).samples
                    _write_audio(path, variant.apply(samples, clip_id))
                if not _usable(path):
                    dropped[condition] = dropped.get(condition, 0) + 1
                    continue  # e.g. a quiet clip turned down further: silent, not speech
                suffix = condition if variant.kind == "degrade" else f"augmented{variant.copy}"
                items.append(
                    OODItem(
                        f"{item.id}/{suffix}",
                        speaker=f"{item.speaker}/{condition}",
                        holder=item.speaker,
                        condition=condition,
                        audio=path,
                        source=Path(item.audio_path),
                        variant=variant,
                        **common,
                    )
                )
            prosody = {
                "random": labels[int(rng.integers(len(labels)))],
                "label": item.label,
                "neutral": "neutral",
            }[config.tts_prosody]
            if espeak is not None:
                voice = int(rng.choice(voices[item.group]))
                settings = espeak.settings(prosody, voice)
                path = cache / "espeak" / f"{sha256_json([item.text, list(settings)])[:24]}.flac"
                if not path.is_file():
                    _write_audio(path, espeak.synthesise(item.text, prosody, voice))
                items.append(
                    OODItem(
                        f"{item.text_id}/espeak{voice}",
                        speaker=f"espeak:{voice}",
                        holder=f"espeak:{voice}",
                        condition="espeak",
                        audio=path,
                        **common,
                    )
                )
            if piper is not None and test_too:
                path = cache / "piper" / f"{sha256_json([item.text, prosody])[:24]}.flac"
                if not path.is_file():
                    _write_audio(path, piper.synthesise(item.text, prosody))
                items.append(
                    OODItem(
                        f"{item.text_id}/piper",
                        speaker="piper:joe",
                        holder="piper:joe",
                        condition="piper",
                        audio=path,
                        **common,
                    )
                )
            bar.advance(task)
    if dropped:
        import warnings

        warnings.warn(
            f"OOD audio dropped as silent (emorl.audio's silence check): {dropped}", stacklevel=2
        )
    return items


def _usable(path: Path) -> bool:
    """Whether made audio passes :func:`emorl.audio.load_audio`'s checks (not silent)."""
    from emorl.audio import AudioError, load_audio

    try:
        load_audio(path)
    except AudioError:
        return False
    return True


def describe_items(items: Sequence[OODItem]) -> dict[str, Any]:
    """Clips, speakers/voices and label counts per condition."""
    out: dict[str, Any] = {}
    for condition in sorted({i.condition for i in items}):
        rows = [i for i in items if i.condition == condition]
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.label] = counts.get(row.label, 0) + 1
        out[condition] = {
            "n": len(rows),
            "holders": len({r.holder for r in rows}),
            "counts": counts,
        }
    return out


# --------------------------------------------------------------------------- speech branches


class IS09FoldSER:
    """Fold SERs of the IS09 branch (TDNN-BiLSTM-attention), cached by their training data."""

    name = "is09"
    fixed_features = False

    def __init__(
        self,
        ser_config: Any = None,
        training: Any = None,
        *,
        cache_dir: Path | None = None,
        models_dir: Path | None = None,
        progress: bool = True,
    ) -> None:
        from emorl.paths import cache_root
        from emorl.recognizers.speech.model import SERConfig
        from emorl.recognizers.speech.training import SERTrainingConfig

        self.ser_config = ser_config or SERConfig()
        self.training = training or SERTrainingConfig()
        self.cache_dir = cache_dir or cache_root("features")
        self.models_dir = models_dir
        self.progress = progress
        self.frames: dict[str, np.ndarray] = {}

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "ser_config": {**asdict(self.ser_config), "labels": list(self.ser_config.labels)},
            "training": asdict(self.training),
        }

    def prepare(self, items: Sequence[OODItem]) -> None:
        from emorl.recognizers.speech.features import SpeechFeatureExtractor

        extractor = SpeechFeatureExtractor(
            self.ser_config.feature_config(), cache_dir=self.cache_dir
        )
        with task_progress(self.progress) as bar:
            task = bar.add_task("IS09 frames", total=len(items))
            for item in items:
                if item.id not in self.frames:
                    self.frames[item.id] = extractor.frames_file(item.audio)
                bar.advance(task)

    def train(self, items: Sequence[OODItem], labels: Sequence[str], seed: int = 0) -> Any:
        """An SER trained on ``items`` with the default recipe (loaded when cached)."""
        from emorl.recognizers.speech.model import SERConfig, SpeechEmotionRecognizer
        from emorl.recognizers.speech.training import SERTrainingConfig, train_ser

        config = SERConfig(**{**asdict(self.ser_config), "labels": tuple(labels)})
        training = SERTrainingConfig(**{**asdict(self.training), "seed": seed})
        key = sha256_json(
            {
                "ids": sorted(i.id for i in items),
                "model": {**asdict(config), "labels": list(labels)},
                "training": asdict(training),
            }
        )[:16]
        folder = self.models_dir / f"ser-{key}" if self.models_dir is not None else None
        if folder is not None and (folder / "config.json").is_file():
            return SpeechEmotionRecognizer.from_pretrained(folder, cache_dir=self.cache_dir)
        sequences = [self.frames[i.id] for i in items]
        model = SpeechEmotionRecognizer.create(config, seed=seed, input_size=sequences[0].shape[1])
        index = {label: k for k, label in enumerate(labels)}
        train_ser(
            model,
            sequences,
            [index[i.label] for i in items],
            training,
            speakers=[i.speaker for i in items],
            progress=self.progress,
        )
        if folder is not None:
            model.save_pretrained(
                folder, data={"speakers": sorted({i.speaker for i in items}), "n": len(items)}
            )
        return model

    def outputs(
        self, ser: Any, items: Sequence[OODItem], *, states: bool = False
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray] | None]:
        """Penultimate features, posteriors (and frame outputs with ``states``); each
        speaker normalised on its own clips."""
        features, frames = speech_outputs(
            ser,
            [self.frames[i.id] for i in items],
            [i.speaker for i in items],
            states=states,
            adapt=True,
        )
        return features, ser_probabilities(ser, features), frames


class WhisperFoldSER:
    """Fold SERs of the Whisper branch: a head over frozen Whisper encoder states.

    ``template``: a trained :class:`~emorl.recognizers.speech.whisper.WhisperSER` (the
    shipped one, say) whose recipe the fold SERs repeat: Whisper model, head kind and
    settings, feature spec (padded or not, loudness) and seed; a ``logreg`` head keeps the
    template's fixed ``C``, or picks one on each fold's training speakers as the template
    did. The fusion features are the head's penultimate features (:meth:`WhisperSER.outputs`),
    as IEmoNet computes them. With a ``logreg`` head they are the z-normalised pooled
    states, whatever the head was trained on.
    """

    def __init__(self, template: Any, *, progress: bool = True) -> None:
        from emorl.recognizers.speech.whisper import WhisperEncoderFeatures

        self.template = template
        self.fixed_features = template.head_kind == "logreg"
        self.name = f"whisper-{template.model}-{template.head_kind}"
        self.encoder = WhisperEncoderFeatures(template.model, spec=template.spec)
        self.progress = progress
        self.states: dict[str, np.ndarray] = {}

    def describe(self) -> dict[str, Any]:
        t = self.template
        return {
            "backend": self.name,
            "model": t.model,
            "head": t.head.settings() if t.head.fitted else t.head_kind,
            "features": t.spec.to_dict(),
            "fold_C": "chosen on each fold's training speakers"
            if t.head_kind == "logreg"
            else None,
        }

    def prepare(self, items: Sequence[OODItem]) -> None:
        with task_progress(self.progress) as bar:
            task = bar.add_task(f"Whisper {self.template.model} states", total=len(items))
            for item in items:
                if item.id in self.states:
                    pass
                elif item.variant is not None and item.source is not None:
                    # the clip variant of the source file: Whisper states shared via the cache
                    self.states[item.id] = self.encoder.states(item.source, variant=item.variant)
                else:
                    self.states[item.id] = self.encoder.states(item.audio)
                bar.advance(task)

    def train(self, items: Sequence[OODItem], labels: Sequence[str], seed: int = 0) -> Any:
        from emorl.recognizers.speech.whisper import WhisperSER

        t = self.template
        ser = WhisperSER(
            tuple(labels),
            head=t.head_kind,
            spec=t.spec,
            C=t.C,
            c_grid=t.c_grid,
            attention=getattr(t.head, "config", None) if t.head_kind == "attention" else None,
            seed=t.seed,
            features=self.encoder,
        )
        ser.model_fingerprint = self.encoder.fingerprint
        return ser.fit_states(
            [self.states[i.id] for i in items], [i.label for i in items], [i.speaker for i in items]
        )

    def outputs(
        self, ser: Any, items: Sequence[OODItem], *, states: bool = False
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray] | None]:
        """Penultimate features, posteriors (and frame states with ``states``); each
        speaker normalised on its own clips."""
        feats, probs, frames = ser.outputs(
            [self.states[i.id] for i in items],
            [i.speaker for i in items],
            adapt=True,
            frame_states=states,
        )
        return np.asarray(feats, np.float32), np.asarray(probs, np.float32), frames


# --------------------------------------------------------------------------- the experiment


@dataclass
class OODExperimentConfig:
    """Blocks, seeds and data of the OOD protocol."""

    ood: OODConfig = field(default_factory=OODConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    training: FusionTrainingConfig = field(default_factory=FusionTrainingConfig)
    seeds: tuple[int, ...] = (0, 1, 2)
    systems: tuple[str, ...] = tuple(SYSTEMS)

    def to_dict(self) -> dict[str, Any]:
        fusion = {**asdict(self.fusion), "labels": list(self.fusion.labels)}
        fusion["reliability"] = list(self.fusion.reliability)
        return {
            "ood": self.ood.to_dict(),
            "fusion": fusion,
            "new_recipe": {**OOD_FUSION, "reliability": list(OOD_FUSION["reliability"])},
            "training": asdict(self.training),
            "seeds": list(self.seeds),
            "systems": list(self.systems),
        }


class _Outputs:
    """Text and speech outputs of a list of items (and SER frame states when needed)."""

    def __init__(self, items, text_feat, text_probs, speech_feat, speech_probs, states=None):
        self.items = list(items)
        self.text_feat, self.text_probs = text_feat, text_probs
        self.speech_feat, self.speech_probs = speech_feat, speech_probs
        self.states = states

    def subset(self, index: Sequence[int] | np.ndarray) -> _Outputs:
        index = np.asarray(index, dtype=int)
        return _Outputs(
            [self.items[k] for k in index],
            self.text_feat[index],
            self.text_probs[index],
            self.speech_feat[index],
            self.speech_probs[index],
            None if self.states is None else [self.states[k] for k in index],
        )

    def labels(self, labels: Sequence[str]) -> list[int]:
        index = {label: k for k, label in enumerate(labels)}
        return [index[i.label] for i in self.items]

    def inputs(self, index: np.ndarray | None = None):
        part = self if index is None else self.subset(index)
        return fusion_inputs(
            part.text_feat,
            part.speech_feat,
            part.states,
            text_probs=part.text_probs,
            speech_probs=part.speech_probs,
        )


def text_table(ter: Any, texts: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """TER features and posteriors of each distinct text."""
    distinct = sorted(set(texts))
    features, probs = text_outputs(ter, distinct)
    return {t: (features[k], probs[k]) for k, t in enumerate(distinct)}


def _texts(items: Sequence[OODItem], table: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.stack([table[i.text][0] for i in items]),
        np.stack([table[i.text][1] for i in items]),
    )


def branch_outputs(
    branch: Any,
    ser: Any,
    items: Sequence[OODItem],
    table: dict[str, Any],
    *,
    states: bool = False,
) -> _Outputs:
    """TER and ``ser``'s outputs of ``items`` (``table``: :func:`text_table`)."""
    speech_feat, speech_probs, frames = branch.outputs(ser, items, states=states)
    return _Outputs(items, *_texts(items, table), speech_feat, speech_probs, frames)


def cross_fitted_outputs(
    branch: Any,
    items: Sequence[OODItem],
    labels: Sequence[str],
    table: dict[str, Any],
    *,
    states: bool = False,
) -> _Outputs:
    """Outputs of ``items`` whose speech posteriors come from SERs that did not hear them.

    Only for branches with fixed features (``branch.fixed_features``): the posteriors of
    each group's items come from an SER trained on the clean clips of the other groups.
    """
    if not branch.fixed_features:
        raise ValueError(
            "cross-fitted speech outputs need an SER whose features do not depend on what it "
            "was trained on (the Whisper SER with a logreg head); the IS09 network's are its "
            "own: train the fusion on speakers the SER has not heard instead"
        )
    groups = sorted({i.group for i in items})
    if len(groups) < 2:
        raise ValueError("cross-fitting needs items from at least two groups")
    order = {i.id: k for k, i in enumerate(items)}
    feats = probs = None
    frames: list[Any] | None = [None] * len(items) if states else None
    for g in groups:
        train = [i for i in items if i.group != g and i.condition == "clean"]
        part = [i for i in items if i.group == g]
        f, p, st = branch.outputs(branch.train(train, labels), part, states=states)
        if feats is None:
            feats = np.zeros((len(items), f.shape[1]), np.float32)
            probs = np.zeros((len(items), p.shape[1]), np.float32)
        index = np.asarray([order[i.id] for i in part])
        feats[index], probs[index] = f, p
        if frames is not None and st is not None:
            for k, s in zip(index, st, strict=True):
                frames[k] = s
    return _Outputs(items, *_texts(items, table), feats, probs, frames)


def _block(
    config: OODExperimentConfig, system: str, labels, text_size: int, speech_size: int
) -> FusionConfig:
    base = {
        **asdict(config.fusion),
        "labels": tuple(labels),
        "kind": "feedforward",
        "text_size": text_size,
        "speech_size": speech_size,
    }
    if system in ("reliability_oof", "ood"):
        base.update(OOD_FUSION)
    else:
        base.update(reliability=(), modality_dropout=0.0)
    return FusionConfig(**base)


def _train_block(
    config: OODExperimentConfig, system: str, fit: _Outputs, labels, seed: int
) -> FusionBlock:
    y = fit.labels(labels)
    block = FusionBlock.create(
        _block(config, system, labels, fit.text_feat.shape[1], fit.speech_feat.shape[1]),
        seed=seed,
    )
    training = replace(config.training, seed=seed)
    train_fusion(block, fit.inputs(), y, training, progress=False)
    return block


def _rows(out: _Outputs, conditions: Sequence[str]) -> _Outputs:
    return out.subset([k for k, i in enumerate(out.items) if i.condition in conditions])


@dataclass
class OODResult:
    """Runs per (system, test set), and validation calibration of the new recipe."""

    labels: tuple[str, ...]
    runs: dict[str, dict[str, CVResult]] = field(default_factory=dict)
    temperatures: list[float] = field(default_factory=list)

    def add(self, system: str, test_set: str, fold: int, seed: int, y, pred) -> None:
        table = self.runs.setdefault(system, {})
        result = table.setdefault(test_set, CVResult(self.labels))
        report = classification_report(np.asarray(y), np.asarray(pred), self.labels)
        result.runs.append(CVRun(fold=fold, seed=seed, report=report))

    def summary(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "systems": {
                system: {name: {**r.summary(), "runs": len(r.runs)} for name, r in sets.items()}
                for system, sets in self.runs.items()
            },
            "temperature_mean": float(np.mean(self.temperatures)) if self.temperatures else None,
        }


def _score(
    result: OODResult, systems, blocks: dict[str, list[FusionBlock]], test: _Outputs, fold, run
):
    labels = result.labels
    for name in TEST_SETS:
        part = _rows(test, (name,))
        if not part.items:
            continue
        y = part.labels(labels)
        if "ter" in systems:
            result.add("ter", name, fold, run * 100, y, part.text_probs.argmax(1))
        if "ser" in systems:
            result.add("ser", name, fold, run * 100, y, part.speech_probs.argmax(1))
        inputs = part.inputs()
        for system, seeds in blocks.items():
            for seed_index, block in enumerate(seeds):
                pred = block.logits(inputs).argmax(1)
                result.add(system, name, fold, run * 100 + seed_index, y, pred)


def run_ood_folds(
    items: Sequence[OODItem],
    labels: Sequence[str],
    ter: Any,
    branch: Any,
    config: OODExperimentConfig,
    *,
    progress: bool = True,
) -> OODResult:
    """Every test group in turn (see the module docstring for the protocol)."""
    labels = tuple(labels)
    result = OODResult(labels)
    table = text_table(ter, [i.text for i in items])
    groups = sorted({i.group for i in items})
    block_systems = [s for s in config.systems if s not in ("ter", "ser")]
    with task_progress(progress) as bar:
        task = bar.add_task("OOD folds", total=len(groups))
        for fold in groups:
            test_items = [i for i in items if i.group == fold]
            train_groups = [g for g in groups if g != fold]
            if branch.fixed_features:
                arrangements = [(tuple(train_groups), tuple(train_groups))]
            else:
                arrangements = [
                    ((s,), tuple(g for g in train_groups if g != s)) for s in train_groups
                ]
            for run, (ser_groups, fusion_groups) in enumerate(arrangements):
                ser_items = [i for i in items if i.group in ser_groups and i.condition == "clean"]
                ser = branch.train(ser_items, labels)
                fusion_items = [
                    i for i in items if i.group in fusion_groups and i.condition in TRAIN_CONDITIONS
                ]
                if branch.fixed_features:
                    fit_all = cross_fitted_outputs(branch, fusion_items, labels, table)
                else:
                    fit_all = branch_outputs(branch, ser, fusion_items, table)
                insample = None
                if "paper_insample" in block_systems and not branch.fixed_features:
                    insample = branch_outputs(branch, ser, ser_items, table)
                test = branch_outputs(branch, ser, test_items, table)
                blocks: dict[str, list[FusionBlock]] = {}
                for system in block_systems:
                    if system == "paper_insample" and branch.fixed_features:
                        continue  # fixed features: the same block as paper_oof
                    if system == "paper_insample":
                        fit = insample
                    elif system == "ood":
                        fit = fit_all
                    else:
                        fit = _rows(fit_all, ("clean",))
                    blocks[system] = [
                        _train_block(config, system, fit, labels, seed) for seed in config.seeds
                    ]
                _score(result, config.systems, blocks, test, fold, run)
                if "ood" in blocks:
                    result.temperatures += _val_temperatures(config, fit_all, labels)
            bar.advance(task)
    return result


def _val_temperatures(config: OODExperimentConfig, fit: _Outputs, labels) -> list[float]:
    """Temperatures of the new recipe fitted on held-out holders of its training rows."""
    holders = [i.holder for i in fit.items]
    if len(set(holders)) < 2:
        return []
    train_idx, val_idx = group_holdout(holders, 0.2, seed=0)
    block = _train_block(config, "ood", fit.subset(train_idx), labels, config.seeds[0])
    logits = block.logits(fit.inputs(val_idx))
    return [fit_temperature(logits, fit.subset(val_idx).labels(labels)).temperature]


def markdown_tables(summary: dict[str, Any], title: str) -> str:
    """One table per metric: systems x test sets, mean ± std over folds x runs."""
    sets = [s for s in TEST_SETS if any(s in v for v in summary["systems"].values())]
    lines = [f"### {title}", ""]
    for metric, name in (("ua", "UA"), ("accuracy", "WA"), ("macro_f1", "macro-F1")):
        lines += [
            f"**{name}**",
            "",
            "| system | " + " | ".join(SET_NAMES[s] for s in sets) + " |",
            "|---|" + "---:|" * len(sets),
        ]
        for system, label in SYSTEMS.items():
            runs = summary["systems"].get(system)
            if not runs:
                continue
            cells = []
            for s in sets:
                entry = runs.get(s)
                cells.append(
                    f"{entry[metric]['mean']:.3f} ± {entry[metric]['std']:.3f}" if entry else "-"
                )
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


@dataclass
class OODExperimentJob:
    """Everything ``emorl evaluate fusion --ood`` needs."""

    sources: Any
    out: Path
    backend: Literal["is09", "whisper"] = "is09"
    whisper_ser: str | Path = "ser-whisper-tiny-4class"
    ter: Path | None = None
    config: OODExperimentConfig = field(default_factory=OODExperimentConfig)
    ser_epochs: int | None = None
    audio_cache: Path | None = None
    cache_dir: Path | None = None
    progress: bool = True


def make_branch(job: OODExperimentJob) -> Any:
    """The fold SERs of the job's speech branch."""
    if job.backend == "whisper":
        from emorl.recognizers.speech.branch import load_ser
        from emorl.recognizers.speech.whisper import WhisperSER

        template = load_ser(job.whisper_ser)
        if not isinstance(template, WhisperSER):
            raise ValueError(f"{job.whisper_ser}: not a Whisper SER folder")
        return WhisperFoldSER(template, progress=job.progress)
    if job.backend != "is09":
        raise ValueError(f"backend must be is09 or whisper, got {job.backend!r}")
    from emorl.recognizers.speech.training import SERTrainingConfig

    training = SERTrainingConfig(epochs=job.ser_epochs) if job.ser_epochs else None
    return IS09FoldSER(
        training=training,
        cache_dir=job.cache_dir,
        models_dir=Path(job.out) / "ser-models",
        progress=job.progress,
    )


def fold_ser_for(ser: Any, *, cache_dir: Path | None = None, progress: bool = True) -> Any:
    """The fold-SER adapter of a loaded SER (IS09 network or Whisper SER): its ``prepare``
    computes the SER's inputs of items, ``outputs`` its features and posteriors."""
    from emorl.recognizers.speech.model import SpeechEmotionRecognizer
    from emorl.recognizers.speech.whisper import WhisperSER

    if isinstance(ser, WhisperSER):
        return WhisperFoldSER(ser, progress=progress)
    if isinstance(ser, SpeechEmotionRecognizer):
        return IS09FoldSER(ser.config, cache_dir=cache_dir, progress=progress)
    raise TypeError(f"not an SER: {type(ser).__name__}")


def state_size(ser: Any) -> int:
    """Width of the SER's frame states an attention block reads."""
    from emorl.recognizers.speech.whisper import WhisperSER

    if isinstance(ser, WhisperSER):
        return int(ser.features.d_model)
    return 2 * int(ser.config.lstm_units)


def default_audio_cache() -> Path:
    from emorl.paths import cache_root

    return cache_root("ood-audio")


def run_ood_experiment(job: OODExperimentJob) -> dict[str, Any]:
    """Build the OOD sets, run every fold, write ``results.json`` and ``results.md``."""
    from emorl.recognizers.experiments.paired import build_paired
    from emorl.recognizers.text.model import TextEmotionRecognizer

    begun = time.perf_counter()
    if job.sources.groups < 3:
        raise ValueError(
            "the OOD protocol needs at least 3 speaker/dialogue groups (one to test, and for "
            "the IS09 SER one to train the SER and one to train the fusion), got "
            f"{job.sources.groups}"
        )
    paired = build_paired(job.sources)
    items = build_ood_items(
        paired, job.config.ood, job.audio_cache or default_audio_cache(), progress=job.progress
    )
    branch = make_branch(job)
    branch.prepare(items)
    ter = TextEmotionRecognizer.from_pretrained(job.ter)
    if tuple(ter.labels) != tuple(paired.labels):
        raise ValueError(f"the TER predicts {ter.labels}, the paired set has {paired.labels}")
    result = run_ood_folds(items, paired.labels, ter, branch, job.config, progress=job.progress)
    summary = {
        "protocol": {
            "folds": paired.groups,
            "split": "speaker-, voice- and dialogue-exclusive (aligned groups)",
            "speech": (
                "cross-fitted: SER on both training groups; fusion trained on posteriors "
                "from an SER that did not hear the clip (fixed Whisper features)"
                if branch.fixed_features
                else "blended: SER on one training group (default recipe), fusion on the other, "
                "both arrangements"
            ),
            "ter": "shipped, frozen; texts only from MELD dev / DailyDialog validation",
            "transcripts": "provided (the paired text)",
            "normalisation": "each (speaker or voice, condition) on its own clips",
            "fusion_training": {
                "paper_insample": "clean clips the SER was trained on",
                "paper_oof": "clean clips, out-of-fold SER",
                "reliability_oof": "clean clips, out-of-fold SER",
                "ood": f"{', '.join(TRAIN_CONDITIONS)} clips, out-of-fold SER",
            },
        },
        "speech": branch.describe(),
        "data": {**job.sources.describe(), **paired.describe(), "ood": describe_items(items)},
        "ter": {"folder": str(job.ter or "shipped")},
        "config": job.config.to_dict(),
        **result.summary(),
        "seconds": round(time.perf_counter() - begun, 1),
    }
    out = Path(job.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", summary)
    title = f"Fusion on out-of-domain speech ({branch.name} SER)"
    (out / "results.md").write_text(markdown_tables(summary, title), encoding="utf-8")
    return summary


__all__ = [
    "OOD_FUSION",
    "SYSTEMS",
    "TEST_SETS",
    "IS09FoldSER",
    "OODConfig",
    "OODExperimentConfig",
    "OODExperimentJob",
    "OODItem",
    "OODResult",
    "WhisperFoldSER",
    "build_ood_items",
    "run_ood_experiment",
    "run_ood_folds",
]
