"""easy-VQA (Victor Zhou, PyPI `easy-vqa`, MIT): 64x64 images of one coloured shape with templated
questions, converted to the VQA formats (Antol et al. 2015, Sec. 3) so that it goes through the
same reader, metric and models as the real VQA.

The conversion: each question's single answer becomes ten identical human answers (so the 2021
metric compares answers verbatim, which is right for a closed answer set), question types are the
templates' first words (longest prefix, as VQA's types), answer types are yes/no or other.
Splits: the package's 4000 training images minus `val_images` held out with their questions,
the held-out images ("val"), and its 1000 test images ("test"). Written once to
<cache>/easy_vqa/ (questions_*.json, annotations_*.json, images_*.npz), then read from there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from PIL import Image

from paperlab.data import register_data
from paperlab.errors import UserError
from paperlab.papers.vqa.data import (
    VQAData,
    embedded_vqa_data,
    ensure_embedded,
    multiple_choices,
    question_type,
    split_by_image,
    write_embedded,
)
from paperlab.papers.vqa.vqa_json import VQARecords
from paperlab.paths import cache_dir

QUESTION_TYPES = ["is there a", "is there not a", "is a", "is no", "does the image contain a",
                  "does the image not contain a", "what color is the", "what is the color of the", "what shape is",
                  "what shape does the image contain", "what is the"]
TEST_IMAGE_OFFSET = 100_000  # image ids unique across splits, as COCO's are
FORMAT_VERSION = 1  # bump when the conversion changes: the cached folder is rebuilt


def _records(texts: list[str], answers: list[str], image_ids: list[int], first_qid: int) -> VQARecords:
    n = len(texts)
    return VQARecords(
        question_id=np.arange(first_qid, first_qid + n, dtype=np.int64),
        image_id=np.asarray(image_ids, dtype=np.int64),
        question=list(texts),
        question_type=[question_type(q, QUESTION_TYPES) for q in texts],
        answer_type=["yes/no" if a in ("yes", "no") else "other" for a in answers],
        multiple_choice_answer=list(answers),
        answers=[a for a in answers for _ in range(10)],
        answer_start=np.arange(0, 10 * n + 1, 10, dtype=np.int64),
        data_subtype=None,
    )


def _images(paths: dict[int, str], offset: int) -> tuple[np.ndarray, np.ndarray]:
    ids = sorted(paths)
    pixels = np.stack([np.asarray(Image.open(paths[i]).convert("RGB")) for i in ids]).transpose(0, 3, 1, 2)
    return np.asarray(ids, dtype=np.int64) + offset, np.ascontiguousarray(pixels)


def convert_easy_vqa(folder: Path, val_images: int = 500, num_choices: int = 6, seed: int = 0) -> None:
    """Write easy-VQA in the VQA formats into `folder`."""
    try:
        import easy_vqa
    except ImportError:
        raise UserError("the easy-vqa package is not installed", "pip install easy-vqa (make install does it)") from None
    train_q = easy_vqa.get_train_questions()
    test_q = easy_vqa.get_test_questions()
    train = _records(*train_q, first_qid=0)
    test = _records(test_q[0], test_q[1], [i + TEST_IMAGE_OFFSET for i in test_q[2]],
                    first_qid=10 * len(train))
    train, val = split_by_image(train, val_images, seed)
    records = {"train": train, "val": val, "test": test}
    for split, rec in records.items():
        rec.data_subtype = split
        rec.multiple_choices = multiple_choices(rec, num_choices, seed)
    train_ids, train_px = _images(easy_vqa.get_train_image_paths(), 0)
    test_ids, test_px = _images(easy_vqa.get_test_image_paths(), TEST_IMAGE_OFFSET)
    held = np.isin(train_ids, val.image_id)
    images = {"train": (train_ids[~held], train_px[~held]), "val": (train_ids[held], train_px[held]),
              "test": (test_ids, test_px)}
    write_embedded(folder, records, images)


@register_data("easy_vqa")
def easy_vqa_data(cfg: DictConfig) -> VQAData:
    """easy-VQA: 5000 64x64 one-shape images, 48k template questions, 13 answers (embedded)."""
    folder = cache_dir() / f"easy_vqa_v{FORMAT_VERSION}_val{cfg.val_images}_mc{cfg.num_choices}_s{cfg.split_seed}"
    ensure_embedded(folder, lambda out: convert_easy_vqa(out, int(cfg.val_images), int(cfg.num_choices),
                                                         int(cfg.split_seed)))
    return embedded_vqa_data("easy_vqa", folder, cfg, QUESTION_TYPES)
