"""The paper's speech emotion network: TDNN -> BiLSTM -> BiLSTM -> self-attention.

Input: IS09 frames ``(batch, frames, 32)`` with their true lengths (padding is masked
everywhere). A TDNN (1-D convolution over time, filter size 16) maps each frame to the
BiLSTM width; two bidirectional LSTMs (64 units per direction) follow; additive
self-attention (dimension 64 or 128) pools the second BiLSTM's outputs over time. The
second BiLSTM's summary (last forward state, first backward state) and the attention
output are concatenated: that vector is the penultimate feature the fusion block
reads; a linear layer and softmax give the emotion posteriors.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


@dataclass
class SERNetConfig:
    """Architecture; the presets ``64attDim`` and ``128attDim`` are the paper's two."""

    input_size: int = 32
    tdnn_kernel: int = 16
    lstm_units: int = 64
    attention_dim: int = 128
    dropout: float = 0.2
    num_labels: int = 4

    @property
    def feature_size(self) -> int:
        """Width of the penultimate vector: BiLSTM summary + attention output."""
        return 4 * self.lstm_units


PRESETS: dict[str, dict[str, int]] = {
    "64attDim": {"attention_dim": 64},
    "128attDim": {"attention_dim": 128},
}


class AttentionPooling(nn.Module):
    """Additive self-attention over time: ``a = sum_t softmax(v . tanh(W h_t)) h_t``."""

    def __init__(self, size: int, attention_dim: int) -> None:
        super().__init__()
        self.project = nn.Linear(size, attention_dim)
        self.score = nn.Linear(attention_dim, 1, bias=False)

    def forward(
        self, hidden: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.score(torch.tanh(self.project(hidden))).squeeze(-1)
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1)
        return torch.bmm(weights.unsqueeze(1), hidden).squeeze(1), weights


class SERNet(nn.Module):
    """TDNN + two BiLSTMs + attention, as in IEmoNet's speech branch."""

    def __init__(self, config: SERNetConfig) -> None:
        super().__init__()
        self.config = config
        width = 2 * config.lstm_units
        self.tdnn = nn.Conv1d(config.input_size, width, config.tdnn_kernel)
        # "same" length for an even filter: (k - 1) // 2 frames before, the rest after
        self.tdnn_padding = ((config.tdnn_kernel - 1) // 2, config.tdnn_kernel // 2)
        self.lstm1 = nn.LSTM(width, config.lstm_units, batch_first=True, bidirectional=True)
        self.lstm2 = nn.LSTM(width, config.lstm_units, batch_first=True, bidirectional=True)
        self.attention = AttentionPooling(width, config.attention_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.feature_size, config.num_labels)

    def _bilstm(self, lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor):
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, (h_n, _) = lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out, h_n

    def features(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Penultimate vector ``(batch, 4 * lstm_units)``."""
        steps = frames.shape[1]
        mask = torch.arange(steps, device=frames.device)[None, :] < lengths[:, None]
        x = frames * mask.unsqueeze(-1)
        x = nn.functional.pad(x.transpose(1, 2), self.tdnn_padding)
        x = torch.relu(self.tdnn(x)).transpose(1, 2)
        x, _ = self._bilstm(self.lstm1, x, lengths)
        x, h_n = self._bilstm(self.lstm2, self.dropout(x), lengths)
        summary = torch.cat([h_n[0], h_n[1]], dim=-1)
        attended, _ = self.attention(x, mask)
        return torch.cat([summary, attended], dim=-1)

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        return self.classifier(self.dropout(self.features(frames, lengths)))
