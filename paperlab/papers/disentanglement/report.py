"""The study's report of a sweep of trained models (Locatello et al., ICML 2019, Sec. 5):
`paperlab disentangle` draws it when its last job is done; `paperlab disentangle --report
SWEEP_DIR` draws it for any folder of dis_* runs (conf/disentangle_report.yaml).

Reads every completed run's results.json (method, hyperparameter value, seed, and each metric's
headline score on the mean and the sampled representation) and writes, in its own run directory:

    figures/violins.png            score distributions per method (Sec. 5.3, Fig. 2-3 style)
    figures/by_hyperparameter.png  each configuration's seeds side by side (Sec. 5.3: the seed
                                   matters as much as the hyperparameter)
    figures/rank_correlation.png   Spearman rank correlation between metrics (Sec. 5.2, Fig. 2)
    figures/variance_explained.png share of each metric's variance between methods, between
                                   hyperparameters of a method, between seeds of a configuration
    table.md                       per configuration: mean +- sd over seeds of each metric
    results.json                   the shares, each method's median scores (median/<method>/<metric>),
                                   the rank correlations, the models read
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from paperlab.config import to_dataclass
from paperlab.console import out_console
from paperlab.engine.lifecycle import open_run
from paperlab.errors import UserError
from paperlab.io.atomic import atomic_write
from paperlab.io.figures import save_figure
from paperlab.tasks.inventory import find_runs

from .analysis import (
    ResultTable,
    plot_metric_violins,
    plot_rank_correlation,
    plot_scores_by_hyperparameter,
    plot_variance_explained,
    rank_correlation,
    variance_explained,
)
from .metrics import METRICS
from .representation import KINDS

log = logging.getLogger(__name__)

LABELS = {"beta_vae_score": "BetaVAE score", "factor_vae_score": "FactorVAE score",
          "mig": "MIG", "sap_score": "SAP", "dci": "DCI disentanglement",
          "modularity_explicitness": "Modularity"}


@dataclass
class ReportConfig:
    representation: str = "mean"  # the study's figures are of the mean representation
    metrics: list[str] = field(default_factory=lambda: list(METRICS))


def check_metrics(names: Sequence[str]) -> None:
    for name in names:
        if name not in METRICS:
            raise UserError(f"unknown metric {name!r} in report.metrics",
                            f"choose among: {', '.join(METRICS)}")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}  # absent, or being written right now


def read_rows(sweep_dir: Path, representation: str, metrics: Sequence[str]
              ) -> tuple[list[dict[str, Any]], list[Path]]:
    """One row (method, hyperparameter, seed, each metric's headline score) per completed model of
    the study under `sweep_dir`, and the runs left out (not completed, or scored otherwise)."""
    rows, skipped = [], []
    for path in find_runs(sweep_dir):
        info, results = (_read_json(path / name) for name in ("run.json", "results.json"))
        if info.get("task") != "train" and "method" not in results:
            continue  # not a model of the study (the report itself, another task)
        keys = [f"{representation}/{m}" for m in metrics]
        if info.get("status") != "completed" or not all(k in results for k in keys):
            skipped.append(path)
            continue
        rows.append({"method": results["method"], "hyperparameter": results["value"],
                     "name": results["hyperparameter"], "seed": results["seed"], "run": str(path),
                     **{m: results[k] for m, k in zip(metrics, keys, strict=True)}})
    return rows, skipped


def configuration_table(table: ResultTable, rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per (method, hyperparameter value), mean +- sd over its seeds."""
    names = list(table.scores)
    lines = ["| method | hyperparameter | seeds | " + " | ".join(LABELS.get(n, n) for n in names) + " |",
             "|---|---|---|" + "---|" * len(names)]
    hyperparameter = {r["method"]: r["name"] for r in rows}
    for method in table.methods:
        for value in sorted(set(table.hyperparameter[table.method == method])):
            chosen = (table.method == method) & (table.hyperparameter == value)
            cells = []
            for name in names:
                scores = table.scores[name][chosen]
                sd = f" ± {scores.std(ddof=1):.3f}" if len(scores) > 1 else ""
                cells.append(f"{scores.mean():.3f}{sd}")
            label = f"{hyperparameter[method]} = {value:g}".strip(" =")
            lines.append(f"| {method} | {label} | {int(chosen.sum())} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    settings = to_dataclass(ReportConfig, cfg.get("report"), where="report")
    check_metrics(settings.metrics)
    if settings.representation not in KINDS:
        raise UserError(f"unknown representation {settings.representation!r}",
                        f"choose one of: {', '.join(KINDS)} (report.representation=<name>)")
    sweep_dir = Path(str(cfg.sweep_dir)).expanduser()
    if not sweep_dir.is_dir():
        raise UserError(f"{sweep_dir} is not a folder",
                        "give the sweep folder of `paperlab disentangle` (or of dis_* runs)")
    with open_run("disentangle_report", cfg, run_dir) as run_:
        rows, skipped = read_rows(sweep_dir, settings.representation, settings.metrics)
        if len(rows) < 2:
            raise UserError(f"{sweep_dir} holds {len(rows)} completed model(s) of the study "
                            f"({len(skipped)} unfinished or failed)",
                            "train more with `paperlab disentangle` (or paperlab train -m experiment=dis_...)")
        table = ResultTable.from_rows(rows, settings.metrics)
        labels = {n: LABELS.get(n, n) for n in settings.metrics}
        title = f"{len(rows)} models, {settings.representation} representation"
        for name, figure in (("violins", plot_metric_violins(table, labels)),
                             ("by_hyperparameter", plot_scores_by_hyperparameter(table, labels)),
                             ("rank_correlation", plot_rank_correlation(table, labels)),
                             ("variance_explained", plot_variance_explained(table, labels))):
            figure.suptitle(title, fontsize=10)
            save_figure(figure, run_.figure(f"{name}.png"))
        markdown = configuration_table(table, rows)
        atomic_write(run_.path / "table.md", lambda f: f.write(markdown.encode()))
        rho = np.round(rank_correlation(table), 4)
        shares = variance_explained(table)
        results = {"models": len(rows), "skipped": [str(p) for p in skipped],
                   "representation": settings.representation,
                   "methods": table.methods, "seeds": sorted({int(s) for s in table.seed}),
                   **{f"median/{method}/{m}": round(float(np.median(v[table.method == method])), 4)
                      for m, v in table.scores.items() for method in table.methods},
                   **{f"variance/{m}/{source}": round(float(v), 4)
                      for m, by_source in shares.items() for source, v in by_source.items()},
                   # null where a metric gave every model the same score
                   "rank_correlation": {a: {b: None if np.isnan(r) else float(r)
                                            for b, r in zip(settings.metrics, row, strict=True)}
                                        for a, row in zip(settings.metrics, rho, strict=True)},
                   "table": markdown}
        run_.save_results(results)
    return results


def print_report(results: dict[str, Any], run_dir: Path) -> None:
    out_console.print(results["table"], markup=False)
    shares = {k: v for k, v in results.items() if k.startswith("variance/")}
    metrics = dict.fromkeys(k.split("/")[1] for k in shares)
    out_console.print("share of variance (method / hyperparameter / seed):", markup=False)
    for m in metrics:
        parts = [shares[f"variance/{m}/{s}"] for s in ("method", "hyperparameter", "seed")]
        out_console.print(f"  {LABELS.get(m, m):22} " + " / ".join(f"{p:.0%}" for p in parts),
                          markup=False)
    out_console.print(f"report: {run_dir}", markup=False)


def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    results = run(cfg)
    print_report(results, Path(HydraConfig.get().runtime.output_dir))
