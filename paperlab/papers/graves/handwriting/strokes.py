"""Online handwriting as pen offsets: the array format shared by the IAM-OnDB loader and the
embedded Hershey corpus (Graves 2013, Sec. 4: "x_t = (x1, x2, x3)": the pen offset from the
previous point and x3 = 1 when the point ends a stroke).

A `StrokeSet` holds lines of handwriting, each a float32 array (T, 3) of (dx, dy, end_of_stroke)
with y pointing up, plus its transcription, writer and split. On disk (HDF5) the lines are
concatenated: `offsets` (N, 3), `lengths` (lines,), `text`, `writer`, `split` (lines,).

Also here: the preprocessing both sources share (points <-> offsets, baseline de-skew, light
smoothing, outlier lines), the alphabet, offset normalisation (Sec. 4: "normalised to mean 0,
std 1"), and the torch Dataset/collate the learner trains on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from paperlab.errors import UserError
from paperlab.io.arrays import save_arrays

# Characters of the IAM-OnDB transcriptions that reference implementations keep (letters, digits,
# space, common punctuation). Lines with other characters are dropped by the loaders.
DEFAULT_ALPHABET = " !\"'(),-.0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

FORMAT_VERSION = 1


# -- the alphabet ---------------------------------------------------------------------------------
class Alphabet:
    """Characters <-> indices for the one-hot text the synthesis window reads (Sec. 5.1, c_u)."""

    def __init__(self, chars: str) -> None:
        if len(set(chars)) != len(chars):
            raise ValueError("alphabet characters must be unique")
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of `text` outside the alphabet, in order of appearance."""
        return list(dict.fromkeys(c for c in text if c not in self.index))

    def encode(self, text: str) -> torch.Tensor:
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.chars[i] for i in ids)


# -- points <-> offsets -----------------------------------------------------------------------------
def strokes_to_offsets(strokes: Sequence[np.ndarray]) -> np.ndarray:
    """A list of strokes (each (n, 2) absolute points) -> (T, 3) offsets with end-of-stroke flags.

    The first row is the offset of the first point from the origin (0, 0)."""
    points = np.concatenate([np.asarray(s, dtype=np.float64) for s in strokes])
    eos = np.zeros(len(points))
    eos[np.cumsum([len(s) for s in strokes]) - 1] = 1.0
    out = np.empty((len(points), 3), dtype=np.float32)
    out[0, :2] = points[0]
    out[1:, :2] = np.diff(points, axis=0)
    out[:, 2] = eos
    return out


def offsets_to_strokes(offsets: np.ndarray) -> list[np.ndarray]:
    """(T, 3) offsets -> list of strokes of absolute points (the inverse of strokes_to_offsets)."""
    offsets = np.asarray(offsets, dtype=np.float64)
    points = np.cumsum(offsets[:, :2], axis=0)
    ends = np.flatnonzero(offsets[:, 2] > 0.5) + 1
    return [s for s in np.split(points, ends) if len(s)]


def smooth_stroke(points: np.ndarray, weight: float = 0.25) -> np.ndarray:
    """Light smoothing: each inner point moves toward the mean of its neighbours (ends stay)."""
    if len(points) < 3 or weight <= 0:
        return points
    out = points.copy()
    out[1:-1] = (1 - 2 * weight) * points[1:-1] + weight * (points[:-2] + points[2:])
    return out


