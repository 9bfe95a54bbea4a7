"""What `paperlab reproduce vqa` runs and reports (see paperlab/tasks/reproduction.py): the VQA
paper's baselines (Sec. 6) and its three LSTM Q + I / BoW Q + I models (Sec. 6, Table 2) on the
embedded relational scenes, scored with the official metric (Sec. 4)."""

from paperlab.papers.vqa.sort_of_clevr import QUESTION_TYPES
from paperlab.tasks.reproduction import (
    Cell,
    Experiment,
    Ours,
    Reproduction,
    Row,
    Table,
    register_reproduction,
)


def _scores(experiment: str, prefix: str = "test/") -> tuple[Ours, Ours]:
    return Ours(experiment, f"{prefix}open_ended/overall"), Ours(experiment, f"{prefix}multiple_choice/overall")


ANSWER_TYPES = ("overall", "yes/no", "number", "other")  # the official evaluation's (Sec. 4)
ANSWER_TYPE_COLUMNS = (*(f"OE {t}" for t in ANSWER_TYPES), *(f"MC {t}" for t in ANSWER_TYPES))
RELATIONAL_COLUMNS = ("OE relational", "OE non-relational")


def answer_type_cells(experiment: str, name: str = "", absent: tuple[str, ...] = ()) -> tuple[Cell, ...]:
    """OE then MC accuracy per answer type of one experiment's test split (`name`: a baseline of
    `paperlab vqa-baselines`); a type in `absent` has no questions in the data and reads '–'."""
    prefix = f"{name}/" if name else ""
    return tuple("–" if t in absent else Ours(experiment, f"test/{mode}/{prefix}{t}")
                 for mode in ("open_ended", "multiple_choice") for t in ANSWER_TYPES)


def relational_cells(experiment: str) -> tuple[Ours, Ours]:
    return Ours(experiment, "test/open_ended/relational"), Ours(experiment, "test/open_ended/non_relational")


def family_table(models: dict[str, Experiment], title: str) -> Table:
    """Open-ended test accuracy per question family of the relational scenes, one column per model
    (`label -> experiment`); the last four families are relational."""
    first = "`" + "`, `".join(e.command for e in models.values()) + "`"
    return Table("families", title, tuple(models), tuple(
        Row(f"`{family}`", tuple(Ours(e.name, f"test/open_ended/qtype/{family}", 1) for e in models.values()),
            first if i == 0 else "same runs")
        for i, family in enumerate(QUESTION_TYPES)))


def paper_row(label: str, open_ended: str, multiple_choice: str = "", extra: int = 0) -> Row:
    """The paper's VQA v1 test-dev numbers, 'All/yes-no/number/other' (Table 2), beside ours."""
    oe = open_ended.split("/")
    oe += [""] * (len(ANSWER_TYPES) - len(oe))  # some papers give the overall number only
    mc = (multiple_choice, "", "", "")
    return Row(f"paper: {label}", (*oe, *mc, *("",) * extra), "not run (needs VQA)")


PAPER_BASELINES = {  # Table 2, open-ended test-dev
    "prior_yes": ('prior ("yes")', "29.66/70.81/0.39/1.15"),
    "qtype_prior": ("per Q-type prior", "37.54/71.03/35.77/9.38"),
    "nearest_neighbor": ("nearest neighbour", "42.70/71.89/24.36/21.94"),
}
BASELINE_LABELS = {"random": "random", **{name: label for name, (label, _) in PAPER_BASELINES.items()}}

BASELINE_ROWS = tuple(
    Row(label, (oe.split("/")[0], Ours("baselines", f"test/open_ended/{name}/overall"),
                Ours("baselines", f"test/multiple_choice/{name}/overall")), None if i == 0 else "same run")
    for i, (name, (label, oe)) in enumerate(PAPER_BASELINES.items()))

