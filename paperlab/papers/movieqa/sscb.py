"""Searching student with a convolutional brain, SSCB (Tapaswi et al. 2016, Sec. 4.2, Fig. 4):
instead of the fixed sum of Eq. (2), a small CNN learns f from the similarity tensor of a story of
n sentences, n x 5 x 2 (per representation: g_ss(s_k, q) repeated over the five answers, and
g_ss(s_k, a_j)); "SSCB fusion" stacks the tensors of several representations as channels.

Network (reference `sscb.py`): 1x1 conv (10) + ReLU, 1x1 conv (10) + ReLU, max pooling 3 x 1 over
sentences (a window, as the searching student's), 1x1 conv (1) + ReLU, then 0.3 * mean + 1 * max
over the story; softmax over the five answers. Padded sentences are masked out of the pooling
(the reference pads with zeros and averages over them). `SSCBInputs` turns questions into these
tensors: the representations fitted on the training stories, each channel standardised with
training statistics (the reference standardises with one scalar; here per channel, since TF-IDF
and MiniLM cosines have different scales).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from paperlab.errors import UserError
from paperlab.models import register_model
from paperlab.papers.movieqa.release import NUM_ANSWERS, QA
from paperlab.papers.movieqa.text import Encoder, TfidfEncoder, make_encoder, similarity


@dataclass
class SSCBConfig:
    in_channels: int = 2  # Sec. 4.2: the n x 5 x 2 tensor; 2 x (number of representations) in fusion
    hidden: int = 10  # sscb.py: num_filters=10 in the first two 1x1 convolutions
    pool: int = 3  # Sec. 4.2: "a max pooling layer with kernel size 3"
    mean_weight: float = 0.3  # sscb.py: ElemwiseSumLayer([avg, max], [0.3, 1])
    max_weight: float = 1.0  # sscb.py: ElemwiseSumLayer([avg, max], [0.3, 1])
    bias_init: float = 0.01  # sscb.py: b=lasagne.init.Constant(0.01), W=HeUniform()
    # sscb.py: the third convolution is rectified too. A ReLU that is zero on every input gives
    # equal scores and no gradient: a "dead" network, about one He initialisation in five here,
    # and on MiniLM maps most of them within the first steps (docs/papers/movieqa.md); false
    # (with optim.weight_decay=0) keeps every initialisation alive
    last_relu: bool = True


@register_model("sscb")
class SSCB(nn.Module):
    Config = SSCBConfig

    def __init__(self, cfg: SSCBConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.conv1 = nn.Conv2d(cfg.in_channels, cfg.hidden, 1)
        self.conv2 = nn.Conv2d(cfg.hidden, cfg.hidden, 1)
        self.conv3 = nn.Conv2d(cfg.hidden, 1, 1)
        for conv in (self.conv1, self.conv2, self.conv3):
            nn.init.kaiming_uniform_(conv.weight, nonlinearity="linear")  # lasagne HeUniform(gain=1)
            nn.init.constant_(conv.bias, cfg.bias_init)

    def forward(self, maps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """maps (B, n, 5, C), mask (B, n) true on real sentences -> logits (B, 5)."""
        x = maps.permute(0, 3, 1, 2)  # (B, C, n, 5)
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        x = x.masked_fill(~mask[:, None, :, None], float("-inf"))
        k = self.cfg.pool
        x = F.max_pool2d(x, (k, 1), (k, 1), ceil_mode=True)  # a window holds >= 1 real sentence
        pooled = F.max_pool1d(mask[:, None].float(), k, k, ceil_mode=True)[:, 0] > 0  # (B, n')
        x = self.conv3(x.masked_fill(~pooled[:, None, :, None], 0.0))[:, 0]  # (B, n', 5)
        if self.cfg.last_relu:
            x = F.relu(x)
        keep = pooled[..., None]
        mean = (x * keep).sum(1) / keep.sum(1).clamp(min=1)
        top = x.masked_fill(~keep, float("-inf")).amax(1)
        return self.cfg.mean_weight * mean + self.cfg.max_weight * top


def similarity_maps(story: Sequence[Any], question: Sequence[Any], answers: Sequence[Any]) -> np.ndarray:
    """(n, 5, 2R) from R representations' unit-norm rows of the story (n, d), the question (1, d)
    and the answers (5, d): per representation <s_k, q> repeated over the answers, and <s_k, a_j>."""
    channels = []
    for s, q, a in zip(story, question, answers, strict=True):
        g_a = similarity(s, a)  # (n, 5)
        channels += [np.repeat(similarity(s, q), g_a.shape[1], 1), g_a]
    return np.stack(channels, axis=-1).astype(np.float32)


@dataclass
class SimilarityExample:
    maps: np.ndarray  # (n, 5, C)
    label: int  # -1 where the answer is withheld


def collate_maps(batch: Sequence[SimilarityExample], min_len: int = 3
                 ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Pad the stories of a batch to one length: ({"maps", "mask"}, labels)."""
    if not batch:
        raise UserError("an empty batch of similarity maps", "give at least one question")
    n = max(min_len, max(len(ex.maps) for ex in batch))
    c = batch[0].maps.shape[-1]
    maps = torch.zeros(len(batch), n, 5, c)
    mask = torch.zeros(len(batch), n, dtype=torch.bool)
    for i, ex in enumerate(batch):
        maps[i, : len(ex.maps)] = torch.from_numpy(ex.maps)
        mask[i, : len(ex.maps)] = True
    return {"maps": maps, "mask": mask}, torch.tensor([ex.label for ex in batch])


