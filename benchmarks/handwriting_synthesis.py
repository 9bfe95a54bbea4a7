"""Training step of Graves's synthesis network vs plain `nn.LSTM` stacks, and sampling speed.

The synthesis network (Sec. 5) needs a step loop for layer 1 and the soft window only; layers
2..N run over the whole sequence at once. Its peers, with the same hidden size, layers, batch,
mixture-density output and loss, take the same full training step (forward, backward, RMSProp):

* "same layer sizes": one fused `nn.LSTM` per layer with exactly the synthesis network's weight
  shapes (layer 1 reads [x, c], layers n > 1 read [h, x, c], every layer feeds the output), where
  c, standing in for the window, is the line's mean one-hot character vector: the same arithmetic
  without the step loop. This ratio is the cost of the loop (target <= 2).
* "minimal": `nn.LSTM(3, H, num_layers=N)` reading the pen offsets only, top layer to the output
  (no skip connections, no text): the cheapest network of that depth and width.

The sides alternate in one process so that machine noise hits them alike. Sampling: pen points
per second writing one line (batch 1) and a 4-line page (batch 4).

    python benchmarks/handwriting_synthesis.py [--hidden 256] [--layers 3] [--batch 16] [--points 300] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from paperlab.models import create_model
from paperlab.papers.graves.handwriting.mixture_density import (
    MixtureDensity,
    MixtureDensityConfig,
    mixture_nll,
)
from paperlab.papers.graves.handwriting.sampling import HandwritingModel, synthesize
from paperlab.papers.graves.handwriting.strokes import DEFAULT_ALPHABET, Alphabet, OffsetStats


class SameSizes(nn.Module):
    """Fused nn.LSTM layers with the synthesis network's weight shapes, a fixed text vector for w_t."""

    def __init__(self, alphabet: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.alphabet = alphabet
        self.layers = nn.ModuleList(nn.LSTM(3 + alphabet + (hidden if n else 0), hidden, batch_first=True)
                                    for n in range(layers))
        self.mdn = MixtureDensity(MixtureDensityConfig(hidden * layers))

    def forward(self, x: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        c = nn.functional.one_hot(text, self.alphabet).float().mean(1, keepdim=True).expand(-1, x.shape[1], -1)
        skip, outs, h = torch.cat([x, c], -1), [], None
        for n, lstm in enumerate(self.layers):
            h = lstm(skip if n == 0 else torch.cat([h, skip], -1))[0]
            outs.append(h)
        return self.mdn(torch.cat(outs, -1))


class Minimal(nn.Module):
    """nn.LSTM(3 -> H, N layers) + the mixture density output layer."""

    def __init__(self, hidden: int, layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, hidden, layers, batch_first=True)
        self.mdn = MixtureDensity(MixtureDensityConfig(hidden))

    def forward(self, x: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return self.mdn(self.lstm(x)[0])


def step_time(net: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, text: torch.Tensor) -> float:
    """Seconds of one training step (on CUDA, waiting for the device before and after)."""
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    sync()
    t = time.perf_counter()
    out = net(x[:, :-1], text)
    y_hat = out if isinstance(out, torch.Tensor) else out.y_hat
    loss = mixture_nll(y_hat, x[:, 1:]).sum()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sync()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--points", type=int, default=300)
    parser.add_argument("--chars", type=int, default=26)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    alphabet = Alphabet(DEFAULT_ALPHABET)
    v = len(alphabet)
    nets = {"synthesis network": create_model("graves_synthesis", alphabet_size=v, hidden_size=args.hidden,
                                              num_layers=args.layers, window_initial_step=0.09),
            "nn.LSTM, same layer sizes": SameSizes(v, args.hidden, args.layers),
            "nn.LSTM(3, H, N), minimal": Minimal(args.hidden, args.layers)}
    x = torch.randn(args.batch, args.points + 1, 3)
    x[..., 2] = (torch.rand(args.batch, args.points + 1) < 0.1).float()
    text = torch.randint(0, v, (args.batch, args.chars))
    opts = {name: torch.optim.RMSprop(net.parameters(), lr=1e-4, alpha=0.95, momentum=0.9, eps=1e-4, centered=True)
            for name, net in nets.items()}
    times: dict[str, list[float]] = {name: [] for name in nets}
    for _ in range(args.repeats + 1):  # the first round warms up
        for name, net in nets.items():
            times[name].append(step_time(net, opts[name], x, text))
    med = {name: statistics.median(t[1:]) for name, t in times.items()}
    ours = med["synthesis network"]
    print(f"training step: {args.layers} x {args.hidden} LSTM, batch {args.batch}, {args.points} points, "
          f"{args.chars} characters, {torch.get_num_threads()} thread(s); median of {args.repeats}")
    for name, t in med.items():
        ratio = "" if name == "synthesis network" else f"   synthesis / this = {ours / t:.2f}"
        print(f"  {name:28s} {t:7.3f} s/step{ratio}")

    net = nets["synthesis network"].eval()
    model = HandwritingModel(net, alphabet, OffsetStats((0.0, 0.0), (1.0, 1.0)), [], "benchmark", 11.0, {}, Path("untrained"))
    with torch.no_grad():  # a window that never moves samples up to the cap: a known number of points
        net.window.linear.bias[2 * net.cfg.window_components :].fill_(-30.0)
    for texts in (["hello world"], ["the quick brown fox", "jumps over", "the lazy dog", "and runs"]):
        t = time.perf_counter()
        samples = synthesize(model, texts, bias=1.0, generator=torch.Generator().manual_seed(0), max_points_per_char=11)
        dt = time.perf_counter() - t
        n = sum(len(s.offsets) for s in samples)
        print(f"sampling {len(texts)} line(s): {n} points in {dt:.2f} s = {n / dt:,.0f} points/s")


if __name__ == "__main__":
    main()
