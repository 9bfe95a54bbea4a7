"""Image-caption files in their standard formats, read into {image id: [captions]}:

    COCO captions (captions_train2014.json)   {"images": [{"id", "file_name"}], "annotations": [{"image_id", "id", "caption"}]}
    Flickr30k token file (results_20130124.token)   "1000092795.jpg#0<TAB>Two young guys with shaggy hair ..." per line
    Karpathy's split files (dataset_flickr30k.json, dataset_coco.json)
        {"images": [{"filename", "split": "train"|"val"|"test"|"restval", "sentences": [{"raw"}]}]}

Flickr30k images are named <id>.jpg, so the numeric file stem is the image id; COCO ids are the
`id` of its `images` list. Captions keep their order in the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from paperlab.errors import UserError

COCO_LAYOUT = '{"images": [{"id": int, "file_name": str}], "annotations": [{"image_id": int, "caption": str}]}'
TOKEN_LAYOUT = "lines '<image file>#<k><TAB><caption>' (Flickr30k's results_20130124.token)"
KARPATHY_LAYOUT = '{"images": [{"filename": str, "split": str, "sentences": [{"raw": str}]}]} (dataset_<name>.json)'


def _load_json(path: Path, layout: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"caption file {path} does not exist", f"expected {layout}") from None
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read caption file {path} ({err})", f"expected {layout}") from None


def read_coco_captions(path: Path) -> dict[int, list[str]]:
    """A COCO captions file -> {image id: captions} (images without captions are left out)."""
    raw = _load_json(path, COCO_LAYOUT)
    try:
        out: dict[int, list[str]] = {}
        for a in raw["annotations"]:
            out.setdefault(int(a["image_id"]), []).append(str(a["caption"]).strip())
        return out
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"{path} is not a COCO captions file (missing {err})", f"expected {COCO_LAYOUT}") from None


def image_id_from_name(name: str) -> int:
    """'1000092795.jpg' -> 1000092795; 'COCO_val2014_000000391895.jpg' -> 391895."""
    stem = Path(name).stem
    digits = stem.rsplit("_", 1)[-1]
    if not digits.isdigit():
        raise ValueError(f"image file name {name} has no numeric id")
    return int(digits)


def read_flickr_tokens(path: Path) -> dict[int, list[str]]:
    """Flickr30k's token file -> {image id: captions}."""
    out: dict[int, list[str]] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(f"caption file {path} does not exist", f"expected {TOKEN_LAYOUT}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            key, caption = line.split("\t", 1)
            out.setdefault(image_id_from_name(key.split("#", 1)[0]), []).append(caption.strip())
        except ValueError:
            raise UserError(f"{path}, line {n} is not '<image>#<k><TAB><caption>': {line[:60]!r}",
                            f"expected {TOKEN_LAYOUT}") from None
    return out


def read_karpathy_split(path: Path) -> tuple[dict[int, list[str]], dict[int, str]]:
    """Karpathy's split file -> ({image id: captions}, {image id: split}); "restval" counts as train."""
    raw = _load_json(path, KARPATHY_LAYOUT)
    captions: dict[int, list[str]] = {}
    splits: dict[int, str] = {}
    try:
        for im in raw["images"]:
            i = image_id_from_name(im["filename"]) if "cocoid" not in im else int(im["cocoid"])
            captions[i] = [str(s["raw"]).strip() for s in im["sentences"]]
            splits[i] = "train" if im["split"] == "restval" else str(im["split"])
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"{path} is not a Karpathy split file ({err})", f"expected {KARPATHY_LAYOUT}") from None
    return captions, splits
