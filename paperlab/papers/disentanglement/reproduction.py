"""What `paperlab reproduce disentanglement` runs and reports (see paperlab/tasks/reproduction.py):
the reduced study of Locatello et al. (ICML 2019, Sec. 5) on dSprites, 6 methods x 2
hyperparameters x 3 seeds as one `paperlab disentangle` sweep, and its report.

The sweep is a multirun, and `paperlab reproduce` records one run directory per experiment (it
appends hydra.run.dir=...): the sweep's models go under <run dir>/models and the report, whose
results.json is the record, into the run directory itself."""

from paperlab.tasks.reproduction import (
    Experiment,
    Figure,
    Ours,
    Reproduction,
    Row,
    Table,
    register_reproduction,
)

METRICS = (("beta_vae_score", "BetaVAE score"), ("factor_vae_score", "FactorVAE score"), ("mig", "MIG"),
           ("sap_score", "SAP"), ("dci", "DCI disentanglement"), ("modularity_explicitness", "Modularity"))
# conf/disentangle.yaml's method.level 1 and 4 of sweep.py's grids
METHODS = (("beta_vae", "beta-VAE (beta 2, 8)"), ("annealed_vae", "AnnealedVAE (C_max 10, 75)"),
           ("factor_vae", "FactorVAE (gamma 20, 50)"), ("dip_vae_i", "DIP-VAE-I (lambda_od 2, 20)"),
           ("dip_vae_ii", "DIP-VAE-II (lambda_od 2, 20)"), ("beta_tc_vae", "beta-TCVAE (beta 2, 8)"))
SAME = "same run"

# 4 jobs at a time on the 2 cores: the machine it was run on was shared with other work, and one
# job per core left it with a fifth of the CPU (1 torch thread per job either way)
STUDY = Experiment(
    "study", ("disentangle", "hydra.sweep.dir=${hydra.run.dir}/models", "study.report_in=run_dir",
              "hydra.launcher.n_jobs=4"), 45,
    "36 models (6 methods x 2 hyperparameters x 3 seeds, 200 updates each), every metric on the mean "
    "representation, then the study's report (Sec. 5)")

MEDIANS = tuple(Row(label, tuple(Ours("study", f"median/{method}/{metric}", 3) for metric, _ in METRICS),
                    None if i == 0 else SAME)
                for i, (method, label) in enumerate(METHODS))
VARIANCE = tuple(Row(label, tuple(Ours("study", f"variance/{metric}/{source}", 0, 100)
                                  for source in ("method", "hyperparameter", "seed")), None if i == 0 else SAME)
                 for i, (metric, label) in enumerate(METRICS))


REPRODUCTION = register_reproduction(Reproduction(
    paper="disentanglement",
    title="Locatello et al. 2019, Challenging Common Assumptions in the Unsupervised Learning of "
          "Disentangled Representations",
    citation="Francesco Locatello, Stefan Bauer, Mario Lucic, Gunnar Raetsch, Sylvain Gelly, Bernhard "
             "Schoelkopf, Olivier Bachem. ICML 2019, arXiv:1811.12359.",
    scale="dSprites only (of 7 data sets); 2 of each method's 6 hyperparameter values and 3 of 50 seeds "
          "(36 of 12,600 models); 200 updates at Adam 1e-3 instead of 300,000 at 1e-4; metrics on the "
          "mean representation from 0.5-5% of the study's sample sizes.",
    experiments=(STUDY,),
    tables=(
        Table("methods", "Median score of each method over its 6 models (2 hyperparameters x 3 seeds), "
              "mean representation", tuple(label for _, label in METRICS), MEDIANS,
              note="The paper's Fig. 3 shows these distributions over 300 fully trained models per method "
                   "and data set; ours are of barely trained models and are not comparable in level."),
        Table("variance", "Share of each metric's variance (%) between methods, between the hyperparameter "
              "values of a method, and between the seeds of one configuration",
              ("method", "hyperparameter", "seed"), VARIANCE,
              note="The paper (Sec. 5.3, Fig. 6-7) finds that the random seed and the hyperparameter matter "
                   "more than the choice of method; it gives no such table, so there is no paper column."),
    ),
    figures=(
        Figure("study", "figures/violins.png", "Each metric's scores per method, 36 models.",
               "Fig. 3: the score distributions per method and data set, 300 models each."),
        Figure("study", "figures/variance_explained.png",
               "Share of each metric's variance between methods, hyperparameters and seeds.",
               "Sec. 5.3, Fig. 6-7: seed and hyperparameter matter more than the method."),
        Figure("study", "figures/rank_correlation.png", "Spearman rank correlation between the metrics.",
               "Fig. 2 (right): the metrics mostly agree on dSprites, modularity the outlier."),
        Figure("study", "models/0/figures/traversal.png", "Latent traversals of beta-VAE (beta 2, seed 0).",
               "Not a figure of the paper; the usual picture of what each code does."),
    ),
))
