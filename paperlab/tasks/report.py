"""Printing a task's headline results on the terminal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table

from paperlab.console import out_console


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_results(results: Mapping[str, Any], title: str = "results") -> None:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in results.items():
        if isinstance(value, (int, float, str)) or value is None:
            table.add_row(key, fmt(value))
    out_console.print(table)
