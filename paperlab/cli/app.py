"""The Typer application of the `paperlab` command and its entry point: one-line user errors, exit codes, a
fast exit. The commands are in paperlab/cli/commands.py (runs) and paperlab/cli/paper_commands.py."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from pathlib import Path
from typing import NoReturn

import typer
from typer.core import TyperCommand

from paperlab.errors import UserError
from paperlab.overrides import quoted, quoted_list


class _OverridesCommand(TyperCommand):
    """A command whose extra arguments are Hydra overrides: the shell completes them (a config
    group's options after `model=`, the experiments, the config's keys) from conf/ alone, without
    importing torch."""

    def shell_complete(self, ctx, incomplete):  # noqa: ANN001, ANN201 (click's signature)
        items = super().shell_complete(ctx, incomplete)
        if (self.context_settings or {}).get("allow_extra_args") and not incomplete.startswith("-"):
            try:  # Typer >= 0.17 runs its commands on its own copy of click
                from typer._click.shell_completion import CompletionItem
            except ImportError:
                from click.shell_completion import CompletionItem

            from paperlab.config import complete_override

            items += [CompletionItem(w) for w in complete_override(str(self.name), incomplete, list(ctx.args))]
        return items


class _Typer(typer.Typer):
    def command(self, *args, cls=None, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201 (Typer's signature)
        """Every command completes its overrides (`cls` as Typer takes it)."""
        return super().command(*args, cls=cls or _OverridesCommand, **kwargs)


app = _Typer(
    name="paperlab",
    help="Reproduce classic deep-learning papers with PyTorch. `paperlab COMMAND --help` shows examples.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}
_DEBUG = {"on": False}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks for user errors too.")) -> None:
    _DEBUG["on"] = debug


def checkpoint_overrides(run_dir: str | None, args: list[str]) -> list[str]:
    """The optional RUN_DIR argument of an analysis command as a `checkpoint=` override. With
    extra arguments allowed, a first `key=value` override (or an unknown option) lands in RUN_DIR:
    hand it back."""
    if run_dir is None:
        return list(args)
    if "=" in run_dir or run_dir.startswith("-"):
        return [run_dir, *args]
    return [*args, f"checkpoint={quoted(run_dir)}"]


def images_override(task: str, images: list[Path] | None) -> list[str]:
    return [f"{task}.images={quoted_list([str(p) for p in images])}"] if images else []


RUN_DIR_HELP = "A training run directory, a .pt checkpoint, or a shipped model (default: zfnet_fashion_mnist)."


def main() -> None:
    """The `paperlab` command (the console script and `python -m paperlab`)."""
    try:
        app(prog_name="paperlab")  # standalone mode: always ends in SystemExit; _PAPERLAB_COMPLETE completes
    except UserError as err:
        if _DEBUG["on"]:
            raise
        if os.environ.get("RANK", "0") == "0":  # under torchrun every rank has it: rank 0 says it
            sys.stderr.write(f"error: {err}\n")
        _exit(err.exit_code)
    except KeyboardInterrupt:
        if _DEBUG["on"]:
            raise
        sys.stderr.write("interrupted\n")
        _exit(130)  # the shell's code for a command ended by Ctrl-C
    except SystemExit as done:
        _exit(done.code)


def _exit(code: int | str | None) -> NoReturn:
    """Exit once the run is over without the interpreter's teardown of torch's modules, which takes
    about a second on 2 cores (longer than writing "hello"). The atexit functions still run (logging
    flushes its files, multiprocessing joins its children) and every file the tasks wrote is closed
    already; with another non-daemon thread alive, the ordinary exit joins it first."""
    if isinstance(code, str):
        sys.stderr.write(code + "\n")
        code = 1
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if others:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`| head`) has nothing to flush to
            stream.flush()
    os._exit(code or 0)
