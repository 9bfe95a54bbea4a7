"""`paperlab sgpr`: the experiments of Burt, Rasmussen & van der Wilk 2019 (ICML), Sec. 4-5.

    kl_vs_m    (a) KL = log Z - L and U - L against M, synthetic SE data, D = 1, 2, several N, each
               way of choosing Z (Fig. 1-2 of the paper)
    m_needed   (b) the M needed for U - L <= threshold against N, with a log^D N fit (Sec. 4.1)
    matern     (c) the same in 1-d for Matern kernels, where M must grow polynomially (Sec. 4.2)
    real_data  (d) KL against M on Mauna Loa CO2, diabetes and/or a user's CSV/NPZ file (Sec. 5)

`sgpr.experiments` names those to run (conf/experiment/sgpr_*.yaml pin recipes); each writes
figures/<name>.png, arrays/<name>.h5 and its headline numbers into results.json.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from paperlab.config import above, at_least, config_schema, one_of, to_dataclass
from paperlab.engine.lifecycle import open_run
from paperlab.errors import UserError
from paperlab.io.rundir import RunDir
from paperlab.papers.sgpr import experiments, figures
from paperlab.papers.sgpr.data import (
    BUNDLED_SIZES,
    RegressionData,
    SyntheticConfig,
    bundled,
    load_table,
    subsample,
)
from paperlab.papers.sgpr.training import FitConfig
from paperlab.tasks.report import print_results

log = logging.getLogger(__name__)

EXPERIMENTS = ("kl_vs_m", "m_needed", "matern", "real_data")


def _too_many(where: str, m: int, n: int, name: str) -> UserError:
    return UserError(f"{where} asks for M = {m} inducing points but {name} has only N = {n} points",
                     f"use M <= {n} (or more data)")


@dataclass
class KLConfig:
    """(a) sgpr.kl_vs_m"""

    dims: list[int] = at_least(1)
    sizes: list[int] = at_least(1)
    m_grids: list[list[int]]  # one grid of M per entry of dims
    methods: list[str] = one_of(*experiments.METHODS)
    kdpp_steps: int | None = at_least(0)  # null: 2 N

    def check(self) -> None:
        if len(self.m_grids) != len(self.dims):
            raise UserError(f"sgpr.kl_vs_m has {len(self.dims)} dims but {len(self.m_grids)} m_grids",
                            "give one grid of M per input dimension")
        for dim, grid in zip(self.dims, self.m_grids, strict=True):
            if not grid or min(grid) < 1:
                raise UserError(f"sgpr.kl_vs_m.m_grids for D = {dim} is {grid}", "give M values >= 1")
            if max(grid) > min(self.sizes):
                raise _too_many("sgpr.kl_vs_m.m_grids", max(grid), min(self.sizes), "the smallest data set")


@dataclass
class MNeededConfig:
    """(b) sgpr.m_needed"""

    dims: list[int] = at_least(1)
    sizes: list[list[int]]  # one list of N per entry of dims
    m_max: int = at_least(1)  # greedy selection stops here if U - L is still above the threshold
    chunk_size: int = at_least(1)  # rows of x per block when recomputing the bound (memory)
    kl_max_n: int = at_least(0)  # up to this N also the M needed for KL itself (exact log Z)

    def check(self) -> None:
        if len(self.sizes) != len(self.dims) or not all(self.sizes) or min(min(s) for s in self.sizes) < 1:
            raise UserError(f"sgpr.m_needed.sizes={self.sizes} does not give N >= 1 for each of dims={self.dims}",
                            "give one list of sizes per input dimension, e.g. sizes=[[1000,10000],[1000]]")


@dataclass
class MaternConfig:
    """(c) sgpr.matern"""

    kernels: list[str] = one_of("se", "matern52", "matern32")
    sizes: list[int] = at_least(1)
    m_max: int = at_least(1)
    kl_max_n: int = at_least(0)


@dataclass
class RealDataConfig:
    """(d) sgpr.real_data"""

    datasets: list[str] = one_of(*BUNDLED_SIZES)  # bundled sets; [] with a file for a user's data only
    file: str | None  # a user's .csv (header row) or .npz, read with x_columns and y_column
    x_columns: list[str]
    y_column: str | None
    max_n: int | None = at_least(1)  # subsample each set to at most this many points (null: all)
    m_grid: list[int] = at_least(1)
    methods: list[str] = one_of(*experiments.METHODS)
    joint: bool  # also fit the hyperparameters on L itself at every M
    inits: list[list[float]]  # (lengthscale, noise variance) starts of the hyperparameter fit; best kept
    exact_max_n: int = at_least(1)  # above it no exact GP: hyperparameters fitted on L, KL not measured

    def check(self) -> None:
        if not self.inits or any(len(i) != 2 or min(i) <= 0 for i in self.inits):
            raise UserError(f"sgpr.real_data.inits={self.inits} are not positive (lengthscale, noise variance) pairs",
                            "give e.g. sgpr.real_data.inits=[[1.0,0.1]]")
        # an unknown name is the range check's to report (it runs after this)
        sizes = {name: BUNDLED_SIZES[name] for name in self.datasets if name in BUNDLED_SIZES}
        if self.file is not None:
            sizes[Path(self.file).stem] = self.table().x.shape[0]
        if not self.datasets and self.file is None:
            raise UserError("sgpr.real_data has no data: datasets is empty and no file is given",
                            "set sgpr.real_data.datasets=[co2,diabetes] or sgpr.real_data.file=DATA.csv")
        for name, n in sizes.items():
            n = min(n, self.max_n or n)
            if max(self.m_grid) > n:
                raise _too_many("sgpr.real_data.m_grid", max(self.m_grid), n, name)

    def table(self) -> RegressionData:
        """The user's file as standardised (x, y); its problems are one line each."""
        if not self.x_columns or not self.y_column:
            raise UserError(f"sgpr.real_data.file={self.file} needs its input and target columns",
                            "set sgpr.real_data.x_columns=[a,b] and sgpr.real_data.y_column=y")
        return load_table(self.file, list(self.x_columns), self.y_column)

    def sets(self, seed: int) -> list[RegressionData]:
        chosen = [bundled(name) for name in self.datasets] + ([self.table()] if self.file else [])
        return [subsample(d, self.max_n, seed) for d in chosen]


