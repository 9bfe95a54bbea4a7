"""Character and byte corpora for Graves 2013, "Generating Sequences With Recurrent Neural
Networks", Sec. 3 (text prediction).

* `data=text data.path=FILE_OR_DIR`: any UTF-8 text (a file, or every file under a folder in
  sorted order), split contiguously into train/val/test.
* `data=fortunes`: the embedded default, English prose from Debian's `fortunes` package
  (`make install` apt-gets it; /usr/share/games/fortunes/<file>, records separated by "%" lines).
  Each record goes to train, validation or test by a hash of its text, so duplicated records never
  straddle two splits. Without the package it falls back, with a warning, to `data=python_docs`.
* `data=python_docs`: the English prose of Python's own documentation
  (`pydoc_data/topics.py`, always present).
* `data=enwik8 data.root=DIR`: the Hutter prize file (`enwik8` or `enwik8.zip`, 100,000,000 bytes),
  read as bytes. Sec. 3.2 trains on the first 96M bytes and validates on the last 4M
  (`data.split=paper`); the common 90M/5M/5M split is `data.split=standard`.
* `data=ptb_char data.root=DIR`: Penn Treebank at character level, Mikolov's
  `ptb.char.{train,valid,test}.txt` (characters separated by spaces, "_" between words, a sentence
  per line). `data=ptb_word` reads the word files `ptb.{train,valid,test}.txt` and models their
  characters (Sec. 3.1 uses the character-level version of the word-level corpus).

A corpus is a `SymbolVocab` (the symbols: Unicode code points or byte values) and, per split, the text
and its symbol ids. The vocabulary covers every split (Sec. 3.2 models the 205 byte values that
occur in the whole file): a symbol met only in the test text keeps an (untrained) output unit, so its
probability is still counted, never skipped.
"""

from __future__ import annotations

import codecs
import logging
import os
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from paperlab.data import register_data
from paperlab.errors import UserError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
DEBIAN_FORTUNES = Path("/usr/share/games/fortunes")
ENWIK8_BYTES = 100_000_000
DEFAULT_SPLIT = (0.9, 0.05, 0.05)
# Named splits of enwik8 as fractions of the file (train, val, test).
ENWIK8_SPLITS = {
    "paper": (0.96, 0.04, 0.0),  # Graves Sec. 3.2: first 96M bytes train, last 4M validation
    "standard": (0.90, 0.05, 0.05),  # 90M/5M/5M, the split most later papers report
}


@dataclass
class SymbolVocab:
    """The symbols a model reads and predicts: Unicode code points (unit "char") or byte values
    (unit "byte"), sorted. Ids are positions in `symbols`."""

    unit: str
    symbols: list[int]

    def __post_init__(self) -> None:
        if self.unit not in ("char", "byte"):
            raise UserError(f"unknown text unit '{self.unit}'", "use data.unit=char or data.unit=byte")
        self._sorted = np.asarray(self.symbols, dtype=np.int64)

    @classmethod
    def build(cls, unit: str, *texts: str | bytes) -> SymbolVocab:
        seen: set[int] = set()
        for text in texts:
            seen.update(np.unique(_codes(text)).tolist())
        return cls(unit, sorted(seen))

    def __len__(self) -> int:
        return len(self.symbols)

    def unknown(self, text: str | bytes) -> list[str]:
        """The distinct symbols of `text` outside the vocabulary, as printable strings."""
        codes = np.unique(_codes(text))
        missing = codes[~np.isin(codes, self._sorted)]
        return [self.show(int(c)) for c in missing]

    def encode(self, text: str | bytes, skip_unknown: bool = False) -> torch.Tensor:
        """Text -> int64 ids. Symbols outside the vocabulary are an error, or dropped."""
        codes = _codes(text)
        if skip_unknown:
            codes = codes[np.isin(codes, self._sorted)]
        ids = np.searchsorted(self._sorted, codes)
        if len(codes) and (ids.max() >= len(self._sorted) or (self._sorted[ids] != codes).any()):
            raise ValueError(f"symbols outside the vocabulary: {self.unknown(text)}")
        return torch.from_numpy(ids.astype(np.int64))

    def decoder(self) -> Any:
        """An incremental decoder: `feed(ids) -> str` (bytes are joined into UTF-8 characters as
        they complete, so a byte model's multi-byte characters print whole)."""
        return _Decoder(self)

    def decode(self, ids: Any) -> str:
        return self.decoder().feed(ids, final=True)

    def show(self, code: int) -> str:
        if self.unit == "byte":
            return repr(bytes([code]))[1:]
        return repr(chr(code))

    def to_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "symbols": list(self.symbols)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SymbolVocab:
        return cls(d["unit"], [int(s) for s in d["symbols"]])


class _Decoder:
    def __init__(self, vocab: SymbolVocab) -> None:
        self.symbols = vocab.symbols
        self.bytes = vocab.unit == "byte"
        self.utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, ids: Any, final: bool = False) -> str:
        ids = ids.tolist() if hasattr(ids, "tolist") else ids
        codes = [self.symbols[i] for i in ([ids] if isinstance(ids, int) else ids)]
        if self.bytes:
            return self.utf8.decode(bytes(codes), final=final)
        return "".join(map(chr, codes))


