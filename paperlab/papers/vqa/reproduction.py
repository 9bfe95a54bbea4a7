"""What `paperlab reproduce vqa` runs and reports (see paperlab/tasks/reproduction.py): the VQA
paper's baselines (Sec. 6) and its three LSTM Q + I / BoW Q + I models (Sec. 6, Table 2) on the
embedded relational scenes, scored with the official metric (Sec. 4)."""

from paperlab.tasks.reproduction import (
    Experiment,
    Ours,
    Reproduction,
    Row,
    Table,
    register_reproduction,
)


def _scores(experiment: str, prefix: str = "test/") -> tuple[Ours, Ours]:
    return Ours(experiment, f"{prefix}open_ended/overall"), Ours(experiment, f"{prefix}multiple_choice/overall")


BASELINE_ROWS = tuple(
    Row(label, (paper, Ours("baselines", f"test/open_ended/{name}/overall"),
                Ours("baselines", f"test/multiple_choice/{name}/overall")), command)
    for label, name, paper, command in (
        ('prior ("yes")', "prior_yes", "29.66", None),
        ("per Q-type prior", "qtype_prior", "37.54", "same run"),
        ("nearest neighbour", "nearest_neighbor", "42.70", "same run"),
    ))

# also DAN's baseline on the same data
BOW_Q_I = Experiment("bow_q_i", ("train", "experiment=vqa_bow_q_i"), 3, "BoW Q + I (Antol et al. Sec. 6)")

REPRODUCTION = register_reproduction(Reproduction(
    paper="vqa",
    title="Antol et al. 2015, VQA: Visual Question Answering",
    citation="Stanislaw Antol, Aishwarya Agrawal, Jiasen Lu, Margaret Mitchell, Dhruv Batra, C. Lawrence Zitnick, "
             "Devi Parikh. ICCV 2015, arXiv:1505.00468.",
    scale="The embedded relational scenes (Sort-of-CLEVR style: 10,000 images, 80,000 questions, a small CNN "
          "trained on them), not VQA v1 on COCO with VGG-16 fc7; the metric and the 2021 protocol are the official ones.",
    experiments=(
        Experiment("baselines", ("vqa-baselines", "data=sort_of_clevr"), 2, "random, prior, Q-type prior, nearest neighbour (Sec. 6)"),
        BOW_Q_I,
        Experiment("lstm_q_i", ("train", "experiment=vqa_lstm_q_i"), 5, "LSTM Q + I (Sec. 6)"),
        Experiment("deeper_lstm_q_norm_i", ("train", "experiment=vqa_deeper_lstm_q_norm_i"), 6,
                   "deeper LSTM Q + norm I (the VQA team's released model)"),
    ),
    tables=(
        Table("models", "Table 2 (setting of): accuracy %, official metric", (
            "paper, VQA v1 test-dev, OE", "ours, OE overall", "ours, MC overall"), (
            *BASELINE_ROWS,
            Row("BoW Q + I", ("52.64", *_scores("bow_q_i"))),
            Row("LSTM Q + I", ("53.74", *_scores("lstm_q_i"))),
            Row("deeper LSTM Q + norm I", ("57.75", *_scores("deeper_lstm_q_norm_i"))),
        )),
    ),
))
