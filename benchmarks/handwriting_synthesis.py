"""Training step of Graves's synthesis network vs a plain `nn.LSTM` stack, and sampling speed.

The synthesis network (Sec. 5) needs a step loop for layer 1 and the soft window only; layers
2..N run over the whole sequence at once. The peer is torch's fused `nn.LSTM` with the same
layers, hidden size and batch, reading the pen offsets, with the same mixture-density output and
loss; both take a full training step (forward, backward, RMSProp). The two sides alternate in one
process so that machine noise hits both. Target: ratio synthesis / plain <= 2.

Sampling: pen points per second when writing one line (batch 1), and a 4-line page (batch 4).

    python benchmarks/handwriting_synthesis.py [--hidden 192] [--layers 3] [--batch 16] [--points 300] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from paperlab.data.strokes import DEFAULT_ALPHABET, Alphabet, OffsetStats
from paperlab.models import create_model
from paperlab.models.handwriting_sampling import HandwritingModel, synthesize
from paperlab.models.mixture_density import MixtureDensity, MixtureDensityConfig, mixture_nll


class PlainStack(nn.Module):
    """nn.LSTM(3 -> H, N layers) + the same mixture density output layer."""

    def __init__(self, hidden: int, layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, hidden, layers, batch_first=True)
        self.mdn = MixtureDensity(MixtureDensityConfig(hidden))

    def forward(self, x: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return self.mdn(self.lstm(x)[0])


def step_time(net: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, text: torch.Tensor) -> float:
    t = time.perf_counter()
    out = net(x[:, :-1], text)
    y_hat = out if isinstance(out, torch.Tensor) else out.y_hat
    loss = mixture_nll(y_hat, x[:, 1:]).sum()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, default=192)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--points", type=int, default=300)
    parser.add_argument("--chars", type=int, default=26)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    alphabet = Alphabet(DEFAULT_ALPHABET)
    ours = create_model("graves_synthesis", alphabet_size=len(alphabet), hidden_size=args.hidden,
                        num_layers=args.layers, window_initial_step=0.09)
    plain = PlainStack(args.hidden, args.layers)
    x = torch.randn(args.batch, args.points + 1, 3)
    x[..., 2] = (torch.rand(args.batch, args.points + 1) < 0.1).float()
    text = torch.randint(0, len(alphabet), (args.batch, args.chars))
    opts = {name: torch.optim.RMSprop(net.parameters(), lr=1e-4, alpha=0.95, momentum=0.9, eps=1e-4, centered=True)
            for name, net in (("ours", ours), ("plain", plain))}
    times: dict[str, list[float]] = {"ours": [], "plain": []}
    step_time(ours, opts["ours"], x, text)  # warm-up
    step_time(plain, opts["plain"], x, text)
    for _ in range(args.repeats):
        times["ours"].append(step_time(ours, opts["ours"], x, text))
        times["plain"].append(step_time(plain, opts["plain"], x, text))
    ours_t, plain_t = statistics.median(times["ours"]), statistics.median(times["plain"])
    print(f"training step, {args.layers} x {args.hidden} LSTM, batch {args.batch}, {args.points} points, "
          f"{args.chars} characters, {torch.get_num_threads()} threads")
    print(f"  plain nn.LSTM stack + MDN : {plain_t:7.3f} s/step")
    print(f"  synthesis network          : {ours_t:7.3f} s/step")
    print(f"  ratio synthesis / plain    : {ours_t / plain_t:7.2f}  (target <= 2)")

    model = HandwritingModel(ours.eval(), alphabet, OffsetStats((0.0, 0.0), (1.0, 1.0)), [], "benchmark", 11.0)
    for texts in (["hello world"], ["the quick brown fox", "jumps over", "the lazy dog", "and runs"]):
        t = time.perf_counter()
        # a window that never moves samples the whole cap: a fixed number of points to time
        with torch.no_grad():
            ours.window.linear.bias[2 * ours.cfg.window_components :].fill_(-30.0)
        samples = synthesize(model, texts, bias=1.0, generator=torch.Generator().manual_seed(0), max_points_per_char=11)
        dt = time.perf_counter() - t
        n = sum(len(s.offsets) for s in samples)
        print(f"sampling {len(texts)} line(s): {n} points in {dt:.2f} s = {n / dt:,.0f} points/s")


if __name__ == "__main__":
    main()
