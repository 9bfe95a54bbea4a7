"""The baselines of Antol et al. 2015 (Sec. 6, "Baselines"; appendix for the nearest neighbour),
for the open-ended and the multiple-choice task:

* random: an answer drawn uniformly from the top-K training answers (multiple choice: from the
  question's choices).
* prior ("yes"): always the most popular training answer, "yes" (multiple choice: the most
  popular training answer among the choices).
* per question type prior: the most popular training answer of the question's type
  (multiple choice: the choice most popular for that type, then overall).
* nearest neighbour: the k = 4 training questions nearest to the test question (cosine of
  bag-of-words vectors; the paper uses Skip-Thought vectors and reports bag of words as slightly
  worse), of those the one whose image is most similar to the test image (cosine of image
  features: the paper's fc7, here the HDF5 features when the data has them, else mean-centred
  8x8-pooled pixels); its most common human answer is the prediction (multiple choice: the choice
  given most often among the k neighbours' human answers).

Ties among equally near questions (identical texts) are broken at random, with a seed.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from paperlab.papers.vqa.data import ImageSource, WordVocab
from paperlab.papers.vqa.vqa_json import VQARecords

BASELINES = ("random", "prior_yes", "qtype_prior", "nearest_neighbor")


class Baseline:
    """fit on the training records, then predict one answer string per question."""

    name = ""

    def fit(self, train: VQARecords, images: ImageSource) -> Baseline:
        self.popular = Counter(train.multiple_choice_answer or [])
        return self

    def predict(self, records: VQARecords, images: ImageSource,
                choices: Sequence[Sequence[str]] | None = None) -> list[str]:
        raise NotImplementedError

    def _most_popular(self, options: Sequence[str], counts: Counter | None = None) -> str:
        """The option seen most often in training (by `counts` first, then overall)."""
        counts = counts or Counter()
        return max(options, key=lambda a: (counts[a], self.popular[a]))


class RandomAnswer(Baseline):
    name = "random"

    def __init__(self, top_k: int = 1000, seed: int = 0) -> None:
        self.top_k, self.seed = top_k, seed

    def predict(self, records, images, choices=None):
        rng = np.random.default_rng(self.seed)
        if choices is not None:
            return [c[int(rng.integers(len(c)))] for c in choices]
        top = [a for a, _ in self.popular.most_common(self.top_k)]
        return [top[i] for i in rng.integers(len(top), size=len(records))]


class PriorYes(Baseline):
    name = "prior_yes"

    def predict(self, records, images, choices=None):
        if choices is not None:
            return [self._most_popular(c) for c in choices]
        return [self.popular.most_common(1)[0][0]] * len(records)


class QuestionTypePrior(Baseline):
    name = "qtype_prior"

    def fit(self, train, images):
        super().fit(train, images)
        self.by_type: dict[str, Counter] = {}
        for t, a in zip(train.question_type or [], train.multiple_choice_answer or [], strict=True):
            self.by_type.setdefault(t, Counter())[a] += 1
        return self

    def predict(self, records, images, choices=None):
        types = records.question_type or [""] * len(records)
        if choices is not None:
            return [self._most_popular(c, self.by_type.get(t)) for t, c in zip(types, choices, strict=True)]
        best = {t: c.most_common(1)[0][0] for t, c in self.by_type.items()}
        fallback = self.popular.most_common(1)[0][0]
        return [best.get(t, fallback) for t in types]


def image_vectors(images: ImageSource, image_ids: np.ndarray, pool: int = 8, batch: int = 512) -> torch.Tensor:
    """One vector per image id: features averaged over regions, or pixels average-pooled to
    pool x pool (the stand-in for the paper's fc7 when there are no CNN features)."""
    out = []
    for start in range(0, len(image_ids), batch):
        x = images.load(image_ids[start : start + batch]).float()
        if images.kind == "pixels":
            x = F.adaptive_avg_pool2d(x, pool).flatten(1)
        elif x.dim() == 3:
            x = x.mean(1)
        out.append(x)
    return torch.cat(out)


class NearestNeighbor(Baseline):
    name = "nearest_neighbor"

    def __init__(self, k: int = 4, pool: int = 8, chunk: int = 1024, seed: int = 0) -> None:
        self.k, self.pool, self.chunk, self.seed = k, pool, chunk, seed

    def _bow(self, texts: Sequence[str]) -> torch.Tensor:
        """l2-normalised binary bags of words, (N, V) in sparse CSR form (VQA's vocabulary is large)."""
        crow, cols = [0], []
        for t in texts:
            words = sorted(set(self.vocab.encode(t)))
            cols += words
            crow.append(len(cols))
        crow_t = torch.tensor(crow, dtype=torch.long)
        counts = (crow_t[1:] - crow_t[:-1]).clamp_min(1).float()
        values = torch.repeat_interleave(counts.rsqrt(), crow_t[1:] - crow_t[:-1])
        with warnings.catch_warnings():  # torch calls sparse CSR "beta"; we use only matmul and to_dense
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(crow_t, torch.tensor(cols, dtype=torch.long), values,
                                           (len(texts), len(self.vocab)))

    def _images(self, images: ImageSource, ids: np.ndarray) -> torch.Tensor:
        uniq, inv = np.unique(ids, return_inverse=True)
        v = image_vectors(images, uniq, self.pool)
        if images.kind == "pixels":
            v = v - self.image_mean  # pixels share their background: compare the differences
        return F.normalize(v, dim=1)[torch.from_numpy(inv)]

    def fit(self, train, images):
        super().fit(train, images)
        self.train = train
        self.vocab = WordVocab.build(train.question or [])
        self.train_bow = self._bow(train.question or [])
        uniq = np.unique(train.image_id)
        self.image_mean = image_vectors(images, uniq, self.pool).mean(0) if images.kind == "pixels" else 0.0
        self.train_images = self._images(images, train.image_id)
        g = torch.Generator().manual_seed(self.seed)
        self.tie_break = torch.rand(len(train), generator=g) * 1e-6  # far below any real cosine gap
        return self

    def neighbours(self, records: VQARecords, images: ImageSource) -> tuple[torch.Tensor, torch.Tensor]:
        """For each question: the chosen training pair (index into the training records) and the
        k nearest training questions it was chosen from."""
        key = (id(records), len(records))
        if getattr(self, "_memo", (None,))[0] == key:  # open-ended then multiple choice: same neighbours
            return self._memo[1]
        texts = records.question or [""] * len(records)
        query_img = self._images(images, records.image_id)
        chosen, candidates = [], []
        for s in range(0, len(records), self.chunk):
            block = self._bow(texts[s : s + self.chunk]).to_dense()  # (B, V) @ (V, N) as (N, V) @ (V, B)
            sims = (self.train_bow @ block.T).T + self.tie_break
            top = sims.topk(self.k, dim=1).indices  # (B, k): the nearest training questions
            img_sim = (self.train_images[top] * query_img[s : s + self.chunk, None]).sum(-1)
            chosen.append(top.gather(1, img_sim.argmax(1, keepdim=True)).squeeze(1))
            candidates.append(top)
        self._memo = (key, (torch.cat(chosen), torch.cat(candidates)))
        return self._memo[1]

    def predict(self, records, images, choices=None):
        chosen, candidates = self.neighbours(records, images)
        answers = self.train.multiple_choice_answer or []
        if choices is None:
            return [answers[i] for i in chosen.tolist()]
        out = []
        for cand, c in zip(candidates.tolist(), choices, strict=True):
            votes = Counter(a for i in cand for a in self.train.human_answers(i))
            out.append(self._most_popular(c, votes))
        return out


def create_baseline(name: str, top_k: int = 1000, k: int = 4, pool: int = 8, chunk: int = 1024,
                    seed: int = 0) -> Baseline:
    from paperlab.errors import UserError

    makers = {"random": lambda: RandomAnswer(top_k, seed), "prior_yes": PriorYes, "qtype_prior": QuestionTypePrior,
              "nearest_neighbor": lambda: NearestNeighbor(k, pool, chunk, seed)}
    if name not in makers:
        raise UserError(f"unknown VQA baseline '{name}'", f"choose from: {', '.join(BASELINES)}")
    return makers[name]()
