"""Distributed helpers: who am I (rank), who writes (rank 0), and reductions across ranks.

With `torchrun`, RANK/WORLD_SIZE/LOCAL_RANK are set; a plain run is rank 0 of 1 and every helper
here is then a no-op, so the single-process path has no distributed overhead."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def dist_info() -> DistInfo:
    return DistInfo(
        rank=int(os.environ.get("RANK", 0)),
        world_size=int(os.environ.get("WORLD_SIZE", 1)),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group torchrun set up (NCCL on GPUs, gloo on CPU)."""
    info = dist_info()
    if info.enabled and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return info


def all_reduce_sum(values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Sum each tensor over ranks (identity when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return values
    keys = sorted(values)
    flat = torch.stack([values[k].detach().double().reshape(()) for k in keys])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    return {k: flat[i] for i, k in enumerate(keys)}


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