class SSCBInputs:
    """Questions -> standardised similarity tensors, for one or several representations ("SSCB
    fusion": tfidf and minilm). `record()` / `SSCBInputs(**record)` carry what was fitted on the
    training split into a checkpoint and back."""

    collate = staticmethod(collate_maps)

    def __init__(self, representation: Sequence[str], tfidf: Mapping[str, Any] | None = None,
                 channel_mean: Sequence[float] = (), channel_std: Sequence[float] = ()) -> None:
        if not representation:
            raise UserError("SSCB needs at least one representation", "set movieqa.representation=[tfidf]")
        self.representation = list(representation)
        self.encoders: list[Encoder] = [TfidfEncoder(tfidf) if r == "tfidf" and tfidf is not None
                                        else make_encoder(r) for r in self.representation]
        self.mean = np.asarray(channel_mean, dtype=np.float32)
        self.std = np.asarray(channel_std, dtype=np.float32)

    def model_inputs(self) -> dict[str, int]:
        return {"in_channels": 2 * len(self.encoders)}

    def fit(self, stories: Mapping[str, Sequence[str]], qas: Sequence[QA]) -> SSCBInputs:
        for enc in self.encoders:
            enc.fit(stories)
        maps = np.concatenate([m.reshape(-1, m.shape[-1]) for m in self._maps(stories, qas)])
        self.mean, self.std = maps.mean(0), maps.std(0) + 1e-6
        return self

    def _maps(self, stories: Mapping[str, Sequence[str]], qas: Sequence[QA]) -> list[np.ndarray]:
        # every movie's story, question and answer encoded once, in one call per representation
        keys = sorted({qa.imdb_key for qa in qas})
        for enc in self.encoders:
            enc.warm([s for k in keys for s in stories[k]])
        story_vecs = {k: [enc.encode(stories[k] or [""]) for enc in self.encoders] for k in keys}
        q_vecs = [enc.encode([qa.question for qa in qas]) for enc in self.encoders]
        a_vecs = [enc.encode([a for qa in qas for a in qa.answers]) for enc in self.encoders]
        n = NUM_ANSWERS
        return [similarity_maps(story_vecs[qa.imdb_key], [q[i: i + 1] for q in q_vecs],
                                [a[n * i: n * i + n] for a in a_vecs]) for i, qa in enumerate(qas)]

    def examples(self, stories: Mapping[str, Sequence[str]], qas: Sequence[QA]) -> list[SimilarityExample]:
        if not self.mean.size:
            raise UserError("the SSCB inputs are not fitted", "fit them on the training split first")
        return [SimilarityExample((m - self.mean) / self.std, -1 if qa.correct_index is None else qa.correct_index)
                for m, qa in zip(self._maps(stories, qas), qas, strict=True)]

    def record(self) -> dict[str, Any]:
        tfidf = next((e for e in self.encoders if isinstance(e, TfidfEncoder)), None)
        return {"representation": self.representation, "tfidf": None if tfidf is None else tfidf.state(),
                "channel_mean": [float(x) for x in self.mean], "channel_std": [float(x) for x in self.std]}
