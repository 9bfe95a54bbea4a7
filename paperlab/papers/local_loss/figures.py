"""Figures of local learning (Nøkland & Eidnes 2019, Sec. 4): each block's local loss and local
error over training (one run), and the test error of several rules side by side (a sweep's runs,
as the paper's tables compare them)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.ticker import FormatStrFormatter

from paperlab.io.figures import plt, save_figure

_BLOCK = re.compile(r"block(\d+)/(loss|error)$")


def _blocks(records: Sequence[dict[str, Any]], prefix: str, stat: str) -> dict[int, list[dict[str, Any]]]:
    """Records holding `{prefix}block{i}/{stat}`, by block i."""
    out: dict[int, list[dict[str, Any]]] = {}
    for r in records:
        for key in r:
            m = _BLOCK.match(key.removeprefix(prefix)) if key.startswith(prefix) else None
            if m and m.group(2) == stat:
                out.setdefault(int(m.group(1)), []).append(r)
    return dict(sorted(out.items()))


def local_losses_figure(records: Sequence[dict[str, Any]], path: str | Path, split: str, title: str) -> Path:
    """Three panels from a run's metrics.jsonl: each block's local loss while training (logged
    steps) and on `split` after each epoch, and each block's local error (its pred decoder's)
    beside the output layer's error. Under backprop only the output's curves exist."""
    epochs = [r for r in records if "val/error" in r and not r.get("final")]
    steps = [r for r in records if "train/loss" in r]
    per_epoch = epochs[0]["step"] / epochs[0]["epoch"] if epochs else 1.0  # steps per epoch
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), layout="constrained")
    train_blocks, eval_blocks = _blocks(steps, "train/", "loss"), _blocks(epochs, "val/", "loss")
    colours = plt.get_cmap("viridis")
    n = max([len(train_blocks), len(eval_blocks), 1])

    def colour(i: int) -> Any:
        return colours(i / max(n - 1, 1) * 0.9)

    ax = axes[0]
    for i, rs in train_blocks.items():
        ax.plot([r["step"] / per_epoch for r in rs], [r[f"train/block{i}/loss"] for r in rs], color=colour(i),
                lw=1, label=f"block {i}")
    ax.plot([r["step"] / per_epoch for r in steps], [r["train/loss"] for r in steps], color="black", lw=1.2,
            label="output (cross-entropy)")
    ax.set_title("training loss (logged steps)")
    ax = axes[1]
    for i, rs in eval_blocks.items():
        ax.plot([r["epoch"] for r in rs], [r[f"val/block{i}/loss"] for r in rs], "o-", color=colour(i), ms=3,
                label=f"block {i}")
    ax.plot([r["epoch"] for r in epochs], [r["val/loss"] for r in epochs], "o-", color="black", ms=3,
            label="output (cross-entropy)")
    ax.set_title(f"{split} loss after each epoch")
    ax = axes[2]
    for i, rs in _blocks(epochs, "val/", "error").items():
        ax.plot([r["epoch"] for r in rs], [r[f"val/block{i}/error"] for r in rs], "o-", color=colour(i), ms=3,
                label=f"block {i} (local decoder)")
    ax.plot([r["epoch"] for r in epochs], [r["val/error"] for r in epochs], "o-", color="black", lw=2, ms=4,
            label="output")
    ax.set_title(f"{split} error after each epoch")
    ax.set_ylabel("error (%)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    for ax in axes[:2]:
        ax.set_yscale("log")
        ax.set_ylabel("loss")
    axes[2].legend(fontsize=8)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{title}: each block's local loss and error" if train_blocks or eval_blocks
                 else f"{title}: global backprop, no local losses")
    return save_figure(fig, path)


def error_curves_figure(curves: dict[str, list[tuple[float, float]]], path: str | Path, title: str,
                        ylabel: str = "test error (%)", xlabel: str = "epoch") -> Path:
    """One line per run: (epoch, error) points, labelled with the run's rule and its last error.
    A log error axis, with plain numbers on it: the rules differ by fractions of the error."""
    fig, ax = plt.subplots(figsize=(7, 4.6), layout="constrained")
    colours = plt.get_cmap("tab10")
    for k, (label, points) in enumerate(curves.items()):
        x, y = zip(*points, strict=True)
        ax.plot(x, y, "o-", ms=3, lw=1.6, color=colours(k % 10), label=f"{label}: {y[-1]:.2f}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.tick_params(axis="y", which="minor", labelsize=8)
    ax.grid(alpha=0.3, which="both")
    ax.legend(title="rule: last error", fontsize=9)
    ax.set_title(title)
    return save_figure(fig, path)
