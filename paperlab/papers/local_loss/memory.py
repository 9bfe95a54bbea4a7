"""Peak memory of one training step: the claim of Nøkland & Eidnes 2019 (Sec. 1 and 5) that
local learning need not keep every layer's activations for a global backward pass.

CUDA: torch.cuda.max_memory_allocated. CPU: torch.profiler with profile_memory=True records
every allocation and free of torch's CPU allocator as a "[memory]" event with a signed byte
count; sorted by time, the running sum of those counts is the memory the step holds at each
moment, and its maximum is the step's peak. Memory that mkldnn or BLAS take outside torch's
allocator is not seen on CPU.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.profiler import ProfilerActivity, profile

from paperlab.papers.local_loss.networks import LocalNet
from paperlab.papers.local_loss.training import train_step


@dataclass
class MemoryPeak:
    bytes: int  # peak extra memory of the step, above what was held before it
    source: str  # how it was measured


def _profiled_peak(run: Callable[[], object]) -> int:
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    events = sorted(
        (e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
        key=lambda e: e.start_ns(),
    )
    return max(itertools.accumulate((e.nbytes() for e in events), initial=0))


def step_peak_memory(
    net: LocalNet, batch: tuple[Tensor, Tensor], optimizers: dict[str, Optimizer]
) -> MemoryPeak:
    """Peak memory of one train_step above the memory held before it (the model, the
    optimiser state, the batch), so that local and global steps compare like for like.

    One step is run first and not measured: Adam allocates its state at its first step, which is
    not a cost of every step. Both steps update the model.
    """
    train_step(net, batch, optimizers)
    device = batch[0].device
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        train_step(net, batch, optimizers)
        torch.cuda.synchronize(device)
        return MemoryPeak(
            torch.cuda.max_memory_allocated(device) - before, "torch.cuda.max_memory_allocated"
        )
    peak = _profiled_peak(lambda: train_step(net, batch, optimizers))
    return MemoryPeak(peak, "torch.profiler profile_memory: max running sum of [memory] events")