BOW_Q_I = Experiment("bow_q_i", ("train", "experiment=vqa_bow_q_i"), 3, "BoW Q + I (Antol et al. Sec. 6)")  # DAN's too
LSTM_Q_I = Experiment("lstm_q_i", ("train", "experiment=vqa_lstm_q_i"), 5, "LSTM Q + I (Sec. 6)")
DEEPER_LSTM_Q_NORM_I = Experiment("deeper_lstm_q_norm_i", ("train", "experiment=vqa_deeper_lstm_q_norm_i"), 6,
                                  "deeper LSTM Q + norm I (the VQA team's released model)")


def baseline_rows(data: str, experiment: str, absent: tuple[str, ...] = ()) -> tuple[Row, ...]:
    return tuple(Row(f"{data}: {label}", answer_type_cells(experiment, name, absent), None if i == 0 else "same run")
                 for i, (name, label) in enumerate(BASELINE_LABELS.items()))


REPRODUCTION = register_reproduction(Reproduction(
    paper="vqa",
    title="Antol et al. 2015, VQA: Visual Question Answering",
    citation="Stanislaw Antol, Aishwarya Agrawal, Jiasen Lu, Margaret Mitchell, Dhruv Batra, C. Lawrence Zitnick, "
             "Devi Parikh. ICCV 2015, arXiv:1505.00468.",
    scale="The embedded relational scenes (Sort-of-CLEVR style: 10,000 images, 80,000 questions, a small CNN "
          "trained on them), not VQA v1 on COCO with VGG-16 fc7; the metric and the 2021 protocol are the official ones.",
    experiments=(
        Experiment("baselines", ("vqa-baselines", "data=sort_of_clevr"), 2, "random, prior, Q-type prior, nearest neighbour (Sec. 6)"),
        Experiment("baselines_easy_vqa", ("vqa-baselines", "data=easy_vqa"), 1, "the same baselines on easy-VQA"),
        BOW_Q_I,
        LSTM_Q_I,
        DEEPER_LSTM_Q_NORM_I,
    ),
    tables=(
        Table("models", "Table 2 (setting of): accuracy %, official metric", (
            "paper, VQA v1 test-dev, OE", "ours, OE overall", "ours, MC overall"), (
            *BASELINE_ROWS,
            Row("BoW Q + I", ("52.64", *_scores("bow_q_i"))),
            Row("LSTM Q + I", ("53.74", *_scores("lstm_q_i"))),
            Row("deeper LSTM Q + norm I", ("57.75", *_scores("deeper_lstm_q_norm_i"))),
        )),
        Table("baselines", "Sec. 6 baselines per answer type: accuracy %, official metric", ANSWER_TYPE_COLUMNS, (
            *(paper_row(label, oe) for label, oe in PAPER_BASELINES.values()),
            *baseline_rows("easy_vqa", "baselines_easy_vqa", absent=("number",)),  # its templates ask no counts
            *baseline_rows("sort_of_clevr", "baselines"),
        )),
        Table("answer_types", "Table 2 (setting of) per answer type: accuracy %, official metric",
              (*ANSWER_TYPE_COLUMNS, *RELATIONAL_COLUMNS), (
            paper_row("BoW Q + I", "52.64/75.55/33.67/37.37", extra=2),
            paper_row("LSTM Q + I", "53.74/78.94/35.24/36.42", extra=2),
            paper_row("deeper LSTM Q + norm I", "57.75/80.50/36.77/43.08", "63.09 (test-std)", extra=2),
            *(Row(label, (*answer_type_cells(name), *relational_cells(name))) for name, label in (
                ("bow_q_i", "BoW Q + I"), ("lstm_q_i", "LSTM Q + I"), ("deeper_lstm_q_norm_i", "deeper LSTM Q + norm I"))),
        )),
        family_table({"BoW Q + I": BOW_Q_I, "LSTM Q + I": LSTM_Q_I, "deeper LSTM Q + norm I": DEEPER_LSTM_Q_NORM_I},
                     "open-ended accuracy % per question family (not in the paper)"),
    ),
))
