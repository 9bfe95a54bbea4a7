"""Figures of the learned students (Tapaswi et al. 2016, Sec. 4.2-4.3): the memory network's
attention p_l = softmax(u^T m_l) over the story sentences of one question, one column per hop
(Sec. 4.3, Eq. 4), with the answers and their scores; and a training run's loss and accuracy.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from paperlab.errors import UserError
from paperlab.io.figures import plt, save_figure
from paperlab.papers.movieqa.evaluation import CHANCE
from paperlab.papers.movieqa.release import QA

MAX_ROWS = 36  # longer stories (subtitles) show the sentences with the most attention


def _label(i: int, text: str, gold: bool, width: int = 64) -> str:
    """The sentence on at most two lines, numbered, with an arrow on a gold sentence."""
    lines = textwrap.wrap(text, width, max_lines=2, placeholder=" …") or [""]
    return "\n".join([f"{'→ ' if gold else ''}{i:3d}  {lines[0]}"] + lines[1:])


def shown_rows(attention: np.ndarray, gold: Sequence[int], max_rows: int = MAX_ROWS) -> list[int]:
    """Every sentence of a short story; of a long one, the gold ones and those most attended to."""
    n = attention.shape[1]
    if n <= max_rows:
        return list(range(n))
    keep = {i for i in gold if i < n}
    for i in np.argsort(-attention.max(0), kind="stable"):
        if len(keep) >= max_rows:
            break
        keep.add(int(i))
    return sorted(keep)


def plot_attention(path: str | Path, story: Sequence[str], attention: np.ndarray, question: str,
                   answers: Sequence[str], scores: np.ndarray, correct: int | None = None,
                   gold_lines: Sequence[int] = ()) -> Path:
    """Heat map of attention (hops, sentences) beside the sentences; PNG at `path`.
    `gold_lines` (the question's plot_alignment) are marked with an arrow."""
    attention = np.atleast_2d(np.asarray(attention, dtype=np.float64))
    if attention.shape[1] != len(story):
        raise UserError(f"attention over {attention.shape[1]} sentences, story of {len(story)}",
                        "pass the story the attention was computed on")
    hops = attention.shape[0]
    rows = shown_rows(attention, gold_lines)
    shown = attention[:, rows]
    labels = [_label(i, story[i], i in set(gold_lines)) for i in rows]
    fig_h = 2.6 + 0.3 * sum(1 + label.count("\n") for label in labels)
    fig, ax = plt.subplots(figsize=(11, fig_h))
    top = max(float(shown.max()), 1e-6)
    im = ax.imshow(shown.T, aspect="auto", cmap="Blues", vmin=0.0, vmax=top)
    ax.set_xticks(range(hops), [f"hop {h + 1}" for h in range(hops)])
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(rows)), labels, fontsize=9)
    for h in range(hops):
        for r in range(len(rows)):
            ax.text(h, r, f"{shown[h, r]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if shown[h, r] > 0.6 * top else "black")
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02, label="attention $p_l$")
    pred = int(np.argmax(scores))
    lines = [f"{'✓' if j == correct else ' '}{'▶' if j == pred else ' '} {scores[j]:+8.3f}  {a}"
             for j, a in enumerate(answers)]
    title = "\n".join(textwrap.wrap("Q: " + question, 90))
    if len(rows) < len(story):
        title += f"\n({len(rows)} of the story's {len(story)} sentences: those with the most attention)"
    ax.set_title(title, fontsize=11, loc="left", pad=24)
    if set(gold_lines) & set(rows):
        lines.append("→ on a sentence: one the question was written from (plot_alignment)")
    fig.text(0.01, 0.01, "answers (✓ correct, ▶ chosen, score):\n" + "\n".join(lines),
             family="monospace", fontsize=9, va="bottom")
    fig.subplots_adjust(left=0.47, right=0.93, top=1 - 0.9 / fig_h, bottom=(0.25 + 0.2 * len(lines)) / fig_h)
    return save_figure(fig, path, dpi=110)


def attention_figures(student: Any, stories: dict[str, list[str]], qas: Sequence[QA], n: int, folder: Path,
                      story_source: str) -> list[Path]:
    """attention_<k>_<type>.png for the first question of each of the `n` most common question
    types; `student` is a trained memory network (learned.LearnedStudent). The plot_alignment
    arrows only apply to split_plot stories (they are its line numbers)."""
    labelled = [qa for qa in qas if qa.correct_index is not None] or list(qas)
    types = [t for t, _ in Counter(qa.qtype for qa in labelled).most_common(n)]
    paths = []
    for k, qtype in enumerate(types):
        qa = next(q for q in labelled if q.qtype == qtype)
        story = stories[qa.imdb_key]
        scores, p = student.attention(story, qa.question, qa.answers)
        gold = qa.plot_alignment if story_source == "split_plot" else ()
        paths.append(plot_attention(folder / f"attention_{k}_{qtype or 'other'}.png", story, p, qa.question,
                                    qa.answers, scores, qa.correct_index, gold))
    return paths


def training_figure(records: Sequence[dict[str, Any]], path: Path, title: str) -> Path:
    """Loss against epochs (training: the epoch's mean; the internal dev split) and the dev
    accuracy, from a run's metrics.jsonl; chance (20%) as a reference line. Per-epoch values: a
    logged training batch can be an epoch's small last batch, whose accuracy says little."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 3.8))
    epochs = [r for r in records if "val/acc" in r and not r.get("final")]
    x = [r["epoch"] for r in epochs]
    loss_ax.plot(x, [r.get("train/loss_epoch", np.nan) for r in epochs], "o-", ms=2, label="training (epoch mean)")
    loss_ax.plot(x, [r["val/loss"] for r in epochs], "o-", ms=2, label="internal dev split")
    loss_ax.set_ylabel("cross-entropy")
    loss_ax.legend(fontsize=8)
    acc_ax.plot(x, [r["val/acc"] for r in epochs], "o-", ms=2, color="C1", label="internal dev split")
    acc_ax.axhline(CHANCE, color="grey", ls="--", lw=1, label="chance")
    acc_ax.set_ylabel("accuracy (%)")
    acc_ax.legend(fontsize=8)
    for ax in (loss_ax, acc_ax):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return save_figure(fig, path)
