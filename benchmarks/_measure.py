"""Shared by the benchmarks (not a benchmark itself): run one side of a comparison in a fresh
process, so that its time and its peak memory are its own."""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from collections.abc import Callable
from typing import Any


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def _child(setup: Callable[..., Any], work: Callable[[Any], Any], args: tuple, queue: Any) -> None:
    import torch

    torch.set_num_threads(2)
    state = setup(*args)
    try:  # Linux: reset the peak resident set (VmHWM) to the current one, so setup's peak is forgotten
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before, peak = _status_kb("VmRSS"), lambda: _status_kb("VmHWM")
    except OSError:
        before, peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    result = work(state)
    seconds = time.perf_counter() - t
    queue.put((seconds, (peak() - before) / 1024, result))


def isolated(setup: Callable[..., Any], work: Callable[[Any], Any], *args: Any) -> tuple[float, float, Any]:
    """(seconds, extra peak resident memory in MB, result) of `work(setup(*args))` in a new process.

    The memory is the rise of the process's peak resident set over what setup left (the model,
    the inputs): what the work itself needed at its peak."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(setup, work, args, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out