@config_schema("sgpr", command="sgpr")
@dataclass
class StudyConfig:
    """conf/sgpr.yaml's `sgpr` node (its defaults and their reasons are there)."""

    experiments: list[str] = one_of(*EXPERIMENTS)
    threshold: float = above(0)  # the KL target (nats) of (b) and (c)
    synthetic: SyntheticConfig
    kl_vs_m: KLConfig
    m_needed: MNeededConfig
    matern: MaternConfig
    real_data: RealDataConfig
    fit: FitConfig

    def __post_init__(self) -> None:
        """What depends on the data's size (M <= N) and the user's file, for the experiments
        chosen, checked before the run directory exists."""
        if "kl_vs_m" in self.experiments:
            self.kl_vs_m.check()
        if "m_needed" in self.experiments:
            self.m_needed.check()
        if "real_data" in self.experiments:
            self.real_data.check()


def _flat(result: dict[str, Any], keys: list[str], prefix: str) -> dict[str, Any]:
    """Arrays of a result's rows: `prefix/<key>` for each key, one entry per row."""
    return {f"{prefix}/{k}": [row[k] for row in result] for k in keys}


def _first_below(m: list[int], values: list[float], threshold: float) -> float:
    """The smallest M of the grid whose value is at most `threshold`; NaN if none is."""
    return next((float(k) for k, v in zip(m, values, strict=True) if v <= threshold), math.nan)


