"""Locatello, Bauer, Lucic, Raetsch, Gelly, Schoelkopf, Bachem: "Challenging Common Assumptions in
the Unsupervised Learning of Disentangled Representations", ICML 2019 (arXiv:1811.12359).

The reference implementation is google-research/disentanglement_lib (TensorFlow 1); settings come
from its config/unsupervised_study_v1/ (sweep.py, model_configs/shared.gin,
metric_configs/*.gin, postprocess_configs/*.gin), code facts from methods/ and evaluation/metrics/.

    section / equation                                 module:function
    Sec. 2, 4  ground truth (two-step generation)      ground_truth:GroundTruthData
    Sec. 4     dSprites grid, rendering, release file  dsprites:generate, dsprites:load_released
    Sec. 4     Color-/Noisy-/Scream-dSprites           ground_truth:make_dsprites
    Sec. 4     the data for the engine (data=dsprites) ground_truth:build_dsprites
    Sec. 4     shared encoder/decoder (appendix)       architectures:VAE (model=disentanglement_vae)
    Sec. 4     FactorVAE discriminator                 architectures:Discriminator
    Sec. 4     beta-VAE (Higgins et al. Eq. 4)         methods:BetaVAE
    Sec. 4     AnnealedVAE (Burgess et al. Eq. 8)      methods:AnnealedVAE, methods:anneal
    Sec. 4     FactorVAE (Kim & Mnih Eq. 2)            methods:FactorVAE, learner:factor_vae_step
    Sec. 4     DIP-VAE-I/II (Kumar et al. Eq. 6, 7)    methods:DIPVAE
    Sec. 4     beta-TC-VAE (Chen et al. Eq. 4)         methods:BetaTCVAE, methods:total_correlation
    Sec. 4     grid: 6 values per method               methods:STUDY_GRID, methods:study_method
    Sec. 4     training (batch 64, Adam 1e-4)          learner:DisentanglementLearner (learner=disentanglement)
    Sec. 4     mean / sampled representation           representation:Encodings.representation
    Sec. 4     BetaVAE score                           metrics.beta_vae:compute_beta_vae_score
    Sec. 4     FactorVAE score                         metrics.factor_vae:compute_factor_vae_score
    Sec. 4     MIG                                     metrics.mig:mig_from_codes
    Sec. 4     SAP                                     metrics.sap:sap_from_codes
    Sec. 4     DCI                                     metrics.dci:dci_from_codes
    Sec. 4     modularity, explicitness                metrics.modularity:modularity
    Sec. 4     the metrics by name, shared sampling    metrics:METRICS, metrics:evaluate
    Sec. 4     every model scored by every metric      representation:evaluate_model
    Sec. 5     the study as one sweep                  study:main, study:StudyCallback
    Sec. 5.2   rank correlation between metrics        analysis:rank_correlation
    Sec. 5.3   score distributions per method          analysis:plot_metric_violins
    Sec. 5.3   seed vs hyperparameter vs method        analysis:variance_explained
    Sec. 5     the study's report of a sweep           report:run
    Sec. 5     latent traversals, reconstructions      visualize:plot_latent_traversal
    (beyond)   K seeds as one vectorised model         vectorized:Stacked
    (tests)    the peer library on the same points     disent_bridge:DisentOrder
"""

# modules (relative to this package) that register names, by registry kind
REGISTRY_MODULES = {"model": ["architectures"], "dataset": ["ground_truth"], "learner": ["learner"],
                    "reproduction": ["reproduction"]}
