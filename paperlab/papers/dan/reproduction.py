"""What `paperlab reproduce dan` runs and reports (see paperlab/tasks/reproduction.py): r-DAN for
VQA (Sec. 3.2) and m-DAN for image-text matching (Sec. 3.3) on the embedded scenes, each beside
a bag-of-words model trained on the same data."""

from paperlab.papers.vqa.reproduction import (
    ANSWER_TYPE_COLUMNS,
    BOW_Q_I,
    RELATIONAL_COLUMNS,
    answer_type_cells,
    family_table,
    paper_row,
    relational_cells,
)
from paperlab.tasks.reproduction import (
    Experiment,
    Ours,
    Reproduction,
    Row,
    Table,
    register_reproduction,
)


def both(key: str, matching: bool = False) -> tuple[Ours, Ours]:
    """The DAN model's number and its bag-of-words baseline's, trained on the same data."""
    if matching:
        return Ours("mdan", key, 1), Ours("bow_matching", key, 1)
    return Ours("rdan", key), Ours("bow_q_i", key)


def attention_rows(experiment: str, share: str, count: str, where: str, model: str) -> tuple[Row, ...]:
    """The share of the visual attention at each step `where`, beside what uniform attention puts there."""
    return tuple(Row(f"{who}, {where}", (Ours(experiment, f"test/attention/{share}_{key}", 1),
                                         Ours(experiment, f"test/attention/{count}", 0)), None if i == 0 else "same run")
                 for i, (key, who) in enumerate((("step1", f"{model} step 1"), ("step2", f"{model} step 2"),
                                                 ("uniform", "uniform attention"))))


RDAN = Experiment("rdan", ("train", "experiment=vqa_rdan"), 5, "r-DAN, VQA (Sec. 3.2)")

REPRODUCTION = register_reproduction(Reproduction(
    paper="dan",
    title="Nam, Ha & Kim 2017, Dual Attention Networks for Multimodal Reasoning and Matching",
    citation="Hyeonseob Nam, Jung-Woo Ha, Jeonghee Kim. CVPR 2017, arXiv:1611.00471.",
    scale="The embedded relational scenes and their generated captions, a small CNN trained on them; not "
          "VQA v1 and Flickr30K with ResNet-152 features.",
    experiments=(
        RDAN,
        BOW_Q_I,
        Experiment("mdan", ("train", "experiment=mdan_sort_of_clevr"), 6, "m-DAN, image-text matching (Sec. 3.3)"),
        Experiment("bow_matching", ("train", "experiment=matching_bow_sort_of_clevr"), 2,
                   "a bag-of-words matching baseline on the same data"),
    ),
    tables=(
        Table("dan", "Tables 1-3 (setting of)", ("paper", "ours", "baseline, same data"), (
            Row("r-DAN, VQA %, open-ended", ("64.3 (VQA v1 test-dev)", *both("test/open_ended/overall"))),
            Row("r-DAN, VQA %, multiple choice", ("69.1", *both("test/multiple_choice/overall")), "same run"),
            Row("r-DAN, VQA %, OE, relational", ("", *both("test/open_ended/relational")), "same run"),
            Row("m-DAN, R@1 image->text", ("55.0 (Flickr30K)", *both("test/i2t_r1", matching=True))),
            Row("m-DAN, R@1 text->image", ("39.4", *both("test/t2i_r1", matching=True)), "same run"),
        )),
        Table("answer_types", "Table 1 (setting of) per answer type: accuracy %, official metric",
              (*ANSWER_TYPE_COLUMNS, *RELATIONAL_COLUMNS), (
            paper_row("r-DAN", "64.3", "69.1", extra=2),
            *(Row(label, (*answer_type_cells(name), *relational_cells(name))) for name, label in (
                ("bow_q_i", "BoW Q + I"), ("rdan", "r-DAN"))),
        )),
        family_table({"BoW Q + I": BOW_Q_I, "r-DAN": RDAN}, "open-ended accuracy % per question family (not in the paper)"),
        Table("attention", "where the visual attention goes (not in the paper)",
              ("% of the visual attention", "test questions / images"), (
            *attention_rows("rdan", "named_share", "questions", "on the object(s) the question names", "r-DAN"),
            *attention_rows("mdan", "object_share", "images", "on object cells", "m-DAN"),
        )),
        Table("matching", "Table 3 (setting of): image-text matching, Recall@K %", (
            "image->text R@1", "R@5", "R@10", "text->image R@1", "R@5", "R@10"), (
            Row("paper: m-DAN, Flickr30K, ResNet-152", ("55.0", "", "", "39.4", "", ""), "not run (needs Flickr30K)"),
            *(Row(label, tuple(Ours(name, f"test/{way}_r{k}", 1) for way in ("i2t", "t2i") for k in (1, 5, 10)))
              for name, label in (("bow_matching", "bag-of-words baseline"), ("mdan", "m-DAN"))),
        )),
    ),
))
