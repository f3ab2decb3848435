"""Frozen sub-model outputs the fusion block reads: TER and SER features, SER frame states,
and the branches' own posteriors (for blocks with reliability inputs)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from emorl.recognizers.fusion.model import FusionInputs, softmax
from emorl.recognizers.speech.model import SpeechEmotionRecognizer
from emorl.recognizers.speech.training import normalizer_for
from emorl.recognizers.text.model import TextEmotionRecognizer


def ser_frame_states(
    ser: SpeechEmotionRecognizer, x: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features ``(n, 4u)`` and second-BiLSTM outputs ``(n, frames, 2u)``.

    Follows :meth:`SERNet.features` step by step so that the per-frame outputs the
    attention block aligns with the text are the very ones the SER pools.
    """
    net = ser.net
    steps = x.shape[1]
    mask = torch.arange(steps)[None, :] < lengths[:, None]
    h = x * mask.unsqueeze(-1)
    h = torch.nn.functional.pad(h.transpose(1, 2), net.tdnn_padding)
    h = torch.relu(net.tdnn(h)).transpose(1, 2)
    h, _ = net._bilstm(net.lstm1, h, lengths)
    h, h_n = net._bilstm(net.lstm2, net.dropout(h), lengths)
    summary = torch.cat([h_n[0], h_n[1]], dim=-1)
    attended, _ = net.attention(h, mask)
    return torch.cat([summary, attended], dim=-1), h


def speech_outputs(
    ser: SpeechEmotionRecognizer,
    sequences: Sequence[np.ndarray],
    speakers: Sequence[str | None] | None = None,
    *,
    states: bool = False,
    adapt: bool = True,
    batch_size: int = 32,
) -> tuple[np.ndarray, list[np.ndarray] | None]:
    """SER features of frame sequences (and unpadded frame states when ``states``).

    With ``adapt``, speakers the SER has no statistics for are normalised with their own
    clips among ``sequences`` (the speaker-normalisation protocol of evaluation); the SER
    itself is left unchanged. Without it, unknown speakers get the global statistics.
    """
    speakers = list(speakers) if speakers is not None else [None] * len(sequences)
    trained = ser.normalizer
    known = [s for s in speakers if s is not None]
    if adapt and ser.config.normalization == "speaker" and known:
        ser.normalizer = normalizer_for(
            ser,
            [q for q, s in zip(sequences, speakers, strict=True) if s is not None],
            known,
        )
    features, per_frame = [], []
    ser.net.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(sequences), batch_size):
                x, lengths = ser.batch(
                    sequences[start : start + batch_size], speakers[start : start + batch_size]
                )
                feats, hidden = ser_frame_states(ser, x, lengths)
                features.append(feats.numpy())
                if states:
                    per_frame += [
                        h[: int(n)].numpy().copy() for h, n in zip(hidden, lengths, strict=True)
                    ]
    finally:
        ser.normalizer = trained
    return np.concatenate(features).astype(np.float32), (per_frame if states else None)


def pad_states(states: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack unpadded ``(frames, d)`` arrays into ``(n, max_frames, d)`` and lengths."""
    lengths = torch.tensor([len(s) for s in states], dtype=torch.long)
    width = int(lengths.max()) if len(states) else 1
    d = states[0].shape[1] if states else 1
    out = torch.zeros((len(states), width, d), dtype=torch.float32)
    for i, s in enumerate(states):
        out[i, : len(s)] = torch.from_numpy(np.asarray(s, dtype=np.float32))
    return out, lengths


def fusion_inputs(
    text: np.ndarray,
    speech: np.ndarray,
    states: Sequence[np.ndarray] | None = None,
    *,
    text_probs: np.ndarray | None = None,
    speech_probs: np.ndarray | None = None,
    present: np.ndarray | None = None,
) -> FusionInputs:
    """Tensors for the fusion block from numpy features (and optional frame states, branch
    posteriors ``(n, K)`` and presence ``(n, 2)``)."""
    n = len(text)
    if len(speech) != n:
        raise ValueError(f"{n} text feature rows but {len(speech)} speech rows")

    def tensor(a: np.ndarray | None, what: str) -> torch.Tensor | None:
        if a is None:
            return None
        if len(a) != n:
            raise ValueError(f"{n} feature rows but {len(a)} rows of {what}")
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    t, s = tensor(text, "text features"), tensor(speech, "speech features")
    extra = {
        "text_probs": tensor(text_probs, "text posteriors"),
        "speech_probs": tensor(speech_probs, "speech posteriors"),
        "present": tensor(present, "presence"),
    }
    if states is None:
        return FusionInputs(t, s, **extra)
    padded, lengths = pad_states(states)
    return FusionInputs(t, s, padded, lengths, **extra)


def text_features(ter: TextEmotionRecognizer, texts: Sequence[str]) -> np.ndarray:
    """TER penultimate features of texts."""
    return ter.features(list(texts))


def head_probabilities(head: torch.nn.Module, features: np.ndarray) -> np.ndarray:
    """A branch's own posteriors from its penultimate features: softmax of its classifier."""
    with torch.inference_mode():
        logits = head(torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)))
    return softmax(logits.numpy())


def text_outputs(ter: TextEmotionRecognizer, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """TER penultimate features and posteriors ``(n, K)`` of texts."""
    features = text_features(ter, texts)
    return features, head_probabilities(ter.net.classifier, features)


def ser_probabilities(ser: SpeechEmotionRecognizer, features: np.ndarray) -> np.ndarray:
    """The IS09 SER's posteriors from its penultimate features (what ``speech_outputs`` gives)."""
    return head_probabilities(ser.net.classifier, features)