def _kl_vs_m(cfg: StudyConfig, run: RunDir, seed: int) -> dict[str, Any]:
    c = cfg.kl_vs_m
    result = experiments.kl_against_m(cfg.synthetic, c.dims, c.sizes, c.m_grids, c.methods, c.kdpp_steps, seed)
    arrays, headline = {}, {}
    for curve in result["curves"]:
        key = f"D{curve['dim']}/N{curve['n']}/{curve['method']}"
        for name in ("m", "kl", "gap", "trace"):
            arrays[f"{key}/{name}"] = curve[name]
        headline[f"kl_vs_m/{key}/m_for_kl_below_threshold"] = _first_below(curve["m"], curve["kl"], cfg.threshold)
        headline[f"kl_vs_m/{key}/m_for_gap_below_threshold"] = _first_below(curve["m"], curve["gap"], cfg.threshold)
        headline[f"kl_vs_m/{key}/kl_at_largest_m"] = curve["kl"][-1]
    for a in result["apriori"]:
        arrays[f"D{a['dim']}/N{a['n']}/kdpp_trace_bound"] = a["trace_bound"]
    run.save_arrays("kl_vs_m", arrays, {"threshold": cfg.threshold, **result["settings"]})
    figures.plot_kl_against_m(result, run.figure("kl_vs_m.png"))
    return headline


def _m_needed(cfg: StudyConfig, run: RunDir, seed: int) -> dict[str, Any]:
    c = cfg.m_needed
    result = experiments.m_needed_against_n(cfg.synthetic, c.dims, c.sizes, "se", cfg.threshold, c.m_max,
                                            c.chunk_size, c.kl_max_n, seed)
    keys = ["dim", "n", "m_needed", "m_needed_kl", "m_searched", "gap", "m_kdpp_bound", "seconds"]
    run.save_arrays("m_needed", {**_flat(result["points"], keys, "points"),
                                 **_flat(result["fits"], ["dim", "a", "b", "rms_log", "c", "p", "rms_power", "kl_c", "kl_p"], "fits")},
                    result["settings"])
    figures.plot_m_needed(result, run.figure("m_needed.png"))
    headline: dict[str, Any] = {}
    for f in result["fits"]:
        rows = [p for p in result["points"] if p["dim"] == f["dim"]]
        headline[f"m_needed/D{f['dim']}/n"] = [p["n"] for p in rows]
        headline[f"m_needed/D{f['dim']}/m"] = [p["m_needed"] for p in rows]
        headline[f"m_needed/D{f['dim']}/m_for_kl"] = [p["m_needed_kl"] for p in rows]
        headline[f"m_needed/D{f['dim']}/m_kdpp_bound"] = [p["m_kdpp_bound"] for p in rows]
        headline[f"m_needed/D{f['dim']}/log_fit"] = f"M = {f['a']:.2f} + {f['b']:.4g} (log N)^{f['dim']}"
        headline[f"m_needed/D{f['dim']}/power_fit_p"] = f["p"]
        headline[f"m_needed/D{f['dim']}/log_fit_rms"] = f["rms_log"]
        headline[f"m_needed/D{f['dim']}/power_fit_rms"] = f["rms_power"]
        headline[f"m_needed/D{f['dim']}/log_fit_a"] = f["a"]
        headline[f"m_needed/D{f['dim']}/log_fit_b"] = f["b"]
        for p in rows:  # one number per key, for the reproduction's tables
            at = f"m_needed/D{f['dim']}/N{p['n']}"
            headline[f"{at}/m"] = p["m_needed"]
            headline[f"{at}/m_kdpp_bound"] = p["m_kdpp_bound"]
            headline[f"{at}/log_fit"] = f["a"] + f["b"] * math.log(p["n"]) ** f["dim"]
            headline[f"{at}/power_fit"] = f["c"] * p["n"] ** f["p"]
            if math.isfinite(p["m_needed_kl"]):  # log Z computed at this N
                headline[f"{at}/m_for_kl"] = p["m_needed_kl"]
    return headline


