"""What `paperlab reproduce niwt` runs and reports (see paperlab/tasks/reproduction.py): the whole
NIWT pipeline (Sec. 3-4) on the embedded Shapes ZSL set, NIWT and ALE from attributes and captions."""

from paperlab.tasks.reproduction import (
    Experiment,
    Ours,
    Reproduction,
    Row,
    Table,
    register_reproduction,
)


def _row(label: str, method: str, side: str, command: str | None = None, experiment: str = "zsl") -> Row:
    keys = ("U", "S", "H", "zsl")
    return Row(label, tuple(Ours(experiment, f"{method}/{side}/{k}") for k in keys), command)


PAPER = (Row("paper, AWA2, NIWT (VGG-16 fine-tuned, attributes)", ("—", "—", "48.1", "—"),
             "not run here (no AWA2, no ImageNet weights)"),
         Row("paper, CUB, NIWT (VGG-16, attributes)", ("—", "—", "37.0", "—"), "not run here"))
SHAPES = (_row("Shapes ZSL, NIWT, attributes", "niwt", "attributes"),
          _row("Shapes ZSL, NIWT, captions", "niwt", "captions", "`paperlab zsl` (same run)"),
          _row("Shapes ZSL, ALE, attributes", "ale", "attributes", "`paperlab zsl` (same run)"),
          _row("Shapes ZSL, ALE, captions", "ale", "captions", "`paperlab zsl` (same run)"))
FASHION = (_row("Fashion-MNIST ZSL (Coat, Sandal, Dress unseen), NIWT, attributes", "niwt", "attributes", None, "zsl_fashion"),
           _row("Fashion-MNIST ZSL, NIWT, captions", "niwt", "captions", "same run", "zsl_fashion"),
           _row("Fashion-MNIST ZSL, ALE, attributes", "ale", "attributes", "same run", "zsl_fashion"),
           _row("Fashion-MNIST ZSL, ALE, captions", "ale", "captions", "same run", "zsl_fashion"))


REPRODUCTION = register_reproduction(Reproduction(
    paper="niwt",
    title="Selvaraju et al. 2018, Choose Your Neuron: Incorporating Domain Knowledge through Neuron-Importance",
    citation="Ramprasaath R. Selvaraju, Prithvijit Chattopadhyay, Mohamed Elhoseiny, Tilak Sharma, Dhruv Batra, "
             "Devi Parikh, Stefan Lee. ECCV 2018, arXiv:1808.02861.",
    scale="A small CNN trained on the embedded Shapes ZSL set (12 classes, 4 unseen), not VGG-16 / ResNet on "
          "AWA2 and CUB; the domain knowledge is the set's attributes and captions.",
    experiments=(
        Experiment("zsl", ("zsl",), 4, "CNN, neuron importances, the alpha mapping, NIWT and ALE (Sec. 3-4)"),
        Experiment("zsl_fashion", ("zsl", "data=zsl_fashion", "data.train_per_class=1000", "data.val_size=700",
                                   "trainer.max_epochs=6"), 3, "the same on Fashion-MNIST, 3 classes unseen"),
    ),
    tables=(
        Table("zsl", "Generalized zero-shot learning, per-class top-1 %", ("U", "S", "H", "pure ZSL"), (*PAPER, *SHAPES),
              note="Chance on pure ZSL is 1/12 = 8.3%."),
        Table("zsl_full", "Generalized zero-shot learning, per-class top-1 %", ("U", "S", "H", "pure ZSL"),
              (*PAPER, *SHAPES, *FASHION),
              note="Chance on pure ZSL is 1/12 = 8.3% (Shapes) and 1/3 = 33.3% (Fashion-MNIST)."),
    ),
))
