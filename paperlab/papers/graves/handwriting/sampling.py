"""Sampling from Graves's handwriting networks, one pen point at a time.

* Prediction network (Sec. 4): unconditional "scribbles" of a given length.
* Synthesis network (Sec. 5.3): the text is fixed and the pen is sampled until the window has
  passed the last character: "sampling ended when phi(t, U + 1) > phi(t, u) for all 1 <= u <= U".
  The window gets there a few points before the hand has finished the last letter (on the
  embedded corpus, teacher-forced: 2 points before the line's last point, 4 at the 99th
  percentile: the tail of a final "d" or "k", the bar of a final "t", drawn after a pen lift).
  So a line goes on to its next pen lift after at least one more point (a lift at the very step
  the rule fires still has its delayed stroke to draw), at most `finish_points` more points
  (default: a sixth of a character's points, 2 on the embedded corpus). On 103 validation lines
  of 30-40 characters, read by `handwriting_judge` at bias 1 (seeds 0 and 1, pen lifts sampled
  as in the paper), this finish puts the last word right in 86% of lines against 79% for a
  lift-ends-it rule with 4 points (which cut final t's bars and drew exit ticks read as ".").
  A cap proportional to the text length stops a line whose window never gets there.
* Biased sampling (Sec. 5.4, Eq. 61-62): b >= 0 shrinks the variances and sharpens the mixture
  weights; b = 0 samples the network's own distribution. By default the bias also sharpens the
  end-of-stroke draw (`sharpen_eos`, not in the paper: paperlab/papers/graves/handwriting/mixture_density.py).
* Primed sampling (Sec. 5.5): the network first reads a real line (its strokes and its text);
  then it writes the new text, c = primer text + " " + new text, in the primer's style.

Several lines are sampled together as one batch; each stops on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from paperlab.engine.restore import LoadedModel
from paperlab.papers.graves.handwriting.mixture_density import sample_mixture
from paperlab.papers.graves.handwriting.strokes import Alphabet, OffsetStats


@dataclass
class HandwritingModel:
    """A trained handwriting network with what sampling needs: the alphabet, the offset statistics,
    the stored style lines and the training data's pen points per character."""

    net: nn.Module
    alphabet: Alphabet
    stats: OffsetStats
    styles: list[dict[str, Any]]
    source: str
    points_per_char: float
    data: dict[str, Any]  # the data settings it was trained with (to rebuild its held-out lines)
    path: Path  # the checkpoint

    @classmethod
    def of(cls, loaded: LoadedModel) -> HandwritingModel:
        """The sampler's view of a trained handwriting network (load_model(..., "handwriting"))."""
        x = loaded.extras
        return cls(loaded.model, Alphabet(x.alphabet), OffsetStats.from_dict(x.stats), list(x.styles), x.source,
                   float(x.points_per_char), dict(loaded.config["data"]), loaded.path)

    @property
    def kind(self) -> str:
        return self.net.kind


@dataclass
class Primer:
    """A real line to prime with: offsets (T, 3) in the model's data units, and its text."""

    offsets: torch.Tensor
    text: str


@dataclass
class Sample:
    """One generated line. offsets (T, 3) in data units; y_hat (T, 1+6M) the normalised-unit
    mixture each point was drawn from; phi (T, U+1) the window over `window_text` (None for the
    prediction network); stop: "window" (Sec. 5.3's rule), "cap" or "length"."""

    text: str
    offsets: np.ndarray
    y_hat: np.ndarray
    phi: np.ndarray | None
    window_text: str
    stop: str


