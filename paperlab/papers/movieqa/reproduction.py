"""What `paperlab reproduce movieqa` runs and reports (see paperlab/tasks/reproduction.py): every
text baseline of Tapaswi et al. 2016 (Sec. 4) on the embedded MovieQA-like set, by story source
(plot synopses a sentence a line, and subtitles), scored on its val split as the paper's tables
are. The paper's numbers are the three the brief of this reproduction gives for plot synopses
(val); the paper's own table could not be read from here (docs/papers/movieqa.md)."""

import shlex

from paperlab.tasks.reproduction import (
    Experiment,
    Figure,
    Ours,
    Reproduction,
    Row,
    Table,
    register_reproduction,
)

STUDENTS = "baselines=[hasty-longest,hasty-shortest,hasty-different,hasty-within-similar,hasty-within-distinct," \
           "hasty-qa-similar,searching]"
SUBTITLE = "data.story=subtitle"
QTYPES = ("who", "what", "where", "why", "how")
# experiment (less its story suffix) -> the `baselines=` it scores; one `paperlab movieqa` each, so
# that no single command runs for more than about a quarter of an hour on 2 shared cores. The
# minutes below were measured on 2 cores shared with three other jobs (load 6-14), training
# single-threaded (learned.train_best_of); the first command also embeds the stories with MiniLM
GROUPS = {
    "students": STUDENTS,
    "sscb_fusion": "baselines=[sscb-fusion]",
    "memn2n": "baselines=[memn2n,memn2n-learned]",
    "sscb_single": "baselines=[sscb-tfidf,sscb-minilm]",
    "sscb_paper": "baselines=[sscb-fusion-paper]",
}

# (label, results name, group, the paper's plot accuracy or "")
BASELINES = (
    ("hasty student: longest answer (Sec. 4.1)", "hasty-longest", "students", ""),
    ("hasty student: shortest answer", "hasty-shortest", "students", ""),
    ("hasty student: most different length", "hasty-different", "students", ""),
    ("hasty student: within-answer similar, TF-IDF", "hasty-within-similar-tfidf", "students", ""),
    ("hasty student: within-answer similar, MiniLM", "hasty-within-similar-minilm", "students", ""),
    ("hasty student: within-answer distinct, TF-IDF", "hasty-within-distinct-tfidf", "students", ""),
    ("hasty student: within-answer distinct, MiniLM", "hasty-within-distinct-minilm", "students", ""),
    ("hasty student: closest to the question, TF-IDF", "hasty-qa-similar-tfidf", "students", ""),
    ("hasty student: closest to the question, MiniLM", "hasty-qa-similar-minilm", "students", ""),
    ("searching student, TF-IDF, H = 1 (Sec. 4.2, Eq. 2)", "searching-tfidf-w1", "students", "47.6"),
    ("searching student, TF-IDF, H = 3", "searching-tfidf-w3", "students", ""),
    ("searching student, TF-IDF, H = 5", "searching-tfidf-w5", "students", ""),
    ("searching student, MiniLM, H = 1", "searching-minilm-w1", "students", ""),
    ("searching student, MiniLM, H = 3", "searching-minilm-w3", "students", ""),
    ("searching student, MiniLM, H = 5", "searching-minilm-w5", "students", ""),
    ("SSCB, TF-IDF (Sec. 4.2, Fig. 4; best of 3 initialisations)", "sscb-tfidf", "sscb_single", ""),
    ("SSCB, MiniLM", "sscb-minilm", "sscb_single", ""),
    ("SSCB fusion, TF-IDF + MiniLM", "sscb-fusion", "sscb_fusion", "56.7"),
    ("SSCB fusion, the reference's last ReLU and L2 penalty", "sscb-fusion-paper", "sscb_paper", ""),
    ("MemN2N, fixed MiniLM word vectors, shared projection (Sec. 4.3)", "memn2n", "memn2n", "40.6"),
    ("MemN2N, word vectors learned (the original)", "memn2n-learned", "memn2n", ""),
)


def _source_rows(story: str, with_paper: bool) -> tuple[Row, ...]:
    """One row per baseline; the first row of each experiment names its command, the others
    say "same run"."""
    seen: set[str] = set()
    rows = []
    for label, name, group, paper in BASELINES:
        if story == "subtitle" and group == "sscb_paper":
            continue  # run on the plot synopses only
        exp = f"{group}_{story}"
        cells = ((paper or "—",) if with_paper else ()) + (Ours(exp, f"val/{name}/acc"),)
        rows.append(Row(label, cells, None if exp not in seen else "same run"))
        seen.add(exp)
    return tuple(rows)


