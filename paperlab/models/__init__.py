"""Models, registered by name (timm-style). Each model class carries a `Config` dataclass;
`create_model(name, **kwargs)` validates the kwargs against it and builds the module.

A built model keeps its `ModelSpec` (registered name and final constructor arguments, as nanoGPT
keeps `model_args`): checkpoints store it, and `paperlab.engine.restore.load_model` rebuilds the
model from it alone."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from torch import nn

from paperlab.config import to_dataclass
from paperlab.registry import Registry

# Importing a model's module registers it (timm-style); the registry does so at its first lookup.
MODELS: Registry[type[nn.Module]] = Registry("model", config_group="model",
                                             modules=["paperlab.models.torchvision_models"])
register_model = MODELS.register


@dataclass(frozen=True)
class ModelSpec:
    """What rebuilds a model: its registered name and every field of its Config, as plain types."""

    name: str
    args: dict[str, Any]


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model; unknown names and keys raise a UserError listing the valid ones."""
    cls = MODELS.get(name)
    cfg = to_dataclass(cls.Config, kwargs, where=f"model '{name}'")  # type: ignore[attr-defined]
    model = cls(cfg)
    model.spec = ModelSpec(name, dataclasses.asdict(cfg))
    return model


def model_spec(model: nn.Module) -> ModelSpec | None:
    """The spec `create_model` gave `model`; None for a model built otherwise (its checkpoints
    hold its weights, but `load_model` cannot rebuild it by name)."""
    spec = getattr(model, "spec", None)
    return spec if isinstance(spec, ModelSpec) else None
