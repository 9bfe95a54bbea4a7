"""Dual Attention Networks: Nam, Ha & Kim 2017, "Dual Attention Networks for Multimodal Reasoning
and Matching" (arXiv 1611.00471), Sec. 3.

Inputs (Sec. 3.1): image regions v_n, the vectors of a CNN's last convolutional grid (N regions),
and words through a bidirectional LSTM, u_t = h_t(forward) + h_t(backward).

Attention (Sec. 3.2), at step k = 1..K with its own weights, guided by a memory m(k-1):

    visual    h_n = tanh(W_v v_n) * tanh(W_vm m(k-1)),  a_n = softmax_n(w_vh . h_n),  v(k) = tanh(P(k) sum_n a_n v_n)
    textual   h_t = tanh(W_u u_t) * tanh(W_um m(k-1)),  a_t = softmax_t(w_uh . h_t),  u(k) = sum_t a_t u_t

Step 0 averages: v(0) = tanh(P(0) mean_n v_n), u(0) = mean_t u_t (over real words only).

* **r-DAN** (Sec. 3.3, VQA): one joint memory guides both attentions, m(0) = v(0) * u(0),
  m(k) = m(k-1) + v(k) * u(k); the answer is softmax(W_ans m(K)).
* **m-DAN** (Sec. 3.4, image-text matching): a visual memory m_v(k) = m_v(k-1) + v(k) guides the
  visual attention and a textual one m_u(k) = m_u(k-1) + u(k) the textual attention, so each side
  is embedded on its own, z_v = [v(0); ...; v(K)], z_u = [u(0); ...; u(K)], and the similarity is
  S = sum_k v(k) . u(k) = z_v . z_u.

Ours, not the paper's: each region vector can get its cell's (x, y) position appended (`coords`;
a CNN's region vectors say what is there, and relational questions also need where), and
dropout before the answer layer. Padded words get zero attention and are left out of the means
and of the LSTM, so padding never changes an output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from paperlab.config import fraction
from paperlab.models import register_model
from paperlab.papers.vqa.models import word_mask


class Attention(nn.Module):
    """One attention step of Sec. 3.2 over a set of vectors x (B, N, D), guided by a memory (B, M)."""

    def __init__(self, in_dim: int, memory_dim: int, hidden: int) -> None:
        super().__init__()
        self.w_in = nn.Linear(in_dim, hidden)
        self.w_memory = nn.Linear(memory_dim, hidden)
        self.w_score = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(context sum_n a_n x_n (B, D), weights a (B, N)); `mask` (B, N) False where x is padding."""
        h = torch.tanh(self.w_in(x)) * torch.tanh(self.w_memory(memory))[:, None, :]
        scores = self.w_score(h).squeeze(-1)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = F.softmax(scores, dim=-1)
        return torch.bmm(weights[:, None, :], x).squeeze(1), weights


class TextEncoder(nn.Module):
    """Sec. 3.1: word embeddings through a bidirectional LSTM, u_t = h_t(forward) + h_t(backward)."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.hidden = hidden

    def forward(self, words: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(u (B, T, hidden), mask (B, T)): each sequence read up to its own length, in both directions."""
        lengths = lengths.clamp(min=1)
        packed = pack_padded_sequence(self.embed(words), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=words.shape[1])
        u = out[..., : self.hidden] + out[..., self.hidden :]
        return u, word_mask(lengths, words.shape[1])


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)


def cell_coordinates(grid: list[int]) -> torch.Tensor:
    """(h*w, 2): each cell's centre (x, y) in [-1, 1], in the row-major order of a flattened grid."""
    h, w = grid
    ys = (torch.arange(h) + 0.5) / h * 2 - 1
    xs = (torch.arange(w) + 0.5) / w * 2 - 1
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.flatten(), yy.flatten()], 1)


@dataclass
class DANConfig:
    embed_dim: int = 512  # word embedding (Sec. 4: 512-d throughout)
    hidden: int = 512  # LSTM, attention and memory width (Sec. 4: 512)
    steps: int = 2  # K attention steps (Sec. 4: K = 2)
    coords: bool = True  # append each region's (x, y) to its vector (ours)
    # filled in from the data by the learner
    vocab_size: int = 2
    region_dim: int = 1
    grid: list[int] = field(default_factory=lambda: [1, 1])  # h, w of the region grid


