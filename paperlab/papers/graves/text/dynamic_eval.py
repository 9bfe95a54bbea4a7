"""Dynamic evaluation: Graves 2013, "Generating Sequences With Recurrent Neural Networks",
Sec. 3.1-3.2 (after Mikolov et al. 2010): the network keeps training on the test data as it reads
it. Each segment of T symbols is scored first, with the weights as they are, and then the weights
take one SGD step on that segment's loss before the next segment is read; the LSTM state is
carried across segments. Every prediction is made before its symbol has been trained on, so the
result is a fair (sequential, "adaptive") code length.

The updates go to a copy of the model: the trained weights are never touched.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn

from paperlab.console import err_console
from paperlab.papers.graves.deep_lstm import detach_state


@dataclass
class DynamicEvalConfig:
    splits: list[str] = field(default_factory=lambda: ["val", "test"])  # splits to score (empty: none)
    # SGD learning rates of the updates; with several, each is scored on the validation split and
    # the best one is used for the others (empty: no dynamic evaluation)
    lrs: list[float] = field(default_factory=lambda: [0.01])
    momentum: float = 0.0


def dynamic_evaluation(model: nn.Module, ids: torch.Tensor, seq_len: int, lr: float, momentum: float = 0.0,
                       loss: str = "mean", label: str = "dynamic eval", progress: bool = True) -> tuple[dict[str, float], nn.Module]:
    """Score `ids` (1-D) as one stream with dynamic evaluation. Returns ({"loss_sum": nats,
    "count": predictions}, the adapted copy of the model); `model` itself is left unchanged. Each
    step minimises the segment's `loss`: "mean" per symbol, or "sum" over the segment (rnnlib's,
    the scale Graves's learning rates are for)."""
    adapted = copy.deepcopy(model).train()
    device = next(adapted.parameters()).device
    opt = torch.optim.SGD(adapted.parameters(), lr=lr, momentum=momentum)
    x, y = ids[:-1].view(1, -1).to(device), ids[1:].view(1, -1).to(device)
    n = x.shape[1]
    total, state = 0.0, None
    columns = (TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True, disable=not progress) as bar:
        task = bar.add_task(label, total=math.ceil(n / seq_len))
        for t in range(0, n, seq_len):
            logits, state = adapted(x[:, t : t + seq_len], state)
            nll = F.cross_entropy(logits.flatten(0, 1).float(), y[:, t : t + seq_len].flatten(), reduction="sum")
            total += nll.detach().item()  # scored before the update below sees these symbols
            opt.zero_grad(set_to_none=True)
            (nll if loss == "sum" else nll / logits.shape[1]).backward()
            opt.step()
            state = detach_state(state)
            bar.advance(task)
    return {"loss_sum": total, "count": float(n)}, adapted
