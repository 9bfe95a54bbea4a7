"""The experiment configs carry the reference's recipes (anokland/local-loss run_experiments.sh,
one line per rule, and train.py's defaults), composed as `paperlab train experiment=...` would."""

import pytest
import torch
from conftest import task_config

from paperlab.papers.local_loss.networks import LocalNet, NetConfig

LONG, SHORT, FMNIST = [200, 300, 350, 375], [50, 75, 89, 94], [100, 150, 175, 188]
# experiment: (data, arch, feat_mult, rule, dropout, lr, epochs, milestones, dim_in_decoder, num_hidden,
#              pad_crop, flip) -- the predsim line of run_experiments.sh (its line number first)
RECIPES = {
    "localloss_mlp_predsim_mnist": ("mnist", "mlp", 1, "predsim", 0.1, 5e-4, 100, SHORT, 4096, 1024, 2, False),  # 5
    "localloss_vgg8b_predsim_mnist": ("mnist", "vgg8b", 1, "predsim", 0.2, 5e-4, 100, SHORT, 1024, 1024, 2, False),  # 10
    "localloss_mlp_predsim_fashion_mnist": ("fashion_mnist", "mlp", 1, "predsim", 0.025, 5e-4, 200, FMNIST, 4096, 1024,
                                            2, True),  # 18
    "localloss_vgg8b_predsim_fashion_mnist": ("fashion_mnist", "vgg8b", 1, "predsim", 0.1, 5e-4, 200, FMNIST, 1024, 1024,
                                              2, True),  # 23
    "localloss_vgg8bx2_predsim_fashion_mnist": ("fashion_mnist", "vgg8b", 2, "predsim", 0.2, 3e-4, 200, FMNIST, 4096,
                                                1024, 2, True),  # 28
    "localloss_mlp_predsim_kmnist": ("kmnist", "mlp", 1, "predsim", 0.2, 5e-4, 100, SHORT, 4096, 1024, 0, False),  # 36
    "localloss_vgg8b_predsim_kmnist": ("kmnist", "vgg8b", 1, "predsim", 0.3, 5e-4, 100, SHORT, 1024, 1024, 0, False),  # 41
    "localloss_mlp_predsim_cifar10": ("cifar10", "mlp", 1, "predsim", 0.1, 5e-4, 400, LONG, 4096, 3000, 4, True),  # 49
    "localloss_vgg8b_predsim_cifar10": ("cifar10", "vgg8b", 1, "predsim", 0.2, 5e-4, 400, LONG, 2048, 1024, 4, True),  # 54
    "localloss_vgg11b_predsim_cifar10": ("cifar10", "vgg11b", 1, "predsim", 0.2, 5e-4, 400, LONG, 2048, 1024, 4, True),
    "localloss_vgg11bx2_predsim_cifar10": ("cifar10", "vgg11b", 2, "predsim", 0.25, 3e-4, 400, LONG, 4096, 1024, 4, True),
    "localloss_vgg11bx3_predsim_cifar10": ("cifar10", "vgg11b", 3, "predsim", 0.3, 3e-4, 400, LONG, 4096, 1024, 4, True),
    "localloss_vgg8b_predsimbpf_cifar10": ("cifar10", "vgg8b", 1, "predsim-bpf", 0.05, 5e-4, 400, LONG, 4096, 1024, 4,
                                           True),  # 75
    "localloss_vgg8bx2_predsimbpf_cifar10": ("cifar10", "vgg8b", 2, "predsim-bpf", 0.1, 3e-4, 400, LONG, 4096, 1024, 4,
                                             True),  # 77
    "localloss_mlp_predsim_cifar100": ("cifar100", "mlp", 1, "predsim", 0.025, 5e-4, 400, LONG, 4096, 3000, 4, True),
    "localloss_vgg8b_predsim_cifar100": ("cifar100", "vgg8b", 1, "predsim", 0.05, 5e-4, 400, LONG, 4096, 1024, 4, True),
    "localloss_vgg11b_predsim_cifar100": ("cifar100", "vgg11b", 1, "predsim", 0.05, 5e-4, 400, LONG, 4096, 1024, 4,
                                          True),
    "localloss_vgg11bx2_predsim_cifar100": ("cifar100", "vgg11b", 2, "predsim", 0.1, 3e-4, 400, LONG, 4096, 1024, 4,
                                            True),
    "localloss_vgg11bx3_predsim_cifar100": ("cifar100", "vgg11b", 3, "predsim", 0.15, 3e-4, 400, LONG, 4096, 1024, 4,
                                            True),
    "localloss_vgg8b_predsim_svhn": ("svhn", "vgg8b", 1, "predsim", 0.3, 3e-4, 100, SHORT, 2048, 1024, 0, False),  # 109
    "localloss_vgg8b_predsim_stl10": ("stl10", "vgg8b", 1, "predsim", 0.1, 5e-4, 400, LONG, 2048, 1024, 0, False),  # 117
}


