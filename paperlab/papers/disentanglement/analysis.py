"""The study's analysis of a table of results (Locatello et al., ICML 2019, Sec. 5): score
distributions per method (violins, Sec. 5.3), Spearman rank correlation between metrics
(Sec. 5.2), and how much of each metric's variance the method, the hyperparameter and the random
seed explain (Sec. 5.3: the seed matters about as much as the hyperparameter).

Pure functions on a `ResultTable`; figures are matplotlib Figures (no pyplot state), saved with
paperlab.io.figures.save_figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from paperlab.errors import UserError

SOURCES = ("method", "hyperparameter", "seed")
PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")


@dataclass(frozen=True)
class ResultTable:
    """One row per trained model: method, hyperparameter value, seed, and its metric scores."""

    method: np.ndarray  # (n,) str
    hyperparameter: np.ndarray  # (n,) float
    seed: np.ndarray  # (n,) int
    scores: dict[str, np.ndarray]  # metric name -> (n,) float

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]], metrics: Sequence[str]) -> ResultTable:
        """From dicts with keys method, hyperparameter, seed and each metric name."""
        rows = list(rows)
        if not rows:
            raise UserError("no results to analyse", "pass at least one row")
        missing = {"method", "hyperparameter", "seed", *metrics} - set().union(*map(set, rows))
        if missing:
            raise UserError(f"result rows lack {sorted(missing)}",
                            "give every row method, hyperparameter, seed and each metric")
        scores = {m: np.array([float(r[m]) for r in rows]) for m in metrics}
        bad = [m for m, v in scores.items() if not np.isfinite(v).all()]
        if bad:
            raise UserError(f"metrics {bad} have NaN or infinite scores",
                            "drop or recompute the failed evaluations")
        return cls(np.array([str(r["method"]) for r in rows]),
                   np.array([float(r["hyperparameter"]) for r in rows]),
                   np.array([int(r["seed"]) for r in rows]), scores)

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(self.method))  # first-seen order


def _group_means(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Each entry replaced by the mean of its group."""
    _, group = np.unique(keys, return_inverse=True)
    return (np.bincount(group, values) / np.bincount(group))[group]


def variance_explained(table: ResultTable) -> dict[str, dict[str, float]]:
    """Per metric, the share of its total sum of squares between methods, between hyperparameters
    within a method, and between seeds within a (method, hyperparameter): a nested decomposition,
    so the three shares sum to 1."""
    config = np.char.add(np.char.add(table.method, "|"), table.hyperparameter.astype(str))
    out = {}
    for name, values in table.scores.items():
        method_mean = _group_means(values, table.method)
        config_mean = _group_means(values, config)
        parts = np.array([np.sum((method_mean - values.mean()) ** 2),
                          np.sum((config_mean - method_mean) ** 2),
                          np.sum((values - config_mean) ** 2)])
        total = parts.sum()
        out[name] = dict(zip(SOURCES, parts / total if total > 0 else np.zeros(3), strict=True))
    return out


