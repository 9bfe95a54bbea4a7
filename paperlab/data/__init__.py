"""Datasets: one module per family, each with a loader for the paper's real on-disk format and an
embedded default that runs offline (docs/design.md, "Data"). Builders are registered by name; the
name is the `data=` config choice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from omegaconf import DictConfig

from paperlab.errors import UserError
from paperlab.registry import Registry

# Importing a family's module registers its datasets (timm-style); the registry does so at its first lookup.
DATASETS: Registry[Callable[[DictConfig], Any]] = Registry("dataset", config_group="data", modules=[
    f"paperlab.data.{m}" for m in ("cifar", "imagenet", "mnist", "stl10", "svhn", "text")])
register_data = DATASETS.register
T = TypeVar("T")


def build_data(cfg: DictConfig) -> Any:
    """Build the dataset bundle named by `cfg.name`."""
    return DATASETS.get(cfg.name)(cfg)


def build_data_as(cfg: DictConfig, kind: type[T], what: str, use: str) -> T:
    """Build the dataset bundle named by `cfg.name`, which must be a `kind` (what the caller trains
    on): otherwise one line saying it is not `what` and which data to `use`."""
    data = build_data(cfg)
    if not isinstance(data, kind):
        raise UserError(f"data={cfg.name} is not {what}", f"use {use}")
    return data
