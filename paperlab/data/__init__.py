"""Datasets: one module per family, each with a loader for the paper's real on-disk format and an
embedded default that runs offline (see shared/data.md). Builders are registered by name; the
name is the `data=` config choice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig

from paperlab.registry import Registry

DATASETS: Registry[Callable[[DictConfig], Any]] = Registry("dataset", config_group="data")
register_data = DATASETS.register


def build_data(cfg: DictConfig) -> Any:
    """Build the dataset bundle named by `cfg.name`."""
    return DATASETS.get(cfg.name)(cfg)


# Importing a family's module registers its datasets (timm-style).
from paperlab.data import (  # noqa: E402, F401
    awa2,
    captions,
    cifar,
    cub,
    easy_vqa,
    hershey_handwriting,
    iam_ondb,
    imagenet,
    mnist,
    sort_of_clevr,
    text,
    vqa,
    zsl_fashion,
    zsl_shapes,
)
