"""End-to-end memory network for multiple-choice answers (Sukhbaatar et al. 2015, as modified in
Tapaswi et al. 2016, Sec. 4.3 and the reference `memN2N_text.py`):

- every sentence (story, question, answer) is the L2-normalised sum of fixed word vectors Z,
  mapped by one shared linear projection T: u = T Z q, m_l = c_l = T Z s_l, g_j = T Z a_j
  ("Weight sharing and fixed word embeddings"; T starts as the identity, or PCA of Z);
- each hop attends over the story, p_l = softmax(u^T m_l), o = sum_l p_l c_l, u <- u + o;
- the answers are scored against the result, softmax((o + u)^T g_j) (Eq. 6).

`freeze_embedding=False` learns Z as well (the original MemN2N, which the paper reports overfits).
`MemN2NInputs` turns questions into word ids with the training split's vocabulary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from paperlab.errors import UserError
from paperlab.models import register_model
from paperlab.papers.movieqa.release import QA
from paperlab.papers.movieqa.text import words

PAD, UNK = 0, 1
MAX_WORDS = 40  # memory_network_text.normalize_documents: max_words=40 per sentence


@dataclass
class MemN2NConfig:
    vocab_size: int = 2  # filled in from the data (0 = padding, 1 = unknown word)
    embed_dim: int = 300  # d1 (Sec. 4.3: 300-d Word2Vec); 384 with all-MiniLM-L6-v2 word vectors
    proj_dim: int = 300  # d2 (Sec. 4.3: T is d1 x d1 identity, or PCA to d2 = 100)
    hops: int = 1  # memory_network_text.py: num_mem_layers default 1 ("did not affect much")
    freeze_embedding: bool = True  # Sec. 4.3: "fixed (pre-trained) word embedding Z"
    # T starts as init_scale * identity (memN2N_text.py: 1). With unit-norm sentences the scores
    # u^T m_l are cosines in [-1, 1], so at 1 the attention over ~30 sentences is nearly uniform
    # and a few CPU minutes of training learn nothing; 10 sharpens it (docs/papers/movieqa.md)
    init_scale: float = 1.0


@register_model("memn2n")
class MemN2N(nn.Module):
    Config = MemN2NConfig

    def __init__(self, cfg: MemN2NConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=PAD)
        self.embed.weight.requires_grad_(not cfg.freeze_embedding)
        self.project = nn.Linear(cfg.embed_dim, cfg.proj_dim, bias=False)
        if cfg.embed_dim == cfg.proj_dim:
            with torch.no_grad():  # memN2N_text.init_linear_projection: identity
                self.project.weight.copy_(cfg.init_scale * torch.eye(cfg.embed_dim))

    @torch.no_grad()
    def load_word_vectors(self, vectors: torch.Tensor) -> None:
        """Z from pre-trained word vectors (vocab_size, embed_dim); T from their PCA if d2 < d1."""
        if vectors.shape != self.embed.weight.shape:
            raise UserError(f"word vectors of shape {tuple(vectors.shape)}",
                            f"give ({self.cfg.vocab_size}, {self.cfg.embed_dim})")
        self.embed.weight.copy_(vectors)
        self.embed.weight[PAD] = 0
        if self.cfg.proj_dim < self.cfg.embed_dim:
            _, _, v = torch.pca_lowrank(vectors, q=self.cfg.proj_dim, center=True)
            self.project.weight.copy_(v[:, : self.cfg.proj_dim].T)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """(..., words) -> (..., d2): T times the normalised sum of word vectors."""
        bag = self.embed(tokens).sum(-2)
        return self.project(bag / (bag.norm(dim=-1, keepdim=True) + 1e-6))

    def attend(self, story: torch.Tensor, question: torch.Tensor, answers: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """story (B, S, W), question (B, Wq), answers (B, 5, Wa) -> logits (B, 5), p (B, hops, S)."""
        memory = self.encode(story)  # m_l = c_l: all embeddings shared
        real = (story != PAD).any(-1)
        u = self.encode(question)
        attention = []
        for _ in range(self.cfg.hops):
            p = F.softmax(torch.einsum("bsd,bd->bs", memory, u).masked_fill(~real, float("-inf")),
                          dim=-1)
            u = u + torch.einsum("bs,bsd->bd", p, memory)
            attention.append(p)
        return torch.einsum("bd,bjd->bj", u, self.encode(answers)), torch.stack(attention, 1)

    def forward(self, story: torch.Tensor, question: torch.Tensor, answers: torch.Tensor
                ) -> torch.Tensor:
        return self.attend(story, question, answers)[0]


class Vocabulary:
    """Word -> index, 0 padding and 1 unknown (reference v2i = {'': 0, 'UNK': 1})."""

    def __init__(self, words: Sequence[str]) -> None:
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], min_count: int = 1) -> Vocabulary:
        counts = Counter(w for t in texts for w in words(t))
        return cls(["<pad>", "<unk>"] + sorted(w for w, c in counts.items() if c >= min_count))

    def __len__(self) -> int:
        return len(self.words)

    def tokens(self, text: str) -> list[int]:
        """At least one token: an empty sentence is one unknown word (as the reference does)."""
        return [self.index.get(w, UNK) for w in words(text)[:MAX_WORDS]] or [UNK]


@dataclass
class TokenExample:
    story: list[list[int]]
    question: list[int]
    answers: list[list[int]]
    label: int  # -1 where the answer is withheld


def make_token_example(vocab: Vocabulary, story: Sequence[str], question: str,
                       answers: Sequence[str], label: int | None) -> TokenExample:
    return TokenExample([vocab.tokens(s) for s in story] or [[UNK]], vocab.tokens(question),
                        [vocab.tokens(a) for a in answers], -1 if label is None else label)


def _pad(rows: Sequence[Sequence[int]], width: int) -> torch.Tensor:
    out = torch.full((len(rows), width), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out


def collate_tokens(batch: Sequence[TokenExample]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Pad to ({"story" (B, S, W), "question" (B, Wq), "answers" (B, 5, Wa)}, labels)."""
    if not batch:
        raise UserError("an empty batch of questions", "give at least one question")
    sents = max(len(ex.story) for ex in batch)
    width = max(len(s) for ex in batch for s in ex.story)
    story = torch.stack([torch.cat([_pad(ex.story, width),
                                    torch.zeros(sents - len(ex.story), width, dtype=torch.long)])
                         for ex in batch])
    question = _pad([ex.question for ex in batch], max(len(ex.question) for ex in batch))
    a_width = max(len(a) for ex in batch for a in ex.answers)
    answers = torch.stack([_pad(ex.answers, a_width) for ex in batch])
    return ({"story": story, "question": question, "answers": answers},
            torch.tensor([ex.label for ex in batch]))


