"""Positive hyperparameters (kernel variance, lengthscales, noise variance), float64.

As GPflow (`gpflow.utilities.positive`, softplus bijector) and GPyTorch
(`gpytorch.constraints.Positive`, softplus) do, a model stores an unconstrained raw parameter and
uses softplus(raw), so that L-BFGS can move the raw value freely without leaving the domain.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from paperlab.errors import UserError


def _checked(value: float | Sequence[float] | Tensor, name: str) -> Tensor:
    v = torch.as_tensor(value, dtype=torch.float64)
    if v.numel() == 0 or not bool(torch.all(torch.isfinite(v) & (v > 0))):
        shown = v.tolist() if v.numel() > 1 else value
        raise UserError(f"{name} must be positive and finite, got {shown}", f"pass a {name} > 0")
    return v


def _inverse_softplus(v: Tensor) -> Tensor:
    # log(exp(v) - 1) written as v + log(1 - exp(-v)): no overflow for large v
    return v + torch.log(-torch.expm1(-v))


def positive_parameter(value: float | Sequence[float], name: str) -> nn.Parameter:
    """The raw parameter whose softplus is `value`; UserError naming `name` unless value > 0."""
    v = _checked(value, name)
    return nn.Parameter(_inverse_softplus(v))


def positive(raw: Tensor) -> Tensor:
    """softplus(raw), written as logaddexp(raw, 0): torch's softplus turns linear above 20, which
    would not give back a value set through the exact inverse."""
    return torch.logaddexp(raw, torch.zeros((), dtype=raw.dtype))
