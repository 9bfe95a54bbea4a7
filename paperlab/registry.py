"""Factories registered by name (timm-style), with errors that list the valid names.

A registry fills itself at its first lookup by importing the modules that register its names: the
core's own (given to the registry) and the papers' (each package under `paperlab.papers` names
them in its `REGISTRY_MODULES`, by kind). The core thus never imports a paper, and a command that
uses one model does not pay for importing every paper's models (see docs/design.md)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from paperlab.errors import UserError

T = TypeVar("T")

# The namespace of the papers: each package in it may add modules to the registries.
PAPERS = "paperlab.papers"


def paper_modules(kind: str) -> list[str]:
    """The modules the papers list under `kind` in their REGISTRY_MODULES (relative to the paper)."""
    papers = importlib.import_module(PAPERS)
    modules = []
    for info in sorted(pkgutil.iter_modules(papers.__path__), key=lambda m: m.name):
        paper = importlib.import_module(f"{PAPERS}.{info.name}")
        modules += [f"{paper.__name__}.{m}" for m in getattr(paper, "REGISTRY_MODULES", {}).get(kind, ())]
    return modules


class Registry(Generic[T]):
    """A name -> factory table. `get` on an unknown name raises a UserError listing the names.

    `modules` (the core's) and the papers' modules of this `kind` register the entries when
    imported; they are imported at the first lookup, not with the registry."""

    def __init__(self, kind: str, config_group: str | None = None, modules: Iterable[str] = ()) -> None:
        self.kind = kind
        self.config_group = config_group  # the Hydra override that picks one, e.g. "model"
        self._items: dict[str, T] = {}
        self._pending = list(modules)
        self._papers_listed = False

    def _populate(self) -> None:
        if not self._papers_listed:
            self._papers_listed = True
            self._pending += paper_modules(self.kind)
        while self._pending:
            importlib.import_module(self._pending.pop(0))

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        self._populate()
        try:
            return self._items[name]
        except KeyError:
            how = f" ({self.config_group}=<name>)" if self.config_group else ""
            raise UserError(
                f"unknown {self.kind} '{name}'",
                f"choose one of: {', '.join(self.names())}{how}",
            ) from None

    def names(self) -> list[str]:
        self._populate()
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        self._populate()
        return sorted(self._items.items())

    def __contains__(self, name: object) -> bool:
        self._populate()
        return name in self._items


def summary(obj: Any) -> str:
    """First line of an object's docstring, for `paperlab list`."""
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""
