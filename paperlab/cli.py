"""The `paperlab` command line: thin Typer commands that hand their arguments to the tasks.

Arguments after a task command are Hydra overrides (key=value, group=option, +new=value), `-m` for
sweeps and `--cfg job` to print the composed config. Typed options (--resume, --text, ...) become
overrides. User errors are one line on stderr and exit code 2 (`paperlab --debug ...` shows the
traceback)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import typer

from paperlab.errors import UserError

app = typer.Typer(
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


@app.command(context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab train model=zfnet                                  # ZFNet on Fashion-MNIST (the main job)

    paperlab train model=zfnet trainer.max_epochs=1 -m optim.lr=0.1,0.01   # a sweep: two runs

    paperlab train experiment=zfnet_imagenet data.root=/datasets/imagenet

    paperlab train --resume outputs/train/zfnet_fashion_mnist/2026-11-25_10-00-00

    paperlab train --cfg job                                    # print the composed config
""")
def train(
    ctx: typer.Context,
    resume: Path = typer.Option(None, "--resume", help="Continue the run in RUN_DIR from its last checkpoint.",
                                metavar="RUN_DIR"),
) -> None:
    """Train a model. Extra arguments are Hydra overrides: `model=zfnet trainer.max_epochs=3` (`-m` sweeps)."""
    from paperlab.launch import launch
    from paperlab.tasks import train as task

    launch("train", task.main, ctx.args, resume=resume)


@app.command("list", epilog="""
**Examples**

    paperlab list models

    paperlab list experiments
""")
def list_(what: str = typer.Argument(..., help="models, data, experiments, optim, sched, learners or trainer")) -> None:
    """List the choices of a config group, with what each one is."""
    from paperlab.tasks.inventory import list_group

    list_group(what)


@app.command(epilog="""
**Examples**

    paperlab runs                      # every run under outputs/

    paperlab runs outputs/train/zfnet_fashion_mnist/multirun_2026-11-25_10-00-00   # one sweep
""")
def runs(directory: Path = typer.Argument(Path("outputs"), help="Folder to search for runs (a sweep, a task, ...).")) -> None:
    """A table of the runs under a folder: task, name, start, status and headline metrics."""
    from paperlab.tasks.inventory import list_runs

    list_runs(directory)


def _quoted(text: str) -> str:
    """A Hydra override value that reads back as exactly `text` (quotes, commas, backslashes, ${)."""
    text = re.sub(r'(\\*)"', lambda m: m.group(1) * 2 + '\\"', text)
    text = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, text)
    return '"' + text.replace("${", "\\${") + '"'


@app.command("sample-handwriting", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab sample-handwriting --text "hello" --bias 1.0

    paperlab sample-handwriting --text "The quick brown fox\\njumps over the lazy dog" --seed 3   # a page of two lines

    paperlab sample-handwriting --text "hello world" --bias 0 --bias 0.5 --bias 1 --bias 2   # one row per bias

    paperlab sample-handwriting --text "in my own hand" --style 0 --style 4    # primed with stored styles

    paperlab sample-handwriting --text "more of the same" --prime-strokes outputs/sample-handwriting/handwriting/DATE/arrays/strokes.h5

    paperlab sample-handwriting --unconditional --points 700                  # the prediction network (no text)

    paperlab sample-handwriting --text "mine" --checkpoint outputs/train/graves_synthesis_hershey_handwriting/DATE
""")
def sample_handwriting(
    ctx: typer.Context,
    text: str = typer.Option(None, "--text", "-t", help="What to write; lines separated by newlines or \\\\n (a page)."),
    bias: list[float] = typer.Option(None, "--bias", "-b", help="Sampling bias b >= 0 (Graves Sec. 5.4): 0 unbiased, "
                                     "higher is neater. Repeat for one row per bias. [default: 1.0]"),
    seed: int = typer.Option(None, "--seed", help="Random seed. [default: 0]"),
    style: list[int] = typer.Option(None, "--style", help="Prime with stored style N (Sec. 5.5); repeat for several."),
    prime_strokes: Path = typer.Option(None, "--prime-strokes", help="Prime with this line: .h5 strokes, .npy "
                                       "(T, 3) offsets, or IAM-OnDB .xml.", metavar="FILE"),
    prime_text: str = typer.Option(None, "--prime-text", help="The primer's text (read from an .h5 when omitted)."),
    unconditional: bool = typer.Option(False, "--unconditional", help="Sample the prediction network (no text)."),
    points: int = typer.Option(None, "--points", help="Length of an unconditional sample. [default: 600]"),
    checkpoint: str = typer.Option(None, "--checkpoint", help="RUN_DIR, .pt file or shipped model name. "
                                   "[default: graves_synthesis, or graves_prediction]", metavar="CKPT"),
    unknown: str = typer.Option(None, "--unknown", help="Characters outside the model's alphabet: error or skip."),
) -> None:
    """Write text by hand with Graves's synthesis network (or scribble with the prediction network)."""
    from paperlab.launch import launch
    from paperlab.tasks import sample_handwriting as task

    overrides = [f"sample.{key}={_quoted(str(value))}" for key, value in
                 (("text", text), ("prime_strokes", prime_strokes), ("prime_text", prime_text),
                  ("checkpoint", checkpoint), ("unknown", unknown)) if value is not None]
    if bias:
        overrides.append(f"sample.bias=[{','.join(repr(float(b)) for b in bias)}]")
    if style:
        overrides.append(f"sample.style=[{','.join(str(int(k)) for k in style)}]")
    if seed is not None:
        overrides.append(f"seed={seed}")
    if points is not None:
        overrides.append(f"sample.points={points}")
    if unconditional:
        overrides.append("sample.unconditional=true")
    launch("sample-handwriting", task.main, [*ctx.args, *overrides])


def main() -> None:
    try:
        app()
    except UserError as err:
        if _DEBUG["on"]:
            raise
        sys.stderr.write(f"error: {err}\n")
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
