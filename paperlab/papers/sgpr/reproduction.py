"""What `paperlab reproduce sgpr` runs and reports (see paperlab/tasks/reproduction.py): the four
experiments of `paperlab sgpr` at the sizes of their recipes (conf/experiment/sgpr_*.yaml), with
the hyperparameters held fixed as the paper does (Burt, Rasmussen & van der Wilk 2019, Sec. 4-5):
(a) KL and U - L against M, (b) the M needed for KL <= 1 nat against N with the log^D N fit,
(c) Matern kernels, (d) real data. The paper proves rates and draws curves; it prints no table of
numbers, so the "paper" column of each table says what the paper predicts."""

from paperlab.tasks.reproduction import (
    Experiment,
    Figure,
    Ours,
    Reproduction,
    Row,
    Table,
    register_reproduction,
)

NOT_REACHED = "> grid"  # a NaN M: the threshold was not reached on the grid of M
METHODS = {"uniform": "uniform", "kmeans": "k-means", "kdpp": "k-DPP (MCMC)", "greedy": "greedy variance"}
# the sizes of the recipes (conf/experiment/sgpr_*.yaml); the rows below name them
KL_SIZES = (500, 2000, 5000)
NEEDED_SIZES = {1: (1000, 3000, 10000, 30000, 100000, 300000, 1000000), 2: (1000, 3000, 10000, 30000, 100000, 300000)}
KL_MAX_N = 10000  # sgpr.m_needed.kl_max_n of that recipe: the exact log Z up to here
MATERN_SIZES = (500, 1000, 2000, 4000, 8000, 16000)
KERNELS = {"se": "SE", "matern52": "Matern 5/2", "matern32": "Matern 3/2"}
# minutes: wall clock of the recorded runs, on the 2 cores shared with other jobs (load average 12-15)
REAL = {"co2": "Mauna Loa CO2 (2,225 weeks, D = 1)", "diabetes": "diabetes (442 patients, D = 10)"}


def _kl_rows(dim: int) -> tuple[Row, ...]:
    def key(n: int, method: str, what: str) -> Ours:
        return Ours("kl_vs_m", f"kl_vs_m/D{dim}/N{n}/{method}/{what}_below_threshold", 0, nan=NOT_REACHED)

    return tuple(Row(f"D = {dim}, {label}",
                     (*(key(n, method, "m_for_kl") for n in KL_SIZES),
                      *(key(n, method, "m_for_gap") for n in KL_SIZES)),
                     None if method == "uniform" and dim == 1 else "same run")
                 for method, label in METHODS.items())


def _needed_rows(dim: int) -> tuple[Row, ...]:
    def key(n: int, what: str, digits: int = 0) -> Ours:
        return Ours("m_needed", f"m_needed/D{dim}/N{n}/{what}", digits)

    return tuple(Row(f"D = {dim}, N = {n:,}",
                     (key(n, "m"), key(n, "m_for_kl") if n <= KL_MAX_N else "—", key(n, "log_fit", 1),
                      key(n, "power_fit", 1), key(n, "m_kdpp_bound")),
                     None if (dim, n) == (1, NEEDED_SIZES[1][0]) else "same run")
                 for n in NEEDED_SIZES[dim])


def _fit_row(dim: int) -> Row:
    def key(what: str, digits: int) -> Ours:
        return Ours("m_needed", f"m_needed/D{dim}/{what}", digits)

    return Row(f"D = {dim}", (key("log_fit_a", 2), key("log_fit_b", 3), key("log_fit_rms", 2),
                              key("power_fit_p", 3), key("power_fit_rms", 2)))


def _matern_row(kernel: str, label: str) -> Row:
    return Row(label, (*(Ours("matern", f"matern/{kernel}/N{n}/m", 0) for n in MATERN_SIZES),
                       Ours("matern", f"matern/{kernel}/power_fit_p", 2),
                       Ours("matern", f"matern/{kernel}/power_fit_p_kl", 2)),
               None if kernel == "se" else "same run")


def _real_rows(name: str, label: str) -> tuple[Row, ...]:
    def key(what: str, digits: int = 0) -> Ours:
        return Ours("real_data", f"real_data/{name}/{what}", digits, nan=NOT_REACHED)

    return tuple(Row(f"{label}, {mlabel}",
                     (key(f"{method}/m_for_kl_below_threshold"), key(f"{method}/m_for_gap_below_threshold"),
                      key(f"{method}/kl_at_largest_m", 3)),
                     None if (name, method) == ("co2", "uniform") else "same run")
                 for method, mlabel in METHODS.items())


def _real_bound_row(name: str, label: str) -> Row:
    def key(what: str) -> Ours:
        return Ours("real_data", f"real_data/{name}/{what}", 2)

    return Row(label, (key("log_z"), key("greedy/elbo_at_largest_m"), key("joint_elbo_at_largest_m"),
                       Ours("real_data", f"real_data/{name}/noise_variance", 4)))


