"""VQA data (Antol et al. 2015, Sec. 3): the real VQA v1/v2 sets in their on-disk layout, and the
pieces every VQA dataset here shares (vocabularies, question types, image sources, the Dataset).

Real layout (`data=vqa_v2 data.root=DIR`, or `data=vqa_v1`), as visualqa.org ships it:

    DIR/Questions/v2_OpenEnded_mscoco_{train2014,val2014}_questions.json
        (v1: OpenEnded_mscoco_..._questions.json, MultipleChoice_mscoco_..._questions.json)
    DIR/Annotations/v2_mscoco_{train2014,val2014}_annotations.json   (v1: mscoco_..._annotations.json)
    DIR/Images/mscoco/{train2014,val2014}/COCO_train2014_000000000009.jpg   (or Images/<subset>/, <subset>/)

The JSON files may also lie directly in DIR. Instead of images, `data.features=FILE.h5` gives
precomputed image features: datasets `image_id` (N,) and `features` (N, D) or (N, regions, D), and
an `encoder` attribute naming what computed them. The paper's models read VGG fc7 features.

Splits: "train" is train2014 minus `val_images` held-out images (all their questions), "val" those
held-out images (picks checkpoints), "test" is val2014 (test-dev answers are not public).

Every item of a `VQADataset` split is a dict (batched by `__getitems__`): image (pixels or
features), question token ids (padded per batch, with lengths), the answer index in the top-K
answer vocabulary (-1: not in it), the candidate answers that score and their official accuracy
(`cand_idx`, `cand_acc`: exact scoring and soft targets), multiple-choice candidates, and the
answer-type and question-type ids. The records keep the ten raw human answers for the metric.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.data import Dataset

from paperlab.data import register_data
from paperlab.errors import UserError
from paperlab.papers.vqa.captions_json import read_coco_captions
from paperlab.papers.vqa.metric import candidate_accuracy
from paperlab.papers.vqa.scenes import Scenes, read_scenes, write_scenes
from paperlab.papers.vqa.vqa_json import VQARecords, read_vqa

# GT-Vision-Lab/VQA QuestionTypes/mscoco_question_types.txt: the 65 types of VQA's real images,
# each a question's first words (the longest matching prefix wins).
MSCOCO_QUESTION_TYPES = [
    "how many", "is the", "what", "what color is the", "what is the", "is this", "is this a", "what is",
    "are the", "what kind of", "is there a", "what type of", "is it", "what are the", "where is the",
    "is there", "does the", "what color are the", "are these", "are there", "which", "is", "what is the man",
    "is the man", "are", "how", "does this", "what is on the", "what does the", "how many people are",
    "what is in the", "what is this", "do", "what are", "are they", "what time", "what sport is",
    "are there any", "is he", "what color is", "why", "where are the", "what color", "who is",
    "what animal is", "is the woman", "is this an", "do you", "how many people are in", "what room is",
    "has", "is this person", "what is the woman", "can you", "why is the", "is the person",
    "what is the color of the", "what is the person", "could", "was", "is that a", "what number is",
    "what is the name", "what brand",
]
ANSWER_TYPES = ["yes/no", "number", "other"]
PAD, UNK = "<pad>", "<unk>"
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokenize(text: str) -> list[str]:
    """Lower-case words and numbers (apostrophes kept inside words); punctuation dropped."""
    return _TOKEN.findall(text.lower())


def question_type(question: str, types: Sequence[str]) -> str:
    """The longest type that the question starts with, word by word ("" when none does)."""
    words = tokenize(question)
    best = ""
    for t in types:
        tw = t.split()
        if words[: len(tw)] == tw and len(t) > len(best):
            best = t
    return best


def read_question_types(path: str | Path) -> list[str]:
    """A question-types file (one type a line, as VQA's QuestionTypes/*.txt)."""
    return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]


@dataclass
class WordVocab:
    """Words of the training questions: index 0 pads, 1 stands for any word not seen in training."""

    words: list[str]

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, texts: Sequence[str], min_count: int = 1) -> WordVocab:
        counts = Counter(w for t in texts for w in tokenize(t))
        return cls([PAD, UNK] + sorted(w for w, c in counts.items() if c >= min_count))

    def encode(self, text: str) -> list[int]:
        return [self.index.get(w, 1) for w in tokenize(text)]

    def __len__(self) -> int:
        return len(self.words)


