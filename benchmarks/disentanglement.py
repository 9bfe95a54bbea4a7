"""Locatello et al. (ICML 2019): paperlab's disentanglement metrics vs disent's, training
throughput of the engine vs a bare loop, and K seeds trained as one vectorised model vs K models.

Metrics: one model (a trained run given by --model, else the study's VAE with random weights,
seed 0) on the generated dSprites, its mean representation. For each metric disent implements
(MIG, SAP, DCI, FactorVAE score), both sides draw the same points (disent_bridge.DisentOrder
replays disent's draws from np.random, seed 0) and must give the same value; disent's FactorVAE
score prunes no dimension, so ours runs with threshold 0 here. disent reads our images through the
same bridge, one image per lookup (as its ArrayGroundTruthData would). Each timed run is a fresh
process (benchmarks/_measure.py): wall time, CPU time, and their ratios, and the seconds of ours
spent in the encoder: the same points need the same forward passes on both sides, and with
DCI's boosted trees (scikit-learn on both sides) they bound the speed-up any implementation
with the same values can reach. Then paperlab alone: all
six metrics of the study on both representations (what each trained model gets,
representation.evaluate_model), at the study's settings.

Sizes are the study's (metric_configs/*.gin) times --scale: on a CPU the full sizes take many
minutes per side (DCI's boosted trees alone ~10 min at 10,000 points), so the default is 0.1.

Training: `paperlab train experiment=dis_beta_vae|dis_factor_vae` (the engine: loaders, logging,
guards, a checkpoint, one validation batch) vs a bare loop over the same data, model and
optimisers, alternating, images/s and the ratio. Then K seeds of one configuration as one
torch.func.vmap model vs K separate models stepped in turn, model-steps/s (a GPU's case: on a CPU
the K models add up either way).

    python benchmarks/disentanglement.py [--model RUN_DIR] [--scale 0.1] [--train-steps 60]
        [--seeds 4] [--steps 5] [--device cpu] [--threads 1] [--jobs 1]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _measure import isolated

STUDY_SIZES = {  # config/unsupervised_study_v1/metric_configs/*.gin
    "mig": {"num_train": 10_000},
    "sap_score": {"num_train": 10_000, "num_test": 5_000},
    "dci": {"num_train": 10_000, "num_test": 5_000},
    "factor_vae_score": {"num_train": 10_000, "num_eval": 5_000, "num_variance_estimate": 10_000},
    "beta_vae_score": {"num_train": 10_000, "num_eval": 5_000},
    "modularity_explicitness": {"num_train": 10_000, "num_test": 5_000},
}
DISENT_NAMES = {"mig": ("metric_mig", "mig.discrete_score", "discrete_mig"),
                "sap_score": ("metric_sap", "sap.score", "SAP_score"),
                "dci": ("metric_dci", "dci.disentanglement", "disentanglement"),
                "factor_vae_score": ("metric_factor_vae", "factor_vae.eval_accuracy",
                                     "eval_accuracy")}


def the_model(model: str | None, device: str) -> Any:
    from paperlab.engine.restore import load_model
    from paperlab.papers.disentanglement.architectures import VAE, VAEConfig

    if model is not None:
        return load_model(model, kind="disentanglement", prefer="last").model.to(device)
    torch.manual_seed(0)
    return VAE(VAEConfig()).to(device)


def model_setup(cache_dir: str, device: str, model: str | None) -> dict[str, Any]:
    from paperlab.papers.disentanglement.dsprites import generate
    from paperlab.papers.disentanglement.ground_truth import DSprites
    from paperlab.papers.disentanglement.representation import representation_function

    vae = the_model(model, device)
    return {"data": DSprites(generate(Path(cache_dir))), "vae": vae,
            "represent": representation_function(vae, "mean")}


def metric_setup(cache_dir: str, device: str, model: str | None, name: str, sizes: dict,
                 jobs: int) -> dict[str, Any]:
    return model_setup(cache_dir, device, model) | {"name": name, "sizes": sizes, "jobs": jobs}


def disent_side(s: dict[str, Any]) -> float:
    # disent warns once per process that numba is missing, for a helper its metrics never call
    warnings.filterwarnings("ignore", message="failed to JIT compile")
    import disent.metrics

    from paperlab.papers.disentanglement.disent_bridge import disent_dataset, disent_representation

    function, key, _ = DISENT_NAMES[s["name"]]
    np.random.seed(0)
    scores = getattr(disent.metrics, function)(disent_dataset(s["data"]),
                                               disent_representation(s["represent"]), **s["sizes"])
    return float(scores[key])


def our_config(name: str, sizes: dict, jobs: int) -> Any:
    """Our study settings, with disent's where they differ: no pruning in the FactorVAE score, and
    the boosted trees breaking split ties from the global RandomState, one fit after the other
    (jobs=0); with jobs > 0, DCI's fits run in that many threads, ties broken by random_state 0."""
    from paperlab.papers.disentanglement.metrics import METRICS

    extra = {"prune_threshold": 0.0} if name == "factor_vae_score" else {}
    extra |= {"n_jobs": max(jobs, 1)} if name in ("sap_score", "dci") else {}
    extra |= {"random_state": None} if name == "dci" and jobs == 0 else {}
    return METRICS[name].Config(**sizes, **extra)


