"""The `paperlab` command line: thin Typer commands that hand their arguments to the tasks.

Arguments after a task command are Hydra overrides (key=value, group=option, +new=value), `-m` for
sweeps and `--cfg job` to print the composed config. Typed options (--resume, --text, ...) become
overrides. User errors are one line on stderr and exit code 2 (`paperlab --debug ...` shows the
traceback)."""

from __future__ import annotations

import json
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


def _checkpoint_overrides(run_dir: str | None, args: list[str]) -> list[str]:
    """The optional RUN_DIR argument of an analysis command as a `checkpoint=` override. With
    extra arguments allowed, a first `key=value` override lands in RUN_DIR: hand it back."""
    if run_dir is None:
        return list(args)
    if "=" in run_dir:
        return [run_dir, *args]
    return [*args, f"checkpoint={json.dumps(run_dir)}"]


def _images_override(task: str, images: list[Path] | None) -> list[str]:
    return [f"{task}.images={json.dumps([str(p) for p in images])}"] if images else []


RUN_DIR_HELP = "A training run directory, a .pt checkpoint, or a shipped model (default: zfnet_fashion_mnist)."


@app.command(context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab visualize                                          # the shipped ZFNet on Fashion-MNIST

    paperlab visualize outputs/train/zfnet_fashion_mnist/2026-11-25_10-00-00 --evolution

    paperlab visualize visualize.layers=[conv1,conv5] visualize.maps=16

    paperlab visualize visualize.layers=[conv2] visualize.maps=[3,7,11]

    paperlab visualize model=vgg16 model.weights=IMAGENET1K_V1 data=imagenet data.root=/datasets/imagenet
""")
def visualize(
    ctx: typer.Context,
    run_dir: str = typer.Argument(None, metavar="RUN_DIR", help=RUN_DIR_HELP),
    evolution: bool = typer.Option(False, "--evolution", help="Also follow chosen maps through the run's epoch snapshots (Fig. 4)."),
) -> None:
    """Deconvnet projections of the top-9 activations of feature maps, per conv layer (Zeiler & Fergus Fig. 2)."""
    from paperlab.launch import launch
    from paperlab.tasks import visualize as task

    overrides = _checkpoint_overrides(run_dir, ctx.args) + (["visualize.evolution=true"] if evolution else [])
    launch("visualize", task.main, overrides)


@app.command(context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab occlude                                            # 4 Fashion-MNIST images, 8 px square, stride 2

    paperlab occlude outputs/train/zfnet_fashion_mnist/2026-11-25_10-00-00 --size 12 --stride 4

    paperlab occlude --image shoe.png occlude.labels=[Sneaker]

    paperlab occlude occlude.indices=[0,1,2]                    # validation images by index

    paperlab occlude model=vgg16 model.weights=IMAGENET1K_V1 --image cat.jpg --size 32 --stride 8
""")
def occlude(
    ctx: typer.Context,
    run_dir: str = typer.Argument(None, metavar="RUN_DIR", help=RUN_DIR_HELP),
    size: int = typer.Option(None, "--size", help="Side of the grey square in pixels (default 8)."),
    stride: int = typer.Option(None, "--stride", help="Pixels between square positions (default 2)."),
    image: list[Path] = typer.Option(None, "--image", help="An image file to occlude (repeatable); default: dataset images."),
) -> None:
    """Occlusion sensitivity (Zeiler & Fergus Fig. 7): slide a grey square, map layer-5 activation, p(true class), top class."""
    from paperlab.launch import launch
    from paperlab.tasks import occlude as task

    overrides = _checkpoint_overrides(run_dir, ctx.args) + _images_override("occlude", image)
    overrides += [f"occlude.{k}={v}" for k, v in (("size", size), ("stride", stride)) if v is not None]
    launch("occlude", task.main, overrides)


@app.command(context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab invariance                                         # 5 Fashion-MNIST images, one per class

    paperlab invariance outputs/train/zfnet_fashion_mnist/2026-11-25_10-00-00 invariance.steps=31

    paperlab invariance --image shoe.png invariance.labels=[Sneaker]

    paperlab invariance invariance.rotate=180 invariance.scale=[0.6,1.4]
""")
def invariance(
    ctx: typer.Context,
    run_dir: str = typer.Argument(None, metavar="RUN_DIR", help=RUN_DIR_HELP),
    image: list[Path] = typer.Option(None, "--image", help="An image file to transform (repeatable); default: dataset images."),
) -> None:
    """Invariance to translation, scale, rotation (Zeiler & Fergus Fig. 5): feature distances at layer 1 and 7, p(true class)."""
    from paperlab.launch import launch
    from paperlab.tasks import invariance as task

    launch("invariance", task.main, _checkpoint_overrides(run_dir, ctx.args) + _images_override("invariance", image))


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


@app.command(epilog="""
**Examples**

    paperlab export outputs/train/zfnet_fashion_mnist/2026-11-25_11-00-43 zfnet_fashion_mnist --snapshots
""")
def export(
    run_dir: Path = typer.Argument(..., help="A finished run directory."),
    name: str = typer.Argument(..., help="Name of the shipped model (paperlab/assets/NAME/)."),
    snapshots: bool = typer.Option(False, "--snapshots", help="Also copy checkpoints/snapshots/ (feature evolution)."),
    note: str = typer.Option(None, "--note", help="A sentence stored in model.json."),
) -> None:
    """Ship a run's best weights with paperlab: assets/NAME/model.pt + model.json (command, seed, metrics)."""
    from paperlab.engine.export import export_run

    out = export_run(run_dir, name, snapshots=snapshots, note=note)
    typer.echo(f"exported {run_dir} -> {out}")


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
