"""A tiny MovieQA release written in the real on-disk formats (data/qa.json, data/movies.json,
data/splits.json, story/plot/*.wiki, story/split_plot/*.split.wiki, story/subtt/*.srt,
story/script/*.script, story/dvs/*.dvs): three movies, one per split, the test answers withheld."""

from __future__ import annotations

import json
from pathlib import Path

SRT = """1
00:00:01,000 --> 00:00:03,500
<i>Trinity, do you know</i>
what the Matrix is?

2
00:00:04,000 --> 00:00:05,000
Ignorance is bliss.

3
00:00:06,000 --> 00:00:08,000
It exists now only as part
of a simulation

4
00:00:08,500 --> 00:00:09,000
(SIGHS)
We call it the Matrix.
"""

DVS = """1
00:01:00,100 --> 00:01:02,200
0001-01 {IT} Neo looks up at the sky.

2
00:01:03,000 --> 00:01:04,000
0001-02 He <b>flies</b> away.
"""


def qa(qid: str, key: str, correct: int | None, answers: list[str] | None = None) -> dict:
    return {"qid": qid, "imdb_key": key, "question": "Who kills Neo in the Matrix?",
            "answers": answers or ["Smith", "Trinity", "Morpheus", "Cypher", "Tank"],
            "correct_index": correct, "plot_alignment": [1], "video_clips": [f"{key}.sf-1.mp4"]}


def write_release(root: Path, qas: list[dict] | None = None, drop: str | None = None) -> Path:
    movies = [
        {"imdb_key": "tt0000001", "name": "One", "year": "1999", "genre": "Action",
         "text": {"plot": "story/plot/tt0000001.wiki", "subtitle": "story/subtt/tt0000001.srt",
                  "dvs": "story/dvs/tt0000001.dvs", "script": "story/script/tt0000001.script"}},
        {"imdb_key": "tt0000002", "name": "Two", "year": "2001", "genre": "Drama",
         "text": {"plot": "story/plot/tt0000002.wiki", "subtitle": None, "dvs": None,
                  "script": None}},
        {"imdb_key": "tt0000003", "name": "Three", "year": "2003", "genre": "Comedy",
         "text": {"plot": "story/plot/tt0000003.wiki", "subtitle": None, "dvs": None,
                  "script": None}},
    ]
    files = {
        "story/plot/tt0000001.wiki": "Neo meets Morpheus. He takes the red pill.\n\n"
                                     "Smith kills Neo in the Matrix.\n",
        "story/split_plot/tt0000001.split.wiki": "Neo meets Morpheus.\nHe takes the red pill.\n"
                                                 "\nSmith kills Neo in the Matrix.\n",
        "story/subtt/tt0000001.srt": SRT,
        "story/dvs/tt0000001.dvs": DVS,
        "story/script/tt0000001.script": "INT. ROOM - NIGHT\n  NEO\nWhoa.\n",
        "story/plot/tt0000002.wiki": "A drama.\n",
        "story/split_plot/tt0000002.split.wiki": "A drama.\n",
        "story/plot/tt0000003.wiki": "A comedy.\n",
        "story/split_plot/tt0000003.split.wiki": "A comedy.\n",
    }
    for rel, text in files.items():
        if rel != drop:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
    qas = qas if qas is not None else [qa("train:0", "tt0000001", 0), qa("val:1", "tt0000002", 3),
                                       qa("test:2", "tt0000003", None)]
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data" / "movies.json").write_text(json.dumps(movies, indent=2))
    (root / "data" / "qa.json").write_text(json.dumps(qas, indent=2))
    (root / "data" / "splits.json").write_text(json.dumps(
        {"train": ["tt0000001"], "val": ["tt0000002"], "test": ["tt0000003"]}))
    return root