def _codes(text: str | bytes) -> np.ndarray:
    if isinstance(text, bytes):
        return np.frombuffer(text, dtype=np.uint8).astype(np.int64)
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.int64)


@dataclass
class TextCorpus:
    """A corpus split three ways: the texts (for compressor baselines) and their symbol ids."""

    name: str
    vocab: SymbolVocab
    texts: dict[str, str | bytes]

    def __post_init__(self) -> None:
        self.ids = {split: self.vocab.encode(text) for split, text in self.texts.items() if len(text)}

    @classmethod
    def from_splits(cls, name: str, unit: str, texts: dict[str, str | bytes]) -> TextCorpus:
        if not texts.get("train"):
            raise UserError(f"corpus '{name}' has an empty training split",
                            "give a larger corpus or a larger training fraction (data.split)")
        return cls(name, SymbolVocab.build(unit, *texts.values()), texts)

    def sizes(self) -> dict[str, int]:
        return {split: len(text) for split, text in self.texts.items()}


# -- splitting --------------------------------------------------------------------------------------
def split_fractions(text: str | bytes, fractions: Any) -> dict[str, str | bytes]:
    """Contiguous split: the first fractions[0] of the text trains, the next is validation, the
    rest is test (Graves Sec. 3.2 splits enwik8 this way: first 96M, last 4M)."""
    fr = [float(f) for f in fractions]
    if len(fr) != 3 or min(fr) < 0 or fr[0] <= 0 or abs(sum(fr) - 1) > 1e-6:
        raise UserError(f"data.split must be three fractions (train, val, test) summing to 1, not {list(fractions)}",
                        "e.g. data.split=[0.9,0.05,0.05]")
    n = len(text)
    a, b = round(n * fr[0]), round(n * (fr[0] + fr[1]))
    return {"train": text[:a], "val": text[a:b], "test": text[b:]}


def split_records(records: list[str], holdout: int, separator: str) -> dict[str, str]:
    """Assign each record to a split by a hash of its text: CRC-32 modulo `holdout` 0 is test, 1 is
    validation, the rest train (one record in `holdout` each), keeping the records' order within
    each split. Identical records hash alike, so a duplicate never lets a model (or a compressor)
    see a test record during training."""
    if holdout < 3:
        raise UserError(f"data.holdout must be at least 3, not {holdout}", "e.g. data.holdout=20 (5% val, 5% test)")
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    for record in records:
        h = zlib.crc32(record.encode("utf-8")) % holdout
        out["test" if h == 0 else "val" if h == 1 else "train"].append(record)
    return {s: "".join(r + separator for r in rs) for s, rs in out.items()}


# -- reading ----------------------------------------------------------------------------------------
def _decode(raw: bytes, where: Path) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{where} is not UTF-8 text (byte {err.start}: {raw[err.start:err.start + 1]!r})",
                        "read it as bytes with data.unit=byte") from None


def _files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))


def read_text_path(path: Path, unit: str) -> str | bytes:
    """A file, or every file under a folder (sorted by path) concatenated."""
    if not path.exists():
        raise UserError(f"corpus path {path} does not exist", "give data.path=FILE or a folder of text files")
    files = [path] if path.is_file() else _files_under(path)
    if not files:
        raise UserError(f"corpus folder {path} holds no files", "give data.path=FILE or a folder of text files")
    raw = b"".join(f.read_bytes() for f in files)
    if not raw:
        raise UserError(f"corpus {path} is empty", "give a file (or folder) with some text in it")
    return raw if unit == "byte" else _decode(raw, path)


def _expand(path: Any) -> Path:
    return Path(os.path.expanduser(str(path)))


@register_data("text")
def text(cfg: DictConfig) -> TextCorpus:
    """Any text file or folder (data.path), split contiguously into train/val/test."""
    if not cfg.get("path"):
        raise UserError("data=text needs data.path", "add data.path=FILE_OR_FOLDER")
    path = _expand(cfg.path)
    corpus = read_text_path(path, str(cfg.unit))
    return TextCorpus.from_splits(path.name, str(cfg.unit), split_fractions(corpus, cfg.split))


def fortune_records(folder: Path, files: list[str]) -> Iterator[str]:
    """The records of fortune(6) data files: text separated by lines holding a single '%'."""
    for name in files:
        path = folder / name
        if not path.is_file():
            raise UserError(f"fortune file {path} is missing",
                            f"install Debian's fortunes package (make data) or drop '{name}' from data.files")
        for record in _decode(path.read_bytes(), path).split("\n%\n"):
            record = record.strip("\n%")
            if record.strip():
                yield record


@register_data("fortunes")
def fortunes(cfg: DictConfig) -> TextCorpus:
    """English prose from Debian's fortunes (embedded default; falls back to python_docs)."""
    folder = _expand(cfg.root) if cfg.get("root") else DEBIAN_FORTUNES
    if not folder.is_dir():
        if cfg.get("root"):
            raise UserError(f"data.root {folder} does not exist", "give the folder of the fortune files")
        log.warning("Debian's fortunes are not installed (%s): using data=python_docs instead "
                    "(install them with `make data` or `apt-get install fortunes`)", folder)
        return python_docs(cfg)
    records = list(fortune_records(folder, list(cfg.files)))
    texts = split_records(records, int(cfg.holdout), separator="\n%\n")
    return TextCorpus.from_splits("fortunes", "char", texts)