def rank_correlation(table: ResultTable) -> np.ndarray:
    """(M, M) Spearman rank correlation between the metrics' scores over all models: the Pearson
    correlation of their ranks (ties share the average rank); NaN beside a metric that gives every
    model the same score, where it is undefined."""
    ranks = scipy.stats.rankdata(np.column_stack(list(table.scores.values())), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.atleast_2d(np.corrcoef(ranks, rowvar=False))


def plot_metric_violins(table: ResultTable, labels: Mapping[str, str] | None = None) -> Figure:
    """One panel per metric, one violin per method (with each model as a dot)."""
    labels = labels or {}
    names, methods = list(table.scores), table.methods
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    fig = Figure(figsize=(4.2 * columns, 3.4 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    jitter = np.random.default_rng(0)
    for ax, name in zip(axes, names, strict=False):
        groups = [table.scores[name][table.method == m] for m in methods]
        parts = ax.violinplot(groups, showextrema=False, widths=0.8)
        for body, color in zip(parts["bodies"], PALETTE * 2, strict=False):
            body.set(facecolor=color, edgecolor="none", alpha=0.45)
        for i, (group, color) in enumerate(zip(groups, PALETTE * 2, strict=False)):
            x = i + 1 + jitter.uniform(-0.12, 0.12, len(group))
            ax.scatter(x, group, s=7, color=color, alpha=0.8, linewidths=0)
            ax.hlines(np.median(group), i + 0.75, i + 1.25, color="black", lw=1.2)
        ax.set_xticks(range(1, len(methods) + 1), methods, rotation=30, ha="right", fontsize=8)
        ax.set_title(labels.get(name, name), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    return fig


def plot_scores_by_hyperparameter(table: ResultTable,
                                  labels: Mapping[str, str] | None = None) -> Figure:
    """One panel per metric: each (method, hyperparameter value) a column of its seeds' scores,
    with their mean, methods in colour: how far apart the seeds of one setting lie, beside how far
    its settings do."""
    labels = labels or {}
    names, methods = list(table.scores), table.methods
    configs = [(m, v) for m in methods for v in sorted(set(table.hyperparameter[table.method == m]))]
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    fig = Figure(figsize=(max(4.2, 0.32 * len(configs) + 1.2) * columns, 3.6 * rows),
                 layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    colors = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(methods)}
    for ax, name in zip(axes, names, strict=False):
        for x, (method, value) in enumerate(configs):
            chosen = (table.method == method) & (table.hyperparameter == value)
            scores = table.scores[name][chosen]
            ax.scatter(np.full(len(scores), x), scores, s=12, color=colors[method], alpha=0.85,
                       linewidths=0)
            ax.hlines(scores.mean(), x - 0.3, x + 0.3, color=colors[method], lw=1.5)
        ax.set_xticks(range(len(configs)), [f"{v:g}" for _, v in configs], fontsize=7)
        ax.set_title(labels.get(name, name), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    handles = [Line2D([], [], marker="o", ls="", color=colors[m], label=m) for m in methods]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(6, len(methods)),
               frameon=False, fontsize=8, title="hyperparameter value per method; dots: seeds",
               title_fontsize=8)
    return fig


def plot_rank_correlation(table: ResultTable, labels: Mapping[str, str] | None = None) -> Figure:
    """Heat map of the Spearman rank correlation between metrics, values written in the cells."""
    labels = labels or {}
    names = [labels.get(n, n) for n in table.scores]
    rho = rank_correlation(table)
    size = 1.0 + 0.75 * len(names)
    fig = Figure(figsize=(size + 1.2, size), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(rho, cmap="RdBu_r", vmin=-1, vmax=1)
    for (i, j), value in np.ndenumerate(rho):
        ax.text(j, i, "n/a" if np.isnan(value) else f"{value:.2f}", ha="center", va="center",
                fontsize=8, color="white" if abs(value) > 0.6 else "black")
    ax.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_title("Spearman rank correlation between metrics", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def plot_variance_explained(table: ResultTable, labels: Mapping[str, str] | None = None) -> Figure:
    """Stacked horizontal bars: each metric's variance split into method, hyperparameter, seed."""
    labels = labels or {}
    shares = variance_explained(table)
    names = list(shares)
    fig = Figure(figsize=(7, 0.5 * len(names) + 1.3), layout="constrained")
    ax = fig.subplots()
    left = np.zeros(len(names))
    for source, color in zip(SOURCES, PALETTE, strict=False):
        width = np.array([shares[n][source] for n in names])
        ax.barh(range(len(names)), width, left=left, color=color, label=source, height=0.65)
        for y, (x0, w) in enumerate(zip(left, width, strict=True)):
            if w > 0.06:
                ax.text(x0 + w / 2, y, f"{w:.0%}", ha="center", va="center", fontsize=8,
                        color="white")
        left += width
    ax.set_yticks(range(len(names)), [labels.get(n, n) for n in names], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
    ax.set_xlabel("share of the metric's variance explained")
    ax.legend(ncols=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
