"""A label-paired bimodal set: acted speech joined with dialogue text of the same emotion.

No corpus here pairs emotional speech with meaningful transcripts (RAVDESS actors read
two fixed sentences), so each speech clip is joined with a text utterance of the same
four-class label from a dialogue corpus. The pairs are label-paired, not natural: the
text did not come from the clip, and the only link between the modalities is the label.

Exclusivity: speakers are dealt into ``groups`` speaker groups, text dialogues into as
many dialogue groups, and a clip of speaker group g is only ever paired with a text from
dialogue group g. Any split by group therefore keeps both speakers and dialogues apart.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emorl.data.utterance import Corpus
from emorl.evaluation import group_kfold


@dataclass(frozen=True)
class PairedUtterance:
    """One clip with a text of the same label; ``group`` is its exclusive split group."""

    id: str
    label: str
    audio_path: Path
    speaker: str
    text: str
    text_id: str
    dialogue: str
    text_corpus: str
    group: int


@dataclass
class PairedSet:
    """The paired utterances, the label order and how often texts had to be reused."""

    labels: tuple[str, ...]
    items: list[PairedUtterance]
    groups: int
    text_reuse: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.items)

    def counts(self) -> dict[str, int]:
        found = Counter(item.label for item in self.items)
        return {label: found.get(label, 0) for label in self.labels}

    def describe(self) -> dict[str, object]:
        """Sizes and exclusivity facts for model cards and result files."""
        return {
            "n": len(self.items),
            "groups": self.groups,
            "counts": self.counts(),
            "speakers": len({i.speaker for i in self.items}),
            "dialogues": len({i.dialogue for i in self.items}),
            "distinct_texts": len({i.text_id for i in self.items}),
            "text_reuse": self.text_reuse,
            "text_corpora": dict(Counter(i.text_corpus for i in self.items)),
        }


def _group_of(keys: list[str], labels: list[str], groups: int, seed: int) -> dict[str, int]:
    folds = group_kfold(keys, groups, seed=seed, stratify=labels)
    out: dict[str, int] = {}
    for g, (_, test) in enumerate(folds):
        for i in test:
            out[keys[i]] = g
    return out


def pair_by_label(
    speech: Corpus, texts: list[Corpus], *, groups: int = 2, seed: int = 0
) -> PairedSet:
    """Pair every clip of ``speech`` with a same-label text, speaker and dialogue groups aligned.

    Within a (group, label) cell, texts are shuffled and dealt to clips in turn; a cell
    with fewer texts than clips reuses texts (``text_reuse`` reports clips per distinct
    text for each label). Raises ``ValueError`` when a cell has no text at all.
    """
    if groups < 2:
        raise ValueError(f"groups must be at least 2, got {groups}")
    for corpus in texts:
        if corpus.labels != speech.labels:
            raise ValueError(
                f"{corpus.name} has labels {corpus.labels}, {speech.name} {speech.labels}"
            )
    clips = [u for u in speech.utterances if u.audio_path is not None]
    if not clips:
        raise ValueError(f"{speech.name}: no utterance with audio to pair")
    lines = [u for corpus in texts for u in corpus.utterances if u.text]
    if not lines:
        raise ValueError("no text utterances to pair with")
    speakers = [u.speaker or u.id for u in clips]
    speaker_group = _group_of(speakers, [u.label for u in clips], groups, seed)
    dialogues = [f"{u.corpus}:{u.dialogue or u.id}" for u in lines]
    dialogue_group = _group_of(dialogues, [u.label for u in lines], groups, seed + 1)
    pools: dict[tuple[int, str], list[int]] = {}
    for i, u in enumerate(lines):
        pools.setdefault((dialogue_group[dialogues[i]], u.label), []).append(i)
    rng = np.random.default_rng(seed)
    dealt: dict[tuple[int, str], int] = Counter()
    orders = {key: rng.permutation(pool) for key, pool in sorted(pools.items())}
    items = []
    for clip, speaker in zip(clips, speakers, strict=True):
        g = speaker_group[speaker]
        key = (g, clip.label)
        if key not in orders:
            raise ValueError(f"no {clip.label!r} text in dialogue group {g} to pair with")
        order = orders[key]
        line = lines[order[dealt[key] % len(order)]]
        dealt[key] += 1
        items.append(
            PairedUtterance(
                id=f"{clip.id}+{line.id}",
                label=clip.label,
                audio_path=Path(clip.audio_path),
                speaker=speaker,
                text=str(line.text),
                text_id=line.id,
                dialogue=f"{line.corpus}:{line.dialogue or line.id}",
                text_corpus=line.corpus,
                group=g,
            )
        )
    reuse = {}
    for label in speech.labels:
        used = [i for i in items if i.label == label]
        if used:
            reuse[label] = round(len(used) / len({i.text_id for i in used}), 3)
    return PairedSet(speech.labels, items, groups, reuse)