def deskew(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """Rotate a line so the least-squares line through its points is horizontal (baseline skew)."""
    points = np.concatenate(strokes)
    if len(points) < 2 or np.ptp(points[:, 0]) == 0:
        return strokes
    slope = np.polyfit(points[:, 0], points[:, 1], 1)[0]
    angle = -np.arctan(slope)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return [s @ rot.T for s in strokes]


def deslant(strokes: list[np.ndarray], max_angle: float = 0.6) -> list[np.ndarray]:
    """Shear away the dominant slant of the near-vertical pen-down segments (x -= y tan(slant))."""
    seg = np.concatenate([np.diff(s, axis=0) for s in strokes if len(s) > 1] or [np.zeros((0, 2))])
    seg = seg[np.abs(seg[:, 1]) > 1e-9]
    seg = seg * np.sign(seg[:, 1:2])  # all pointing up
    angle = np.arctan2(seg[:, 0], seg[:, 1])
    upright = np.abs(angle) < max_angle
    if upright.sum() < 3:
        return strokes
    lengths = np.hypot(seg[upright, 0], seg[upright, 1])
    shear = np.tan(np.average(angle[upright], weights=lengths))
    return [np.column_stack([s[:, 0] - shear * s[:, 1], s[:, 1]]) for s in strokes]


# -- a set of lines -----------------------------------------------------------------------------
@dataclass
class StrokeSet:
    """Lines of online handwriting: offsets (T, 3) float32 per line, with text, writer and split."""

    offsets: list[np.ndarray] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    writer: list[int] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.offsets)

    def append(self, offsets: np.ndarray, text: str, writer: int, split: str) -> None:
        self.offsets.append(np.asarray(offsets, dtype=np.float32))
        self.text.append(text)
        self.writer.append(int(writer))
        self.split.append(split)

    def select(self, split: str) -> StrokeSet:
        keep = [i for i, s in enumerate(self.split) if s == split]
        return StrokeSet([self.offsets[i] for i in keep], [self.text[i] for i in keep],
                         [self.writer[i] for i in keep], [split] * len(keep), dict(self.attrs))

    def save(self, path: str | Path) -> Path:
        lengths = np.array([len(o) for o in self.offsets], dtype=np.int64)
        flat = np.concatenate(self.offsets) if self.offsets else np.zeros((0, 3), np.float32)
        return save_arrays(path, {"offsets": flat, "lengths": lengths, "text": np.array(self.text, dtype=str),
                                  "writer": np.array(self.writer, dtype=np.int64),
                                  "split": np.array(self.split, dtype=str)},
                           {"format_version": FORMAT_VERSION, "meta": json.dumps(self.attrs)})

    @classmethod
    def load(cls, path: str | Path) -> StrokeSet:
        with h5py.File(path, "r") as f:
            flat = f["offsets"][()]
            lengths = f["lengths"][()]
            text = [t.decode() if isinstance(t, bytes) else str(t) for t in f["text"][()]]
            writer = f["writer"][()].tolist()
            split = [s.decode() if isinstance(s, bytes) else str(s) for s in f["split"][()]]
            attrs = json.loads(f.attrs.get("meta", "{}"))
        offsets = np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else []
        return cls(list(offsets), text, writer, split, attrs)


def cached(path: Path, build: Any) -> StrokeSet:
    """Load `path` if it holds a stroke set, else build one and write it there (atomically)."""
    if path.is_file():
        try:
            return StrokeSet.load(path)
        except (OSError, KeyError, ValueError):
            path.unlink()  # a stale or broken cache file: rebuild it
    data = build()
    data.save(path)
    return data


def drop_outliers(data: StrokeSet, max_offset: float, max_points: int, min_points: int = 2) -> tuple[StrokeSet, int]:
    """Drop lines with an offset longer than `max_offset` (pen glitches), longer than
    `max_points` points or shorter than `min_points`. Returns (kept lines, number dropped)."""
    out = StrokeSet(attrs=dict(data.attrs))
    dropped = 0
    for o, t, w, s in zip(data.offsets, data.text, data.writer, data.split, strict=True):
        norms = np.hypot(o[1:, 0], o[1:, 1])
        if not (min_points <= len(o) <= max_points) or (len(norms) and norms.max() > max_offset):
            dropped += 1
            continue
        out.append(o, t, w, s)
    return out, dropped


# -- normalisation --------------------------------------------------------------------------------
@dataclass
class OffsetStats:
    """Mean and std of (dx, dy) over the training lines (Sec. 4: offsets normalised to mean 0, std 1)."""

    mean: tuple[float, float]
    std: tuple[float, float]

    @classmethod
    def fit(cls, lines: Sequence[np.ndarray]) -> OffsetStats:
        xy = np.concatenate([o[1:, :2] for o in lines]).astype(np.float64)  # the first row is the start
        return cls(tuple(xy.mean(0).tolist()), tuple(xy.std(0).clip(1e-8).tolist()))

    def normalise(self, offsets: torch.Tensor) -> torch.Tensor:
        out = offsets.clone()
        out[..., :2] = (offsets[..., :2] - torch.tensor(self.mean)) / torch.tensor(self.std)
        return out

    def denormalise(self, offsets: torch.Tensor) -> torch.Tensor:
        out = offsets.clone()
        out[..., :2] = offsets[..., :2] * torch.tensor(self.std) + torch.tensor(self.mean)
        return out

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OffsetStats:
        return cls(tuple(d["mean"]), tuple(d["std"]))


