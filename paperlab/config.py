"""Where the Hydra configs live, and turning config nodes into typed dataclasses."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from paperlab.errors import UserError

T = TypeVar("T")

_PACKAGE = Path(__file__).resolve().parent


def conf_dir() -> Path:
    """The configs: inside the package in an installed wheel, the repo's conf/ in a checkout."""
    for candidate in (_PACKAGE / "conf", _PACKAGE.parent / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise RuntimeError(f"paperlab's configs are missing (looked in {_PACKAGE}/conf and ../conf)")


def config_options(group: str) -> list[str]:
    """The names in a config group (conf/<group>/*.yaml), e.g. the models for `model=`."""
    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml") if not p.stem.startswith("_"))


def to_dataclass(cls: type[T], node: DictConfig | dict[str, Any] | None, where: str, **extra: Any) -> T:
    """Validate a config node against a dataclass and build it (type errors become UserErrors)."""
    data = {} if node is None else node
    if isinstance(data, DictConfig):
        data = OmegaConf.to_container(data, resolve=True)
    data = {**data, **extra}
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise UserError(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} in {where}",
            f"valid keys: {', '.join(sorted(names))}",
        )
    try:
        merged = OmegaConf.merge(OmegaConf.structured(cls), data)
        return OmegaConf.to_object(merged)  # type: ignore[return-value]
    except OmegaConfBaseException as err:
        msg = str(err).splitlines()[0]
        raise UserError(f"invalid value in {where}: {msg}", "fix the override") from None
