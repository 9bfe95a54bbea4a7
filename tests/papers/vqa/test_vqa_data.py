"""VQA data: the real VQA v1/v2 loader on fixtures written in the official layout, the embedded
easy-VQA and Sort-of-CLEVR-like sets, and the paper's baselines on hand-made records."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from conftest import build_in_cache
from omegaconf import OmegaConf
from PIL import Image

from paperlab.config import conf_dir
from paperlab.data import build_data
from paperlab.errors import UserError
from paperlab.papers.vqa.baselines import NearestNeighbor, PriorYes, QuestionTypePrior, RandomAnswer
from paperlab.papers.vqa.data import MSCOCO_QUESTION_TYPES, InMemoryImages, WordVocab, question_type
from paperlab.papers.vqa.metric import evaluate
from paperlab.papers.vqa.sort_of_clevr import COLORS, SceneObject, ask, render
from paperlab.papers.vqa.vqa_json import VQARecords

# (question, image id, question type, answer type, ten human answers)
TRAIN = [("How many dogs are there?", 9, "how many", "number", ["2"] * 6 + ["two"] * 3 + ["3"]),
         ("Is this a cat?", 9, "is this a", "yes/no", ["no"] * 10),
         ("What color is the car?", 25, "what color is the", "other", ["red"] * 7 + ["Red."] * 3),
         ("Is there a dog?", 30, "is there a", "yes/no", ["yes"] * 9 + ["no"]),
         ("What is the man holding?", 30, "what is the man", "other", ["kite"] * 4 + ["a kite"] * 4 + ["bird"] * 2)]
VAL = [("How many people are in the photo?", 42, "how many people are in", "number", ["1"] * 5 + ["one"] * 5),
       ("Is the sky blue?", 42, "is the", "yes/no", ["yes"] * 10),
       ("What is the zebra eating?", 73, "what is the", "other", ["grass"] * 8 + ["hay"] * 2)]
CHOICES = ["yes", "no", "2", "red", "grass", "kite", "1", "3"]


def write_vqa(root: Path, version: int = 2, images: bool = True) -> Path:
    """A tiny VQA set in the official layout (questions, annotations, COCO-named JPEGs)."""
    prefix = "v2_" if version == 2 else ""
    for subset, rows, first in (("train2014", TRAIN, 100), ("val2014", VAL, 500)):
        questions = [{"question_id": first + i, "image_id": im, "question": q} for i, (q, im, *_) in enumerate(rows)]
        anns = [{"question_id": first + i, "image_id": im, "question_type": qt, "answer_type": at,
                 "multiple_choice_answer": Counter(a).most_common(1)[0][0],
                 "answers": [{"answer": x, "answer_confidence": "yes", "answer_id": j + 1} for j, x in enumerate(a)]}
                for i, (_, im, qt, at, a) in enumerate(rows)]
        head = {"info": {}, "license": {}, "data_type": "mscoco", "data_subtype": subset}
        (root / "Questions").mkdir(parents=True, exist_ok=True)
        (root / "Annotations").mkdir(parents=True, exist_ok=True)
        (root / "Questions" / f"{prefix}OpenEnded_mscoco_{subset}_questions.json").write_text(
            json.dumps({**head, "task_type": "Open-Ended", "questions": questions}))
        if version == 1:
            mc = [{**q, "multiple_choices": CHOICES} for q in questions]
            (root / "Questions" / f"MultipleChoice_mscoco_{subset}_questions.json").write_text(
                json.dumps({**head, "task_type": "Multiple-Choice", "questions": mc}))
        (root / "Annotations" / f"{prefix}mscoco_{subset}_annotations.json").write_text(
            json.dumps({**head, "annotations": anns}))
        if images:
            folder = root / "Images" / "mscoco" / subset
            folder.mkdir(parents=True, exist_ok=True)
            for im in {r[1] for r in rows}:
                pixels = np.full((20, 30, 3), (im * 37) % 256, dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"COCO_{subset}_{im:012d}.jpg")
    return root


def data_cfg(name: str, **overrides: object):
    cfg = OmegaConf.load(conf_dir() / "data" / f"{name}.yaml")
    for k, v in overrides.items():
        cfg[k] = v
    return cfg


def test_vqa_v2_loader_on_the_official_layout(tmp_path: Path) -> None:
    root = write_vqa(tmp_path / "vqa")
    data = build_data(data_cfg("vqa_v2", root=str(root), val_images=1, image_size=32, split_seed=1))
    train, val = data.records("train"), data.records("val")
    assert len(train) + len(val) == len(TRAIN) and len(data.splits["test"]) == len(VAL)
    assert set(val.image_id) == {25} and 25 not in set(train.image_id)  # held out by image (seed 1)
    assert sorted(data.info.answer_vocab) == ["2", "kite", "no", "yes"]  # the training questions' answers
    assert data.info.question_types == MSCOCO_QUESTION_TYPES
    test = data.splits["test"]
    batch = test.__getitems__([0, 1, 2])
    assert batch["image"].shape == (3, 3, 32, 32) and batch["question"].shape[0] == 3
    vocab = WordVocab(data.info.question_vocab)
    words = [vocab.words[i] for i in batch["question"][1, : batch["question_len"][1]]]
    assert words == ["is", "the", "<unk>", "<unk>"]  # "sky" and "blue" are not in any training question
    assert batch["answer_type"].tolist() == [1, 0, 2]  # number, yes/no, other
    assert data.info.question_types[batch["question_type"][0]] == "how many people are in"
    # the answers that score, with their official accuracy: none of the vocabulary answers
    # "1"/"one", ten "yes" make "yes" score 1
    answers = data.info.answer_vocab
    assert (batch["cand_idx"][0] == -1).all() and (batch["answer"][[0, 2]] == -1).all()
    assert batch["cand_idx"][1, 0] == answers.index("yes") and batch["cand_acc"][1, 0] == 1.0


def test_vqa_v1_multiple_choice_with_hdf5_features(tmp_path: Path) -> None:
    root = write_vqa(tmp_path / "vqa", version=1, images=False)
    feats = tmp_path / "fc7.h5"
    with h5py.File(feats, "w") as f:
        f["image_id"] = np.array([9, 25, 30, 42, 73])
        f["features"] = np.arange(5 * 6, dtype=np.float32).reshape(5, 6)
        f.attrs["encoder"] = "test"
    data = build_data(data_cfg("vqa_v1", root=str(root), features=str(feats), task="MultipleChoice", val_images=1))
    batch = data.splits["test"].__getitems__([0, 2])
    assert batch["image"].shape == (2, 6) and torch.equal(batch["image"][0], torch.arange(18, 24).float())
    assert batch["choices"].shape == (2, len(CHOICES)) and data.records("test").multiple_choices[0] == CHOICES
    assert data.info.image_kind == "features"


def test_vqa_loader_errors_name_the_layout(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="needs data.root"):
        build_data(data_cfg("vqa_v2"))
    with pytest.raises(UserError, match="does not exist"):
        build_data(data_cfg("vqa_v2", root=str(tmp_path / "nowhere")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"Questions/v2_OpenEnded_mscoco_train2014_questions.json"):
        build_data(data_cfg("vqa_v2", root=str(tmp_path / "empty")))
    root = write_vqa(tmp_path / "noimages", images=False)
    with pytest.raises(UserError, match="Images/mscoco/train2014"):
        build_data(data_cfg("vqa_v2", root=str(root), val_images=1))
    with pytest.raises(UserError, match="not a VQA v2 task"):
        build_data(data_cfg("vqa_v2", root=str(root), task="MultipleChoice"))


def test_question_types_take_the_longest_prefix() -> None:
    assert question_type("What color is the car?", MSCOCO_QUESTION_TYPES) == "what color is the"
    assert question_type("Is this a dog?", MSCOCO_QUESTION_TYPES) == "is this a"
    assert question_type("Isolated?", MSCOCO_QUESTION_TYPES) == ""  # words, not characters
    assert WordVocab.build(["a red car"]).encode("a blue car") == [2, 1, 3]  # <pad> 0, <unk> 1, then sorted words


@pytest.fixture(scope="module")
def easy(tmp_path_factory: pytest.TempPathFactory):
    return build_in_cache(data_cfg("easy_vqa"), tmp_path_factory.mktemp("cache"))


def test_easy_vqa_is_converted_to_the_vqa_formats(easy) -> None:
    sizes = {k: len(v) for k, v in easy.splits.items()}
    assert sizes["train"] + sizes["val"] == 38575 and sizes["test"] == 9673  # the package's own counts
    assert sorted(easy.info.answer_vocab) == sorted(["circle", "green", "red", "gray", "yes", "teal", "black",
                                                    "rectangle", "yellow", "triangle", "brown", "blue", "no"])
    files = easy.files["test"]
    raw = json.loads(files["annotations"].read_text())["annotations"][0]
    assert len(raw["answers"]) == 10 and raw["answer_type"] in ("yes/no", "other")
    truth = [{"question_id": a["question_id"], "answer": a["multiple_choice_answer"]}
             for a in json.loads(files["annotations"].read_text())["annotations"]]
    assert evaluate(files["annotations"], truth, files["questions_mc"]).overall == 100.0
    assert set(easy.records("test").question_type) <= set(easy.info.question_types) and "" not in easy.records("test").question_type
    batch = easy.splits["train"].__getitems__(list(range(8)))
    assert batch["image"].shape == (8, 3, 64, 64) and batch["choices"].shape == (8, 6)
    assert ((batch["choices"] == batch["answer"][:, None]).sum(1) == 1).all()  # the answer is one choice


@pytest.fixture(scope="module")
def clevr(tmp_path_factory: pytest.TempPathFactory):
    return build_in_cache(data_cfg("sort_of_clevr", train_images=40, val_images=6, test_images=10),
                          tmp_path_factory.mktemp("cache"))


def test_sort_of_clevr_set(clevr, tmp_path: Path) -> None:
    assert {k: len(v) for k, v in clevr.splits.items()} == {"train": 320, "val": 48, "test": 80}
    rec = clevr.records("train")
    assert sum(t in clevr.info.relational_types for t in rec.question_type) == 160  # half relational
    assert all(len(c) == 5 for c in clevr.captions["test"].values()) and len(clevr.captions["test"]) == 10
    assert {"yes/no", "number", "other"} == set(rec.answer_type)
    again = build_in_cache(data_cfg("sort_of_clevr", train_images=40, val_images=6, test_images=10), tmp_path)
    assert again.records("train").question == rec.question  # the seed fixes the set
    assert torch.equal(again.splits["test"].images.images, clevr.splits["test"].images.images)


def test_relational_answers_on_a_hand_made_scene() -> None:
    scene = [SceneObject("red", "circle", 10, 10), SceneObject("blue", "square", 20, 12),
             SceneObject("green", "triangle", 54, 50), SceneObject("gray", "circle", 50, 20)]
    rng = np.random.default_rng(0)

    def answers(family: int) -> dict[str, str]:
        out = {}
        for _ in range(300):
            qa = ask(family, scene, rng, 64, 5.5)
            if qa:
                out[qa[0]] = qa[1]
        return out

    assert answers(4)["what shape is the object closest to the red object?"] == "square"
    assert answers(5)["what color is the object farthest from the red object?"] == "green"
    assert answers(6)["how many objects have the same shape as the gray object?"] == "1"
    assert answers(7)["is the green object left of the blue object?"] == "no"
    assert answers(1)["is the gray object on the left?"] == "no"
    assert answers(3)["how many circles are there?"] == "2"
    image = render(scene, 64, 5.5)
    assert tuple(image[:, 10, 10]) == COLORS["red"] and tuple(image[:, 40, 30]) == (255, 255, 255)


def _records(questions: list[str], qtypes: list[str], answers: list[str], image_ids: list[int]) -> VQARecords:
    n = len(questions)
    return VQARecords(np.arange(n), np.array(image_ids), questions, qtypes, ["other"] * n, answers,
                      [a for a in answers for _ in range(10)], np.arange(0, 10 * n + 1, 10))


def test_baselines_by_hand() -> None:
    train = _records(["is it red"] * 3 + ["what color"] * 4, ["is"] * 3 + ["what"] * 4,
                     ["no", "yes", "no", "blue", "green", "blue", "blue"], [0, 1, 0, 0, 1, 1, 1])
    pixels = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    pixels[1] = 255  # image 1 is white, image 0 black
    images = InMemoryImages(np.array([0, 1]), pixels, [0.5] * 3, [0.5] * 3)
    test = _records(["is it red", "what color"], ["is", "what"], ["yes", "blue"], [1, 0])
    prior = PriorYes().fit(train, images)
    assert prior.predict(test, images) == ["blue", "blue"]  # the most popular training answer
    assert prior.predict(test, images, [["yes", "no"], ["green", "red"]]) == ["no", "green"]
    qtype = QuestionTypePrior().fit(train, images)
    assert qtype.predict(test, images) == ["no", "blue"]
    assert qtype.predict(test, images, [["yes", "green"], ["red", "green"]]) == ["yes", "green"]
    assert set(RandomAnswer(top_k=2).fit(train, images).predict(test, images)) <= {"blue", "no"}
    # the k nearest training questions, then the one whose image is most like the test image
    nn = NearestNeighbor(k=4).fit(train, images)
    chosen, candidates = nn.neighbours(test, images)
    assert set(candidates[0].tolist()[:3]) == {0, 1, 2} and chosen.tolist() == [1, 3]
    assert nn.predict(test, images) == ["yes", "blue"]  # the chosen pair's most common human answer
