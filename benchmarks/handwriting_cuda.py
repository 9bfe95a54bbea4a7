"""Training step of Graves's synthesis network on a CUDA GPU at the paper's size (Sec. 5.2: 3 x 400
LSTM, K = 10 window components, M = 20 mixture components; batch 64, 700 pen points, 40
characters): layer 1 + window's step loops eager and as CUDA graphs (model.cuda_graphs=true,
paperlab/papers/graves/handwriting/step_graphs.py), against cuDNN `nn.LSTM` stacks of the same
sizes (benchmarks/handwriting_synthesis.py's peers: "same layer sizes" and "minimal"). Target:
the graphed step at most 2x the same-sizes cuDNN stack. fp32 (the experiments' precision).

Needs CUDA; prints why and exits without it.

    python benchmarks/handwriting_cuda.py [--batch 64] [--points 700] [--chars 40] [--repeats 10]
"""

from __future__ import annotations

import argparse
import statistics

import torch
from handwriting_synthesis import (  # the CPU benchmark's, beside this file
    Minimal,
    SameSizes,
    step_time,
)

from paperlab.models import create_model
from paperlab.papers.graves.handwriting.strokes import DEFAULT_ALPHABET, Alphabet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--points", type=int, default=700)
    parser.add_argument("--chars", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("handwriting synthesis on CUDA: skipped, no CUDA device")
        return
    torch.manual_seed(0)
    v = len(Alphabet(DEFAULT_ALPHABET))
    nets = {
        "synthesis, eager step loop": create_model("graves_synthesis", alphabet_size=v, window_initial_step=0.06),
        "synthesis, CUDA graphs": create_model("graves_synthesis", alphabet_size=v, window_initial_step=0.06,
                                               cuda_graphs=True),
        "nn.LSTM (cuDNN), same layer sizes": SameSizes(v, 400, 3),
        "nn.LSTM(3, 400, 3) (cuDNN), minimal": Minimal(400, 3),
    }
    nets = {name: net.cuda() for name, net in nets.items()}
    x = torch.randn(args.batch, args.points + 1, 3, device="cuda")
    x[..., 2] = (torch.rand(args.batch, args.points + 1, device="cuda") < 0.05).float()
    text = torch.randint(0, v, (args.batch, args.chars), device="cuda")
    opts = {name: torch.optim.RMSprop(net.parameters(), lr=1e-4, alpha=0.95, momentum=0.9, eps=1e-4, centered=True)
            for name, net in nets.items()}
    times: dict[str, list[float]] = {name: [] for name in nets}
    for _ in range(args.repeats + 2):  # the first two rounds warm up (and capture the graphs)
        for name, net in nets.items():
            times[name].append(step_time(net, opts[name], x, text))
    med = {name: statistics.median(t[2:]) for name, t in times.items()}
    peer = med["nn.LSTM (cuDNN), same layer sizes"]
    print(f"training step on {torch.cuda.get_device_name()}: 3 x 400 LSTM, batch {args.batch}, {args.points} points, "
          f"{args.chars} characters, fp32; median of {args.repeats}")
    for name, t in med.items():
        print(f"  {name:38s} {t * 1e3:8.1f} ms/step   {t / peer:5.2f}x the same-sizes cuDNN stack")


if __name__ == "__main__":
    main()