def window_finished(phi: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Sec. 5.3's stopping rule per line: phi(t, U+1) > phi(t, u) for every u <= U.

    phi (B, P) over positions u = 1..P (P >= U_b + 1), lengths U_b (B,) -> (B,) bool."""
    cols = torch.arange(phi.shape[1], device=phi.device)
    past_end = phi.gather(1, lengths[:, None]).squeeze(1)  # column U_b holds u = U_b + 1
    inside = phi.masked_fill(cols[None] >= lengths[:, None], float("-inf")).amax(1)
    return past_end > inside


def window_sharpness(phi: np.ndarray | None) -> float:
    """How cleanly the window stepped from character to character: the mean, over the pen points, of
    the largest share of phi(t, .) on one position (1: always on a single character). Not in the
    paper. The idea: a letter drawn while the window lingers between two characters may blend
    their shapes, so of a line's candidates `sample-handwriting --best-of N` keeps the sharpest."""
    if phi is None or not len(phi):
        return 0.0
    share = phi / phi.sum(1, keepdims=True).clip(1e-30)
    return float(share.max(1).mean())


def _normalised(model: HandwritingModel, offsets: torch.Tensor) -> torch.Tensor:
    x = model.stats.normalise(offsets.float())
    x[0] = 0.0  # the network starts from a null input, as in training
    return x


@torch.no_grad()
def synthesize(model: HandwritingModel, texts: list[str], bias: float = 0.0, primer: Primer | None = None,
               generator: torch.Generator | None = None, max_points_per_char: float = 40.0,
               finish_points: int | None = None, sharpen_eos: bool = True) -> list[Sample]:
    """Write each of `texts` (one line each) with the synthesis network."""
    net = model.net
    full = [f"{primer.text} {t}" if primer is not None else t for t in texts]
    ids = torch.nn.utils.rnn.pad_sequence([model.alphabet.encode(t) for t in full], batch_first=True, padding_value=-1)
    lengths = torch.tensor([len(t) for t in full])
    b = len(texts)
    state = None
    x = torch.zeros(b, 1, 3)
    if primer is not None:
        p = _normalised(model, primer.offsets)
        state = net(p[None, :-1].expand(b, -1, -1), ids).state  # the loop's first step reads the last point
        x = p[-1].expand(b, 1, 3).clone()
    if finish_points is None:
        finish_points = math.ceil(model.points_per_char / 6)
    caps = torch.tensor([math.ceil(max_points_per_char * (len(t) + 1)) for t in texts])
    points, y_hats, phis = [], [], []
    stop = ["cap"] * b
    active = torch.ones(b, dtype=torch.bool)
    n_steps = torch.zeros(b, dtype=torch.long)
    finishing = torch.zeros(b, dtype=torch.long)  # points drawn since the window passed the end
    past_end = torch.zeros(b, dtype=torch.bool)
    for _ in range(int(caps.max())):
        out = net(x, ids, state)
        state = out.state
        phi = out.phi[:, -1]
        past_end |= window_finished(phi, lengths) & active
        pen_up = x[:, 0, 2] > 0.5
        finished = past_end & active & ((pen_up & (finishing >= 1)) | (finishing >= finish_points))
        for i in finished.nonzero().flatten().tolist():
            stop[i] = "window"
        active &= ~finished
        if not active.any():
            break
        y_hat = out.y_hat[:, -1]
        x_next = sample_mixture(y_hat, bias, generator, sharpen_eos)
        points.append(x_next)
        y_hats.append(y_hat)
        phis.append(phi)
        n_steps += active.long()
        finishing += (active & past_end).long()
        active &= n_steps < caps
        x = x_next[:, None]
    return [_collect(model, texts[i], full[i], points, y_hats, phis, int(n_steps[i]), i, stop[i]) for i in range(b)]


@torch.no_grad()
def scribble(model: HandwritingModel, num_points: int, count: int = 1, bias: float = 0.0,
             primer: Primer | None = None, generator: torch.Generator | None = None,
             sharpen_eos: bool = True) -> list[Sample]:
    """`count` unconditional samples of `num_points` points from the prediction network (Sec. 4)."""
    net = model.net
    state = None
    x = torch.zeros(count, 1, 3)
    if primer is not None:
        p = _normalised(model, primer.offsets)
        state = net(p[None, :-1].expand(count, -1, -1))[1]
        x = p[-1].expand(count, 1, 3).clone()
    points, y_hats = [], []
    for _ in range(num_points):
        y_hat, state = net(x, state)
        x = sample_mixture(y_hat[:, -1], bias, generator, sharpen_eos)[:, None]
        points.append(x[:, 0])
        y_hats.append(y_hat[:, -1])
    return [_collect(model, "", "", points, y_hats, [], num_points, i, "length") for i in range(count)]


def _collect(model: HandwritingModel, text: str, window_text: str, points: list[torch.Tensor],
             y_hats: list[torch.Tensor], phis: list[torch.Tensor], n: int, i: int, stop: str) -> Sample:
    if n == 0:
        return Sample(text, np.zeros((0, 3), np.float32), np.zeros((0, 0), np.float32), None, window_text, stop)
    offsets = model.stats.denormalise(torch.stack([p[i] for p in points[:n]]))
    offsets[-1, 2] = 1.0  # the pen lifts at the end
    phi = torch.stack([p[i, : len(window_text) + 1] for p in phis[:n]]).numpy() if phis else None
    return Sample(text, offsets.numpy(), torch.stack([y[i] for y in y_hats[:n]]).numpy(), phi, window_text, stop)
