"""Models, registered by name (timm-style). Each model class carries a `Config` dataclass;
`create_model(name, **kwargs)` validates the kwargs against it and builds the module."""

from __future__ import annotations

from typing import Any

from torch import nn

from paperlab.config import to_dataclass
from paperlab.registry import Registry

# Importing a model's module registers it (timm-style); the registry does so at its first lookup.
MODELS: Registry[type[nn.Module]] = Registry("model", config_group="model", modules=[
    f"paperlab.models.{m}" for m in ("bow_matching", "char_lstm", "dan", "handwriting", "handwriting_recognizer",
                                     "scene_cnn", "torchvision_models", "vqa", "zfnet")])
register_model = MODELS.register


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model; unknown names and keys raise a UserError listing the valid ones."""
    cls = MODELS.get(name)
    cfg = to_dataclass(cls.Config, kwargs, where=f"model '{name}'")  # type: ignore[attr-defined]
    return cls(cfg)
