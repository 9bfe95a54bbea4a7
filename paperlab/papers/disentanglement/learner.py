"""The study's models trained by the shared engine (Locatello et al., ICML 2019, Sec. 4):
`paperlab train experiment=dis_<method>` (conf/experiment/dis_*.yaml), one model per run, scored
by every metric on both representations at the end of training (results.json).

The engine owns the loop, the optimiser of the single-objective methods (Adam 1e-4, shared.gin),
checkpoints, resume and the NaN guard on the loss. FactorVAE (Kim & Mnih 2018) steps two
optimisers from one forward pass, as disentanglement_lib's FactorVAE.model_fn does: the VAE on
reconstruction + KL + gamma TC, the discriminator (Adam 1e-4, betas 0.5/0.9) on telling z from its
dimension-wise shuffle, each loss restricted to its own variables (`factor_vae_step`, the learner's
`manual_step`). A non-finite total-correlation estimate stops training before that step's update
(methods.check_total_correlation).

Steps: the engine counts optimiser updates. disentanglement_lib's FactorVAE passes the global step
to both of its minimize calls (methods/unsupervised/vae.py), so its counter moves by 2 per
iteration and the study's 300,000 "steps" were 150,000 updates: conf/experiment/dis_factor_vae.yaml
runs 150,000. TF's Adam adds epsilon to sqrt(v) before bias correction, torch's after: with 1e-8
the updates differ only for gradients near zero.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn
from torch.utils.data import Dataset

from paperlab.config import to_dataclass
from paperlab.data import build_data_as
from paperlab.engine.distributed import dist_info
from paperlab.engine.learner import Learner, register_learner
from paperlab.errors import UserError
from paperlab.io.figures import save_figure
from paperlab.models import create_model

from .ground_truth import DSpritesData, check_dsprites_config
from .methods import (
    FactorVAE,
    Losses,
    bernoulli_loss,
    check_total_correlation,
    gaussian_kl_per_code,
    random_permutation,
    study_method,
)
from .metrics import HEADLINE, METRICS, make_metric
from .representation import KINDS, evaluate_model
from .visualize import plot_latent_traversal, plot_reconstructions

log = logging.getLogger(__name__)
MODEL = "disentanglement_vae"


@dataclass
class MethodConfig:
    name: str = "beta_vae"  # sweep.py: beta_vae, annealed_vae, factor_vae, dip_vae_i, dip_vae_ii, beta_tc_vae
    level: int = 2  # which of the six values of the method's swept hyperparameter (sweep.py), 0-5
    value: float | None = None  # that hyperparameter's value itself; null: the grid's at `level`
    # AnnealedVAE: updates over which the capacity C rises to c_max; null: a third of
    # trainer.max_steps (sweep.py: iteration_threshold 100,000 of shared.gin's 300,000 steps)
    anneal_steps: int | None = None
    discriminator_lr: float = 1e-4  # shared.gin: discriminator/AdamOptimizer.learning_rate
    discriminator_betas: list[float] = field(default_factory=lambda: [0.5, 0.9])  # shared.gin: beta1, beta2
    discriminator_eps: float = 1e-8  # shared.gin: discriminator/AdamOptimizer.epsilon


@dataclass
class EvaluationConfig:
    metrics: list[str] = field(default_factory=lambda: list(METRICS))
    representations: list[str] = field(default_factory=lambda: list(KINDS))  # postprocess_configs
    seed: int = 0  # the metrics' RandomState (the study: evaluation random_seed 0)
    # per metric, its sample sizes; a metric left out keeps the study's (metric_configs/*.gin)
    sizes: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 64  # observations per encoder call (ours; does not change the scores)
    n_jobs: int = 1  # threads for SAP's and DCI's classifier fits (ours; same scores)
    figures: bool = True  # latent traversal and reconstructions of the trained model


@dataclass
class StudyExtras:
    """What a trained model of the study is, besides its weights."""

    method: str
    hyperparameter: str
    value: float
    variant: str  # the dSprites variant it was trained on
    latent_factors: list[str]


def metric_configs(evaluation: EvaluationConfig) -> dict[str, Any]:
    """Each named metric's settings: the study's, with `evaluation.sizes` and `n_jobs`."""
    unknown = sorted(set(evaluation.sizes) - set(METRICS))
    if unknown:
        raise UserError(f"unknown metric {unknown[0]!r} in evaluation.sizes",
                        f"choose one of: {', '.join(METRICS)}")
    configs = {}
    for name in evaluation.metrics:
        config = make_metric(name).Config
        extra = {"n_jobs": evaluation.n_jobs} if "n_jobs" in config.__dataclass_fields__ else {}
        configs[name] = to_dataclass(config, evaluation.sizes.get(name),
                                     where=f"evaluation.sizes.{name}", **extra)
    return configs


def check_config(cfg: DictConfig) -> tuple[MethodConfig, EvaluationConfig, dict[str, Any]]:
    """Every setting of a run, checked before any data is read or model built: an unknown
    method, metric, representation or factor is one line listing the valid ones."""
    method = to_dataclass(MethodConfig, cfg.get("method"), where="method")
    study_method(method.name, method.level, method.value)
    evaluation = to_dataclass(EvaluationConfig, cfg.get("evaluation"), where="evaluation")
    for kind in evaluation.representations:
        if kind not in KINDS:
            raise UserError(f"unknown representation {kind!r} in evaluation.representations",
                            f"choose among: {', '.join(KINDS)}")
    configs = metric_configs(evaluation)
    check_dsprites_config(cfg.get("data"))
    if cfg.model.get("name") != MODEL:
        raise UserError(f"learner=disentanglement trains model={MODEL}, not "
                        f"model={cfg.model.get('name')}", "use an experiment=dis_<method> recipe")
    return method, evaluation, configs


def parameters_of(optimizer: torch.optim.Optimizer) -> list[Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def factor_vae_step(method: FactorVAE, vae: nn.Module, discriminator: nn.Module, x: Tensor,
                    step: int, vae_optimizer: torch.optim.Optimizer,
                    discriminator_optimizer: torch.optim.Optimizer, eps: Tensor | None = None,
                    permutation: Tensor | None = None) -> Losses:
    """One FactorVAE update from one forward pass (vae.py FactorVAE.model_fn): the VAE's
    optimiser on recon + KL + gamma TC, the discriminator's on its own loss, each gradient taken
    only for the parameters its optimiser holds. `eps` and `permutation` fix the sample's noise and
    the shuffle (default: drawn). Works unchanged on K stacked models (vectorized.Stacked)."""
    out = vae(x, eps)
    permutation = random_permutation(out.z) if permutation is None else permutation
    losses = method.losses(x, out, step, discriminator, permutation)
    check_total_correlation(losses, step)
    vae_optimizer.zero_grad(set_to_none=True)
    discriminator_optimizer.zero_grad(set_to_none=True)
    losses["loss"].sum().backward(inputs=parameters_of(vae_optimizer), retain_graph=True)
    losses["discriminator_loss"].sum().backward(inputs=parameters_of(discriminator_optimizer))
    vae_optimizer.step()
    discriminator_optimizer.step()
    return {name: value.detach() for name, value in losses.items()}


@register_learner("disentanglement")
class DisentanglementLearner(Learner):
    """One model of the study: a method, its hyperparameter, a seed (cfg.seed)."""

    monitor = "val/loss"  # the negative ELBO, comparable across methods
    Extras = StudyExtras

    def __init__(self, cfg: DictConfig) -> None:
        self.settings, self.evaluation, self.metric_configs = check_config(cfg)
        s = self.settings
        fixed = {}
        if s.name == "annealed_vae":
            max_steps = cfg.trainer.get("max_steps")
            fixed["iteration_threshold"] = s.anneal_steps or \
                (max(1, round(max_steps / 3)) if max_steps else 100_000)
        self.method, self.hyperparameter, self.value = study_method(s.name, s.level, s.value, **fixed)
        self.factor_vae = isinstance(self.method, FactorVAE)
        # FactorVAE steps its two optimisers itself; the others leave the step to the engine
        self.automatic_optimization = not self.factor_vae
        if self.factor_vae and dist_info().world_size > 1:
            raise UserError("FactorVAE steps two optimisers from one forward pass, which DDP "
                            "cannot synchronise", "train it in one process (no torchrun)")
        self.data = build_data_as(cfg.data, DSpritesData, "a dSprites set", "data=dsprites")
        model_kw = OmegaConf.to_container(cfg.model, resolve=True)
        self.model = create_model(model_kw.pop("name"), **model_kw,
                                  channels=self.data.ground_truth.channels,
                                  discriminator=self.factor_vae)
        self.seed = int(cfg.seed)
        self.step = 0  # updates made: AnnealedVAE's capacity follows it

    def datasets(self) -> dict[str, Dataset]:
        return self.data.splits

    def configure_optimizers(self, build: Any) -> dict[str, torch.optim.Optimizer]:
        if not self.factor_vae:
            return {"main": build(self.model.parameters())}
        s = self.settings
        return {"main": build(self.model.vae_parameters()),
                "discriminator": torch.optim.Adam(self.model.discriminator.parameters(),
                                                  lr=s.discriminator_lr,
                                                  betas=tuple(s.discriminator_betas),
                                                  eps=s.discriminator_eps)}

    def _logs(self, losses: Losses) -> tuple[Tensor, dict[str, Tensor]]:
        self.step += 1
        return losses["loss"], {k: v.detach() for k, v in losses.items() if k != "loss"}

    def training_step(self, model: nn.Module, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x = batch[0]
        losses = self.method.losses(x, model(x), self.step)
        check_total_correlation(losses, self.step)
        return self._logs(losses)

    def manual_step(self, model: nn.Module, batch: Any, optimizers: Any
                    ) -> tuple[Tensor, dict[str, Tensor]]:
        return self._logs(factor_vae_step(self.method, model, self.model.discriminator, batch[0],
                                          self.step, optimizers["main"],
                                          optimizers["discriminator"]))

    def eval_step(self, model: nn.Module, batch: Any) -> dict[str, Tensor]:
        x = batch[0]
        out = model(x)
        reconstruction = bernoulli_loss(x, out.logits)
        kl = gaussian_kl_per_code(out.mean, out.log_var).sum(-1)
        return {"loss_sum": (reconstruction + kl).sum(), "reconstruction_sum": reconstruction.sum(),
                "kl_sum": kl.sum(), "count": torch.tensor(float(len(x)))}

    def summarize(self, sums: dict[str, float]) -> dict[str, float]:
        n = max(sums["count"], 1.0)
        return {"loss": sums["loss_sum"] / n, "reconstruction": sums["reconstruction_sum"] / n,
                "kl": sums["kl_sum"] / n}

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state.get("step", 0))

    def checkpoint_extras(self) -> StudyExtras:
        return StudyExtras(self.settings.name, self.hyperparameter, self.value, self.data.variant,
                           list(self.data.latent_factors))

    def on_fit_end(self, run: Any) -> dict[str, Any]:
        """Score the trained model by every metric on each representation; draw its traversal and
        reconstructions."""
        e = self.evaluation
        start = time.perf_counter()
        scores = evaluate_model(self.model, self.data.ground_truth, e.metrics, e.seed,
                                self.metric_configs, e.representations, e.batch_size)
        s = self.settings
        results: dict[str, Any] = {"method": s.name, "hyperparameter": self.hyperparameter,
                                   "value": self.value, "level": s.level if s.value is None else None,
                                   "seed": self.seed}
        for kind, by_metric in scores.items():
            for name, values in by_metric.items():
                results[f"{kind}/{name}"] = values[HEADLINE[name]]
        results["scores"] = scores
        results["evaluation_s"] = round(time.perf_counter() - start, 1)
        log.info("scored by %d metrics on %s in %.0f s", len(e.metrics),
                 " and ".join(e.representations), results["evaluation_s"])
        if e.figures:
            self._figures(run)
        return results

    def _figures(self, run: Any) -> None:
        images = torch.from_numpy(self.data.ground_truth.sample_observations(
            264, np.random.RandomState(0)))
        title = f"{self.settings.name}, {self.hyperparameter} = {self.value:g}, seed {self.seed}"
        save_figure(plot_latent_traversal(self.model, images[0], kl_of=images[8:], title=title),
                    run.figure("traversal.png"))
        save_figure(plot_reconstructions(self.model, images[:8], title=title),
                    run.figure("reconstructions.png"))
