"""What `paperlab reproduce dan` runs and reports (see paperlab/tasks/reproduction.py): r-DAN for
VQA (Sec. 3.2) and m-DAN for image-text matching (Sec. 3.3) on the embedded scenes, each beside
a bag-of-words model trained on the same data."""

from paperlab.papers.vqa.reproduction import BOW_Q_I
from paperlab.tasks.reproduction import (
    Experiment,
    Ours,
    Reproduction,
    Row,
    Table,
    register_reproduction,
)

REPRODUCTION = register_reproduction(Reproduction(
    paper="dan",
    title="Nam, Ha & Kim 2017, Dual Attention Networks for Multimodal Reasoning and Matching",
    citation="Hyeonseob Nam, Jung-Woo Ha, Jeonghee Kim. CVPR 2017, arXiv:1611.00471.",
    scale="The embedded relational scenes and their generated captions, a small CNN trained on them; not "
          "VQA v1 and Flickr30K with ResNet-152 features.",
    experiments=(
        Experiment("rdan", ("train", "experiment=vqa_rdan"), 5, "r-DAN, VQA (Sec. 3.2)"),
        BOW_Q_I,
        Experiment("mdan", ("train", "experiment=mdan_sort_of_clevr"), 6, "m-DAN, image-text matching (Sec. 3.3)"),
        Experiment("bow_matching", ("train", "experiment=matching_bow_sort_of_clevr"), 2,
                   "a bag-of-words matching baseline on the same data"),
    ),
    tables=(
        Table("dan", "Tables 1-3 (setting of)", ("paper", "ours", "baseline, same data"), (
            Row("r-DAN, VQA accuracy %, OE overall", ("64.3 (VQA v1 test-dev)", Ours("rdan", "test/open_ended/overall"),
                                                      Ours("bow_q_i", "test/open_ended/overall"))),
            Row("r-DAN, VQA accuracy %, MC overall", ("69.1", Ours("rdan", "test/multiple_choice/overall"),
                                                      Ours("bow_q_i", "test/multiple_choice/overall")), "same run"),
            Row("r-DAN, VQA accuracy %, OE, relational families", ("", Ours("rdan", "test/open_ended/relational"),
                                                                   Ours("bow_q_i", "test/open_ended/relational")), "same run"),
            Row("m-DAN, matching R@1 image->text", ("55.0 (Flickr30K)", Ours("mdan", "test/i2t_r1", 1),
                                                    Ours("bow_matching", "test/i2t_r1", 1))),
            Row("m-DAN, matching R@1 text->image", ("39.4", Ours("mdan", "test/t2i_r1", 1),
                                                    Ours("bow_matching", "test/t2i_r1", 1)), "same run"),
        )),
    ),
))
