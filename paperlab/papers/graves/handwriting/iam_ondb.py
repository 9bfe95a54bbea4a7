"""IAM On-Line Handwriting Database (Liwicki & Bunke 2005), the data of Graves 2013 Sec. 4-5,
read from its original on-disk layout:

    <root>/lineStrokes/a01/a01-000/a01-000u-01.xml   one text line's pen trajectory (WhiteboardCaptureSession XML:
                                                      StrokeSet/Stroke/Point with x, y, time)
    <root>/ascii/a01/a01-000/a01-000u.txt            the form's transcription: the lines after "CSR:"
    <root>/trainset.txt, testset_v.txt, testset_t.txt, testset_f.txt   the split files (form ids such
                                                      as a01-000u; also found under <root>/task1/)

Line i of a form's CSR section is the text of <form>-<i:02d>.xml. Preprocessing (the usual one of
reference implementations; Graves Sec. 4 only says the offsets were normalised): flip y (the
tablet's y points down), remove the baseline skew (de-skew) and optionally the slant (de-slant),
start at the origin, light smoothing, then drop outlier lines (pen glitches: an offset far longer
than the corpus's typical step; too many points) and lines with characters outside the alphabet.
Graves trains on trainset + testset_t + testset_f and stops early on testset_v (Sec. 4: "we used
the training set, test set and the larger of the validation sets for training and the smaller
validation set for early-stopping"). The result is cached as HDF5 in the shared stroke format.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from paperlab.data import register_data
from paperlab.errors import UserError
from paperlab.papers.graves.handwriting.strokes import (
    HandwritingData,
    StrokeSet,
    build_handwriting_data,
    cached,
    deskew,
    deslant,
    drop_outliers,
    smooth_stroke,
    strokes_to_offsets,
)
from paperlab.paths import cache_dir

log = logging.getLogger(__name__)

SPLIT_FILES = ("trainset.txt", "testset_v.txt", "testset_t.txt", "testset_f.txt")
LAYOUT = ("<root>/lineStrokes/<a01>/<a01-000>/<a01-000u-01>.xml, <root>/ascii/<a01>/<a01-000>/<a01-000u>.txt "
          "and the split files trainset.txt, testset_v.txt, testset_t.txt, testset_f.txt (in <root> or <root>/task1)")
_FORM_ID = re.compile(r"^([a-z]\d\d)-(\d\d\d)[a-z]?$")


def read_line_strokes(path: str | Path) -> list[np.ndarray]:
    """The strokes of one lineStrokes XML file: a list of (n, 2) arrays of (x, y) tablet points."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise UserError(f"{path} is not valid IAM-OnDB XML ({err})", "re-extract lineStrokes-all.tar.gz") from None
    strokes = []
    for stroke in root.iter("Stroke"):
        pts = [(float(p.get("x")), float(p.get("y"))) for p in stroke.iter("Point")]
        if pts:
            strokes.append(np.array(pts))
    return strokes


def read_transcription(path: str | Path) -> list[str]:
    """The text lines of an ascii/ file: the non-empty lines after "CSR:"."""
    text = Path(path).read_text(encoding="latin-1")
    if "CSR:" not in text:
        raise UserError(f"{path} has no CSR: section", "give the ascii/ folder of IAM-OnDB (ascii-all.tar.gz)")
    return [line.strip() for line in text.split("CSR:", 1)[1].splitlines() if line.strip()]


def form_folder(form_id: str) -> Path:
    """a01-000u -> a01/a01-000 (where the form's files live under lineStrokes/ and ascii/)."""
    m = _FORM_ID.match(form_id)
    if not m:
        raise UserError(f"'{form_id}' in a split file is not an IAM-OnDB form id (like a01-000u)",
                        "check the split files")
    return Path(m.group(1)) / f"{m.group(1)}-{m.group(2)}"


