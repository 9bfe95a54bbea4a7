"""`paperlab local-loss-compare RUN_OR_FOLDER...`: the error curves of several local-loss runs on one
plot, as Nøkland & Eidnes 2019 compare the rules (Sec. 4, Tables 1-7): run directories, or folders
holding runs, such as the sweep folder that
`paperlab train -m experiment=localloss_... local_loss.rule=backprop,pred,sim,predsim,predsim-bpf`
writes (`paperlab runs SWEEP` tables the same runs).

Each run's per-epoch error (metrics.jsonl, `val/error`: the test set under the reference's
`local_loss.eval_on=test`) is one line, labelled with its rule. Writes figures/error_curves.png
and results.json (each run's last error and epochs) in its own run directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from paperlab.engine.lifecycle import open_run
from paperlab.errors import UserError
from paperlab.papers.local_loss.figures import error_curves_figure
from paperlab.tasks.inventory import find_runs
from paperlab.tasks.report import print_results


@dataclass
class RunCurve:
    label: str  # the rule, with beta when set
    eval_on: str  # the split of the per-epoch errors: test or val
    points: list[tuple[float, float]]  # (epoch, error %)
    path: Path
    setting: str  # the network and data, e.g. "vgg8b x0.125, fashion_mnist"
    epoch: str  # what an epoch is: "epoch", or "round of 36 batches" under trainer.limit_train_batches


def read_curve(path: Path) -> RunCurve | None:
    """A local-loss run's per-epoch errors; None for another kind of run or one with no epoch yet."""
    config, metrics = path / ".hydra" / "config.yaml", path / "metrics.jsonl"
    if not config.is_file() or not metrics.is_file():
        return None
    cfg = OmegaConf.load(config)
    if cfg.get("learner") != "local_loss":
        return None
    local = cfg.get("local_loss") or {}
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    points = [(r["epoch"], r["val/error"]) for r in records if "val/error" in r and not r.get("final")]
    if not points:
        return None
    rule = str(local.get("rule", "predsim"))
    label = rule if local.get("beta") is None else f"{rule} (beta {local.get('beta')})"
    model, limit = cfg.get("model") or {}, (cfg.get("trainer") or {}).get("limit_train_batches")
    mult = float(model.get("feat_mult", 1.0))
    setting = f"{model.get('arch', '?')}{'' if mult == 1 else f' x{mult:g}'}, {(cfg.get('data') or {}).get('name', '?')}"
    return RunCurve(label, str(local.get("eval_on", "test")), points, path, setting,
                    f"round of {limit} batches" if limit else "epoch")


def read_curves(paths: list[Path]) -> list[RunCurve]:
    """The local-loss runs in `paths` (run directories, or folders searched for runs), in the order
    given; one-line errors for a missing path or when there is no run."""
    curves: list[RunCurve] = []
    for path in paths:
        if not path.is_dir():
            raise UserError(f"{path} is not a folder", "give run directories or folders of local-loss runs (see: paperlab runs)")
        curves += [c for c in map(read_curve, find_runs(path)) if c is not None]
    if not curves:
        raise UserError(f"no local-loss run under {', '.join(map(str, paths))} has finished an epoch",
                        "give the runs of `paperlab train experiment=localloss_... local_loss.rule=...`, or their sweep folder")
    labels = [c.label for c in curves]
    for c in curves:  # the same rule twice (another swept setting): tell them apart by folder
        if labels.count(c.label) > 1:
            c.label = f"{c.label} [{c.path.name}]"
    return curves


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    given = cfg.runs if OmegaConf.is_list(cfg.runs) else [cfg.runs]
    paths = [Path(str(p)).expanduser() for p in given]
    curves = read_curves(paths)  # before the run directory: a bad folder writes nothing
    with open_run("local_loss_compare", cfg, run_dir) as run:
        splits = {c.eval_on for c in curves}
        split = "test" if splits == {"test"} else "validation" if splits == {"val"} else "evaluation"
        # one setting and one kind of epoch in the title and on the axis; several: said so
        setting = " | ".join(dict.fromkeys(c.setting for c in curves))
        epoch = " | ".join(dict.fromkeys(c.epoch for c in curves))
        error_curves_figure({c.label: c.points for c in curves}, run.figure("error_curves.png"),
                            f"{setting}: {split} error by training rule", f"{split} error (%)", epoch)
        results: dict[str, Any] = {"runs": [str(c.path) for c in curves]}
        for c in curves:
            results[f"{c.label}/{split}_error"] = c.points[-1][1]
            results[f"{c.label}/epochs"] = c.points[-1][0]
        run.save_results(results)
    return results


def main(cfg: DictConfig) -> None:
    results = run(cfg)
    print_results(results, title=f"local-loss-compare: {HydraConfig.get().runtime.output_dir}")