@dataclass
class AnswerVocab:
    """The K most frequent answers of the training set, the classes of the paper's models
    (Sec. 5: "the top K = 1000 most frequent answers"); counted on `multiple_choice_answer`, the
    annotators' most common answer of each question."""

    answers: list[str]

    def __post_init__(self) -> None:
        self.index = {a: i for i, a in enumerate(self.answers)}

    @classmethod
    def top_k(cls, records: VQARecords, k: int) -> AnswerVocab:
        counts = Counter(records.multiple_choice_answer or [])
        return cls([a for a, _ in counts.most_common(k)])

    def lookup(self, answers: Sequence[str]) -> np.ndarray:
        return np.array([self.index.get(a, -1) for a in answers], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.answers)


# -- image sources: what `image_id`s turn into -----------------------------------------------------

class ImageSource:
    """Image tensors (or features) for image ids, a batch at a time."""

    kind: str  # "pixels" or "features"
    shape: tuple[int, ...]  # of one item: (C, H, W), (D,) or (regions, D)

    def load(self, image_ids: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def load_raw(self, image_ids: np.ndarray) -> torch.Tensor:
        """Pixels in [0, 1], not standardised (for an encoder with its own statistics)."""
        raise TypeError(f"{type(self).__name__} holds {self.kind}, not pixels")

    def __contains__(self, image_id: int) -> bool:
        raise NotImplementedError


class InMemoryImages(ImageSource):
    """uint8 (N, C, H, W) images held in memory, standardised per channel on the way out."""

    kind = "pixels"

    def __init__(self, image_ids: np.ndarray, images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> None:
        self.row = {int(i): r for r, i in enumerate(np.asarray(image_ids).tolist())}
        self.images = images
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.shape = tuple(images.shape[1:])

    def load(self, image_ids: np.ndarray) -> torch.Tensor:
        return (self.load_raw(image_ids) - self.mean) / self.std

    def load_raw(self, image_ids: np.ndarray) -> torch.Tensor:
        rows = torch.as_tensor([self.row[int(i)] for i in image_ids], dtype=torch.long)
        return self.images[rows].float().div_(255)

    def __contains__(self, image_id: int) -> bool:
        return int(image_id) in self.row


class CocoImages(ImageSource):
    """COCO image files (`COCO_<subset>_<12-digit id>.jpg`), resized to a square and
    standardised with the ImageNet statistics (what pretrained CNNs expect)."""

    kind = "pixels"
    MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

    def __init__(self, folder: Path, subset: str, image_size: int) -> None:
        import torchvision.transforms.v2 as T

        self.folder, self.subset = folder, subset
        self.shape = (3, image_size, image_size)
        self.transform = T.Compose([T.ToImage(), T.Resize((image_size, image_size), antialias=True),
                                    T.ToDtype(torch.float32, scale=True)])
        self.normalize = T.Normalize(self.MEAN, self.STD)

    def path(self, image_id: int) -> Path:
        return self.folder / f"COCO_{self.subset}_{int(image_id):012d}.jpg"

    def load(self, image_ids: np.ndarray) -> torch.Tensor:
        return self.normalize(self.load_raw(image_ids))

    def load_raw(self, image_ids: np.ndarray) -> torch.Tensor:
        from PIL import Image

        out = []
        for i in image_ids:
            p = self.path(i)
            try:
                with Image.open(p) as im:
                    out.append(self.transform(im.convert("RGB")))
            except OSError as err:
                raise UserError(f"cannot read image {p} ({err})", "check the COCO image folder") from None
        return torch.stack(out)

    def __contains__(self, image_id: int) -> bool:
        return self.path(image_id).is_file()


class H5Features(ImageSource):
    """Precomputed image features in HDF5: `image_id` (N,), `features` (N, D) or (N, R, D), and
    the `encoder` attribute. Read into memory once. `key` reads another dataset of the file (the
    feature cache of `paperlab.papers.vqa.image_features` keeps the region grid in `regions`)."""

    kind = "features"

    def __init__(self, path: Path, key: str = "features") -> None:
        layout = f"datasets image_id (N,) and {key} (N, D) or (N, regions, D)"
        if not path.is_file():
            raise UserError(f"feature file {path} does not exist", f"give data.features=FILE.h5 with {layout}")
        with h5py.File(path, "r") as f:
            if "image_id" not in f or key not in f:
                raise UserError(f"{path} lacks the datasets 'image_id' and '{key}'", f"expected {layout}")
            ids = f["image_id"][()]
            self.features = torch.from_numpy(np.asarray(f[key][()], dtype=np.float32))
            self.encoder = str(f.attrs.get("encoder", "unknown"))
        self.row = {int(i): r for r, i in enumerate(ids.tolist())}
        self.shape = tuple(self.features.shape[1:])

    def load(self, image_ids: np.ndarray) -> torch.Tensor:
        return self.features[torch.as_tensor([self.row[int(i)] for i in image_ids], dtype=torch.long)]

    def __contains__(self, image_id: int) -> bool:
        return int(image_id) in self.row


# -- the Dataset ----------------------------------------------------------------------------------

class VQADataset(Dataset):
    """One split of a VQA dataset, batched by `__getitems__` (see the module docstring)."""

    def __init__(self, records: VQARecords, images: ImageSource, vocab: WordVocab, answers: AnswerVocab,
                 answer_types: Sequence[str], question_types: Sequence[str], protocol: str = "2021") -> None:
        self.records, self.images = records, images
        n = len(records)
        encoded: dict[str, list[int]] = {}  # questions repeat a lot: encode each text once
        tokens = [encoded[q] if q in encoded else encoded.setdefault(q, vocab.encode(q))
                  for q in (records.question or [""] * n)]
        self.question_len = torch.tensor([len(t) for t in tokens], dtype=torch.long)
        self.token_start = torch.cat([torch.zeros(1, dtype=torch.long), self.question_len.cumsum(0)])
        self.tokens = torch.tensor([w for t in tokens for w in t], dtype=torch.long)
        at = {t: i for i, t in enumerate(answer_types)}
        qt = {t: i for i, t in enumerate(question_types)}
        self.answer_type = torch.tensor([at.get(t, -1) for t in records.answer_type or [""] * n], dtype=torch.long)
        self.question_type = torch.tensor([qt.get(t, -1) for t in records.question_type or [""] * n], dtype=torch.long)
        if records.has_answers:
            self.answer = torch.from_numpy(answers.lookup(records.multiple_choice_answer))
            idx, acc = candidate_accuracy(records, answers.answers, protocol)
            self.cand_idx, self.cand_acc = torch.from_numpy(idx), torch.from_numpy(acc).float()
        else:
            self.answer = torch.full((n,), -1, dtype=torch.long)
            self.cand_idx, self.cand_acc = torch.full((n, 1), -1, dtype=torch.long), torch.zeros(n, 1)
        self.choices = None
        if records.multiple_choices is not None:
            width = max(len(c) for c in records.multiple_choices)
            self.choices = torch.full((n, width), -1, dtype=torch.long)
            for i, c in enumerate(records.multiple_choices):
                self.choices[i, : len(c)] = torch.from_numpy(answers.lookup(c))

    def __len__(self) -> int:
        return len(self.records)

    def question_tokens(self, i: int) -> list[int]:
        """Question i's word ids (after any truncation)."""
        start = int(self.token_start[i])
        return self.tokens[start : start + int(self.question_len[i])].tolist()

    def truncate(self, max_len: int) -> int:
        """Keep the first `max_len` words of every question; returns how many questions were cut."""
        cut = int((self.question_len > max_len).sum())
        self.question_len = self.question_len.clamp(max=max_len)
        return cut

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        lengths = self.question_len[idx]
        question = torch.zeros(len(idx), max(int(lengths.max()), 1), dtype=torch.long)
        for row, (start, length) in enumerate(zip(self.token_start[idx].tolist(), lengths.tolist(), strict=True)):
            question[row, :length] = self.tokens[start : start + length]
        batch = {
            "index": idx, "image": self.images.load(self.records.image_id[idx.numpy()]),
            "question": question, "question_len": lengths, "answer": self.answer[idx],
            "cand_idx": self.cand_idx[idx], "cand_acc": self.cand_acc[idx],
            "answer_type": self.answer_type[idx], "question_type": self.question_type[idx],
        }
        if self.choices is not None:
            batch["choices"] = self.choices[idx]
        return batch

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.__getitems__([index]).items()}

    @staticmethod
    def collate_fn(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return batch


@dataclass
class VQAInfo:
    """What models and analyses need to know about a VQA dataset (stored in checkpoints)."""

    name: str
    image_kind: str
    image_shape: list[int]
    question_vocab: list[str]
    answer_vocab: list[str]
    answer_types: list[str]
    question_types: list[str]
    protocol: str = "2021"
    relational_types: list[str] = field(default_factory=list)  # question types that need relations

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class VQAData:
    """Splits ("train", "val", "test") of VQADataset, the description, and (for sets that have
    them) captions per image id, for image-text matching, and scene annotations per image id."""

    splits: dict[str, VQADataset]
    info: VQAInfo
    captions: dict[str, dict[int, list[str]]] = field(default_factory=dict)
    files: dict[str, dict[str, Path]] = field(default_factory=dict)  # split -> VQA JSON files, if on disk
    scenes: dict[str, Scenes] = field(default_factory=dict)  # split -> image id -> objects

    def records(self, split: str) -> VQARecords:
        return self.splits[split].records


def build_vqa_data(name: str, records: dict[str, VQARecords], images: dict[str, ImageSource], cfg: DictConfig,
                   question_types: Sequence[str] | None = None, **extra: Any) -> VQAData:
    """Vocabularies from the training split, then one VQADataset per split."""
    train = records["train"]
    vocab = WordVocab.build(train.question or [], int(cfg.get("min_word_count", 1)))
    answers = AnswerVocab.top_k(train, int(cfg.get("top_answers", 1000)))
    types = list(question_types) if question_types is not None else sorted(
        {t for r in records.values() for t in (r.question_type or [])})
    protocol = str(cfg.get("protocol", "2021"))
    splits = {s: VQADataset(r, images[s], vocab, answers, ANSWER_TYPES, types, protocol) for s, r in records.items()}
    first = next(iter(images.values()))
    info = VQAInfo(name, first.kind, list(first.shape), vocab.words, answers.answers, ANSWER_TYPES, types, protocol,
                   list(extra.pop("relational_types", [])))
    return VQAData(splits, info, **extra)


def split_by_image(records: VQARecords, holdout_images: int, seed: int) -> tuple[VQARecords, VQARecords]:
    """(rest, held out): `holdout_images` images drawn at random go to the second part with all
    their questions, so no image is in both."""
    images = np.unique(records.image_id)
    if not 0 < holdout_images < len(images):
        raise UserError(f"cannot hold out {holdout_images} of {len(images)} training images for validation",
                        f"set data.val_images between 1 and {len(images) - 1}")
    held = np.random.default_rng(seed).choice(images, size=holdout_images, replace=False)
    mask = np.isin(records.image_id, held)
    return records.subset(np.flatnonzero(~mask)), records.subset(np.flatnonzero(mask))


# -- the real VQA v1/v2 ---------------------------------------------------------------------------

def _files(root: Path, version: int, subset: str, task: str) -> tuple[Path, Path]:
    prefix = "v2_" if version == 2 else ""
    q = f"{prefix}{task}_mscoco_{subset}_questions.json"
    a = f"{prefix}mscoco_{subset}_annotations.json"
    found = []
    for name, sub in ((q, "Questions"), (a, "Annotations")):
        path = next((p for p in (root / sub / name, root / name) if p.is_file()), None)
        if path is None:
            raise UserError(f"{root} has no {sub}/{name}",
                            f"data.root must hold the VQA v{version} files: Questions/{q}, Annotations/{a} "
                            f"and Images/mscoco/{subset}/ (or data.features=FILE.h5)")
        found.append(path)
    return found[0], found[1]


def _coco_folder(root: Path, subset: str) -> Path:
    for folder in (root / "Images" / "mscoco" / subset, root / "Images" / subset, root / subset):
        if folder.is_dir():
            return folder
    raise UserError(f"no COCO image folder for {subset} under {root}",
                    f"put the images in {root}/Images/mscoco/{subset}/ (COCO_{subset}_<id>.jpg), "
                    "or give precomputed features with data.features=FILE.h5")


def _check_images(source: ImageSource, records: VQARecords, what: str) -> None:
    ids = np.unique(records.image_id)
    probe = ids[:: max(1, len(ids) // 50)]  # a sample: statting every COCO file would take minutes
    missing = [int(i) for i in probe if int(i) not in source]
    if missing:
        raise UserError(f"{what}: images of {len(missing)} sampled image ids are missing (e.g. {missing[:3]})",
                        "check data.root's image folders or data.features")


@register_data("vqa_v1")
@register_data("vqa_v2")
def vqa(cfg: DictConfig) -> VQAData:
    """VQA v1/v2 (Antol et al. 2015) from data.root: questions and annotations JSON, COCO images or HDF5 features."""
    version = int(cfg.version)
    if not cfg.get("root"):
        raise UserError(f"data={cfg.name} needs data.root",
                        f"give data.root=DIR holding the VQA v{version} Questions/, Annotations/ and Images/ folders")
    root = Path(os.path.expanduser(str(cfg.root)))
    if not root.is_dir():
        raise UserError(f"data.root '{root}' does not exist", f"give the folder that holds the VQA v{version} files")
    task = str(cfg.task)
    if task not in ("OpenEnded", "MultipleChoice") or (version == 2 and task != "OpenEnded"):
        raise UserError(f"data.task={task} is not a VQA v{version} task",
                        "use data.task=OpenEnded (VQA v1 also has MultipleChoice)")
    loaded = {}
    for split, subset in (("train", str(cfg.train_subset)), ("test", str(cfg.test_subset))):
        loaded[split] = read_vqa(*_files(root, version, subset, task))
    train, val = split_by_image(loaded["train"], int(cfg.val_images), int(cfg.get("split_seed", 0)))
    records = {"train": train, "val": val, "test": loaded["test"]}
    if cfg.get("features"):
        source: ImageSource = H5Features(Path(os.path.expanduser(str(cfg.features))))
        images = dict.fromkeys(records, source)
    else:
        subsets = {"train": str(cfg.train_subset), "val": str(cfg.train_subset), "test": str(cfg.test_subset)}
        images = {s: CocoImages(_coco_folder(root, sub), sub, int(cfg.image_size)) for s, sub in subsets.items()}
    for split in records:
        _check_images(images[split], records[split], f"VQA {split}")
    types = read_question_types(cfg.question_types) if cfg.get("question_types") else MSCOCO_QUESTION_TYPES
    return build_vqa_data(cfg.name, records, images, cfg, question_types=types)


# -- embedded sets: generated once, kept on disk in the VQA formats -------------------------------

def multiple_choices(records: VQARecords, k: int, seed: int) -> list[list[str]]:
    """k candidate answers per question, built the way VQA builds its 18 (Sec. 3): the correct
    answer, plausible answers (here: answers to other questions of the same type), the most
    popular answers, then random answers; shuffled."""
    rng = np.random.default_rng(seed)
    answers = records.multiple_choice_answer or []
    types = records.question_type or [""] * len(answers)
    popular = [a for a, _ in Counter(answers).most_common()]
    by_type: dict[str, list[str]] = {}
    for t, a in zip(types, answers, strict=True):
        by_type.setdefault(t, []).append(a)
    by_type_pool = {t: [a for a, _ in Counter(v).most_common()] for t, v in by_type.items()}
    out = []
    for t, correct in zip(types, answers, strict=True):
        choices = [correct]
        plausible = [a for a in by_type_pool[t] if a != correct]
        for a in rng.permutation(plausible[: 2 * k]).tolist()[: (k - 1) // 2]:
            choices.append(a)
        for a in popular:
            if len(choices) >= k:
                break
            if a not in choices:
                choices.append(a)
        out.append(rng.permutation(choices).tolist())
    return out


def write_embedded(folder: Path, records: dict[str, VQARecords], images: dict[str, tuple[np.ndarray, np.ndarray]],
                   captions: dict[str, dict[int, list[str]]] | None = None,
                   scenes: dict[str, Scenes] | None = None) -> None:
    """An embedded set in the VQA formats: per split questions_<split>.json (open-ended),
    questions_<split>_mc.json (multiple choice), annotations_<split>.json, captions_<split>.json
    (COCO captions format), scenes_<split>.json (CLEVR scenes format) and images_<split>.npz
    (image_id, uint8 images)."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    for split, rec in records.items():
        info = {"data_type": folder.name, "info": {"description": f"paperlab embedded set {folder.name}"}}
        open_ended = dataclasses.replace(rec, multiple_choices=None)
        open_ended.write(folder / f"questions_{split}.json", folder / f"annotations_{split}.json", **info)
        if rec.multiple_choices is not None:
            (folder / f"questions_{split}_mc.json").write_text(json.dumps(rec.questions_json(**info)))
        ids, pixels = images[split]
        np.savez(folder / f"images_{split}.npz", image_id=ids, images=pixels)
        if captions:
            anns = [{"image_id": i, "id": 1000 * i + k, "caption": c}
                    for i, caps in captions[split].items() for k, c in enumerate(caps)]
            (folder / f"captions_{split}.json").write_text(json.dumps(
                {"images": [{"id": i, "file_name": f"{i}.png"} for i in captions[split]], "annotations": anns}))
        if scenes:
            write_scenes(folder / f"scenes_{split}.json", scenes[split], split)


def ensure_embedded(folder: Path, build: Any) -> Path:
    """Run `build(tmp_folder)` unless `folder` exists, then move the result into place atomically
    (so concurrent runs and interrupted builds never leave a half-written set)."""
    if folder.is_dir():
        return folder
    import shutil
    import tempfile

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        build(tmp)
        try:
            tmp.rename(folder)
        except OSError:  # another process finished first: keep theirs
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def read_embedded(folder: Path, splits: Sequence[str]) -> tuple[dict[str, VQARecords], dict[str, tuple[np.ndarray, np.ndarray]],
                                                                 dict[str, dict[int, list[str]]]]:
    """What `write_embedded` wrote, read back through the VQA JSON and COCO captions readers."""
    records, images, captions = {}, {}, {}
    for split in splits:
        mc = folder / f"questions_{split}_mc.json"
        records[split] = read_vqa(mc if mc.is_file() else folder / f"questions_{split}.json",
                                  folder / f"annotations_{split}.json")
        with np.load(folder / f"images_{split}.npz") as z:
            images[split] = (z["image_id"], z["images"])
        cap = folder / f"captions_{split}.json"
        if cap.is_file():
            captions[split] = read_coco_captions(cap)
    return records, images, captions


def embedded_vqa_data(name: str, folder: Path, cfg: DictConfig, question_types: Sequence[str],
                      relational_types: Sequence[str] = ()) -> VQAData:
    """Build the splits of an embedded set from its folder (images standardised with the training
    split's per-channel statistics)."""
    splits = ("train", "val", "test")
    records, pixels, captions = read_embedded(folder, splits)
    # per-channel statistics of the training images (a thousand of them estimate it to 3 digits)
    sample = pixels["train"][1][:: max(1, len(pixels["train"][1]) // 1000)]
    train = torch.from_numpy(sample).float().div_(255)
    mean, std = train.mean(dim=(0, 2, 3)).tolist(), train.std(dim=(0, 2, 3)).tolist()
    images = {s: InMemoryImages(ids, torch.from_numpy(x), mean, std) for s, (ids, x) in pixels.items()}
    files = {s: {"questions": folder / f"questions_{s}.json", "annotations": folder / f"annotations_{s}.json",
                 "questions_mc": folder / f"questions_{s}_mc.json"} for s in splits}
    scenes = {s: read_scenes(folder / f"scenes_{s}.json") for s in splits if (folder / f"scenes_{s}.json").is_file()}
    return build_vqa_data(name, records, images, cfg, question_types=question_types, captions=captions,
                          files=files, relational_types=relational_types, scenes=scenes)
