"""What `paperlab reproduce local_loss` runs and reports (see paperlab/tasks/reproduction.py): the
paper's Fashion-MNIST comparison of training rules (Sec. 4, the Fashion-MNIST table: vgg8b and mlp
rows) on a CPU budget, global backprop beside the local rules pred, sim, predsim and predsim-bpf,
then each network's test-error curves of the five rules on one plot."""

from paperlab.tasks.reproduction import (
    Experiment,
    Figure,
    Ours,
    Reproduction,
    Row,
    Table,
    register_reproduction,
)

RULES = ("backprop", "pred", "sim", "predsim", "predsim-bpf")
# the paper's Fashion-MNIST test errors (%) by rule (anokland/local-loss README.md; no bpf run on F-MNIST)
PAPER = {
    "vgg8b": ("4.53", "5.66", "5.12", "4.65", "—"),
    "mlp": ("8.37", "8.60", "9.70", "8.54", "—"),
}
# minutes of CPU time of each rule's run, one thread (user + system: the wall clock of the runs, on
# 2 cores shared with other jobs, was 8-39 minutes); vgg8b's backprop, sim and predsim from their
# step and evaluation times, the others measured
MINUTES = {
    "vgg8b": (4, 4, 9, 9, 5),
    "mlp": (5, 4, 9, 9, 6),
}


def _name(net: str, rule: str) -> str:
    return f"{net}_{rule.replace('-', '_')}"


def _experiments(net: str) -> tuple[Experiment, ...]:
    recipe = f"experiment=localloss_{net}_predsim_fashion_mnist_cpu"
    runs = tuple(Experiment(_name(net, rule), ("train", recipe, f"local_loss.rule={rule}"), minutes,
                            f"{net} trained by {rule} (Sec. 3-4)")
                 for rule, minutes in zip(RULES, MINUTES[net], strict=True))
    compare = Experiment(f"{net}_compare", ("local-loss-compare", *(f"{{run:{_name(net, r)}}}" for r in RULES)), 1,
                         f"{net}: the test-error curves of the five rules on one plot")
    return (*runs, compare)


def _table(net: str, ours: str) -> Table:
    return Table(f"fashion_mnist_{net}", f"Fashion-MNIST test error (%) of {net} by training rule",
                 (f"paper, {net}, 200 epochs", ours),
                 tuple(Row("global (backprop)" if rule == "backprop" else rule, (paper, Ours(_name(net, rule), "test/error")))
                       for rule, paper in zip(RULES, PAPER[net], strict=True)))


REPRODUCTION = register_reproduction(Reproduction(
    paper="local_loss",
    title="Nøkland & Eidnes 2019, Training Neural Networks with Local Error Signals",
    citation="Arild Nøkland and Lars Hiller Eidnes. ICML 2019, arXiv:1901.06656.",
    scale="On a CPU: vgg8b at 1/8 of the paper's widths (1.4M instead of 7.3M parameters) for 576 steps "
          "of 128 images (1.2 passes over Fashion-MNIST's 60k), and the paper's mlp (3 x 1024, 2.9M) for "
          "10 epochs, not 200 epochs on a GPU; within a table every rule gets the same steps, data order "
          "and schedule.",
    experiments=(*_experiments("vgg8b"), *_experiments("mlp")),
    tables=(
        _table("vgg8b", "ours, vgg8b at 1/8 width, 576 steps"),
        _table("mlp", "ours, mlp, 10 epochs"),
    ),
    figures=(
        Figure("vgg8b_compare", "figures/error_curves.png",
               "vgg8b at 1/8 width: the test error every other round (72 steps) of the five rules.",
               "The Fashion-MNIST table: each rule's final test error; the paper draws no curves for it."),
        Figure("mlp_compare", "figures/error_curves.png",
               "mlp: the test error after each epoch of the five rules.",
               "The Fashion-MNIST table: each rule's final test error; the paper draws no curves for it."),
        Figure("vgg8b_predsim", "figures/local_losses.png",
               "vgg8b, predsim: each block's local loss while training and on the test set, and each "
               "block's local decoder's test error beside the network's.",
               "The paper draws no per-block curves."),
    ),
))
