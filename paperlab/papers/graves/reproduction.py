"""What `paperlab reproduce graves` runs and reports (see paperlab/tasks/reproduction.py): the
character-level deep LSTM (Sec. 3), handwriting prediction (Sec. 4) and synthesis (Sec. 5) on the
embedded corpora, then samples and the legibility check of the synthesis network."""

from paperlab.tasks.reproduction import (
    Experiment,
    Figure,
    Ours,
    Reproduction,
    Row,
    Table,
    register_reproduction,
)


def _losses(experiment: str) -> tuple[Ours, ...]:
    return (Ours(experiment, "val/loss", 1), Ours(experiment, "test/loss", 1),
            Ours(experiment, "val/nats_per_point", 3), Ours(experiment, "test/nats_per_point", 3))


PTB = Row("paper: PTB, 1x1000 LSTM (Sec. 3.1)", ("1.32", "1.29"),
          "`paperlab train experiment=graves_text_ptb data.root=...` (needs PTB; not run here)")
WIKIPEDIA = Row("paper: Wikipedia (enwik8), 7x700 LSTM (Sec. 3.2)", ("1.67 (validation)", "1.33"),
                "`paperlab train experiment=graves_text_wikipedia data.root=...` (needs enwik8 and days of compute; not run here)")
OURS_TEST = Row("**ours: fortunes test split, 2x256 LSTM, CPU**", (Ours("text", "test/bpc", 3), Ours("text", "test/bpc_dynamic", 3)))
XZ = Row("`xz -9e` on the test split", (Ours("text", "test/bpc_xz", 3), ""), "same run (`test/bpc_xz`)")
BZIP2 = Row("`bzip2 -9` on the test split", (Ours("text", "test/bpc_bzip2", 3), ""), "same run (`test/bpc_bzip2`)")

SYNTHESIS = "checkpoint={run:synthesis}"
JUDGE = "reader=handwriting_judge"
ONE_DRAW = "legibility.best_of=1"
LEGIBILITY_COLUMNS = ("CER %", "WER %", "words in order %", "lines exact %", "every word %")


def _legibility(experiment: str, who: str) -> tuple[Ours, ...]:
    """The reading scores of `who` ("real": the corpus's own lines; "bias_1": the samples at bias 1)."""
    return tuple(Ours(experiment, f"{who}/{key}", 1, scale=100)
                 for key in ("cer", "wer", "words_in_order", "lines_exact", "lines_all_words"))


def _biases(experiment: str, label: str, after_real: bool = False) -> tuple[Row, ...]:
    """One row per bias of a legibility run, the first naming its command (`after_real`: the row of
    the real lines above it named it)."""
    return tuple(Row(label.format(b=b), _legibility(experiment, f"bias_{b}"), None if b == 0 and not after_real else "same run")
                 for b in (0, 1, 2))


