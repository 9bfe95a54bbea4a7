"""Shared by the benchmarks (not a benchmark itself): run one side of a comparison in a fresh
process, so that its time and its peak memory are its own.

On a machine shared with other jobs, wall-clock time swings with their load; the CPU time the
process itself used swings far less, so both are reported (ratios of each)."""

from __future__ import annotations

import multiprocessing as mp
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Measure:
    seconds: float  # wall clock
    cpu_seconds: float  # CPU time of the process (all its threads): what the work cost, whatever else runs
    peak_mb: float  # extra peak resident memory
    result: Any


def summary(runs: list[Measure]) -> tuple[float, float, float]:
    """Median wall time, median CPU time, largest peak memory of repeated runs."""
    return (statistics.median(m.seconds for m in runs), statistics.median(m.cpu_seconds for m in runs),
            max(m.peak_mb for m in runs))


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
    t, cpu = time.perf_counter(), time.process_time()
    result = work(state)
    queue.put(Measure(time.perf_counter() - t, time.process_time() - cpu, (peak() - before) / 1024, result))


def isolated(setup: Callable[..., Any], work: Callable[[Any], Any], *args: Any) -> Measure:
    """Time, CPU time, memory and result of `work(setup(*args))`, run in a new process.

    The memory is the rise of the process's peak resident set over what setup left (the model,
    the inputs): what the work itself needed at its peak."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(setup, work, args, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


HEADER = (f"{'captum s':>9} {'ours s':>8} {'speed-up':>8} | {'captum cpu s':>12} {'ours cpu s':>10} {'speed-up':>8} | "
          f"{'captum MB':>9} {'ours MB':>7} | {'max |diff|':>10}")


def row(theirs: list[Measure], ours: list[Measure], diff: float) -> str:
    """Wall time, CPU time (each with the speed-up), peak memory and the results' difference."""
    (t_c, c_c, m_c), (t_o, c_o, m_o) = summary(theirs), summary(ours)
    return (f"{t_c:9.1f} {t_o:8.2f} {t_c / t_o:7.1f}x | {c_c:12.1f} {c_o:10.2f} {c_c / c_o:7.1f}x | "
            f"{m_c:9.0f} {m_o:7.0f} | {diff:10.1e}")
