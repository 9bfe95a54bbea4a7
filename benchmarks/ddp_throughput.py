"""DDP training throughput under torchrun: paperlab's engine vs a bare hand-written DDP loop.

Same model (the default ZFNet), same data (Fashion-MNIST in memory), same global batch (128,
split over the ranks), same optimizer and filter renormalisation; each side is one `torchrun`
launch of N ranks, alternating the two so that machine noise hits both. Prints images/s (all
ranks together) and the ratio engine/bare (the engine should add no overhead: >= 0.9).

    python benchmarks/ddp_throughput.py                       # 2 ranks on CPU (gloo)
    python benchmarks/ddp_throughput.py --nproc 1 --device cuda   # one GPU: NCCL, CUDA, bf16 autocast
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from hydra import compose, initialize_config_dir

from paperlab.config import conf_dir, to_dataclass
from paperlab.engine.distributed import close_distributed, dist_info, from_main, init_distributed
from paperlab.engine.optim import build_optimizer
from paperlab.engine.seed import seed_everything
from paperlab.engine.trainer import Trainer, TrainerConfig
from paperlab.io.rundir import RunDir
from paperlab.learners import LEARNERS

GLOBAL_BATCH = 128


def config(steps: int, batch: int, device: str):
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return compose("train", [f"trainer.limit_train_batches={steps}", "trainer.max_epochs=1",
                                 f"trainer.batch_size={batch}", f"trainer.device={device}",
                                 "trainer.limit_eval_batches=1", "trainer.snapshot_epochs=[]", "trainer.progress=false"])


def bare_loop(cfg, steps: int) -> float:
    """The DDP loop a person would write by hand: shard a permutation by rank, slice a batch,
    forward (bf16 autocast on CUDA), backward (DDP averages gradients), step."""
    info = dist_info()
    cuda = cfg.trainer.device == "cuda"
    device = torch.device("cuda", info.local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if cuda else "gloo")
    seed_everything(0)
    learner = LEARNERS.get("classifier")(cfg)
    model = learner.model.to(device)
    ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if cuda else None)
    opt = build_optimizer(cfg.optim, model.parameters())
    data = learner.datasets()["train"]
    data.set_epoch(0)
    shard = torch.randperm(len(data))[info.rank :: info.world_size].tolist()
    b = cfg.trainer.batch_size
    ddp.train()
    t = time.perf_counter()
    for i in range(steps):
        x, y = data.__getitems__(shard[i * b : (i + 1) * b])
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            loss = F.cross_entropy(ddp(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        model.renormalize_filters()
    if cuda:
        torch.cuda.synchronize()
    rate = steps * b * info.world_size / (time.perf_counter() - t)
    dist.destroy_process_group()
    return rate


def engine(cfg, steps: int) -> float:
    info = init_distributed()
    seed_everything(info.rank)  # as `paperlab train`: seed + rank
    learner = LEARNERS.get("classifier")(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        path = from_main(lambda: tmp)  # rank 0's directory for every rank, as `paperlab train` does
        run = RunDir.start(Path(path), task="train", name="bench", writer=info.is_main)
        trainer = Trainer(to_dataclass(TrainerConfig, cfg.trainer, "trainer"), run, 0, cfg.optim, None, cfg)
        t = time.perf_counter()
        trainer.fit(learner)  # everything counted: loaders, logging, checkpoints, evaluation
        rate = steps * cfg.trainer.batch_size * info.world_size / (time.perf_counter() - t)
    close_distributed()
    return rate


def worker(args: argparse.Namespace) -> None:
    """One rank of a torchrun launch: run one side and print its rate (rank 0)."""
    info = dist_info()
    cfg = config(args.steps, GLOBAL_BATCH // info.world_size, args.device)
    rate = (bare_loop if args.worker == "bare" else engine)(cfg, args.steps)
    if info.is_main:
        print(json.dumps({"rate": rate}))


def launch(side: str, args: argparse.Namespace) -> float:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={args.nproc}",
           __file__, "--worker", side, "--steps", str(args.steps), "--device", args.device]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"the {side} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["rate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, default=2, help="ranks (torchrun --nproc-per-node)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--worker", choices=("bare", "engine"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    bare, ours = [], []
    for _ in range(args.repeats):
        bare.append(launch("bare", args))
        ours.append(launch("engine", args))
    b, o = statistics.median(bare), statistics.median(ours)
    backend = "NCCL, bf16 autocast" if args.device == "cuda" else "gloo, fp32"
    print(f"ZFNet (default) on Fashion-MNIST, DDP: {args.nproc} rank(s) on {args.device} ({backend}), "
          f"global batch {GLOBAL_BATCH}, {args.steps} steps x {args.repeats}")
    print(f"  bare PyTorch DDP loop : {b:8.0f} images/s")
    print(f"  paperlab engine       : {o:8.0f} images/s")
    print(f"  ratio engine/bare     : {o / b:8.3f}   (target >= 0.9)")


if __name__ == "__main__":
    main()