def _matern(cfg: StudyConfig, run: RunDir, seed: int) -> dict[str, Any]:
    c = cfg.matern
    result = experiments.matern_growth(cfg.synthetic, c.kernels, c.sizes, cfg.threshold, c.m_max, c.kl_max_n, seed)
    arrays, headline = {}, {}
    for name, res in result.items():
        arrays.update(_flat(res["points"], ["n", "m_needed", "m_needed_kl", "gap"], name))
        f = res["fits"][0]
        arrays[f"{name}/power_fit"] = [f["c"], f["p"]]
        arrays[f"{name}/power_fit_kl"] = [f["kl_c"], f["kl_p"]]
        headline[f"matern/{name}/m"] = [p["m_needed"] for p in res["points"]]
        headline[f"matern/{name}/m_for_kl"] = [p["m_needed_kl"] for p in res["points"]]
        headline[f"matern/{name}/power_fit_p"] = f["p"]
        headline[f"matern/{name}/power_fit_p_kl"] = f["kl_p"]
        for p in res["points"]:
            headline[f"matern/{name}/N{p['n']}/m"] = p["m_needed"]
    headline["matern/n"] = list(c.sizes)
    run.save_arrays("matern", arrays, {"threshold": cfg.threshold})
    figures.plot_matern_growth(result, run.figure("matern.png"))
    return headline


def _real_data(cfg: StudyConfig, run: RunDir, seed: int) -> dict[str, Any]:
    c = cfg.real_data
    result = experiments.real_data_kl(c.sets(seed), run.path / "fits", c.m_grid, c.methods, cfg.fit, c.joint,
                                      c.exact_max_n, c.inits, seed)
    arrays, headline = {}, {}
    for d in result["datasets"]:
        arrays[f"{d['name']}/m"] = d["m"]
        arrays[f"{d['name']}/lengthscales"] = d["lengthscales"]
        for method, v in d["methods"].items():
            for name, values in v.items():
                arrays[f"{d['name']}/{method}/{name}"] = values
        if "joint_elbo" in d:
            arrays[f"{d['name']}/joint_elbo"] = d["joint_elbo"]
        headline.update({f"real_data/{d['name']}/{k}": d[k] for k in ("n", "dim", "log_z", "noise_variance")})
        for method, v in d["methods"].items():
            headline[f"real_data/{d['name']}/{method}/kl"] = v["kl"]
            headline[f"real_data/{d['name']}/{method}/m_for_kl_below_threshold"] = _first_below(d["m"], v["kl"], cfg.threshold)
            headline[f"real_data/{d['name']}/{method}/m_for_gap_below_threshold"] = _first_below(d["m"], v["gap"], cfg.threshold)
            headline[f"real_data/{d['name']}/{method}/kl_at_largest_m"] = v["kl"][-1]
            headline[f"real_data/{d['name']}/{method}/elbo_at_largest_m"] = v["elbo"][-1]
        if "joint_elbo" in d:
            headline[f"real_data/{d['name']}/joint_elbo_at_largest_m"] = d["joint_elbo"][-1]
        headline[f"real_data/{d['name']}/m"] = d["m"]
    run.save_arrays("real_data", arrays, result["settings"])
    figures.plot_real_data(result, run.figure("real_data.png"))
    return headline


RUNNERS = {"kl_vs_m": _kl_vs_m, "m_needed": _m_needed, "matern": _matern, "real_data": _real_data}


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    """Run the experiments `cfg.sgpr.experiments` names, in float64; the headline numbers."""
    study = to_dataclass(StudyConfig, cfg.sgpr, where="sgpr")
    results: dict[str, Any] = {}
    with open_run("sgpr", cfg, run_dir) as run:
        for name in study.experiments:
            log.info("experiment %s", name)
            results.update(RUNNERS[name](study, run, int(cfg.seed)))
            run.save_results(results)  # after each: a long study keeps what it has measured
    return results


def main(cfg: DictConfig) -> None:
    results = run(cfg)
    print_results(results, title=f"sgpr {cfg.name}: {HydraConfig.get().runtime.output_dir}")
