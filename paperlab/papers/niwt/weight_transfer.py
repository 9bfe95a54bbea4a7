"""Neuron Importance-Aware Weight Transfer (Selvaraju et al., ECCV 2018, "Choose Your Neuron").

Sec. 3.2, domain knowledge -> neuron importance: a linear map g(a) = a M + m from a class's domain
knowledge a (attributes or a caption embedding) to the importances of the K neurons of layer L,
trained on the seen classes' per-image importances with the cosine distance, early-stopped on the
rank correlation between predicted and observed (class-mean) importances of held-out seen classes.

Sec. 3.3, importance -> classifier weights: for each unseen class c a new row w_c of the last
fc layer is optimised so that the importances it induces match g(a_c):

    L(w_c) = mean_x [1 - cos(a_c(x; w_c), g(a_c))] + lambda/2 ||w_c - mean_s w_s||^2

over "generic" images x (the reference code uses images of other classes, never unseen-class
images; here: seen-class training images), with a_c(x; w_c) = J(x)^T w_c exact
(paperlab/interpret/importance.py). w_c starts from a Gaussian with the per-dimension mean and
spread of the seen weights ("seen_centered" in the reference code), Adam, and stops when the loss has
not improved by 1% over 40 iterations. The regulariser (lambda) pulls the new weights toward the
mean seen weight and so sets their scale, which trades unseen against seen accuracy in GZSL
(Sec. 4.2: without it AWA2 unseen accuracy 33.9%, with the best lambda 41.3%).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from paperlab.config import above, at_least
from paperlab.engine.threads import single_threaded
from paperlab.interpret.importance import final_linear
from paperlab.papers.niwt.gzsl_metrics import spearman


@dataclass
class MapConfig:
    lr: float = above(0, default=1e-3)  # Adam (reference code: learning_rate 1e-3)
    batch_size: int = at_least(1, default=64)  # reference code: dom2alpha_batch_size 64
    max_epochs: int = at_least(1, default=200)
    patience: int = at_least(1, default=15)  # epochs without a better held-out rank correlation before stopping


@dataclass
class TransferConfig:
    lr: float = above(0, default=1e-3)  # Adam (reference code: learning_rate 1e-3)
    batch_size: int = at_least(1, default=64)  # generic images per step (reference code: batch_size 64)
    max_steps: int = at_least(1, default=2000)
    window: int = at_least(1, default=40)  # Sec. 3.3: stop when the loss improves by < 1% over 40 iterations
    tolerance: float = at_least(0, default=0.01)


def cosine_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return 1 - F.cosine_similarity(a, b, dim=-1, eps=1e-12)


def fit_importance_map(knowledge: torch.Tensor, alphas: torch.Tensor, val_knowledge: torch.Tensor,
                       val_alphas: torch.Tensor, cfg: MapConfig, seed: int = 0
                       ) -> tuple[nn.Linear, dict[str, list[float]]]:
    """Linear map knowledge (N, A) -> importances (N, K), trained per image with the cosine distance;
    the epoch with the best mean Spearman correlation on the held-out classes (V, A) -> (V, K) is kept."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = nn.Linear(knowledge.shape[1], alphas.shape[1])
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    history: dict[str, list[float]] = {"loss": [], "val_rank_corr": []}
    best, best_state, bad = -2.0, copy.deepcopy(net.state_dict()), 0
    with single_threaded():
        for _ in range(cfg.max_epochs):
            total = 0.0
            for idx in torch.randperm(len(alphas), generator=g).split(cfg.batch_size):
                loss = cosine_distance(net(knowledge[idx]), alphas[idx]).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            with torch.no_grad():
                corr = float(spearman(net(val_knowledge), val_alphas).mean())
            history["loss"].append(total / len(alphas))
            history["val_rank_corr"].append(corr)
            if corr > best:
                best, best_state, bad = corr, copy.deepcopy(net.state_dict()), 0
            else:
                bad += 1
                if bad >= cfg.patience:
                    break
    net.load_state_dict(best_state)
    return net.eval(), history


def seen_centered_init(seen_weight: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """(n, D) rows drawn from N(mean, std) of the seen rows, per dimension (reference: seen_centered)."""
    mean, std = seen_weight.mean(0), seen_weight.std(0, unbiased=False)
    return mean + std * torch.randn(n, seen_weight.shape[1], generator=generator)


def transfer_weights(jacobian: torch.Tensor, targets: torch.Tensor, seen_weight: torch.Tensor, lam: float,
                     cfg: TransferConfig, seed: int = 0) -> tuple[torch.Tensor, list[float]]:
    """New classifier rows (U, D) whose importances J(x)^T w_u on the generic images (N, D, K) match
    `targets` (U, K) in cosine distance, with the lambda-weighted pull toward the mean seen row."""
    g = torch.Generator().manual_seed(seed)
    w = seen_centered_init(seen_weight, len(targets), g).requires_grad_()
    mean_seen = seen_weight.mean(0)
    opt = torch.optim.Adam([w], lr=cfg.lr)
    losses: list[float] = []
    monitor, since = float("inf"), 0
    with single_threaded():
        for _ in range(cfg.max_steps):
            idx = torch.randint(len(jacobian), (cfg.batch_size,), generator=g)
            alphas = torch.einsum("ndk,ud->unk", jacobian[idx], w)  # (U, B, K)
            fit = cosine_distance(alphas, targets[:, None]).mean(1)
            loss = (fit + 0.5 * lam * (w - mean_seen).pow(2).sum(1)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            value = loss.item()
            losses.append(value)
            if monitor == float("inf") or 1 - value / monitor > cfg.tolerance:
                monitor, since = value, 0
            else:
                since += 1
                if since >= cfg.window:
                    break
    return w.detach(), losses


def extend_classifier(model: nn.Module, weight: torch.Tensor, bias: torch.Tensor) -> nn.Module:
    """A copy of `model` whose last fc layer has extra rows (the unseen classes, after the seen ones)."""
    model = copy.deepcopy(model)
    name, head = final_linear(model)
    new = nn.Linear(head.in_features, head.out_features + len(weight))
    with torch.no_grad():
        new.weight.copy_(torch.cat([head.weight, weight]))
        new.bias.copy_(torch.cat([head.bias, bias]))
    parent, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attr, new)
    return model
