"""Legibility of generated handwriting, read back by a recogniser (Graves 2013, Sec. 5: the
synthesis network should write the given text: every word present, in order).

A recogniser trained on real lines (paperlab/papers/graves/handwriting/recognizer.py) reads each sample;
the reading is compared with the text it was asked to write:

* cer: character edit distance / characters of the texts (Levenshtein, rapidfuzz);
* wer: word edit distance / words of the texts;
* words_in_order: words of the texts found, in order, in the readings (longest common
  subsequence of words) / words of the texts;
* lines_exact: share of lines read exactly as asked;
* lines_all_words: share of lines in which every word of the text is read with at most one letter
  wrong, and fewer than half its letters (a dropped "a" is a missing word), in an alignment of the
  two strings without their spaces (two words run together still count): "every word present, in
  order", as far as a reader that misreads a letter of some real lines can tell.

The recogniser is a proxy for a human reader: its own error rate on real held-out lines is the
floor (reported beside the samples' rates by `paperlab legibility`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rapidfuzz.distance import LCSseq, Levenshtein
from torch import nn

from paperlab.engine.restore import LoadedModel
from paperlab.papers.graves.handwriting.recognizer import greedy_decode
from paperlab.papers.graves.handwriting.strokes import Alphabet, OffsetStats, StrokeDataset


def edit_distance(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Levenshtein distance between two sequences (of characters, words or ids)."""
    return int(Levenshtein.distance(a, b))


def legibility_scores(asked: Sequence[str], read: Sequence[str]) -> dict[str, float]:
    """cer, wer, words_in_order, lines_exact and lines_all_words of readings `read` of the texts `asked`."""
    chars = sum(len(t) for t in asked)
    words = [t.split() for t in asked]
    read_words = [r.split() for r in read]
    n_words = sum(len(w) for w in words)
    pairs = list(zip(asked, read, strict=True))
    return {
        "cer": sum(edit_distance(t, r) for t, r in pairs) / max(chars, 1),
        "wer": sum(edit_distance(w, r) for w, r in zip(words, read_words, strict=True)) / max(n_words, 1),
        "words_in_order": sum(int(LCSseq.similarity(w, r)) for w, r in zip(words, read_words, strict=True))
        / max(n_words, 1),
        "lines_exact": float(np.mean([t == r for t, r in pairs])) if pairs else 0.0,
        "lines_all_words": float(np.mean([all_words_read(t, r) for t, r in pairs])) if pairs else 0.0,
    }


def all_words_read(asked: str, read: str, slips: int = 1) -> bool:
    """Whether every word of `asked` is in `read` with at most `slips` edits and fewer than half
    its letters wrong, spaces ignored."""
    words = asked.split()
    text = "".join(words)
    if not text:
        return True
    word_of = [k for k, w in enumerate(words) for _ in w]  # the word each letter belongs to
    edits = [0] * len(words)
    for op in Levenshtein.editops(text, read.replace(" ", "")):
        edits[word_of[min(op.src_pos, len(text) - 1)]] += 1  # an insertion past the end: the last word's
    return all(e <= slips and 2 * e < len(w) for e, w in zip(edits, words, strict=True))


@dataclass
class Reader:
    """A trained recogniser with its alphabet and the offset statistics of its training data."""

    net: nn.Module
    alphabet: Alphabet
    stats: OffsetStats
    path: Path  # the checkpoint

    @classmethod
    def of(cls, loaded: LoadedModel) -> Reader:
        """The reader's view of a trained recogniser (load_model(..., "handwriting_recognition"))."""
        x = loaded.extras
        return cls(loaded.model, Alphabet(x.alphabet), OffsetStats.from_dict(x.stats), loaded.path)

    @torch.no_grad()
    def read(self, lines: Sequence[np.ndarray], batch_size: int = 64) -> list[str]:
        """The text of each line of pen offsets (T, 3) in data units (as the samplers return them)."""
        out: list[str] = []
        for start in range(0, len(lines), batch_size):
            items = []
            for offsets in lines[start : start + batch_size]:
                x = self.stats.normalise(torch.as_tensor(np.asarray(offsets, np.float32)))
                x[0] = 0.0  # as in training: the line starts from an empty pen position
                items.append({"strokes": x, "text": torch.zeros(0, dtype=torch.long)})
            batch = StrokeDataset.collate_fn(items)
            log_probs, frames = self.net(batch["strokes"], batch["stroke_mask"].sum(1))
            out += [self.alphabet.decode(ids) for ids in greedy_decode(log_probs, frames)]
        return out