@dataclass
class RDANConfig(DANConfig):
    dropout: float = fraction(default=0.5)  # before the answer layer (ours)
    num_answers: int = 1  # filled in from the data


class DAN(nn.Module):
    """What r-DAN and m-DAN share: the text encoder, region inputs and the attention steps."""

    Config = DANConfig
    image_input = "regions"

    def __init__(self, cfg: DANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, k = cfg.hidden, cfg.steps
        self.text = TextEncoder(cfg.vocab_size, cfg.embed_dim, d)
        self.register_buffer("coordinates", cell_coordinates(cfg.grid), persistent=False)
        v_dim = cfg.region_dim + (2 if cfg.coords else 0)
        self.project = nn.ModuleList(nn.Linear(v_dim, d) for _ in range(k + 1))  # P(0..K)
        self.visual = nn.ModuleList(Attention(v_dim, d, d) for _ in range(k))
        self.textual = nn.ModuleList(Attention(d, d, d) for _ in range(k))

    def regions(self, image: torch.Tensor) -> torch.Tensor:
        """(B, N, D) region vectors, with their cell positions appended when `coords`."""
        if not self.cfg.coords:
            return image
        return torch.cat([image, self.coordinates.to(image).expand(len(image), -1, -1)], -1)


@register_model("rdan")
class RDAN(DAN):
    """Nam et al. 2017 Sec. 3.3, r-DAN: visual and textual attention steered by one joint memory; answer = softmax(W m(K))."""

    Config = RDANConfig

    def __init__(self, cfg: RDANConfig) -> None:
        super().__init__(cfg)
        self.answer = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, cfg.num_answers))

    def attend(self, image: torch.Tensor, question: torch.Tensor, lengths: torch.Tensor
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(answer logits (B, answers), attention weights: visual (B, K, N), textual (B, K, T))."""
        v_n = self.regions(image)
        u_t, mask = self.text(question, lengths)
        m = torch.tanh(self.project[0](v_n.mean(1))) * masked_mean(u_t, mask)  # m(0) = v(0) * u(0)
        visual, textual = [], []
        for k in range(self.cfg.steps):
            v_ctx, a_v = self.visual[k](v_n, m)
            u, a_u = self.textual[k](u_t, m, mask)
            m = m + torch.tanh(self.project[k + 1](v_ctx)) * u
            visual.append(a_v)
            textual.append(a_u)
        return self.answer(m), {"visual": torch.stack(visual, 1), "textual": torch.stack(textual, 1)}

    def forward(self, image: torch.Tensor, question: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.attend(image, question, lengths)[0]


@register_model("mdan")
class MDAN(DAN):
    """Nam et al. 2017 Sec. 3.4, m-DAN: separate visual and textual memories; S = sum_k v(k) . u(k)."""

    def embed_image(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_v = [v(0); ...; v(K)] (B, (K+1) hidden), visual attention (B, K, N))."""
        v_n = self.regions(image)
        v = torch.tanh(self.project[0](v_n.mean(1)))
        memory, parts, weights = v, [v], []
        for k in range(self.cfg.steps):
            ctx, a = self.visual[k](v_n, memory)
            v = torch.tanh(self.project[k + 1](ctx))
            memory = memory + v
            parts.append(v)
            weights.append(a)
        return torch.cat(parts, 1), torch.stack(weights, 1)

    def embed_text(self, words: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_u = [u(0); ...; u(K)] (B, (K+1) hidden), textual attention (B, K, T))."""
        u_t, mask = self.text(words, lengths)
        u = masked_mean(u_t, mask)
        memory, parts, weights = u, [u], []
        for k in range(self.cfg.steps):
            u, a = self.textual[k](u_t, memory, mask)
            memory = memory + u
            parts.append(u)
            weights.append(a)
        return torch.cat(parts, 1), torch.stack(weights, 1)

    def forward(self, image: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """S(image b, text b') for every pair of the batch: (B images, B texts)."""
        return self.embed_image(image)[0] @ self.embed_text(words, lengths)[0].T
