"""Checkpoints shipped with paperlab, trained by paperlab's own commands on the embedded data, so
that sampling and visualisation work right after install. Each folder holds `model.pt` and
`model.json` (the exact command, seed, metrics and date that produced it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).resolve().parent


def shipped() -> list[str]:
    return sorted(p.parent.name for p in ASSETS.glob("*/model.pt"))


def shipped_checkpoint(name: str) -> Path | None:
    path = ASSETS / name / "model.pt"
    return path if path.is_file() else None


def shipped_info(name: str) -> dict[str, Any]:
    return json.loads((ASSETS / name / "model.json").read_text())
