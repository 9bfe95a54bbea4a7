"""The training step: local rules keep every gradient inside its block, every rule learns, and a
resumed run continues bit for bit."""

import pytest
import torch
import torch.nn.functional as F

from paperlab.papers.local_loss.networks import LocalNet, NetConfig
from paperlab.papers.local_loss.rules import RULES
from paperlab.papers.local_loss.training import build_optimizers, eval_sums, summarize, train_step

LOCAL_RULES = [name for name, rule in RULES.items() if rule.local]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors (tests/conftest.py)


def adam(lr: float = 5e-4):
    return lambda params: torch.optim.Adam(params, lr=lr)


def evaluate(net, batches) -> dict[str, float]:
    """summarize of the summed eval_sums, as the engine adds them up over batches."""
    totals: dict[str, float] = {}
    for batch in batches:
        for key, value in eval_sums(net, batch).items():
            totals[key] = totals.get(key, 0.0) + float(value)
    return summarize(totals)


def tiny_net(rule: str, arch: str = "vgg8b", **kw) -> LocalNet:
    # vgg8b at 1/16 width on 16 px: blocks of 8, 16, 16, 32, 32, 32 channels and 32 hidden units
    return LocalNet(
        NetConfig(
            arch=arch,
            rule=rule,
            image_size=16,
            num_classes=4,
            feat_mult=1 / 16,
            num_hidden=32,
            dim_in_decoder=64,
            target_proj_size=16,
            **kw,
        )
    )


def toy_batch(n: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Four classes, each a fixed random pattern plus noise."""
    gen = torch.Generator().manual_seed(seed)
    templates = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(99))
    y = torch.arange(n) % 4
    return templates[y] + 0.5 * torch.randn(n, 1, 16, 16, generator=gen), y


@pytest.mark.parametrize("rule", LOCAL_RULES)
def test_no_gradient_crosses_a_block(rule):
    torch.manual_seed(0)
    net = tiny_net(rule, dropout=0.1)
    optimizers = build_optimizers(net, adam())
    owners = {name: list(opt.param_groups[0]["params"]) for name, opt in optimizers.items()}
    seen = []

    def check(name):
        def hook(opt, args, kwargs):
            # when an optimiser steps, only its own parameters may hold gradients
            others = [p for other, params in owners.items() if other != name for p in params]
            assert all(p.grad is None for p in others), (
                f"a gradient reached another block at {name}"
            )
            assert any(p.grad is not None for p in owners[name]), f"{name} got no gradient"
            seen.append(name)

        return hook

    for name, opt in optimizers.items():
        opt.register_step_pre_hook(check(name))
    train_step(net, toy_batch(), optimizers)
    assert seen == list(optimizers)  # every block stepped, in order, then the output layer


def test_mlp_trains_with_predsim():
    torch.manual_seed(0)
    net = tiny_net("predsim", arch="mlp")
    assert len(net.blocks) == 3 and net.blocks[0].cfg.in_features == 16 * 16
    optimizers = build_optimizers(net, adam(2e-3))
    losses = [float(train_step(net, toy_batch(), optimizers)["loss"]) for _ in range(10)]
    assert losses[-1] < losses[0]


def test_evaluation_reports_test_error_and_each_blocks_local_loss():
    torch.manual_seed(0)
    net = tiny_net("predsim")
    result = evaluate(net, [toy_batch(8, seed=1), toy_batch(24, seed=2)])
    assert set(result) == {"loss", "error"} | {
        f"block{i}/{k}" for i in range(7) for k in ("loss", "pred", "sim", "error")
    }
    # the output layer's weights start at zero: its logits are its bias, whatever the input
    ys = torch.cat([toy_batch(8, seed=1)[1], toy_batch(24, seed=2)[1]])
    expected = F.cross_entropy(net.output.bias.detach().expand(32, -1), ys).item()
    assert result["loss"] == pytest.approx(expected, rel=1e-6)
    # counts weigh the batches: the mean of the two batch errors weighted 8:24
    b1, b2 = evaluate(net, [toy_batch(8, seed=1)]), evaluate(net, [toy_batch(24, seed=2)])
    assert result["block3/sim"] == pytest.approx(
        (8 * b1["block3/sim"] + 24 * b2["block3/sim"]) / 32
    )
