"""The embedded handwriting corpus: online pen trajectories written with the Hershey script faces,
standing in for IAM-OnDB (Graves 2013, Sec. 4), which cannot be downloaded here.

Real English text (the prose of Python's own documentation and docstrings, always installed with
Python) is cut into lines, mixed with lines of its words drawn to favour rare letters and lines
with numbers (see `TextSource`), and each line is "written" by one of `num_writers` seeded writers. A
writer has its own face (scripts / cursive), slant, size, letter width, word spacing, baseline
drift and tilt, pen speed (points per unit of ink: the pen is sampled at a fixed rate, so a fast
writer leaves fewer points) and pen jitter; letters inside a word are joined by pen-down
connectors as in cursive writing. Each line's glyph polylines are laid out, resampled along
their arc length, distorted, and turned into (dx, dy, end_of_stroke) offsets: the IAM-OnDB
loader's format (paperlab/papers/graves/handwriting/strokes.py), so everything downstream is shared.

Generation is deterministic (seeded) and cached as HDF5 under ~/.cache/paperlab/handwriting/.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import sysconfig
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from paperlab.data import register_data
from paperlab.errors import UserError
from paperlab.papers.graves.handwriting.strokes import (
    DEFAULT_ALPHABET,
    HandwritingData,
    StrokeSet,
    build_handwriting_data,
    cached,
    strokes_to_offsets,
)
from paperlab.paths import cache_dir

log = logging.getLogger(__name__)

GENERATOR_VERSION = 2
_WORD = re.compile(r"^[(\"']?(?:[A-Za-z]+(?:'[a-z]+)?|\d+)[)\"']?[.,;:!?]?$")


# -- text --------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def english_runs() -> list[list[str]]:
    """Runs of plain English words from Python's documentation (pydoc topics) and the docstrings of
    the standard library, in a fixed order. Code-like tokens end a run."""
    import pydoc_data.topics

    texts = [pydoc_data.topics.topics[k] for k in sorted(pydoc_data.topics.topics)]
    lib = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "test", "tests", "idle_test"}
    for path in sorted(lib.rglob("*.py")):
        if skip.isdisjoint(path.relative_to(lib).parts):
            texts += re.findall(r'"""(.*?)"""', path.read_text(errors="ignore"), flags=re.S)
    runs: list[list[str]] = []
    for text in texts:
        for para in re.split(r"\n\s*\n", text):
            run: list[str] = []
            for tok in [*para.split(), "\0"]:
                if _WORD.match(tok):
                    run.append(tok)
                    continue
                if len(run) >= 2:
                    runs.append(run)
                run = []
    return runs


class TextSource:
    """Lines of text for the corpus, three kinds mixed (`mix` = their proportions):

    * prose: consecutive words of the documentation (running on into the next runs);
    * words: words of the same vocabulary drawn one by one, favouring words with rare letters
      (z, q, j, x, ...), some capitalised (initials drawn uniformly), with some punctuation: every
      character gets examples;
    * numbers: prose words mixed with numbers, years, times and decimals (the docs have few digits).
    """

    def __init__(self, runs: list[list[str]], mix: tuple[float, float, float]) -> None:
        self.runs = runs
        self.mix = np.asarray(mix, dtype=float) / sum(mix)
        vocab = sorted({w.strip("()\"'.,;:!?").lower() for run in runs for w in run} - {""})
        self.vocab = [w for w in vocab if w.isalpha()]
        counts: dict[str, int] = {}
        for w in self.vocab:
            for c in w:
                counts[c] = counts.get(c, 0) + 1
        weight = np.array([max(counts[c] ** -0.5 for c in w) for w in self.vocab])
        self.weight = weight / weight.sum()
        self.by_initial: dict[str, list[str]] = {}
        for w in self.vocab:
            self.by_initial.setdefault(w[0], []).append(w)

    def words(self, rng: np.random.Generator) -> list[str]:
        """A stream of words of one kind (long enough for one line)."""
        kind = rng.choice(3, p=self.mix)
        if kind == 1:
            out = []
            for i in rng.choice(len(self.vocab), size=12, p=self.weight):
                w = self.vocab[i]
                if rng.random() < 0.3:  # a capitalised word, its initial drawn uniformly
                    pool = self.by_initial[sorted(self.by_initial)[rng.integers(len(self.by_initial))]]
                    w = pool[rng.integers(len(pool))].capitalize()
                out.append(w + (str(rng.choice(list(",.;:!?"))) if rng.random() < 0.12 else ""))
            return out
        r = int(rng.integers(len(self.runs)))
        prose = [w for run in self.runs[r : r + 8] for w in run][int(rng.integers(len(self.runs[r]))):]
        if kind == 2:
            numbers = [str(rng.integers(0, 100)), str(rng.integers(100, 10000)), str(rng.integers(1900, 2100)),
                       f"{rng.integers(0, 24)}:{rng.integers(0, 60):02d}", f"{rng.integers(0, 100)}.{rng.integers(0, 100)}"]
            prose = [x for w in prose for x in ([w, str(rng.choice(numbers))] if rng.random() < 0.4 else [w])]
        return prose


def text_lines(source: TextSource, count: int, min_chars: int, max_chars: int, rng: np.random.Generator) -> list[str]:
    """`count` lines of whole words, each close to a length drawn uniformly in [min_chars, max_chars]."""
    lines: list[str] = []
    while len(lines) < count:
        target = int(rng.integers(min_chars, max_chars + 1))
        words: list[str] = []
        for w in source.words(rng):
            if len(" ".join([*words, w])) > target and words:
                break
            words.append(w)
        line = " ".join(words)
        if min_chars <= len(line) <= max_chars:
            lines.append(line)
    return lines


# -- writers -------------------------------------------------------------------------------------------
@dataclass
class Writer:
    """One writer's style. Lengths are in Hershey font units (x-height ~ 9, cap height ~ 21)."""

    face: str
    slant: float  # shear: x += slant * y
    size: float  # overall scale
    width: float  # horizontal stretch of letters
    word_space: float  # gap between words
    join: float  # gaps up to this length between letters of a word are drawn pen-down
    spacing: float  # arc length between pen samples (speed)
    jitter: float  # std of pen noise
    drift: float  # amplitude of the baseline's wander
    drift_period: float
    tilt: float  # baseline slope

    @classmethod
    def random(cls, rng: np.random.Generator, faces: list[str], spacing: tuple[float, float]) -> Writer:
        return cls(
            face=faces[int(rng.integers(len(faces)))],
            slant=float(rng.uniform(-0.3, 0.25)),
            size=float(rng.uniform(0.8, 1.25)),
            width=float(rng.uniform(0.85, 1.2)),
            word_space=float(rng.uniform(7.0, 15.0)),
            join=float(rng.uniform(4.0, 9.0)),
            spacing=float(rng.uniform(*spacing)),
            jitter=float(rng.uniform(0.05, 0.3)),
            drift=float(rng.uniform(0.0, 2.5)),
            drift_period=float(rng.uniform(150.0, 400.0)),
            tilt=float(rng.uniform(-0.03, 0.03)),
        )