@register_data("python_docs")
def python_docs(cfg: DictConfig) -> TextCorpus:
    """The prose of Python's documentation (pydoc_data.topics, always present)."""
    from pydoc_data.topics import topics

    corpus = "".join(topics[key] for key in sorted(topics))
    split = cfg.get("split") or DEFAULT_SPLIT  # (data=fortunes falling back has no split of its own)
    return TextCorpus.from_splits("python_docs", "char", split_fractions(corpus, split))


def _find_enwik8(root: Path) -> tuple[Path, bytes]:
    layout = "a folder holding enwik8 (the 100,000,000-byte file) or enwik8.zip"
    if not root.exists():
        raise UserError(f"data.root {root} does not exist", f"data.root must be {layout}")
    if root.is_file():
        candidates = [root]
    else:
        candidates = [root / "enwik8", root / "enwik8.zip"]
    for path in candidates:
        if path.is_file() and path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if Path(n).name == "enwik8"]
                if not names:
                    raise UserError(f"{path} holds no file called enwik8", "give the Hutter prize enwik8.zip")
                return path, z.read(names[0])
        if path.is_file():
            return path, path.read_bytes()
    raise UserError(f"no enwik8 in {root}", f"data.root must be {layout}")


@register_data("enwik8")
def enwik8(cfg: DictConfig) -> TextCorpus:
    """Hutter prize Wikipedia (enwik8), bytes; split=paper (96M/4M) or standard (90M/5M/5M)."""
    if not cfg.get("root"):
        raise UserError("data=enwik8 needs data.root", "add data.root=DIR (a folder with enwik8 or enwik8.zip)")
    path, raw = _find_enwik8(_expand(cfg.root))
    if len(raw) != ENWIK8_BYTES:
        log.warning("%s has %d bytes, not the 100,000,000 of enwik8: splitting it by the same fractions",
                    path, len(raw))
    split = cfg.split
    fractions = ENWIK8_SPLITS.get(split) if isinstance(split, str) else split
    if fractions is None:
        raise UserError(f"unknown enwik8 split '{split}'",
                        f"use data.split={' or '.join(ENWIK8_SPLITS)}, or three fractions")
    return TextCorpus.from_splits("enwik8", "byte", split_fractions(raw, fractions))


PTB_FILES = {"char": "ptb.char.{split}.txt", "word": "ptb.{split}.txt"}
_PTB_SPLIT_NAMES = {"train": "train", "val": "valid", "test": "test"}


def _ptb_folder(root: Path, level: str) -> Path:
    pattern = PTB_FILES[level]
    layout = f"a folder with {pattern.format(split='{train,valid,test}')} (Mikolov's simple-examples/data)"
    if not root.exists():
        raise UserError(f"data.root {root} does not exist", f"data.root must be {layout}")
    for folder in (root, root / "data", root / "simple-examples" / "data"):
        if all((folder / pattern.format(split=s)).is_file() for s in _PTB_SPLIT_NAMES.values()):
            return folder
    raise UserError(f"no {pattern.format(split='*')} files in {root}", f"data.root must be {layout}")


def ptb_char_line(line: str) -> str:
    """'a e r _ b a n k n o t e' -> 'aer banknote': symbols are space-separated, '_' is the
    space between words."""
    return "".join(line.split()).replace("_", " ")


def ptb_word_line(line: str) -> str:
    """' aer banknote berlitz ' -> 'aer banknote berlitz' (words, <unk> and N kept as written)."""
    return " ".join(line.split())


def _read_ptb(cfg: DictConfig, level: str) -> TextCorpus:
    if not cfg.get("root"):
        raise UserError(f"data=ptb_{level} needs data.root", "add data.root=DIR (Mikolov's simple-examples/data)")
    folder = _ptb_folder(_expand(cfg.root), level)
    convert = ptb_char_line if level == "char" else ptb_word_line
    texts = {}
    for split, file_split in _PTB_SPLIT_NAMES.items():
        path = folder / PTB_FILES[level].format(split=file_split)
        lines = _decode(path.read_bytes(), path).splitlines()
        # a sentence per line: the newline is a symbol the model predicts (end of sentence)
        texts[split] = "".join(convert(line) + "\n" for line in lines if line.strip())
    return TextCorpus.from_splits(f"ptb_{level}", "char", texts)


@register_data("ptb_char")
def ptb_char(cfg: DictConfig) -> TextCorpus:
    """Penn Treebank, character level (ptb.char.{train,valid,test}.txt in data.root)."""
    return _read_ptb(cfg, "char")


@register_data("ptb_word")
def ptb_word(cfg: DictConfig) -> TextCorpus:
    """Penn Treebank word files (ptb.{train,valid,test}.txt in data.root), modelled as characters."""
    return _read_ptb(cfg, "word")