def our_side(s: dict[str, Any]) -> tuple[float, float]:
    """The metric's value and the seconds spent in the encoder: every implementation of the same
    metric on the same points runs the same forward passes, so they bound what can be saved."""
    from paperlab.papers.disentanglement.disent_bridge import GLOBAL_RANDOM_STATE, DisentOrder
    from paperlab.papers.disentanglement.metrics import METRICS

    name = s["name"]
    encoder_seconds = 0.0

    def timed_represent(observations: np.ndarray) -> np.ndarray:
        nonlocal encoder_seconds
        start = time.perf_counter()
        codes = s["represent"](observations)
        encoder_seconds += time.perf_counter() - start
        return codes

    np.random.seed(0)
    jobs = 0 if name == "dci" and s["jobs"] == "like disent" else s["jobs"]
    scores = METRICS[name](DisentOrder(s["data"]), timed_represent, GLOBAL_RANDOM_STATE,
                           our_config(name, s["sizes"], jobs))
    return float(scores[DISENT_NAMES[name][2]]), encoder_seconds


def study_side(s: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """All six metrics on both representations at the study's settings (pruning included)."""
    from paperlab.papers.disentanglement.metrics import METRICS
    from paperlab.papers.disentanglement.representation import evaluate_model

    configs = {n: METRICS[n].Config(**s["sizes"][n], **({"n_jobs": s["jobs"]} if n in ("sap_score", "dci") else {}))
               for n in METRICS}
    return evaluate_model(s["vae"], s["data"], list(METRICS), 0, configs)


def study_setup(cache_dir: str, device: str, model: str | None, sizes: dict,
                jobs: int) -> dict[str, Any]:
    return model_setup(cache_dir, device, model) | {"sizes": sizes, "jobs": jobs}


def vectorised_setup(device: str, method_name: str, seeds: int, vectorised: bool,
                     steps: int) -> dict[str, Any]:
    """K seeds of one configuration: one Stacked model (torch.func.vmap) or K separate ones."""
    from paperlab.papers.disentanglement.architectures import VAE, Discriminator, VAEConfig
    from paperlab.papers.disentanglement.methods import make_method
    from paperlab.papers.disentanglement.vectorized import Stacked, StackedConfig

    method = make_method(method_name)
    x = (torch.rand(seeds, 64, 1, 64, 64, generator=torch.Generator().manual_seed(0)) > 0.9)
    x = x.float().to(device)
    factor = method_name == "factor_vae"

    def build_vae() -> VAE:
        return VAE(VAEConfig()).to(device)

    def build_discriminator() -> Discriminator:
        return Discriminator(Discriminator.Config()).to(device)

    def adams(vae: Any, discriminator: Any) -> list[torch.optim.Optimizer]:  # shared.gin
        out = [torch.optim.Adam(vae.parameters(), 1e-4, (0.9, 0.999), 1e-8)]
        if discriminator is not None:
            out.append(torch.optim.Adam(discriminator.parameters(), 1e-4, (0.5, 0.9), 1e-8))
        return out

    if vectorised:
        vae = Stacked(StackedConfig(tuple(range(seeds))), build_vae)
        disc = Stacked(StackedConfig(tuple(range(seeds))), build_discriminator) if factor else None
        models = [(vae, disc, adams(vae, disc), x)]
    else:
        models = []
        for k in range(seeds):
            torch.manual_seed(k)
            vae, disc = build_vae(), build_discriminator() if factor else None
            models.append((vae, disc, adams(vae, disc), x[k]))
    return {"method": method, "models": models, "device": device, "steps": steps}


def vectorised_work(s: dict[str, Any]) -> float:
    """Seconds per step of all K models (after one warm-up step)."""
    from paperlab.papers.disentanglement.learner import factor_vae_step

    def one_step(step: int) -> None:
        for vae, discriminator, optimizers, x in s["models"]:
            if discriminator is not None:
                factor_vae_step(s["method"], vae, discriminator, x, step, *optimizers)
                continue
            loss = s["method"].losses(x, vae(x), step)["loss"].sum()
            optimizers[0].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[0].step()
        if s["device"] != "cpu":
            torch.cuda.synchronize()

    one_step(0)
    start = time.perf_counter()
    for step in range(1, s["steps"] + 1):
        one_step(step)
    return (time.perf_counter() - start) / s["steps"]


def train_config(experiment: str, steps: int, cache_dir: str, device: str) -> Any:
    from hydra import compose, initialize_config_dir

    from paperlab.config import conf_dir

    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return compose("train", [f"experiment={experiment}", f"trainer.max_steps={steps}",
                                 "trainer.max_epochs=1", "trainer.limit_eval_batches=1",
                                 "data.val_size=64", "trainer.progress=true",
                                 f"trainer.device={device}", "evaluation.metrics=[]",
                                 "evaluation.figures=false", f"paths.cache={Path(cache_dir).parent}"])


def bare_loop(cfg: Any, steps: int) -> float:
    """The loop a person would write by hand: read a batch, forward, loss, backward, step
    (FactorVAE: both optimisers, as its learner)."""
    from paperlab.engine.seed import seed_everything
    from paperlab.learners import LEARNERS
    from paperlab.paths import use_config

    use_config(cfg.paths)
    seed_everything(0)
    learner = LEARNERS.get("disentanglement")(cfg)
    model, data = learner.model.to(cfg.trainer.device), learner.datasets()["train"]
    optimizers = learner.configure_optimizers(lambda params: torch.optim.Adam(params, 1e-4))
    perm = torch.randperm(len(data)).tolist()
    b = cfg.trainer.batch_size
    model.train()
    t = time.perf_counter()
    for i in range(steps):
        x = data.__getitems__(perm[i * b:(i + 1) * b])[0].to(cfg.trainer.device)
        if learner.factor_vae:
            learner.manual_step(model, (x,), optimizers)
            continue
        loss = learner.method.losses(x, model(x), i)["loss"]
        optimizers["main"].zero_grad(set_to_none=True)
        loss.backward()
        optimizers["main"].step()
    return steps * b / (time.perf_counter() - t)


def engine(cfg: Any, steps: int) -> float:
    """paperlab train: everything counted (loaders, logging, the NaN guard, checkpoints, one
    validation batch); the metrics at the end of training are not (evaluation.metrics=[])."""
    import tempfile

    from paperlab.config import to_dataclass
    from paperlab.engine.seed import seed_everything
    from paperlab.engine.trainer import Trainer, TrainerConfig
    from paperlab.io.rundir import RunDir
    from paperlab.learners import LEARNERS
    from paperlab.paths import use_config

    use_config(cfg.paths)
    seed_everything(0)
    learner = LEARNERS.get("disentanglement")(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir.start(Path(tmp), task="train", name="bench")
        trainer = Trainer(to_dataclass(TrainerConfig, cfg.trainer, "trainer"), run, 0, cfg.optim,
                          None, cfg)
        t = time.perf_counter()
        trainer.fit(learner)
        return steps * cfg.trainer.batch_size / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a trained run (default: random weights)")
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--train-steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)  # torch threads of the training runs
    parser.add_argument("--jobs", type=int, default=1)  # threads for SAP's and DCI's fits
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache/paperlab/dsprites"))
    args = parser.parse_args()
    sizes = {n: {k: max(1, int(v * args.scale)) for k, v in s.items()}
             for n, s in STUDY_SIZES.items()}
    from paperlab.papers.disentanglement.dsprites import generate
    from paperlab.papers.disentanglement.metrics import HEADLINE

    start = time.perf_counter()
    generate(Path(args.cache_dir))
    print(f"dSprites: 737,280 images ready in {time.perf_counter() - start:.1f} s "
          f"(cached under {args.cache_dir}); model: {args.model or 'random weights, seed 0'}")
    print(f"metrics at {args.scale:g} x the study's sizes, {args.jobs} thread(s) for our SAP fits; "
          "DCI: fits in turn, split ties from np.random as disent, then in threads")
    print(f"{'metric':17} {'disent s':>9} {'ours s':>8} {'speed-up':>8} | {'disent cpu':>10} "
          f"{'ours cpu':>8} {'speed-up':>8} | {'disent':>8} {'ours':>8} {'|diff|':>8} | "
          f"{'encoder s':>9}")
    totals, shared = np.zeros(4), 0.0
    rows = [(name, name, "like disent" if name == "dci" else args.jobs) for name in DISENT_NAMES]
    if args.jobs > 1:
        rows.insert(3, ("dci", f"dci, {args.jobs} threads", args.jobs))
    disent_runs: dict[str, Any] = {}
    for name, label, jobs in rows:
        if name not in disent_runs:
            disent_runs[name] = isolated(metric_setup, disent_side, args.cache_dir, args.device,
                                         args.model, name, sizes[name], jobs)
        theirs = disent_runs[name]
        ours = isolated(metric_setup, our_side, args.cache_dir, args.device, args.model, name,
                        sizes[name], jobs)
        (value, encoder), theirs_value = ours.result, theirs.result
        if label == name:
            totals += [theirs.seconds, ours.seconds, theirs.cpu_seconds, ours.cpu_seconds]
            # DCI: all but the encoder is scikit-learn's boosted trees, which disent fits too
            shared += ours.seconds if name == "dci" else encoder
        print(f"{label:17} {theirs.seconds:9.1f} {ours.seconds:8.1f} "
              f"{theirs.seconds / ours.seconds:7.1f}x | {theirs.cpu_seconds:10.1f} "
              f"{ours.cpu_seconds:8.1f} {theirs.cpu_seconds / ours.cpu_seconds:7.1f}x | "
              f"{theirs_value:8.4f} {value:8.4f} {abs(theirs_value - value):8.1e} | {encoder:9.1f}")
    print(f"{'all four':17} {totals[0]:9.1f} {totals[1]:8.1f} {totals[0] / totals[1]:7.1f}x | "
          f"{totals[2]:10.1f} {totals[3]:8.1f} {totals[2] / totals[3]:7.1f}x")
    print(f"work both sides do alike (the encoder's passes, DCI's boosted trees): {shared:.1f} s "
          f"of ours, so the same values cannot come more than {totals[0] / shared:.1f}x faster "
          "than disent's here")
    study = isolated(study_setup, study_side, args.cache_dir, args.device, args.model, sizes,
                     args.jobs)
    print(f"ours, all six metrics on the mean and the sampled representation (what every model "
          f"gets): {study.seconds:.1f} s (cpu {study.cpu_seconds:.1f} s)")
    for kind, scores in study.result.items():
        print(f"  {kind:8}", ", ".join(f"{n} {v[HEADLINE[n]]:.4f}" for n, v in scores.items()))

    torch.set_num_threads(args.threads)
    print(f"\ntraining throughput, batch 64, {args.train_steps} steps x {args.repeats} alternating, "
          f"{args.threads} thread(s), {args.device}")
    print(f"{'method':12} {'bare loop img/s':>16} {'engine img/s':>13} {'engine/bare':>12}")
    for method in ("beta_vae", "factor_vae"):
        cfg = train_config(f"dis_{method}", args.train_steps, args.cache_dir, args.device)
        bare, ours = [], []
        for _ in range(args.repeats):
            bare.append(bare_loop(cfg, args.train_steps))
            ours.append(engine(cfg, args.train_steps))
        b, o = float(np.median(bare)), float(np.median(ours))
        print(f"{method:12} {b:16.1f} {o:13.1f} {o / b:12.3f}")

    print(f"\nK = {args.seeds} seeds of one configuration, batch 64, {args.steps} timed steps, "
          f"{args.device}")
    print(f"{'method':12} {'separate model-steps/s':>23} {'vmap model-steps/s':>19} {'ratio':>6}")
    for method in ("beta_vae", "factor_vae"):
        separate, stacked = (isolated(vectorised_setup, vectorised_work, args.device, method,
                                      args.seeds, vectorised, args.steps).result
                             for vectorised in (False, True))
        print(f"{method:12} {args.seeds / separate:23.2f} {args.seeds / stacked:19.2f} "
              f"{separate / stacked:5.2f}x")


if __name__ == "__main__":
    main()
