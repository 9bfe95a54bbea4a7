"""The networks of Nøkland & Eidnes 2019 (Sec. 4: "mlp", "vgg8b", "vgg11b"), by name, built from
blocks that a local rule can train one at a time (reference code anokland/local-loss, train.py,
`Net` lines 1219-1269, `cfg` 1271-1282 and `VGGn` 1284-1396).

A VGG is its conv blocks ('M': a 2x2 max-pool after the block before it), then `fc_layers`
fully connected blocks of `num_hidden` units, then the output layer; the MLP has no conv blocks.
The output layer is the only one trained by the usual cross-entropy under a local rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from paperlab.config import fraction
from paperlab.errors import UserError
from paperlab.models import register_model
from paperlab.papers.local_loss.blocks import NONLINEARITIES, Block, BlockConfig
from paperlab.papers.local_loss.local_losses import LocalLossConfig
from paperlab.papers.local_loss.rules import get_rule


@dataclass(frozen=True)
class NetworkSpec:
    convs: tuple[int | str, ...]  # conv widths before feat_mult, 'M' = 2x2 max-pool
    fc_layers: int  # hidden fully connected blocks


NETWORKS: dict[str, NetworkSpec] = {
    # train.py:1276 and --num-layers 1 (train.py:21)
    "vgg8b": NetworkSpec((128, 256, "M", 256, 512, "M", 512, "M", 512, "M"), 1),
    # train.py:1278
    "vgg11b": NetworkSpec((128, 128, 128, 256, "M", 256, 512, "M", 512, 512, "M", 512, "M"), 1),
    # run_experiments.sh:2, --model mlp --num-layers 3
    "mlp": NetworkSpec((), 3),
}


def network_spec(arch: str) -> NetworkSpec:
    """The layout of the network called `arch`; an unknown name lists the networks."""
    if arch not in NETWORKS:
        raise UserError(
            f"unknown network '{arch}'", f"choose one of: {', '.join(NETWORKS)} (model.arch=<name>)"
        )
    return NETWORKS[arch]


@dataclass
class NetConfig:
    arch: str = "vgg8b"  # train.py:15 --model
    rule: str = "predsim"  # train.py:53 --loss-sup predsim (with --backprop, --bio: rules.py)
    in_channels: int = 1
    image_size: int = 28  # square inputs
    num_classes: int = 10
    feat_mult: float = 1.0  # train.py:27 --feat-mult, widens every conv block
    # train.py:23 --num-hidden; 3000 for the CIFAR mlp (run_experiments.sh:46)
    num_hidden: int = 1024
    fc_layers: int | None = None  # train.py:21 --num-layers; None: the network's own (NETWORKS)
    dropout: float = fraction(default=0.0)  # train.py:51 --dropout; 0.025-0.3 by recipe (recipes.py)
    # train.py:57 --nonlin; auto: leakyrelu under the rules with a sim loss, relu under the others,
    # as every run of run_experiments.sh does (e.g. lines 20-23)
    nonlin: str = "auto"
    # train.py:49 --beta; None: the rule's (0.99 predsim, 0.01 predsim-bpf)
    beta: float | None = None
    dim_in_decoder: int = 4096  # train.py:25; 1024 MNIST family, 2048 CIFAR/SVHN/STL (recipes.py)
    target_proj_size: int = 128  # train.py:83
    use_std: bool = True  # train.py:59
    # not in the reference: a local step's BatchNorm -> activation, pooling and sim conv as the
    # memory-lean ops of lean_ops.py (the same forward values; gradients equal up to float rounding,
    # so a run drifts from a run without them). Off: the recorded runs were made without them.
    lean: bool = False


@register_model("local_net")
class LocalNet(nn.Module):
    """blocks (each with its local loss head under a local rule) and the output layer."""

    Config = NetConfig

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        spec = network_spec(cfg.arch)
        if cfg.feat_mult <= 0:
            raise UserError(
                f"feat_mult={cfg.feat_mult} is not positive", "set feat_mult > 0, e.g. 1 or 2"
            )
        if cfg.nonlin != "auto" and cfg.nonlin not in NONLINEARITIES:
            raise UserError(
                f"unknown nonlinearity '{cfg.nonlin}'",
                f"choose one of: auto, {', '.join(NONLINEARITIES)}",
            )
        self.cfg = cfg
        self.rule = get_rule(cfg.rule, cfg.beta)
        self.blocks = nn.ModuleList(Block(c) for c in self._block_configs(spec))
        width = (
            self.blocks[-1].cfg.out_features if self.blocks else cfg.in_channels * cfg.image_size**2
        )
        self.output = nn.Linear(width, cfg.num_classes)
        if self.rule.local:
            nn.init.zeros_(self.output.weight)  # train.py:1240-1241

    def _block_configs(self, spec: NetworkSpec) -> list[BlockConfig]:
        cfg, rule = self.cfg, self.rule
        nonlin = ("leakyrelu" if rule.sim else "relu") if cfg.nonlin == "auto" else cfg.nonlin

        def block(n_in: int, n_out: int, size: int, **kw) -> BlockConfig:
            loss = None
            if rule.local:
                loss = LocalLossConfig(
                    n_out, size, cfg.num_classes, rule.pred, rule.sim, rule.bpf, rule.beta,
                    cfg.dim_in_decoder, cfg.target_proj_size, cfg.use_std, cfg.lean,
                )  # fmt: skip
            return BlockConfig(
                n_in, n_out, size, dropout=cfg.dropout, nonlin=nonlin, loss=loss, **kw
            )

        blocks: list[BlockConfig] = []
        channels, size = cfg.in_channels, cfg.image_size
        for layer in spec.convs:
            if layer == "M":
                blocks[-1].max_pool = True
                size //= 2
                continue
            width = int(layer * cfg.feat_mult)
            if width < 1:
                raise UserError(
                    f"feat_mult={cfg.feat_mult} leaves a {layer}-channel block with no channels",
                    f"set feat_mult >= {1 / layer:g}",
                )
            if not blocks and cfg.image_size > 64:  # train.py:1382-1386, e.g. STL-10's 96 px
                size //= 2
                blocks.append(block(channels, width, size, kernel_size=7, stride=2))
            else:
                blocks.append(block(channels, width, size))
            channels = width
        if size < 1:
            raise UserError(
                f"{cfg.image_size} px inputs are too small for {cfg.arch}'s max-pools",
                f"use inputs of at least {2 ** spec.convs.count('M')} px",
            )
        features = channels * size * size
        fc_layers = spec.fc_layers if cfg.fc_layers is None else cfg.fc_layers
        for _ in range(fc_layers):
            blocks.append(block(features, cfg.num_hidden, 0))
            features = cfg.num_hidden
        return blocks

    def check_batch(self, x: Tensor, y: Tensor) -> None:
        """One-line errors for a batch this network cannot take (shape, labels, NaN)."""
        cfg = self.cfg
        want = (cfg.in_channels, cfg.image_size, cfg.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != want:
            raise UserError(
                f"input batch has shape {tuple(x.shape)}, the network expects (B, {want[0]}, "
                f"{want[1]}, {want[2]})",
                "set in_channels and image_size to the data's, or resize the images",
            )
        if y.shape != (x.shape[0],) or y.dtype != torch.long:
            raise UserError(
                f"labels have shape {tuple(y.shape)} and dtype {y.dtype}",
                f"give one int64 class index per image ({x.shape[0]})",
            )
        if not bool(torch.isfinite(x).all() & (y >= 0).all() & (y < cfg.num_classes).all()):
            raise UserError(
                f"the batch has NaN/inf pixels or labels outside [0, {cfg.num_classes})",
                "clean the data, or set num_classes to the number of classes",
            )

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the whole network (evaluation, and training under global backprop)."""
        for block in self.blocks:
            x = block.pass_on(block(x))
        return self.output(x.flatten(1))