def _headline(label: str, name: str, group: str, paper: str, same: bool = False) -> Row:
    command = shlex.join(["paperlab", "movieqa", GROUPS[group]])
    return Row(label, (paper, Ours(f"{group}_plot", f"val/{name}/acc"), Ours(f"{group}_subtitle", f"val/{name}/acc")),
               "same runs" if same else f"`{command}` (subtitles: add `{SUBTITLE}`)")


def _experiment(group: str, story: str, minutes: float, what: str) -> Experiment:
    args = ("movieqa", GROUPS[group]) + ((SUBTITLE,) if story == "subtitle" else ())
    return Experiment(f"{group}_{story}", args, minutes, what)


REPRODUCTION = register_reproduction(Reproduction(
    paper="movieqa",
    title="Tapaswi et al. 2016, MovieQA: Understanding Stories in Movies through Question-Answering",
    citation="Makarand Tapaswi, Yukun Zhu, Rainer Stiefelhagen, Antonio Torralba, Raquel Urtasun, Sanja Fidler. "
             "CVPR 2016, arXiv:1512.02902.",
    scale="The embedded MovieQA-like set (200 generated movies, 2,775 five-way questions; val: 27 movies, "
          "359 questions), not the 408 movies and 14,944 questions of MovieQA; all-MiniLM-L6-v2 stands in for "
          "Word2Vec and SkipThoughts. No GPU.",
    experiments=(
        _experiment("students", "plot", 2, "hasty and searching students (Sec. 4.1-4.2), plot synopses"),
        _experiment("students", "subtitle", 1, "the same, subtitles"),
        _experiment("sscb_fusion", "plot", 3, "SSCB fusion, best of 3 initialisations on the dev split (Sec. 4.2)"),
        _experiment("memn2n", "plot", 7, "MemN2N, fixed and learned word vectors (Sec. 4.3), plot synopses"),
        _experiment("sscb_fusion", "subtitle", 4, "SSCB fusion, subtitles"),
        _experiment("memn2n", "subtitle", 8, "MemN2N, subtitles"),
        _experiment("sscb_single", "plot", 5, "SSCB on TF-IDF and on MiniLM alone, best of 3 each"),
        _experiment("sscb_single", "subtitle", 6, "the same, subtitles"),
        _experiment("sscb_paper", "plot", 3, "SSCB fusion with the reference's last ReLU and L2 penalty"),
    ),
    tables=(
        Table("headline", "Accuracy % on val (chance 20%)", (
            "paper, MovieQA val, plot", "ours, plot", "ours, subtitles"), (
            _headline("hasty student, longest answer", "hasty-longest", "students", "—"),
            _headline("searching student, TF-IDF, H = 1", "searching-tfidf-w1", "students", "47.6", same=True),
            _headline("searching student, MiniLM, H = 1", "searching-minilm-w1", "students", "—", same=True),
            _headline("SSCB fusion", "sscb-fusion", "sscb_fusion", "56.7"),
            _headline("MemN2N (fixed word vectors)", "memn2n", "memn2n", "40.6"),
        )),
        Table("plot", "Plot synopses (split_plot, a sentence a line): accuracy % on val", (
            "paper, MovieQA val", "ours, embedded val"), _source_rows("plot", with_paper=True),
            note="Chance is 20%. The paper's numbers: those given for plot synopses in this reproduction's brief "
                 "(see the note on their source)."),
        Table("subtitle", "Subtitles (.srt merged into dialogue sentences): accuracy % on val", (
            "ours, embedded val",), _source_rows("subtitle", with_paper=False),
            note="Chance is 20%."),
        Table("by_type", "Plot synopses, accuracy % on val by the question's first word", QTYPES, tuple(
            Row(label, tuple(Ours(f"{group}_plot", f"val/{name}/acc_{t}", 1) for t in QTYPES), "same runs as above")
            for label, name, group in (
                ("hasty student, longest answer", "hasty-longest", "students"),
                ("searching student, TF-IDF, H = 1", "searching-tfidf-w1", "students"),
                ("searching student, MiniLM, H = 1", "searching-minilm-w1", "students"),
                ("SSCB fusion", "sscb-fusion", "sscb_fusion"),
                ("MemN2N", "memn2n", "memn2n"),
            ))),
    ),
    figures=(
        Figure("memn2n_plot", "figures/memn2n/attention_0_who.png",
               "MemN2N's attention over the story sentences of a val question, per hop, with its answer scores",
               "Sec. 4.3 (the paper shows no attention figure; its Fig. 4 draws SSCB)"),
    ),
))
