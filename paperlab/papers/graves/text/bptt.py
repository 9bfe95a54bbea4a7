"""A symbol stream laid out for truncated backpropagation through time (Graves 2013 Sec. 3.2:
sequences of 100 bytes presented in order, the network state carried from one to the next).

Training: the stream is cut into S parallel streams (S = batch size x processes), each read
front to back in consecutive segments of T symbols. Item i is (stream i % S, segment i // S), so
the trainer's in-order batches (`Learner.shuffle_train = False`: batch k = items kS..kS+S-1) hold
segment k of every stream, and the state left by batch k is the right state to start batch k+1.

Evaluation: every symbol after the first is predicted exactly once. The stream is cut into
`streams` pieces (1: the whole split as one sequence, as the paper scores it), padded to a common
length with a mask; the learner reads each piece in order, carrying the state.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


class SegmentStreams(Dataset):
    """Items (inputs (T,), targets (T,), segment index) of S parallel streams, in BPTT order."""

    def __init__(self, ids: torch.Tensor, streams: int, seq_len: int) -> None:
        per_stream = (len(ids) - 1) // streams
        self.segments = per_stream // seq_len
        if self.segments < 1:
            raise ValueError(f"{len(ids)} symbols cannot fill {streams} streams of one {seq_len}-symbol segment")
        n = streams * per_stream
        self.x = ids[:n].view(streams, per_stream)
        self.y = ids[1 : n + 1].view(streams, per_stream)
        self.streams, self.seq_len = streams, seq_len

    def __len__(self) -> int:
        return self.streams * self.segments

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        s, k = i % self.streams, i // self.streams
        cut = slice(k * self.seq_len, (k + 1) * self.seq_len)
        return self.x[s, cut], self.y[s, cut], k


class EvalStreams(Dataset):
    """Items (inputs (L,), targets (L,), mask (L,)): `streams` pieces covering all predictions."""

    def __init__(self, ids: torch.Tensor, streams: int = 1) -> None:
        n = len(ids) - 1  # predictions: ids[1:] from ids[:-1]
        streams = max(1, min(streams, n))
        bounds = [n * s // streams for s in range(streams + 1)]
        width = max(b - a for a, b in zip(bounds, bounds[1:], strict=False))
        self.x = torch.zeros(streams, width, dtype=torch.long)
        self.y = torch.zeros(streams, width, dtype=torch.long)
        self.mask = torch.zeros(streams, width, dtype=torch.bool)
        for s, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
            self.x[s, : b - a] = ids[a:b]
            self.y[s, : b - a] = ids[a + 1 : b + 1]
            self.mask[s, : b - a] = True

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i], self.mask[i]