def test_every_localloss_experiment_is_checked():
    from paperlab.config import config_options

    paper = {n for n in config_options("experiment") if n.startswith("localloss_") and not n.endswith("_cpu")}
    assert paper == set(RECIPES)


@pytest.mark.parametrize("experiment", sorted(RECIPES))
def test_experiment_follows_the_reference(experiment):
    data, arch, mult, rule, dropout, lr, epochs, milestones, dim, hidden, pad, flip = RECIPES[experiment]
    cfg = task_config("train", [f"experiment={experiment}"])
    m = cfg.model
    assert (cfg.learner, cfg.data.name, m.arch, m.feat_mult, cfg.local_loss.rule) == ("local_loss", data, arch, mult, rule)
    assert (m.dropout, cfg.optim.lr, m.dim_in_decoder, m.num_hidden, m.nonlin) == (dropout, lr, dim, hidden, "auto")
    assert (cfg.trainer.max_epochs, list(cfg.sched.milestones), cfg.sched.gamma) == (epochs, milestones, 0.25)
    assert (cfg.data.pad_crop, cfg.data.flip, cfg.data.val_size) == (pad, flip, 0)  # every training image
    assert (cfg.optim._target_, cfg.trainer.batch_size, cfg.trainer.test_with) == ("torch.optim.Adam", 128, "last")
    assert bool(cfg.data.get("extra")) == (data == "svhn")  # SVHN: train + extra (train.py:335-337)


@pytest.mark.parametrize(("rule", "nonlin"), [("backprop", "relu"), ("pred", "relu"), ("pred-bpf", "relu"),
                                              ("sim", "leakyrelu"), ("predsim", "leakyrelu"),
                                              ("predsim-bpf", "leakyrelu")])
def test_auto_nonlinearity_follows_the_reference_per_rule(rule, nonlin):
    # run_experiments.sh: --nonlin leakyrelu on every sim and predsim line, relu (the default) else
    with torch.device("meta"):
        net = LocalNet(NetConfig(arch="mlp", rule=rule, num_hidden=8))
    expected = torch.nn.LeakyReLU if nonlin == "leakyrelu" else torch.nn.ReLU
    assert all(type(b.act) is expected for b in net.blocks)


@pytest.mark.parametrize(("cpu", "paper", "cuts"), [
    ("localloss_vgg8b_predsim_fashion_mnist_cpu", "localloss_vgg8b_predsim_fashion_mnist",
     {"name", "model.feat_mult", "sched.milestones", "trainer.max_epochs", "trainer.limit_train_batches",
      "trainer.val_every_n_epochs"}),
    ("localloss_mlp_predsim_fashion_mnist_cpu", "localloss_mlp_predsim_fashion_mnist",
     {"name", "sched.milestones", "trainer.max_epochs"}),
])
def test_cpu_recipes_change_only_what_their_comments_say(cpu, paper, cuts):
    from omegaconf import OmegaConf

    def flat(cfg, prefix=""):
        out = {}
        for key, value in cfg.items():
            if isinstance(value, dict):
                out |= flat(value, f"{prefix}{key}.")
            else:
                out[f"{prefix}{key}"] = value
        return out

    a, b = (flat(OmegaConf.to_container(task_config("train", [f"experiment={e}"]), resolve=True))
            for e in (cpu, paper))
    assert {k for k in a.keys() | b.keys() if a.get(k) != b.get(k) and not k.startswith("hydra.")} == cuts
    # the milestones keep the paper's fractions of the run (100, 150, 175, 188 of 200)
    fractions = [m / a["trainer.max_epochs"] for m in a["sched.milestones"]]
    assert fractions == pytest.approx([0.5, 0.75, 0.875, 0.94], abs=0.08)