# -- what the learner trains on ---------------------------------------------------------------------
class StrokeDataset(Dataset):
    """Normalised lines with their encoded text: item = {"strokes" (T, 3), "text" (U,)}.

    The first offset (from the origin) is replaced by (0, 0, 0): the network starts from an
    empty pen position. After `bucket(batch_size, seed)`, item i of an epoch is the i-th line of an order
    in which every run of `bucket_batch` consecutive items holds lines of similar length (the
    learner reads such a split in order): batches then carry little padding, which the synthesis
    network's step loop would otherwise spend most of its time on."""

    def __init__(self, data: StrokeSet, alphabet: Alphabet, stats: OffsetStats) -> None:
        self.data = data
        lengths = [len(o) for o in data.offsets]
        flat = torch.from_numpy(np.concatenate(data.offsets).astype(np.float32)) if data.offsets else torch.zeros(0, 3)
        flat = stats.normalise(flat)
        self.strokes = list(flat.split(lengths))
        for s in self.strokes:
            s[0] = 0.0
        self.text = [alphabet.encode(t) for t in data.text]
        self.bucket_batch: int | None = None
        self.seed = 0
        self.order = np.argsort(lengths, kind="stable").tolist()  # evaluation batches of similar lengths

    def bucket(self, batch_size: int, seed: int) -> None:
        """Serve the lines in length buckets of `batch_size` (reshuffled by `set_epoch`)."""
        self.bucket_batch, self.seed = batch_size, seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Shuffle, then sort by length within pools of 32 batches, then shuffle the batches."""
        if not self.bucket_batch:
            return
        b = self.bucket_batch
        rng = np.random.default_rng([self.seed, epoch])
        perm = rng.permutation(len(self.strokes))
        pool = 32 * b
        batches: list[np.ndarray] = []
        for start in range(0, len(perm), pool):
            chunk = perm[start : start + pool]
            chunk = chunk[np.argsort([len(self.strokes[i]) for i in chunk], kind="stable")]
            batches += [chunk[i : i + b] for i in range(0, len(chunk), b)]
        self.order = [int(i) for k in rng.permutation(len(batches)) for i in batches[k]]

    def __len__(self) -> int:
        return len(self.strokes)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        j = self.order[i]
        return {"strokes": self.strokes[j], "text": self.text[j]}

    @staticmethod
    def collate_fn(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """Pad to the longest line: strokes (B, T, 3) + stroke_mask (B, T); text (B, U) padded with
        -1 + text_mask (B, U)."""
        strokes = torch.nn.utils.rnn.pad_sequence([it["strokes"] for it in items], batch_first=True)
        text = torch.nn.utils.rnn.pad_sequence([it["text"] for it in items], batch_first=True, padding_value=-1)
        lengths = torch.tensor([len(it["strokes"]) for it in items])
        stroke_mask = torch.arange(strokes.shape[1])[None] < lengths[:, None]
        return {"strokes": strokes, "stroke_mask": stroke_mask, "text": text, "text_mask": text >= 0}


@dataclass
class HandwritingData:
    """What a handwriting dataset hands the learner: splits, the alphabet, offset statistics, and
    a few example lines per writer for primed sampling (Sec. 5.5)."""

    splits: dict[str, StrokeDataset]
    alphabet: Alphabet
    stats: OffsetStats
    source: str
    styles: list[dict[str, Any]] = field(default_factory=list)


def pick_styles(data: StrokeSet, count: int, max_chars: int = 36) -> list[dict[str, Any]]:
    """One held-out line for each of the first `count` writers (in writer order), preferring lines
    of plain words: the primers `paperlab sample-handwriting --style N` uses. Plain types, stored
    inside checkpoints."""

    def plain(text: str) -> bool:
        return len(text) <= max_chars and len(text.split()) >= 3 and all(c.isalpha() or c in " ,." for c in text)

    styles: list[dict[str, Any]] = []
    order = sorted(range(len(data)), key=lambda i: (data.writer[i], not plain(data.text[i]), -len(data.text[i])))
    for i in order:
        if styles and styles[-1]["writer"] == data.writer[i]:
            continue
        styles.append({"writer": data.writer[i], "text": data.text[i],
                       "offsets": torch.from_numpy(np.asarray(data.offsets[i]))})
        if len(styles) == count:
            break
    return styles


def build_handwriting_data(data: StrokeSet, alphabet_chars: str, source: str, num_styles: int = 8) -> HandwritingData:
    """Splits (train/val[/test]) with statistics fitted on train; empty splits are an error."""
    alphabet = Alphabet(alphabet_chars)
    parts = {name: data.select(name) for name in ("train", "val", "test")}
    for name in ("train", "val"):
        if not len(parts[name]):
            raise UserError(f"the {source} handwriting data has no '{name}' lines",
                            "check the split files / data settings")
    stats = OffsetStats.fit(parts["train"].offsets)
    splits = {name: StrokeDataset(part, alphabet, stats) for name, part in parts.items() if len(part)}
    styles = pick_styles(parts["val"], num_styles)
    return HandwritingData(splits, alphabet, stats, source, styles)
