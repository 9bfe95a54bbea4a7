"""Generalized zero-shot metrics (Xian et al. 2018, Sec. 4.2; Selvaraju et al. 2018, Sec. 4):
per-class averaged top-1 accuracy on the unseen (U) and seen (S) test images, both classified
among all classes, their harmonic mean H = 2US / (U + S), and the pure ZSL accuracy (unseen test
images classified among the unseen classes only). Also the rank correlation used to early-stop the
domain-knowledge -> importance map (NIWT Sec. 3.2)."""

from __future__ import annotations

import torch


def per_class_accuracy(pred: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy averaged over the classes present in `labels` (each class counts equally), in %."""
    accs = [(pred[labels == c] == c).float().mean() for c in labels.unique()]
    return 100 * float(torch.stack(accs).mean()) if accs else float("nan")


def harmonic_mean(u: float, s: float) -> float:
    """H = 2US / (U + S); 0 when both are 0."""
    return 2 * u * s / (u + s) if u + s > 0 else 0.0


def gzsl_scores(logits_seen: torch.Tensor, labels_seen: torch.Tensor, logits_unseen: torch.Tensor,
                labels_unseen: torch.Tensor, num_seen: int) -> dict[str, float]:
    """U, S, H and pure-ZSL accuracy from logits over all S + U classes (GZSL order: seen first)."""
    s = per_class_accuracy(logits_seen.argmax(1), labels_seen)
    u = per_class_accuracy(logits_unseen.argmax(1), labels_unseen)
    zsl = per_class_accuracy(logits_unseen[:, num_seen:].argmax(1) + num_seen, labels_unseen)
    return {"U": u, "S": s, "H": harmonic_mean(u, s), "zsl": zsl}


def rank(x: torch.Tensor) -> torch.Tensor:
    """Ranks along the last dimension (0 = smallest); ties broken by position."""
    return x.argsort(-1).argsort(-1).to(x.dtype)


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation of the rows of a and b (last dimension)."""
    ra, rb = rank(a), rank(b)
    ra = ra - ra.mean(-1, keepdim=True)
    rb = rb - rb.mean(-1, keepdim=True)
    return (ra * rb).sum(-1) / (ra.norm(dim=-1) * rb.norm(dim=-1)).clamp_min(1e-12)
