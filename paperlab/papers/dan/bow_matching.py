"""A bag-of-words image-text matching baseline, the reference point for m-DAN (Nam et al. 2017,
Sec. 4.2 compare against earlier joint embeddings): a sentence is the mean of its words'
embeddings (word order and grammar are lost), an image its pooled vector through a fully
connected layer + tanh, and the score their dot product, trained with the same bidirectional
max-margin ranking loss as m-DAN (`paperlab.papers.dan.matching`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from paperlab.models import register_model
from paperlab.papers.dan.dual_attention import masked_mean
from paperlab.papers.vqa.models import word_mask


@dataclass
class BoWMatchingConfig:
    dim: int = 512  # the joint embedding
    # filled in from the data by the learner
    vocab_size: int = 2
    image_dim: int = 1


@register_model("bow_matching")
class BoWMatching(nn.Module):
    """Bag-of-words sentence (mean word embedding) vs pooled image vector (fc + tanh): S = z_v . z_u."""

    Config = BoWMatchingConfig
    image_input = "pooled"

    def __init__(self, cfg: BoWMatchingConfig) -> None:
        super().__init__()
        self.words = nn.Embedding(cfg.vocab_size, cfg.dim, padding_idx=0)
        self.image = nn.Sequential(nn.Linear(cfg.image_dim, cfg.dim), nn.Tanh())

    def embed_image(self, image: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.image(image), None

    def embed_text(self, words: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, None]:
        return masked_mean(self.words(words), word_mask(lengths.clamp(min=1), words.shape[1])), None

    def forward(self, image: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.embed_image(image)[0] @ self.embed_text(words, lengths)[0].T
