"""Input checks shared by the models, the inducing-point selection and the loaders: each bad
input is one UserError line naming the problem and its fix."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from paperlab.errors import UserError


def as_inputs(x: Tensor | np.ndarray, name: str = "x") -> Tensor:
    """x as an (N, D) float64 tensor without NaN or inf; a 1-d x is one input dimension."""
    t = torch.as_tensor(x, dtype=torch.float64)
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise UserError(f"{name} has shape {tuple(t.shape)}, not (N, D)", f"pass {name} as an N x D array")
    bad = int((~torch.isfinite(t)).sum())
    if bad:
        raise UserError(f"{name} has {bad} NaN or infinite values",
                        "drop or impute the rows with missing values first")
    return t


def as_data(x: Tensor | np.ndarray, y: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
    """(x, y) as an (N, D) and an (N,) float64 tensor, finite, with as many targets as inputs."""
    xt = as_inputs(x)
    yt = torch.as_tensor(y, dtype=torch.float64)
    if yt.ndim == 2 and yt.shape[1] == 1:
        yt = yt[:, 0]
    if yt.ndim != 1 or yt.shape[0] != xt.shape[0]:
        raise UserError(f"y has shape {tuple(yt.shape)} but x has {xt.shape[0]} rows",
                        "pass one target per input row, y of shape (N,)")
    bad = int((~torch.isfinite(yt)).sum())
    if bad:
        raise UserError(f"y has {bad} NaN or infinite values",
                        "drop or impute the rows with missing targets first")
    return xt, yt


def check_num_inducing(m: int, n: int) -> int:
    """M as an int, or a UserError unless 1 <= M <= N."""
    if int(m) != m or m < 1:
        raise UserError(f"number of inducing points must be a positive integer, got {m}",
                        "pass M >= 1")
    if m > n:
        raise UserError(f"{m} inducing points requested but the data have only N = {n} points",
                        "use M <= N")
    return int(m)
