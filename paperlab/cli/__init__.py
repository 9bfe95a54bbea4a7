"""The `paperlab` command line: thin Typer commands that hand their arguments to the tasks.

Arguments after a task command are Hydra overrides (key=value, group=option, +new=value), `-m` for
sweeps and `--cfg job` to print the composed config. Typed options (--resume, --text, ...) become
overrides. User errors are one line on stderr and exit code 2 (`paperlab --debug ...` shows the
traceback). The shell completes the overrides too (`paperlab train model=<TAB>`: the models) once
`paperlab --install-completion` has installed Typer's completion script."""

from paperlab.cli import commands, paper_commands  # noqa: F401 (each registers its commands on `app`)
from paperlab.cli.app import app, main

__all__ = ["app", "main"]
