"""Training and evaluating a LocalNet under a rule (Nøkland & Eidnes 2019, Sec. 3-4; reference
code anokland/local-loss, train.py, `train` and `test`, lines 1499-1617).

Under a local rule each hidden block has its own Adam optimiser. In one step, block k runs
forward, computes its local loss, backpropagates it through itself only, steps, and hands its
*detached* output to block k+1; so no block's activations wait for a global backward pass (the
memory saving of local learning) and no gradient crosses a block. The output layer, the only
layer trained by the usual cross-entropy, has an optimiser of its own. Under `backprop` one
optimiser and one global backward pass train the same network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer

from paperlab.errors import UserError
from paperlab.papers.local_loss.blocks import Block
from paperlab.papers.local_loss.local_losses import LocalLossOutput
from paperlab.papers.local_loss.networks import LocalNet


def build_optimizers(
    net: LocalNet, make: Callable[[Iterable[nn.Parameter]], Optimizer]
) -> dict[str, Optimizer]:
    """The optimisers of `net`'s rule, each made by `make(params)` (the engine's `build`: Adam with
    optim.*; train.py:517, 727, 1491): one per block ("block0", ...; it also covers the block's
    local heads) and one for the output layer ("output") under a local rule; one over everything
    ("global") under backprop."""
    if not net.rule.local:
        return {"global": make(net.parameters())}
    optimizers = {f"block{i}": make(block.parameters()) for i, block in enumerate(net.blocks)}
    optimizers["output"] = make(net.output.parameters())
    return optimizers


def _error(scores: Tensor, y: Tensor) -> Tensor:
    return (scores.argmax(1) != y).float().mean() * 100


def _local_update(
    block: Block, x: Tensor, y: Tensor, opt: Optimizer
) -> tuple[Tensor, LocalLossOutput]:
    """One block's forward, local backward and step; returns the output for the next block,
    cut from this block's graph.

    A function of its own so that the block's activations are freed on return."""
    h = block(x)
    local = block.local_loss(h, y)
    # What the next block gets is made before the backward pass, from the detached h (no graph:
    # no gradient can cross), so that h itself is held only as long as the backward pass needs
    # it (under pred and the bpf rules not at all: the block's lean ops keep a mask and the
    # pooled h, lean_ops.py); after a max-pool the output is a quarter of h's size. h is the
    # activation from before the step, as in the reference (train.py:626-640).
    out = block.pass_on(h.detach())
    del h
    opt.zero_grad(set_to_none=True)
    local.loss.backward()
    opt.step()
    # Free the gradients at once: no one reads them again before this block's next step, and
    # the next block's peak memory should not carry them.
    opt.zero_grad(set_to_none=True)
    return out, local


def _block_stats(i: int, local: LocalLossOutput, y: Tensor) -> dict[str, Tensor]:
    # clone: a loss scalar can be a view into its reduction's B x B buffer (mse_loss on CPU),
    # which a detached view would keep alive for as long as the stats are
    stats = {f"block{i}/loss": local.loss.detach().clone()}
    for name in ("pred", "sim"):
        value = getattr(local, name)
        if value is not None:
            stats[f"block{i}/{name}"] = value.detach().clone()
    if local.scores is not None:
        stats[f"block{i}/error"] = _error(local.scores.detach(), y)
    return stats


def train_step(
    net: LocalNet, batch: tuple[Tensor, Tensor], optimizers: dict[str, Optimizer]
) -> dict[str, Tensor]:
    """One training step on `batch` = (images, labels) with the optimisers of build_optimizers.

    Returns 0-dim tensors (no device sync): "loss" (its cross-entropy, before the predsim
    rules' (1 - beta) scaling) and "error" (%) of the output layer, and
    under a local rule "block{i}/loss", "/pred", "/sim" (unweighted) and "/error" (% wrong of
    the block's local decoder) for each hidden block.
    """
    x, y = batch
    net.check_batch(x, y)
    if x.shape[0] < 2:
        raise UserError(
            "a training batch of 1 image",
            "use batches of at least 2: BatchNorm and the similarity matrix need several images",
        )
    blocks = {f"block{i}" for i in range(len(net.blocks))}
    expected = (blocks | {"output"}) if net.rule.local else {"global"}
    if set(optimizers) != expected:
        raise UserError(
            f"optimisers {sorted(optimizers)} do not fit rule '{net.rule.name}'",
            "build them with build_optimizers(net, make) for this network",
        )
    net.train()
    if not net.rule.local:
        logits = net(x)
        loss = F.cross_entropy(logits, y)
        optimizers["global"].zero_grad(set_to_none=True)
        loss.backward()
        optimizers["global"].step()
        return {"loss": loss.detach(), "error": _error(logits.detach(), y)}

    stats: dict[str, Tensor] = {}
    for i, block in enumerate(net.blocks):
        x, local = _local_update(block, x, y, optimizers[f"block{i}"])
        stats |= _block_stats(i, local, y)
    logits = net.output(x.flatten(1))
    loss = F.cross_entropy(logits, y)
    optimizers["output"].zero_grad(set_to_none=True)
    (net.rule.output_scale * loss).backward()
    optimizers["output"].step()
    return stats | {"loss": loss.detach(), "error": _error(logits.detach(), y)}


@torch.no_grad()
def eval_sums(net: LocalNet, batch: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
    """Sums over one evaluation batch (add them up over batches, then `summarize`): the output's
    cross-entropy and mistakes, and each block's local losses and local mistakes."""
    x, y = batch
    net.check_batch(x, y)
    net.eval()
    n = torch.tensor(float(len(y)), device=y.device)
    blocks: dict[str, Tensor] = {}
    for i, block in enumerate(net.blocks):
        h = block(x)
        if block.local_loss is not None:
            for key, value in _block_stats(i, block.local_loss(h, y), y).items():
                blocks[f"{key}_sum"] = value * n
        x = block.pass_on(h)
    logits = net.output(x.flatten(1))
    # the output's error first: tables of runs show the first metrics
    return {
        "count": n,
        "error_sum": _error(logits, y) * n,
        "loss_sum": F.cross_entropy(logits, y, reduction="sum"),
        **blocks,
    }


def summarize(sums: dict[str, float]) -> dict[str, float]:
    """Totals of eval_sums -> means: "error" (% test error), "loss", "block{i}/loss", ... .

    Batch-level quantities (the similarity losses) are averaged over batches by their size, as
    the reference does."""
    n = max(sums["count"], 1.0)
    return {
        key.removesuffix("_sum"): value / n for key, value in sums.items() if key.endswith("_sum")
    }