REPRODUCTION = register_reproduction(Reproduction(
    paper="sgpr",
    title="Burt, Rasmussen & van der Wilk 2019, Rates of Convergence for Sparse Variational Gaussian Process Regression",
    citation="David R. Burt, Carl Edward Rasmussen, Mark van der Wilk. ICML 2019 (PMLR 97), arXiv:1903.03571.",
    scale="Synthetic data from an SE (or Matern) GP with x ~ N(0, I), lengthscale 1, noise variance 0.1, "
          "hyperparameters fixed at the generating ones; KL measured with the exact log Z up to N = 4,000-10,000, "
          "the bound U - L up to N = 10^6 (1-d) and 3 x 10^5 (2-d); real data: Mauna Loa CO2 and diabetes "
          "with exact-GP hyperparameters. Float64 on a 2-core CPU.",
    experiments=(
        Experiment("kl_vs_m", ("sgpr", "experiment=sgpr_kl_vs_m"), 15,
                   "(a) KL and U - L against M, D = 1, 2, N = 500, 2,000, 5,000, four ways of choosing Z"),
        Experiment("m_needed", ("sgpr", "experiment=sgpr_m_needed"), 10,
                   "(b) the M needed for U - L <= 1 nat against N up to 10^6, with the log^D N fit"),
        Experiment("matern", ("sgpr", "experiment=sgpr_matern"), 10,
                   "(c) the same in 1-d for SE, Matern 5/2 and Matern 3/2 kernels, N up to 16,000"),
        Experiment("real_data", ("sgpr", "experiment=sgpr_real_data"), 14,
                   "(d) KL against M on Mauna Loa CO2 and diabetes, exact-GP and jointly fitted hyperparameters"),
    ),
    tables=(
        Table("kl_vs_m", "(a) Smallest M on the grid with KL <= 1 nat, and with U - L <= 1 nat, by N and way of choosing Z",
              (*(f"KL ≤ 1, N = {n:,}" for n in KL_SIZES), *(f"U - L ≤ 1, N = {n:,}" for n in KL_SIZES)),
              (*_kl_rows(1), *_kl_rows(2)),
              note="The grids of M: 1-25 (D = 1), 5-250 (D = 2); > grid: not reached on the grid. The paper's "
                   "guarantee (M growing like log^D N) is for k-DPP Z; greedy variance is the selection its "
                   "journal version recommends in practice."),
        Table("m_needed", "(b) M needed (greedy Z) for U - L <= 1 nat, hence KL <= 1, against N",
              ("M: U - L ≤ 1", "M: KL ≤ 1 (exact log Z)", "fit a + b (log N)^D", "fit c N^p",
               "a priori (k-DPP bound on E[t])"),
              (*_needed_rows(1), *_needed_rows(2)),
              note="Paper: M = O(log^D N) suffices for the SE kernel with Gaussian inputs (no numbers given). "
                   "The a-priori column is the M at which (M + 1) N sum_{m>M} lambda_m, with the operator "
                   "eigenvalues of GPML eq. 4.42, guarantees U - L <= 1."),
        Table("m_needed_fits", "(b) Least-squares fits of the M needed against N",
              ("a", "b", "rms of a + b (log N)^D", "p of c N^p", "rms of c N^p"),
              (_fit_row(1), _fit_row(2)),
              note="Two parameters each, fitted to the M for U - L <= 1; rms in inducing points."),
        Table("matern", "(c) M needed (greedy Z) for U - L <= 1 nat against N in 1-d, by kernel",
              (*(f"N = {n:,}" for n in MATERN_SIZES), "p (U - L)", "p (KL)"),
              tuple(_matern_row(k, label) for k, label in KERNELS.items()),
              note="p: exponent of the least-squares fit M = c N^p. Paper: polynomial growth of M for Matern "
                   "kernels, polylogarithmic for SE."),
        Table("real_data", "(d) Real data, exact-GP hyperparameters: smallest M on the grid (5-400) by way of choosing Z",
              ("M: KL ≤ 1", "M: U - L ≤ 1", "KL at M = 400"),
              (*_real_rows("co2", "CO2"), *_real_rows("diabetes", "diabetes")),
              note="> grid: not reached on the grid. The paper's real-data experiments draw curves; no numbers to set beside."),
        Table("real_data_bounds", "(d) log Z and L at M = 400 (greedy Z), nats",
              ("log Z (exact GP)", "L, exact-GP hyperparameters", "L, hyperparameters fitted on L",
               "noise variance (exact GP)"),
              tuple(_real_bound_row(name, label) for name, label in REAL.items())),
    ),
    figures=(
        Figure("kl_vs_m", "figures/kl_vs_m.png",
               "(a) KL (solid) and U - L (dashed) against M per N and D for four ways of choosing Z; right: the "
               "trace t against the k-DPP bound (M + 1) sum_{m>M} lambda_m on E[t].",
               "The paper's KL-against-M curves for synthetic SE data."),
        Figure("m_needed", "figures/m_needed.png",
               "(b) The M needed for U - L <= 1 nat against N (log axis) with the fits a + b (log N)^D and c N^p, "
               "the M for KL itself where log Z was computed, and the a-priori k-DPP M.",
               "The paper's headline: M = O(log^D N) for SE with Gaussian inputs."),
        Figure("matern", "figures/matern.png",
               "(c) The M needed against N on log-log axes for SE, Matern 5/2, Matern 3/2, with power-law fits.",
               "The paper: Matern kernels need polynomially many inducing points."),
        Figure("real_data", "figures/real_data.png",
               "(d) KL and U - L against M on CO2 and diabetes; below, L with fixed and with re-fitted "
               "hyperparameters against log Z.",
               "The paper's real-data curves (other data sets)."),
    ),
))
