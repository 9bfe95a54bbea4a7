"""The VQA models of Antol et al. 2015, "VQA: Visual Question Answering", Sec. 5 ("Methods").

An image channel, a question channel, a fusion, then a multi-layer perceptron over the K most
frequent training answers (Sec. 5: "2 hidden layers and 1000 hidden units (dropout 0.5) in each
layer with tanh non-linearity, followed by a softmax layer"):

* **BoW Q + I**: the question as a bag of its words over the top 1000 question words, plus the
  top 10 first, second and third words of the questions (one-hot each: 1030-d); concatenated with
  the image vector "I" (VGG fc7).
* **LSTM Q + I**: words through a fully connected layer + tanh (300-d) into a one-layer LSTM whose
  last cell and hidden states (512 + 512) embed the question; the image goes through a fully
  connected layer + tanh to the same 1024-d; the two are fused by element-wise product.
* **deeper LSTM Q + norm I**: a two-layer LSTM (last cell and hidden states of both layers, 2048-d,
  then a fully connected layer + tanh to 1024-d), the l2-normalised image vector ("norm I"),
  element-wise fusion.

Every model reads (image vector (B, D), question word ids (B, T), question lengths (B,)) and
returns answer logits (B, K); padding after a question's last word never changes its output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from paperlab.config import fraction
from paperlab.models import register_model


def mlp(in_dim: int, hidden: int, layers: int, out_dim: int, dropout: float) -> nn.Sequential:
    """Sec. 5's classifier: `layers` tanh layers of `hidden` units, each followed by dropout, then
    the answer layer. The inputs themselves get no dropout: dropping half of a bag of words drops
    the very word a question turns on ("what shape is the *red* object?")."""
    mods: list[nn.Module] = []
    for k in range(layers):
        mods += [nn.Linear(in_dim if k == 0 else hidden, hidden), nn.Tanh(), nn.Dropout(dropout)]
    return nn.Sequential(*mods, nn.Linear(hidden if layers else in_dim, out_dim))


def word_mask(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """(B, width) bool: True at the positions of real words, False at padding."""
    return torch.arange(width, device=lengths.device)[None, :] < lengths[:, None]


@dataclass
class BoWQIConfig:
    bow_words: int = 1000  # Sec. 5 "BoW Q": the top 1,000 words of the questions
    position_words: int = 10  # Sec. 5: the top 10 first, second and third words (question type)
    mlp_hidden: int = 1000  # Sec. 5: 2 hidden layers of 1000 tanh units
    mlp_layers: int = 2
    dropout: float = fraction(default=0.5)  # Sec. 5
    normalize_image: bool = False  # "norm I": l2-normalise the image vector
    # filled in from the data by the learner
    vocab_size: int = 2
    image_dim: int = 1
    num_answers: int = 1


@register_model("bow_q_i")
class BoWQI(nn.Module):
    """Antol et al. 2015 Sec. 5, BoW Q + I: bag-of-words question, concatenated with fc7, MLP."""

    Config = BoWQIConfig
    image_input = "pooled"

    def __init__(self, cfg: BoWQIConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # which BoW slot each word id has (-1: not among the top words); set by `fit_vocabulary`
        self.register_buffer("word_slot", torch.full((cfg.vocab_size,), -1, dtype=torch.long))
        self.register_buffer("position_slot", torch.full((3, cfg.vocab_size), -1, dtype=torch.long))
        in_dim = cfg.bow_words + 3 * cfg.position_words + cfg.image_dim
        self.classifier = mlp(in_dim, cfg.mlp_hidden, cfg.mlp_layers, cfg.num_answers, cfg.dropout)

    def fit_vocabulary(self, questions: Sequence[Sequence[int]]) -> None:
        """Pick the top words, and the top first/second/third words, of the training questions
        (word ids; 0 pads and is never counted)."""
        counts = torch.zeros(self.cfg.vocab_size, dtype=torch.long)
        position = torch.zeros(3, self.cfg.vocab_size, dtype=torch.long)
        for q in questions:
            ids = torch.as_tensor(list(q), dtype=torch.long)
            counts.index_add_(0, ids, torch.ones_like(ids))
            for p, w in enumerate(q[:3]):
                position[p, w] += 1
        counts[0] = position[:, 0] = 0

        def slots(c: torch.Tensor, k: int) -> torch.Tensor:
            top = c.argsort(descending=True, stable=True)[: min(k, int((c > 0).sum()))]
            out = torch.full_like(c, -1)
            out[top] = torch.arange(len(top))
            return out

        self.word_slot.copy_(slots(counts, self.cfg.bow_words))
        for p in range(3):
            self.position_slot[p].copy_(slots(position[p], self.cfg.position_words))

    def question_features(self, question: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, bow_words + 3 x position_words): word counts, then the one-hot first three words."""
        b, t = question.shape
        real = word_mask(lengths, t)
        slot = self.word_slot[question]
        bow = torch.zeros(b, self.cfg.bow_words, device=question.device)
        bow.scatter_add_(1, slot.clamp(min=0), ((slot >= 0) & real).float())
        parts = [bow]
        for p in range(3):
            onehot = torch.zeros(b, self.cfg.position_words, device=question.device)
            if p < t:
                ps = self.position_slot[p][question[:, p]]
                hit = (ps >= 0) & (lengths > p)
                onehot[hit, ps[hit]] = 1.0
            parts.append(onehot)
        return torch.cat(parts, 1)

    def forward(self, image: torch.Tensor, question: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.cfg.normalize_image:
            image = F.normalize(image, dim=-1)
        return self.classifier(torch.cat([self.question_features(question, lengths), image], 1))


@dataclass
class LSTMQIConfig:
    embed_dim: int = 300  # Sec. 5: words through a 300-d fully connected layer + tanh
    hidden: int = 512  # Sec. 5: LSTM cells per layer (last cell + hidden state: 1024-d for one layer)
    layers: int = 1  # 1: LSTM Q; 2: deeper LSTM Q
    fused_dim: int = 1024  # Sec. 5: the common space of question and image (element-wise product)
    normalize_image: bool = False  # "norm I": l2-normalise the image vector first
    mlp_hidden: int = 1000
    mlp_layers: int = 2
    dropout: float = fraction(default=0.5)
    # filled in from the data by the learner
    vocab_size: int = 2
    image_dim: int = 1
    num_answers: int = 1


class LSTMQI(nn.Module):
    """Antol et al. 2015 Sec. 5: LSTM question embedding x image embedding, MLP."""

    Config = LSTMQIConfig
    image_input = "pooled"

    def __init__(self, cfg: LSTMQIConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=0)  # = a fully connected layer on one-hot words
        self.lstm = nn.LSTM(cfg.embed_dim, cfg.hidden, cfg.layers, batch_first=True)
        q_dim = 2 * cfg.hidden * cfg.layers  # last cell and hidden state of every layer
        # the one-layer LSTM Q is already 1024-d; deeper LSTM Q's 2048-d goes through fc + tanh
        self.question_fc = nn.Identity() if q_dim == cfg.fused_dim else nn.Sequential(
            nn.Linear(q_dim, cfg.fused_dim), nn.Tanh())
        self.image_fc = nn.Sequential(nn.Linear(cfg.image_dim, cfg.fused_dim), nn.Tanh())
        self.classifier = mlp(cfg.fused_dim, cfg.mlp_hidden, cfg.mlp_layers, cfg.num_answers, cfg.dropout)

    def question_embedding(self, question: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.embed(question))
        packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        _, (h, c) = self.lstm(packed)  # (layers, B, hidden) at each question's own last word
        q = torch.cat([torch.cat([c[k], h[k]], 1) for k in range(self.cfg.layers)], 1)
        return self.question_fc(q)

    def forward(self, image: torch.Tensor, question: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.cfg.normalize_image:
            image = F.normalize(image, dim=-1)
        fused = self.question_embedding(question, lengths) * self.image_fc(image)
        return self.classifier(fused)


@register_model("lstm_q_i")
class LSTMQImage(LSTMQI):
    """Antol et al. 2015 Sec. 5, LSTM Q + I: one-layer LSTM question, fc7 through fc + tanh, element-wise product, MLP."""


@dataclass
class DeeperLSTMQNormIConfig(LSTMQIConfig):
    layers: int = 2  # Sec. 5: "2 hidden layers"
    normalize_image: bool = True  # Sec. 5: "norm I"


@register_model("deeper_lstm_q_norm_i")
class DeeperLSTMQNormImage(LSTMQI):
    """Antol et al. 2015 Sec. 5, deeper LSTM Q + norm I: two-layer LSTM, l2-normalised fc7, element-wise product, MLP."""

    Config = DeeperLSTMQNormIConfig
