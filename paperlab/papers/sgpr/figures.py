"""Figures for the experiments of experiments.py (Burt, Rasmussen & van der Wilk 2019, Fig. 1-3
and Sec. 5), saved through paperlab.io.figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from paperlab.io.figures import plt, save_figure

COLORS = {"uniform": "#7f7f7f", "kmeans": "#1f77b4", "kdpp": "#2ca02c", "greedy": "#d62728",
          "se": "#d62728", "matern52": "#1f77b4", "matern32": "#9467bd",
          "co2": "#1f77b4", "diabetes": "#ff7f0e"}
LABELS = {"uniform": "uniform", "kmeans": "k-means", "kdpp": "k-DPP (MCMC)",
          "greedy": "greedy variance", "se": "SE", "matern52": "Matern 5/2", "matern32": "Matern 3/2"}
FLOOR = 1e-10  # KL and t at rounding level are drawn here on the log axes


def _floor(values: list[float]) -> np.ndarray:
    return np.maximum(np.asarray(values, dtype=float), FLOOR)


def _method_legend(methods: list[str], extra: list[Line2D]) -> list[Line2D]:
    handles = [Line2D([], [], color=COLORS[m], marker="o", ms=4, label=LABELS[m]) for m in methods]
    return handles + extra


def plot_kl_against_m(result: dict, path: str | Path) -> Path:
    """(a) KL (solid) and U - L (dashed) against M per N and D; last column: t against the k-DPP
    a-priori bound on E[t] at the largest N."""
    curves = result["curves"]
    dims = sorted({c["dim"] for c in curves})
    sizes = sorted({c["n"] for c in curves})
    methods = list(dict.fromkeys(c["method"] for c in curves))
    fig, axes = plt.subplots(len(dims), len(sizes) + 1, squeeze=False, layout="constrained",
                             figsize=(4.2 * (len(sizes) + 1), 3.6 * len(dims)))
    for r, dim in enumerate(dims):
        for col, n in enumerate(sizes):
            ax = axes[r, col]
            for c in curves:
                if c["dim"] == dim and c["n"] == n:
                    ax.semilogy(c["m"], _floor(c["kl"]), "-o", ms=3, color=COLORS[c["method"]])
                    ax.semilogy(c["m"], _floor(c["gap"]), "--", color=COLORS[c["method"]], alpha=0.7)
            ax.set_title(f"D = {dim}, N = {n}")
            ax.set_xlabel("number of inducing points M")
            ax.set_ylabel("KL (solid), U - L (dashed), nats")
            ax.grid(True, which="major", alpha=0.3)
        ax = axes[r, -1]
        n = sizes[-1]
        for c in curves:
            if c["dim"] == dim and c["n"] == n:
                ax.semilogy(c["m"], _floor(c["trace"]), "-o", ms=3, color=COLORS[c["method"]])
        for a in result["apriori"]:
            if a["dim"] == dim and a["n"] == n:
                ax.semilogy(a["m"], _floor(a["trace_bound"]), "k:", lw=2)
        ax.set_title(f"D = {dim}, N = {n}: trace t = tr(K - Q)")
        ax.set_xlabel("number of inducing points M")
        ax.set_ylabel("t")
        ax.grid(True, which="major", alpha=0.3)
    extra = [Line2D([], [], color="k", ls="-", label="KL = log Z - L"),
             Line2D([], [], color="k", ls="--", label="bound U - L"),
             Line2D([], [], color="k", ls=":", lw=2, label=r"k-DPP bound on E[t]: $(M+1)\,\Sigma_{m>M}\,\lambda_m$")]
    fig.legend(handles=_method_legend(methods, extra), loc="outside lower center",
               ncol=len(methods) + len(extra), frameon=False)
    s = result["settings"]
    fig.suptitle(f"SGPR on SE-GP data, x ~ N(0, I): KL against M "
                 f"(lengthscale {s['lengthscale']}, noise variance {s['noise_variance']}; "
                 f"values below {FLOOR:g} drawn at {FLOOR:g})")
    return save_figure(fig, path)


def _log_fit_label(f: dict) -> str:
    power = "" if f["dim"] == 1 else f"$^{f['dim']}$"
    return f"{f['a']:.1f} + {f['b']:.3g} (log N){power} (rms {f['rms_log']:.1f})"


def plot_m_needed(result: dict, path: str | Path) -> Path:
    """(b) The M needed for U - L <= threshold against N (log axis) with the fits M = a + b log^D N
    and M = c N^p; where log Z was computed, the M needed for KL itself; for the SE kernel, the M
    at which the k-DPP bound on E[t] guarantees U - L <= threshold."""
    points, fits, s = result["points"], result["fits"], result["settings"]
    fig, axes = plt.subplots(1, len(fits), squeeze=False, layout="constrained", figsize=(5.6 * len(fits), 4.6))
    for ax, f in zip(axes[0], fits, strict=True):
        rows = [p for p in points if p["dim"] == f["dim"]]
        n = np.array([p["n"] for p in rows], dtype=float)
        shown = [p["m_needed"] for p in rows]
        ax.plot(n, shown, "o", color="#d62728", ms=6, label="M for U - L ≤ threshold")
        kl = np.array([p["m_needed_kl"] for p in rows], dtype=float)
        if np.isfinite(kl).any():
            ax.plot(n, kl, "^", color="#1f77b4", ms=6, label="M for KL ≤ threshold (exact log Z)")
        grid = np.geomspace(n.min(), n.max(), 100)
        ax.plot(grid, f["a"] + f["b"] * np.log(grid) ** f["dim"], "-", color="k", alpha=0.8, label=_log_fit_label(f))
        ax.plot(grid, f["c"] * grid ** f["p"], "--", color="#7f7f7f",
                label=f"{f['c']:.3g} N$^{{{f['p']:.2f}}}$ (rms {f['rms_power']:.1f})")
        if "m_kdpp_bound" in rows[0]:
            shown += [p["m_kdpp_bound"] for p in rows]
            ax.plot(n, [p["m_kdpp_bound"] for p in rows], "s:", color="#2ca02c", ms=4,
                    label="a priori: M at which the k-DPP bound on E[t] ensures U - L ≤ threshold")
        ax.set_xscale("log")
        ax.set_ylim(0, 1.5 * np.nanmax(np.array(shown, dtype=float)))  # room for the legend
        ax.set_xlabel("number of training points N")
        ax.set_ylabel("inducing points M (greedy Z)")
        ax.set_title(f"D = {f['dim']}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"{LABELS.get(s['kernel'], s['kernel'])} kernel, x ~ N(0, I): the smallest M with U - L ≤ "
                 f"{s['threshold']:g} nat, so KL ≤ {s['threshold']:g} (lengthscale {s['lengthscale']:g}, "
                 f"noise variance {s['noise_variance']:g})")
    return save_figure(fig, path)


def plot_matern_growth(result: dict, path: str | Path) -> Path:
    """(c) M needed against N on log-log axes per kernel, with power-law fits M = c N^p: for
    U - L <= threshold (filled, solid) and, where log Z was computed, for KL itself (open, dashed)."""
    fig, ax = plt.subplots(figsize=(7.0, 5.0), layout="constrained")
    for name, res in result.items():
        n = np.array([p["n"] for p in res["points"]], dtype=float)
        f = res["fits"][0]
        grid = np.geomspace(n.min(), n.max(), 50)
        ax.loglog(n, [p["m_needed"] for p in res["points"]], "o", color=COLORS[name],
                  label=f"{LABELS[name]}, U - L: M ∝ N$^{{{f['p']:.2f}}}$")
        ax.loglog(grid, f["c"] * grid ** f["p"], "-", color=COLORS[name], alpha=0.6)
        kl = np.array([p["m_needed_kl"] for p in res["points"]], dtype=float)
        if np.isfinite(f["kl_p"]):
            ax.loglog(n, kl, "^", mfc="none", color=COLORS[name], label=f"{LABELS[name]}, KL: M ∝ N$^{{{f['kl_p']:.2f}}}$")
            ax.loglog(grid, f["kl_c"] * grid ** f["kl_p"], "--", color=COLORS[name], alpha=0.6)
    s = next(iter(result.values()))["settings"]
    ax.set_xlabel("number of training points N")
    ax.set_ylabel(f"smallest M (greedy Z) with U - L, or KL, ≤ {s['threshold']:g} nat")
    ax.set_title(f"1-d, x ~ N(0, 1), data drawn from each kernel's GP (lengthscale {s['lengthscale']:g}, "
                 f"noise variance {s['noise_variance']:g})", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2, loc="upper left")
    return save_figure(fig, path)


def plot_real_data(result: dict, path: str | Path) -> Path:
    """(d) Per data set: KL (solid) and U - L (dashed) against M per method, hyperparameters of
    the exact GP; below, L with those fixed (greedy Z) and L optimised jointly, against log Z."""
    sets = result["datasets"]
    joint = all("joint_elbo" in d for d in sets)
    fig, axes = plt.subplots(2 if joint else 1, len(sets), squeeze=False, layout="constrained",
                             figsize=(5.0 * len(sets), 7.4 if joint else 4.0))
    for col, d in enumerate(sets):
        ax = axes[0, col]
        for method, v in d["methods"].items():
            ax.semilogy(d["m"], _floor(v["kl"]), "-o", ms=3, color=COLORS[method])
            ax.semilogy(d["m"], _floor(v["gap"]), "--", color=COLORS[method], alpha=0.7)
        ax.set_title(f"{d['name']} (N = {d['n']}, D = {d['dim']})")
        ax.set_xlabel("number of inducing points M")
        ax.set_ylabel("KL (solid), U - L (dashed), nats")
        ax.grid(True, which="major", alpha=0.3)
        if joint:
            ax = axes[1, col]
            exact = bool(np.isfinite(d["log_z"]))
            if exact:
                ax.axhline(d["log_z"], color="k", lw=1, label="log Z (exact GP)")
            fixed = d["methods"].get("greedy", {}).get("elbo", [])
            if fixed:
                ax.plot(d["m"], fixed, "-o", ms=3, color=COLORS["greedy"], label="L, exact-GP hyperparameters")
            ax.plot(d["m"], d["joint_elbo"], "-s", ms=3, color="#17becf", label="L, hyperparameters optimised on L")
            ax.set_xlabel("number of inducing points M")
            ax.set_ylabel("log marginal likelihood (nats)")
            ax.set_title("L against log Z (values far below are off the axis)", fontsize=10)
            values = np.array([*d["joint_elbo"], *fixed], dtype=float)
            top = d["log_z"] if exact else np.nanmax(values)
            # the small-M end of L can lie thousands of nats below: clip it, keep the approach to log Z
            ax.set_ylim(max(np.nanmin(values), top - 0.5 * abs(top) - 50), top + 0.05 * abs(top) + 5)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
    methods = list(sets[0]["methods"])
    extra = [Line2D([], [], color="k", ls="-", label="KL = log Z - L"),
             Line2D([], [], color="k", ls="--", label="bound U - L")]
    fig.legend(handles=_method_legend(methods, extra), loc="outside lower center",
               ncol=3, frameon=False)
    fig.suptitle("Real data, standardised; ARD SE kernel, hyperparameters fitted on log Z (restarts)")
    return save_figure(fig, path)