def resample(points: np.ndarray, spacing: float) -> np.ndarray:
    """Points every `spacing` units of arc length along a polyline (both ends kept)."""
    seg = np.hypot(*np.diff(points, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    if arc[-1] < 1e-9:
        return points[:1]
    n = max(int(np.ceil(arc[-1] / spacing)), 1)
    s = np.linspace(0.0, arc[-1], n + 1)
    return np.column_stack([np.interp(s, arc, points[:, 0]), np.interp(s, arc, points[:, 1])])


class Scribe:
    """Writes text lines in a writer's hand: Hershey glyphs -> pen strokes (absolute points, y up)."""

    def __init__(self) -> None:
        from HersheyFonts import HersheyFonts

        self._fonts: dict[str, HersheyFonts] = {}
        self._factory = HersheyFonts

    def font(self, face: str):  # noqa: ANN201 (HersheyFonts has no type hints)
        if face not in self._fonts:
            f = self._factory()
            f.load_default_font(face)
            self._fonts[face] = f
        return self._fonts[face]

    def word_strokes(self, word: str, face: str, join: float) -> list[np.ndarray]:
        """A word's strokes (font units, y down), strokes closer than `join` merged pen-down."""
        strokes: list[np.ndarray] = []
        for s in self.font(face).strokes_for_text(word):
            pts = np.asarray(s, dtype=np.float64)
            if strokes and np.hypot(*(pts[0] - strokes[-1][-1])) < join:
                strokes[-1] = np.concatenate([strokes[-1], pts])
            else:
                strokes.append(pts)
        return strokes

    def write(self, text: str, w: Writer, rng: np.random.Generator) -> list[np.ndarray]:
        """The strokes of one line in writer w's hand, with per-line variation of slant and size."""
        slant = w.slant + rng.normal(0, 0.03)
        size = w.size * float(np.exp(rng.normal(0, 0.04)))
        phase = rng.uniform(0, 2 * np.pi)
        out: list[np.ndarray] = []
        cursor = 0.0
        for word in text.split(" "):
            strokes = self.word_strokes(word, w.face, w.join)
            if not strokes:
                continue
            left = min(s[:, 0].min() for s in strokes)
            right = max(s[:, 0].max() for s in strokes)
            for s in strokes:
                pts = resample(s, w.spacing)
                x = (pts[:, 0] - left) * w.width + cursor
                y = -pts[:, 1]  # Hershey's y points down
                x = x + slant * y
                y = y + w.drift * np.sin(2 * np.pi * x / w.drift_period + phase) + w.tilt * x
                pts = np.column_stack([x, y]) * size
                out.append(pts + rng.normal(0, w.jitter, pts.shape))
            cursor += (right - left) * w.width + w.word_space * float(np.exp(rng.normal(0, 0.15)))
        return out


# -- the corpus -------------------------------------------------------------------------------------
@dataclass
class HersheyCorpusConfig:
    num_lines: int = 8000
    num_writers: int = 40
    faces: tuple[str, ...] = ("scripts", "cursive")
    min_chars: int = 8
    max_chars: int = 40
    spacing: tuple[float, float] = (3.0, 4.5)
    mix: tuple[float, float, float] = (0.6, 0.25, 0.15)  # prose, words favouring rare letters, numbers
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    seed: int = 0

    def key(self) -> str:
        blob = json.dumps({**asdict(self), "version": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]


def generate_corpus(cfg: HersheyCorpusConfig) -> StrokeSet:
    """The whole corpus (all splits), deterministic for a given config and Python's docs."""
    rng = np.random.default_rng(cfg.seed)
    writers = [Writer.random(rng, list(cfg.faces), cfg.spacing) for _ in range(cfg.num_writers)]
    lines = text_lines(TextSource(english_runs(), cfg.mix), cfg.num_lines, cfg.min_chars, cfg.max_chars, rng)
    scribe = Scribe()
    n_val = int(round(cfg.val_fraction * cfg.num_lines))
    n_test = int(round(cfg.test_fraction * cfg.num_lines))
    splits = ["val"] * n_val + ["test"] * n_test + ["train"] * (cfg.num_lines - n_val - n_test)
    splits = [splits[i] for i in rng.permutation(cfg.num_lines)]
    data = StrokeSet(attrs={"source": "hershey", "config": asdict(cfg),
                            "writers": [asdict(w) for w in writers]})
    for i, (text, split) in enumerate(zip(lines, splits, strict=True)):
        writer = i % cfg.num_writers
        data.append(strokes_to_offsets(scribe.write(text, writers[writer], rng)), text, writer, split)
    return data


def corpus_config(cfg: DictConfig) -> HersheyCorpusConfig:
    fields = HersheyCorpusConfig.__dataclass_fields__
    kw = {k: cfg[k] for k in fields if k in cfg and cfg[k] is not None}
    for k in ("faces", "spacing", "mix"):
        if k in kw:
            kw[k] = tuple(kw[k])
    out = HersheyCorpusConfig(**kw)
    if not 1 <= out.min_chars <= out.max_chars:
        raise UserError(f"data.min_chars={out.min_chars} and data.max_chars={out.max_chars} make no range",
                        "use 1 <= min_chars <= max_chars")
    if out.num_lines < 20:
        raise UserError(f"data.num_lines={out.num_lines} is too few", "use data.num_lines >= 20")
    return out


@register_data("hershey_handwriting")
def build(cfg: DictConfig) -> HandwritingData:
    corpus = corpus_config(cfg)
    root = cache_dir("handwriting")
    path = root / f"hershey-{corpus.key()}.h5"
    if not path.is_file():
        log.info("generating the Hershey handwriting corpus (%d lines) into %s", corpus.num_lines, path)
    data = cached(path, lambda: generate_corpus(corpus))
    return build_handwriting_data(data, DEFAULT_ALPHABET, "hershey", int(cfg.get("num_styles", 8)))
