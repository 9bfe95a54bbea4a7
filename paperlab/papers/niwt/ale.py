"""ALE, Attribute Label Embedding (Akata et al., TPAMI 2016, Sec. 3), the baseline of Selvaraju et al.
2018 (Table 1), on the same CNN features and class splits as NIWT.

Compatibility F(x, y) = theta(x)^T W phi(y), theta the CNN's penultimate features, phi the class
embedding (attributes or caption embedding, l2-normalised as in Xian et al. 2018). Trained by SGD
on the weighted approximate ranking loss (WSABIE-style, Sec. 3.3):

    l(x, y) = (beta_r / r) sum_{y' != y} max(0, Delta(y, y') + F(x, y') - F(x, y)),
    beta_r = sum_{i=1}^{r} 1/i,   r = #classes violating the margin,   Delta = 0/1 loss.

As in Xian et al.'s protocol, the number of epochs is chosen by zero-shot accuracy on held-out seen
classes (trained without them), then ALE is retrained on all seen classes for that many epochs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from paperlab.config import above, at_least
from paperlab.engine.threads import single_threaded
from paperlab.papers.niwt.gzsl_metrics import per_class_accuracy


@dataclass
class ALEConfig:
    lr: float = above(0, default=0.05)  # SGD (Akata et al.: SGD with a constant step, chosen on validation classes)
    momentum: float = at_least(0, default=0.9)
    batch_size: int = at_least(1, default=64)
    max_epochs: int = at_least(1, default=30)


def ranking_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """ALE's weighted approximate ranking loss, averaged over the batch (scores: (B, C))."""
    true = scores.gather(1, labels[:, None])
    margins = (1 + scores - true).scatter(1, labels[:, None], 0.0)  # Delta(y, y') = 1 for y' != y
    hinge = margins.clamp_min(0)
    r = (margins > 0).sum(1).float()
    beta = torch.special.digamma(r + 1) + 0.5772156649015329  # sum_{i=1}^{r} 1/i (harmonic number)
    weight = torch.where(r > 0, beta / r.clamp_min(1), torch.zeros_like(r))
    return (weight * hinge.sum(1)).mean()


def normalize_embeddings(emb: torch.Tensor) -> torch.Tensor:
    return F.normalize(emb, dim=1)


def _train(feats: torch.Tensor, labels: torch.Tensor, emb: torch.Tensor, cfg: ALEConfig, epochs: int, seed: int,
           on_epoch: Callable[[int, torch.Tensor], None] | None = None) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    weight = (0.01 * torch.randn(feats.shape[1], emb.shape[1], generator=g)).requires_grad_()
    opt = torch.optim.SGD([weight], lr=cfg.lr, momentum=cfg.momentum)
    with single_threaded():
        for epoch in range(epochs):
            for idx in torch.randperm(len(feats), generator=g).split(cfg.batch_size):
                loss = ranking_loss(feats[idx] @ weight @ emb.T, labels[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            if on_epoch is not None:
                on_epoch(epoch + 1, weight.detach())
    return weight.detach()


def fit_ale(feats: torch.Tensor, labels: torch.Tensor, emb: torch.Tensor, val_classes: list[int],
            val_feats: torch.Tensor, val_labels: torch.Tensor, cfg: ALEConfig, seed: int = 0
            ) -> tuple[torch.Tensor, dict[str, object]]:
    """W (D, A) for seen-class features (N, D) with labels in 0..S-1 and embeddings emb (S, A).

    Epochs are picked by the zero-shot accuracy, among `val_classes`, of a model trained on the other
    seen classes (on `val_feats`, images not used for training); then all seen classes are used."""
    emb = normalize_embeddings(emb)
    keep = ~torch.isin(labels, torch.tensor(val_classes))
    train_classes = [c for c in range(len(emb)) if c not in val_classes]
    remap = torch.full((len(emb),), -1, dtype=torch.long)
    remap[train_classes] = torch.arange(len(train_classes))
    held = torch.isin(val_labels, torch.tensor(val_classes))
    vf, vl = val_feats[held], val_labels[held]
    curve: list[float] = []

    def score(epoch: int, weight: torch.Tensor) -> None:
        pred = torch.tensor(val_classes)[(vf @ weight @ emb[val_classes].T).argmax(1)]
        curve.append(per_class_accuracy(pred, vl))

    _train(feats[keep], remap[labels[keep]], emb[train_classes], cfg, cfg.max_epochs, seed, score)
    best_epochs = int(torch.tensor(curve).argmax()) + 1
    weight = _train(feats, labels, emb, cfg, best_epochs, seed)
    return weight, {"val_zsl_acc": curve, "epochs": best_epochs}


def ale_scores(feats: torch.Tensor, weight: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
    """Compatibility scores (N, C) for all classes' embeddings (C, A)."""
    return feats @ weight @ normalize_embeddings(emb).T
