"""Thread settings for loops of many tiny tensor ops."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def single_threaded() -> Iterator[None]:
    """One intra-op thread for loops of many tiny tensor ops (the map, the weight transfer, ALE):
    there, thread hand-offs cost more than they save, ~10x on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
