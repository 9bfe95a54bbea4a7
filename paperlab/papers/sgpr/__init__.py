"""Burt, Rasmussen & van der Wilk 2019, "Rates of Convergence for Sparse Variational Gaussian
Process Regression", ICML (PMLR 97), arXiv:1903.03571. With M inducing points the collapsed
variational bound of Titsias (2009) costs O(N M^2); the paper shows how M must grow with N to keep
KL(q || posterior) small: M = O(log^D N) for the SE kernel with Gaussian inputs, polynomially for
Matern kernels. `paperlab sgpr` (study.py) runs the experiments; docs/papers/sgpr.md has the table
down to the function and the results.

Paper section / equation                                    -> module:function
--------------------------------------------------------------------------------------------------
Sec. 2, evidence log Z = log N(y | 0, K_ff + s2 I)           -> exact:GPR.log_marginal_likelihood
Sec. 2, exact posterior (GPML eqs. 2.25-2.26)                -> exact:GPR.predict_f
Sec. 2, L = log N(y | 0, Q_ff + s2 I) - t / (2 s2)           -> sgpr:SGPR.elbo, sgpr:collapsed_bounds
        (Titsias 2009, eq. 9), O(N M^2)
Sec. 3, U (Titsias 2014), L <= log Z <= U                    -> sgpr:SGPR.upper_bound, sgpr:collapsed_bounds
Sec. 2, q(f*) (GPflow's SGPR.predict_f)                      -> sgpr:SGPR.predict_f, predict_y
Sec. 3, KL <= U - L <= t / (2 s2) (1 + |y|^2 / (s2 + t))     -> theory:kl_bound_from_trace, trace_for_kl
Sec. 3, Z ~ k-DPP: E[t] <= (M + 1) sum_{m > M} lambda_m      -> theory:kdpp_trace_bound; inducing:kdpp_mcmc
Sec. 3-5, other Z: uniform, k-means, greedy variance         -> inducing:uniform, kmeans, greedy_variance
        (greedy = partial pivoted Cholesky, residual = t)       (inducing:PivotedCholesky)
Sec. 4.1, SE spectrum under N(0, s^2) inputs (GPML 4.42)     -> theory:se_gaussian_eigenvalues, kdpp_m_needed
Sec. 4, SE, Matern 3/2, 5/2 kernels (GPML 4.9, 4.17)         -> kernels:SquaredExponential, Matern32, Matern52
Sec. 4-5, synthetic data from the GP prior                   -> data:synthetic, sample_prior
Sec. 5, real data (here Mauna Loa CO2, diabetes, any CSV)    -> data:co2, diabetes, load_table
Sec. 5, hyperparameters from the exact GP, or fitted on L    -> training:fit (engine, L-BFGS), sparse_from_exact
Fig. 1-2, KL and U - L against M per method                  -> experiments:kl_against_m, figures:plot_kl_against_m
Sec. 4.1, M needed against N, log^D N fit                    -> experiments:m_needed_against_n, figures:plot_m_needed
Sec. 4.2, Matern: polynomial growth of M                     -> experiments:matern_growth, figures:plot_matern_growth
Sec. 5, real data                                            -> experiments:real_data_kl, figures:plot_real_data

Support: parameters (softplus-positive hyperparameters), linalg (Cholesky with adaptive jitter,
the low-rank Gaussian terms), checks (one-line UserErrors for bad input).
"""

# The modules that register this paper's names, by registry kind (paperlab/registry.py):
# `paperlab sgpr` builds its GPs and data itself; only its reproduction is registered.
REGISTRY_MODULES = {"reproduction": ["reproduction"]}
