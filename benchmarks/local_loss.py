"""Local (pred, predsim, predsim-bpf) vs global (backprop) training of the same network: peak step memory and step time.

Nøkland & Eidnes 2019 train each block on its own error, so a step need not keep every block's
activations for a global backward pass. Same network (an experiment config's model, default the
paper's vgg8b on Fashion-MNIST: 1 x 28 x 28), same random batch of 128, same Adam; CUDA when
available, else CPU. Prints each rule's peak extra memory of one step (paperlab.papers.local_loss.memory:
CUDA torch.cuda.max_memory_allocated; CPU the peak of the running sum of torch.profiler's
profile_memory allocation events, which does not see what oneDNN/BLAS allocate outside torch's
allocator) and its median step time (wall clock, and this process's CPU time: on a shared
machine the wall clock swings with the other jobs), and its arithmetic (the floating-point
operations of one step that torch.utils.flop_counter counts: convolutions and matrix products,
forward and backward), then each local rule's ratios to backprop. The goal: memory <= 0.5x at
time <= 1x; a rule whose arithmetic is above 1x cannot take less time on a compute-bound
device. About 2 minutes on 2 quiet CPU cores.

    python benchmarks/local_loss.py [--steps 2] [--batch 128] [--experiment localloss_vgg8b_predsim_fashion_mnist]
                                    [--local-rules pred predsim predsim-bpf] [--channels-last] [--no-lean]

Local steps run with the memory-lean ops (model.lean=true, lean_ops.py) unless --no-lean.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from omegaconf import OmegaConf
from torch.utils.flop_counter import FlopCounterMode

from paperlab.launch import composed
from paperlab.models import create_model
from paperlab.papers.local_loss.memory import step_peak_memory
from paperlab.papers.local_loss.training import build_optimizers, train_step

# (channels, size, classes) of each dataset the experiments name
SHAPES = {"mnist": (1, 28, 10), "fashion_mnist": (1, 28, 10), "kmnist": (1, 28, 10), "cifar10": (3, 32, 10),
          "cifar100": (3, 32, 100), "svhn": (3, 32, 10), "stl10": (3, 96, 10)}


def measure(rule: str, model_kw: dict, shape: tuple[int, int, int], lr: float, args: argparse.Namespace,
            batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float, int, str, int]:
    """(median wall s, median CPU s, peak bytes, how measured, flops) of `rule`'s training steps on `batch`."""
    torch.manual_seed(0)
    device = batch[0].device
    channels, size, classes = shape
    net = create_model("local_net", **model_kw, rule=rule, in_channels=channels, image_size=size,
                       num_classes=classes).to(device)
    if args.channels_last:
        net = net.to(memory_format=torch.channels_last)
    optimizers = build_optimizers(net, lambda params: torch.optim.Adam(params, lr=lr))
    peak = step_peak_memory(net, batch, optimizers)  # its first step is the warm-up
    walls, cpus = [], []
    for _ in range(args.steps):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        wall, cpu = time.perf_counter(), time.process_time()
        float(train_step(net, batch, optimizers)["loss"])  # float(): waits for CUDA
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    with FlopCounterMode(display=False) as flops:
        train_step(net, batch, optimizers)
    return statistics.median(walls), statistics.median(cpus), peak.bytes, peak.source, flops.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2, help="timed steps per rule (after the measured one)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--experiment", default="localloss_vgg8b_predsim_fashion_mnist",
                        help="the recipe whose network is measured (conf/experiment/localloss_*.yaml)")
    parser.add_argument("--local-rules", nargs="+", default=["pred", "predsim", "predsim-bpf"],
                        help="the local rules set against backprop")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--no-lean", action="store_true",
                        help="local steps through torch's own ops (model.lean=false, what training runs use by default)")
    args = parser.parse_args()
    with composed("train", [f"experiment={args.experiment}"]) as cfg:
        model_kw = OmegaConf.to_container(cfg.model, resolve=True)
        dataset, lr = str(cfg.data.name), float(cfg.optim.lr)
    model_kw.pop("name")
    model_kw["lean"] = not args.no_lean
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    channels, size, classes = shape = SHAPES[dataset]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, channels, size, size, generator=gen)
    if args.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    batch = (x.to(device), torch.randint(0, classes, (args.batch,), generator=gen).to(device))
    layout = ", channels_last" if args.channels_last else ""
    print(f"{model_kw['arch']} x{model_kw['feat_mult']:g} ({args.experiment}), batch {args.batch} x {channels} x "
          f"{size} x {size}, {device.type}{layout}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"model.lean={str(model_kw['lean']).lower()}")
    results = {rule: measure(rule, model_kw, shape, lr, args, batch) for rule in ("backprop", *args.local_rules)}
    for rule, (wall, cpu, peak, _, flops) in results.items():
        print(f"{rule:>12}: peak step memory {peak / 2**20:8.1f} MiB   {wall:7.3f} s/step wall  {cpu:7.3f} s/step CPU"
              f"  {flops / 1e9:7.1f} GFLOP/step")
    w_g, c_g, m_g, source, f_g = results["backprop"]
    print(f"memory measured by {source}")
    for rule in args.local_rules:
        w_l, c_l, m_l, _, f_l = results[rule]
        print(f"local/global ({rule}/backprop): peak memory {m_l / m_g:.3f}x   time {w_l / w_g:.2f}x wall, "
              f"{c_l / c_g:.2f}x CPU   arithmetic {f_l / f_g:.2f}x   (goal: memory <= 0.5x at time <= 1x)")


if __name__ == "__main__":
    main()
