"""MovieQA: Tapaswi, Zhu, Stiefelhagen, Torralba, Urtasun, Fidler, "MovieQA: Understanding Stories
in Movies through Question-Answering", CVPR 2016 (arXiv:1512.02902). Reference code:
makarandtapaswi/MovieQA_benchmark (data loader) and makarandtapaswi/MovieQA_CVPR2016 (baselines).

14,944 five-way multiple-choice questions about 408 movies, split by movie; a baseline is a
scoring function f(S, q, a_j) of the story, the question and each answer, answering argmax_j.

| paper section / equation                         | module:function                          |
|--------------------------------------------------|------------------------------------------|
| Sec. 3, the release (qa/movies/splits.json)      | release:MovieQARelease, data:MovieQAData |
| Sec. 3.1, story sources (plot, subtitle, ...)    | stories:story_reader, STORY_READERS      |
| (offline stand-in for the data)                  | embedded:write_embedded, load_embedded   |
| Sec. 4, Eq. 1: answer = argmax_j f(S, q, a_j)    | base:Scorer.predict                      |
| Sec. 4.1, hasty student                          | hasty:HastyStudent, HASTY_RULES          |
| Sec. 4.2, Eq. 2: searching student (window H)    | searching:searching_scores               |
| Sec. 4.2, Fig. 4: SSCB (and SSCB fusion)         | sscb:SSCB, sscb:SSCBInputs               |
| Sec. 4.3, Eqs. 3-7: memory network               | memn2n:MemN2N.attend, memn2n:MemN2NInputs |
| Sec. 4.2: 80/20 dev split, best of replicas      | data:dev_movies, learned:train_best_of   |
| Sec. 4.2/4.3 training (the shared engine)        | learner:MovieQALearner                   |
| Sec. 4.4, TF-IDF / sentence representations      | text:TfidfEncoder, text:SentenceEncoder  |
| Sec. 5, accuracy, first-word breakdown           | evaluation:evaluate                      |
| Sec. 5, evaluation-server submission             | evaluation:write_predictions             |
| Sec. 4.3, attention over the story (figure)      | figures:plot_attention                   |
| Sec. 5, the paper's numbers beside ours         | reproduction:REPRODUCTION                |
| `paperlab movieqa`: every baseline, one table    | baselines:run                            |

Full table and results: docs/papers/movieqa.md.
"""

# The modules that register this paper's names, by registry kind (paperlab/registry.py).
REGISTRY_MODULES = {
    "model": ["sscb", "memn2n"],
    "dataset": ["data"],
    "learner": ["learner"],
    "reproduction": ["reproduction"],
}