REPRODUCTION = register_reproduction(Reproduction(
    paper="graves",
    title="Graves 2013, Generating Sequences With Recurrent Neural Networks",
    citation="Alex Graves. arXiv:1308.0850, 2013.",
    scale="Text: a 2x256 LSTM on the embedded English corpus (fortunes), not 1x1000 on PTB or 7x700 on "
          "enwik8. Handwriting: 3x256 networks on the embedded Hershey-font corpus (11 points per "
          "character, other pen units), not 3x400 on IAM-OnDB; the log-losses do not compare with the paper's.",
    experiments=(
        Experiment("text", ("train", "experiment=graves_text"), 10, "character LSTM (Sec. 3)", shipped="graves_text"),
        Experiment("prediction", ("train", "experiment=graves_prediction"), 57, "handwriting prediction (Sec. 4)",
                   shipped="graves_prediction"),
        Experiment("synthesis", ("train", "experiment=graves_synthesis"), 101, "handwriting synthesis (Sec. 5)",
                   shipped="graves_synthesis"),
        Experiment("sample", ("sample-handwriting", "checkpoint={run:synthesis}", "--text", "hello world", "--bias", "1.0"),
                   1, "a synthesised line (Fig. 15)"),
        # the legibility runs' minutes were measured while a training run shared the two cores
        Experiment("legibility", ("legibility", SYNTHESIS), 10,
                   "held-out lines written at biases 0, 1, 2 (best of 4), read back by the shipped recogniser"),
        Experiment("legibility_one_draw", ("legibility", SYNTHESIS, ONE_DRAW), 9,
                   "the same, one draw per line (the paper's sampling)"),
        Experiment("legibility_judge", ("legibility", SYNTHESIS, JUDGE), 11,
                   "best of 4, read by a second recogniser trained apart (the judge)"),
        Experiment("legibility_judge_one_draw", ("legibility", SYNTHESIS, JUDGE, ONE_DRAW), 4,
                   "one draw per line, read by the judge"),
        Experiment("legibility_judge_by_recognizer",
                   ("legibility", SYNTHESIS, JUDGE, "legibility.select=handwriting_recognizer"), 2,
                   "best of 4 picked by the shipped recogniser, read by the judge"),
    ),
    tables=(
        Table("text", "Sec. 3: character-level deep LSTM, bits per character", ("static BPC", "dynamic BPC"),
              (PTB, WIKIPEDIA, OURS_TEST, XZ, BZIP2)),
        Table("text_full", "Sec. 3: character-level deep LSTM, bits per character", ("static BPC", "dynamic BPC"), (
            PTB,
            Row("paper: PTB + weight noise 0.075", ("1.27", "1.24"), "same, with `char_lm.weight_noise=0.075` (not run here)"),
            WIKIPEDIA, OURS_TEST,
            Row("ours: fortunes validation split", (Ours("text", "val/bpc", 3), Ours("text", "val/bpc_dynamic", 3)), "same run"),
            XZ, BZIP2,
            Row("`xz -9e` given the training split (marginal)", (Ours("text", "test/bpc_xz_given_train", 3), ""),
                "same run (`test/bpc_xz_given_train`)"),
            Row("`bzip2 -9` given the training split (marginal)", (Ours("text", "test/bpc_bzip2_given_train", 3), ""),
                "same run (`test/bpc_bzip2_given_train`)"),
        )),
        Table("handwriting", "Sec. 4-5: handwriting, log-loss",
              ("nats per line, validation", "test", "nats per point, validation", "test"), (
            Row("paper: prediction, 3 x 400, IAM-OnDB", ("-1041.0", "", "", ""), "(Table 3)"),
            Row("paper: synthesis, 3 x 400, IAM-OnDB", ("-1096.9", "", "", ""), "(Table 4)"),
            Row("**ours: prediction, 3 x 256, 10 epochs, embedded Hershey corpus**", _losses("prediction"),
                "`paperlab train experiment=graves_prediction` (shipped: `graves_prediction`)"),
            Row("**ours: synthesis, 3 x 256, 16 epochs, embedded Hershey corpus**", _losses("synthesis"),
                "`paperlab train experiment=graves_synthesis` (shipped: `graves_synthesis`)"),
        )),
        Table("legibility", "Sec. 5: legibility, the test split's held-out lines read back by `handwriting_recognizer`",
              LEGIBILITY_COLUMNS, (
            Row("the corpus's real lines (the reader's floor)", _legibility("legibility", "real")),
            *_biases("legibility", "shipped 3 x 256 synthesis network, bias {b}", after_real=True),
            *_biases("legibility_one_draw", "one draw per line, bias {b}"),
        )),
        Table("legibility_judge", "Sec. 5: legibility of the shipped 3 x 256 synthesis network, the same lines "
              "judged by `handwriting_judge`", LEGIBILITY_COLUMNS, (
            Row("the corpus's real lines (the judge's floor)", _legibility("legibility_judge", "real")),
            *_biases("legibility_judge", "bias {b}, best of 4 by the window (the default)", after_real=True),
            *_biases("legibility_judge_one_draw", "bias {b}, one draw"),
            *_biases("legibility_judge_by_recognizer", "bias {b}, best of 4 by `handwriting_recognizer`"),
        )),
    ),
    figures=(
        Figure("sample", "figures/handwriting.png", "'hello world' written by the synthesis network at bias 1.",
               "Fig. 15-17: lines of text written by the synthesis network, at several biases and styles."),
    ),
))
