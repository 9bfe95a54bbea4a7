"""Distributed helpers for PyTorch DDP: who am I (rank), who writes (rank 0), the process group,
the GPU of each rank, and the few collectives the trainer needs.

`torchrun` (or a SLURM job through paperlab.engine.cluster) sets RANK, WORLD_SIZE, LOCAL_RANK,
LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT: the ranks then join one process group and train
with DDP (a single-rank torchrun too, so that it exercises the same path). A plain run is rank 0 of
1 and every helper here is then a no-op, so the single-process path has no distributed overhead.

One process group serves both devices: NCCL for CUDA tensors (the gradients of a GPU model), gloo
for CPU tensors (a CPU model, and the small control messages: the run directory, the stop flag,
RNG states), so control traffic never needs a GPU.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from paperlab.errors import UserError

T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1  # ranks on this node (torchrun --nproc-per-node)
    launched: bool = False  # started by torchrun or as a SLURM job's task: a process group to join

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.launched or self.world_size > 1


def dist_info() -> DistInfo:
    return DistInfo(
        rank=int(os.environ.get("RANK", 0)),
        world_size=int(os.environ.get("WORLD_SIZE", 1)),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
        local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", 1)),
        launched="RANK" in os.environ and "MASTER_ADDR" in os.environ,
    )


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def init_distributed() -> DistInfo:
    """Join the process group of this run's ranks (rendezvous from the environment); no-op for a
    single process or when already joined."""
    info = dist_info()
    if info.enabled and not dist.is_initialized():
        gpus = torch.cuda.is_available() and dist.is_nccl_available()
        dist.init_process_group(backend="cpu:gloo,cuda:nccl" if gpus else "gloo")
    return info


def close_distributed() -> None:
    if _active():
        dist.destroy_process_group()


def _count(n: int, noun: str, plural: str = "s") -> str:
    return f"{n} {noun}{plural * (n != 1)}"


def rank_gpu(info: DistInfo) -> torch.device:
    """The GPU of this rank: cuda:LOCAL_RANK, or cuda:0 where each process sees a GPU of its own.

    Fails on every rank of the node alike (so none waits for the others) when the node starts
    more ranks than it has GPUs."""
    n, k = torch.cuda.device_count(), info.local_world_size
    if k > n and n != 1:
        raise UserError(
            f"--nproc-per-node={k} starts {_count(k, 'process', 'es')} on this node but it has {_count(n, 'CUDA GPU')}",
            f"start at most {n} (one process per GPU)" if n else "train on CPU with trainer.device=cpu (gloo)",
        )
    return torch.device("cuda", info.local_rank if n > 1 else 0)


def check_distinct_gpus(device: torch.device) -> None:
    """Two ranks on one GPU (more ranks than GPUs where each process sees one GPU, or a fixed
    trainer.device=cuda:K) would make NCCL fail with a cryptic error: say what is wrong instead."""
    if not (_active() and device.type == "cuda"):
        return
    me = (socket.gethostname(), str(torch.cuda.get_device_properties(device).uuid))
    ranks = gather_objects(me)
    if len(set(ranks)) < len(ranks):
        host = me[0]
        on_node = sum(r[0] == host for r in ranks)
        gpus = len({r for r in ranks if r[0] == host})
        raise UserError(
            f"--nproc-per-node={on_node} starts {_count(on_node, 'process', 'es')} on {host} but they share {_count(gpus, 'GPU')}",
            "start one process per GPU (and leave trainer.device=auto)",
        )


def all_reduce_sum(values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Sum each tensor over ranks (identity when not distributed)."""
    if not _active():
        return values
    keys = sorted(values)
    # on the CPU (gloo): the values may live on different devices (a loss on the GPU, a count on the CPU)
    flat = torch.stack([torch.as_tensor(values[k]).detach().double().cpu().reshape(()) for k in keys])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    return {k: flat[i] for i, k in enumerate(keys)}


def mean_over_ranks(values: dict[str, torch.Tensor]) -> dict[str, float]:
    """The mean of each scalar over ranks, as floats (the values themselves for one process)."""
    world = dist.get_world_size() if _active() else 1
    return {k: float(v) / world for k, v in all_reduce_sum(values).items()}


def max_over_ranks(value: int) -> int:
    """The largest `value` of any rank (e.g. a signal number, 0 where none arrived)."""
    if not _active():
        return value
    t = torch.tensor([value], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def gather_objects(obj: Any) -> list[Any]:
    """`obj` of every rank, in rank order (a list of one for a single process)."""
    if not _active():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def from_main(fn: Callable[[], T]) -> T:
    """Run `fn` on rank 0 only and hand its result to every rank. An error there is raised on
    every rank (a UserError as itself; any other error quietly ends the other ranks: rank 0
    shows its traceback)."""
    if not _active():
        return fn()
    box: list[Any] = [None]
    if dist.get_rank() == 0:
        try:
            box[0] = ("ok", fn())
        except Exception as err:
            box[0] = ("user_error" if isinstance(err, UserError) else "bug", str(err))
            dist.broadcast_object_list(box, src=0)
            raise
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "user_error":
        raise UserError(value)
    if kind == "bug":
        raise SystemExit(1)
    return value


def barrier() -> None:
    if _active():
        dist.barrier()
