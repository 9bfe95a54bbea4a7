"""Where a Dual Attention Network looks (Nam et al. 2017, Sec. 4, Figs. 3-5: the visual attention
over the image and the textual attention over the words at each step): figures for a few
examples, and a measure on data with scene annotations -- the share of the visual attention that
falls on the objects a question (or caption) names, at each step, beside what uniform attention
would put there.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from paperlab.engine.devices import to_device
from paperlab.io.figures import plt, save_figure
from paperlab.papers.vqa.data import ImageSource, VQAData, WordVocab
from paperlab.papers.vqa.scenes import named_object_mask


def overlay(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """An (H, W, 3) image in [0, 1] dimmed where a (h, w) attention map is low (the map is
    upsampled smoothly and scaled so that its peak shows the image at full brightness)."""
    h, w = image.shape[:2]
    up = F.interpolate(torch.as_tensor(weights, dtype=torch.float32)[None, None], size=(h, w), mode="bilinear",
                       align_corners=False)[0, 0].numpy()
    up = up / max(float(up.max()), 1e-12)
    return image * (0.15 + 0.85 * up[..., None])


def draw_example(fig: Any, grid_spec: Any, image: np.ndarray, visual: np.ndarray, textual: np.ndarray,
                 words: Sequence[str], title: str, caption: str, grid: Sequence[int]) -> None:
    """One example as a row: the image, its visual attention at each step, the words' attention
    at each step (a heat map: steps x words, the weights written in)."""
    steps = visual.shape[0]
    ax = fig.add_subplot(grid_spec[0])
    ax.imshow(image, interpolation="nearest")
    ax.set_title("\n".join(textwrap.wrap(title, 26)), fontsize=7.5, loc="left")
    ax.set_xlabel(caption, fontsize=7.5, loc="left")
    ax.set_xticks([])
    ax.set_yticks([])
    for k in range(steps):
        ax = fig.add_subplot(grid_spec[1 + k])
        ax.imshow(overlay(image, visual[k].reshape(grid)), interpolation="nearest")
        ax.set_title(f"visual attention, step {k + 1}", fontsize=7.5)
        ax.set_xticks([])
        ax.set_yticks([])
    ax = fig.add_subplot(grid_spec[1 + steps])
    ax.imshow(textual, cmap="Oranges", vmin=0, vmax=max(float(textual.max()), 1e-6), aspect="auto")
    for k in range(steps):
        for t in range(len(words)):
            ax.text(t, k, f"{textual[k, t]:.2f}".lstrip("0"), ha="center", va="center", fontsize=6)
    ax.set_xticks(range(len(words)))
    ax.set_xticklabels(words, rotation=45, ha="right", fontsize=7.5)
    ax.set_yticks(range(steps))
    ax.set_yticklabels([f"step {k + 1}" for k in range(steps)], fontsize=7.5)
    ax.set_title("textual attention", fontsize=7.5)


def pick_examples(types: Sequence[str] | None, n: int) -> list[int]:
    """Rows of n examples, one per question type first (so the figure shows every kind), in order."""
    if not types:
        return list(range(n))
    first: dict[str, int] = {}
    for i, t in enumerate(types):
        first.setdefault(t, i)
    rows = list(first.values())[:n]
    return rows + [i for i in range(len(types)) if i not in set(rows)][: n - len(rows)]


@torch.no_grad()
def attention_figure(model: nn.Module, data: VQAData, pixels: ImageSource, split: str, path: Path, n: int,
                     grid: Sequence[int]) -> Path:
    """figures/attention.png: n questions of `split` (one per question type first); `pixels` shows
    the images the features came from."""
    ds = data.splits[split]
    records = ds.records
    rows = pick_examples(records.question_type, n)
    batch = to_device(ds.__getitems__(rows), next(model.parameters()).device)
    logits, att = model.attend(batch["image"], batch["question"], batch["question_len"])
    answers = data.info.answer_vocab
    vocab = WordVocab(data.info.question_vocab)
    images = pixels.load_raw(records.image_id[rows]).permute(0, 2, 3, 1).clamp(0, 1).numpy()
    steps = att["visual"].shape[1]
    fig = plt.figure(figsize=(2.0 * (steps + 1) + 3.2, 2.45 * len(rows)))
    outer = fig.add_gridspec(len(rows), 1, hspace=0.75)
    for r, i in enumerate(rows):
        spec = outer[r].subgridspec(1, steps + 2, width_ratios=[1] * (steps + 1) + [1.7], wspace=0.12)
        length = int(batch["question_len"][r])
        words = [vocab.words[w] for w in batch["question"][r, :length].tolist()]
        pred = answers[int(logits[r].argmax())]
        draw_example(fig, spec, images[r], att["visual"][r].cpu().numpy(), att["textual"][r, :, :length].cpu().numpy(),
                     words, records.question[i], f"answer: {pred}   (human: {records.multiple_choice_answer[i]})", grid)
    return save_figure(fig, path)


@torch.no_grad()
def attention_on_named_objects(model: nn.Module, data: VQAData, split: str, grid: Sequence[int], image_size: int,
                               batch_size: int = 512) -> dict[str, float]:
    """Mean share of the visual attention on the cells of the objects each question names, per
    step, beside the share uniform attention would give them (questions naming no object skipped)."""
    ds = data.splits[split]
    records = ds.records
    masks, keep = [], []
    for i, (q, image_id) in enumerate(zip(records.question, records.image_id.tolist(), strict=True)):
        mask = named_object_mask(q, data.scenes[split][image_id], grid[0], image_size)
        if mask.any():
            masks.append(mask.reshape(-1))
            keep.append(i)
    return named_attention_shares(lambda rows: _visual(model, ds, rows), np.array(keep), np.stack(masks),
                                  f"{split}/attention/", batch_size)


def _visual(model: nn.Module, ds: Any, rows: list[int]) -> torch.Tensor:
    batch = to_device(ds.__getitems__(rows), next(model.parameters()).device)
    return model.attend(batch["image"], batch["question"], batch["question_len"])[1]["visual"].float().cpu()


def named_attention_shares(visual: Any, rows: np.ndarray, masks: np.ndarray, prefix: str,
                           batch_size: int = 512) -> dict[str, float]:
    """`visual(rows) -> (B, K, cells)` attention; masks (N, cells) the named objects' cells."""
    shares = []
    for start in range(0, len(rows), batch_size):
        a = visual(rows[start : start + batch_size].tolist())
        m = torch.from_numpy(masks[start : start + batch_size]).float()
        shares.append((a * m[:, None, :]).sum(-1))
    share = torch.cat(shares).numpy()  # (N, K)
    out = {f"{prefix}named_share_step{k + 1}": round(100 * float(share[:, k].mean()), 2) for k in range(share.shape[1])}
    out[f"{prefix}named_share_uniform"] = round(100 * float(masks.mean()), 2)
    out[f"{prefix}questions"] = int(len(rows))
    return out