def word_vectors(vocab: Vocabulary, encode: Callable[[list[str]], np.ndarray]) -> torch.Tensor:
    """Z: each vocabulary word embedded on its own by a sentence encoder (.encode(list) -> (n, d));
    padding and unknown words are zero."""
    vecs = np.asarray(encode(vocab.words[2:]), dtype=np.float32)
    return torch.cat([torch.zeros(2, vecs.shape[1]), torch.from_numpy(vecs)])


class MemN2NInputs:
    """Questions -> word ids of the story sentences, the question and the answers, with the
    vocabulary of the training split (`record()` / `MemN2NInputs(**record)`: into a checkpoint
    and back)."""

    collate = staticmethod(collate_tokens)

    def __init__(self, vocabulary: Sequence[str] = ()) -> None:
        self.vocab = Vocabulary(vocabulary)

    def model_inputs(self) -> dict[str, int]:
        return {"vocab_size": len(self.vocab)}

    def fit(self, stories: Mapping[str, Sequence[str]], qas: Sequence[QA]) -> MemN2NInputs:
        self.vocab = Vocabulary.from_texts([s for story in stories.values() for s in story]
                                           + [t for qa in qas for t in (qa.question, *qa.answers)])
        return self

    def examples(self, stories: Mapping[str, Sequence[str]], qas: Sequence[QA]) -> list[TokenExample]:
        if len(self.vocab) < 2:
            raise UserError("the MemN2N inputs have no vocabulary", "fit them on the training split first")
        return [make_token_example(self.vocab, stories[qa.imdb_key], qa.question, qa.answers, qa.correct_index)
                for qa in qas]

    def record(self) -> dict[str, Any]:
        return {"vocabulary": self.vocab.words}
