"""The commands every paper shares: train, reproduce, results, and the run folder's tools (list, runs,
export)."""

from __future__ import annotations

from pathlib import Path

import typer

from paperlab.cli.app import PASSTHROUGH, app


@app.command(rich_help_panel="Runs", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab train model=zfnet                                  # ZFNet on Fashion-MNIST (the main job)

    paperlab train model=zfnet trainer.max_epochs=1 -m optim.lr=0.1,0.01   # a sweep: two runs

    paperlab train experiment=zfnet_imagenet data.root=/datasets/imagenet

    paperlab train --resume outputs/train/zfnet_fashion_mnist/2026-11-25_10-00-00

    paperlab train --cfg job                                    # print the composed config

    torchrun --standalone --nproc-per-node=4 -m paperlab train  # DDP: one process per GPU

    paperlab train -m hydra/launcher=slurm hydra.launcher.gpus_per_node=4 optim.lr=0.01,0.004   # SLURM jobs
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


def _kinds(incomplete: str) -> list[str]:
    from paperlab.tasks.inventory import GROUPS

    return [kind for kind in GROUPS if kind.startswith(incomplete)]


@app.command("list", rich_help_panel="Runs", epilog="""
**Examples**

    paperlab list models

    paperlab list experiments
""")
def list_(what: str = typer.Argument(..., help="models, data, experiments, optim, sched, learners or trainer",
                                     autocompletion=_kinds)) -> None:
    """List the choices of a config group, with what each one is."""
    from paperlab.tasks.inventory import list_group

    list_group(what)


@app.command(rich_help_panel="Runs", epilog="""
**Examples**

    paperlab runs                      # every run under outputs/

    paperlab runs outputs/train/zfnet_fashion_mnist/multirun_2026-11-25_10-00-00   # one sweep
""")
def runs(directory: Path = typer.Argument(Path("outputs"), help="Folder to search for runs (a sweep, a task, ...).")) -> None:
    """A table of the runs under a folder: task, name, start, status and headline metrics."""
    from paperlab.tasks.inventory import list_runs

    list_runs(directory)


@app.command(rich_help_panel="Runs", epilog="""
**Examples**

    paperlab export outputs/train/zfnet_fashion_mnist/2026-11-25_11-00-43 zfnet_fashion_mnist --snapshots --force

    paperlab export outputs/train/zfnet_fashion_mnist/2026-11-25_11-00-43 zfnet_mine --dest ~/.local/share/paperlab/models
""")
def export(
    run_dir: Path = typer.Argument(..., help="A finished run directory."),
    name: str = typer.Argument(..., help="The model's name (letters, digits, _): the folder DEST/NAME/."),
    snapshots: bool = typer.Option(False, "--snapshots", help="Also copy checkpoints/snapshots/ (feature evolution)."),
    note: str = typer.Option(None, "--note", help="A sentence stored in model.json."),
    dest: Path = typer.Option(None, "--dest", metavar="DIR", help="Export into DIR (default: paperlab's assets folder, "
                              "if writable). Models in $PAPERLAB_MODELS (~/.local/share/paperlab/models) are found by name."),
    force: bool = typer.Option(False, "--force", help="Replace a model of that name (or stand in for a shipped one)."),
) -> None:
    """Make a run's best weights a named model: DEST/NAME/model.pt + model.json (command, seed, metrics)."""
    from paperlab.engine.export import export_run

    out = export_run(run_dir, name, dest=dest, snapshots=snapshots, note=note, force=force)
    typer.echo(f"exported {run_dir} -> {out}")


@app.command(rich_help_panel="Runs", epilog="""
**Examples**

    paperlab reproduce zeiler_fergus              # train (or reuse the shipped model), analyse, report

    paperlab reproduce all --dry-run              # every experiment of every paper, with its time

    paperlab reproduce zeiler_fergus --retrain    # train again instead of using the shipped model

    paperlab reproduce zeiler_fergus --update-docs   # also copy the records into docs/results/ and regenerate the tables
""")
def reproduce(
    paper: str = typer.Argument(..., help="a paper (zeiler_fergus, graves, ...) or all"),
    out: Path = typer.Option(Path("outputs/reproduce"), "--out", help="Where the runs and the report go."),
    retrain: bool = typer.Option(False, "--retrain", help="Train what the package ships a model for."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the experiments and their times; run nothing."),
    update_docs: bool = typer.Option(False, "--update-docs", help="Copy the records into docs/results/ and regenerate the tables."),
) -> None:
    """Rerun a paper's experiments (reusing finished runs) and write report.md/report.html beside the paper's numbers."""
    from paperlab.tasks import reproduce as task

    task.run(paper, out=out, retrain=retrain, dry_run=dry_run, update_docs=update_docs)


@app.command(rich_help_panel="Runs", epilog="""
**Examples**

    paperlab results             # rewrite the tables of README.md and docs/papers/*.md from docs/results/

    paperlab results --check     # exit 2 if a table differs from its records (CI)
""")
def results(check: bool = typer.Option(False, "--check", help="Only compare; fail if a table differs.")) -> None:
    """Generate the docs' results tables from the recorded runs (docs/results/), so none is typed by hand."""
    from paperlab.tasks import results as task

    outcome = task.run(check=check)
    say = "match their records" if check else "regenerated"
    typer.echo(f"{outcome.tables} results tables {say}" + (f" ({len(outcome.changed)} changed)" if outcome.changed else ""))
