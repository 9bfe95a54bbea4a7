"""The one rich Console on stderr shared by progress bars and logging (so bars don't break),
and a Console on stdout for tables and results."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

err_console = Console(stderr=True)
out_console = Console()


def rich_log_handler() -> logging.Handler:
    """Logging handler on the shared stderr console (used by conf/hydra/job_logging); plain
    one-line records when stderr is not a terminal (CI logs, files), where rich would wrap them."""
    if err_console.is_terminal:
        return RichHandler(console=err_console, show_path=False, markup=False, rich_tracebacks=False)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(message)s", "%H:%M:%S"))
    return handler


def track(items: Iterable[T], description: str) -> Iterator[T]:
    """A progress bar (ETA) on the shared console for a loop the user waits for."""
    items = list(items)
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=err_console, transient=True) as progress:
        yield from progress.track(items, description=description)