def preprocess(strokes: list[np.ndarray], smoothing: float = 0.25, skew: bool = True,
               slant: bool = False) -> np.ndarray:
    """Tablet strokes -> (T, 3) offsets: flip y, de-skew, de-slant, origin at the first point, smooth."""
    strokes = [np.column_stack([s[:, 0], -s[:, 1]]) for s in strokes]
    if skew:
        strokes = deskew(strokes)
    if slant:
        strokes = deslant(strokes)
    start = strokes[0][0].copy()
    return strokes_to_offsets([smooth_stroke(s - start, smoothing) for s in strokes])


def find_split_files(root: Path) -> Path | None:
    for folder in (root, root / "task1"):
        if all((folder / f).is_file() for f in SPLIT_FILES):
            return folder
    return None


def load_iam_ondb(root: Path, cfg: DictConfig) -> StrokeSet:
    """Read, preprocess and filter every line of the forms the split files name."""
    splits_dir = find_split_files(root)
    if not (root / "lineStrokes").is_dir() or not (root / "ascii").is_dir() or splits_dir is None:
        raise UserError(f"{root} does not hold IAM-OnDB in its original layout", f"expected {LAYOUT}")
    roles = {"train": list(cfg.train_sets), "val": list(cfg.val_sets), "test": list(cfg.get("test_sets") or [])}
    alphabet = set(cfg.alphabet)
    data = StrokeSet(attrs={"source": "iam_ondb", "root": str(root)})
    writers: dict[str, int] = {}
    skipped = {"missing": 0, "alphabet": 0}
    for split, names in roles.items():
        for name in names:
            forms = [f.strip() for f in (splits_dir / f"{name}.txt").read_text().split() if f.strip()]
            for form in forms:
                folder = form_folder(form)
                ascii_file = root / "ascii" / folder / f"{form}.txt"
                if not ascii_file.is_file():
                    skipped["missing"] += 1
                    continue
                for i, text in enumerate(read_transcription(ascii_file), start=1):
                    xml = root / "lineStrokes" / folder / f"{form}-{i:02d}.xml"
                    if not xml.is_file():
                        skipped["missing"] += 1
                        continue
                    if not set(text) <= alphabet:
                        skipped["alphabet"] += 1
                        continue
                    strokes = read_line_strokes(xml)
                    if strokes:
                        offsets = preprocess(strokes, float(cfg.smoothing), bool(cfg.deskew), bool(cfg.deslant))
                        data.append(offsets, text, writers.setdefault(form, len(writers)), split)
    if not len(data):
        raise UserError(f"no IAM-OnDB lines could be read under {root}", f"expected {LAYOUT}")
    steps = np.concatenate([np.hypot(o[1:, 0], o[1:, 1])[o[:-1, 2] < 0.5] for o in data.offsets])
    typical = float(np.median(steps)) if len(steps) else 1.0
    data, dropped = drop_outliers(data, float(cfg.max_offset) * typical, int(cfg.max_points))
    log.info("IAM-OnDB: %d lines (%d dropped as outliers, %d with other characters, %d missing files)",
             len(data), dropped, skipped["alphabet"], skipped["missing"])
    return data


@register_data("iam_ondb")
def build(cfg: DictConfig) -> HandwritingData:
    if not cfg.get("root"):
        raise UserError("data=iam_ondb needs data.root", f"add data.root=DIR with {LAYOUT}")
    root = Path(cfg.root).expanduser().resolve()
    if not root.is_dir():
        raise UserError(f"data.root {root} does not exist", f"give a folder with {LAYOUT}")
    settings = OmegaConf.to_container(cfg, resolve=True)
    key = hashlib.sha1(json.dumps({**settings, "root": str(root)}, sort_keys=True, default=str).encode()).hexdigest()[:12]
    cache = cache_dir("handwriting")
    data = cached(cache / f"iam_ondb-{key}.h5", lambda: load_iam_ondb(root, cfg))
    return build_handwriting_data(data, str(cfg.alphabet), "iam_ondb", int(cfg.get("num_styles", 8)))
