"""Handwriting data: the stroke format, the IAM-OnDB loader on a fixture written in its real
layout (lineStrokes XML, ascii CSR transcriptions, split files), and the embedded Hershey corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import build_in_cache
from omegaconf import OmegaConf

from paperlab.config import conf_dir
from paperlab.errors import UserError
from paperlab.papers.graves.handwriting.hershey import HersheyCorpusConfig, generate_corpus
from paperlab.papers.graves.handwriting.iam_ondb import (
    preprocess,
    read_line_strokes,
    read_transcription,
)
from paperlab.papers.graves.handwriting.strokes import (
    Alphabet,
    OffsetStats,
    StrokeDataset,
    StrokeSet,
    offsets_to_strokes,
    strokes_to_offsets,
)

XML = """<?xml version="1.0" encoding="ISO-8859-1"?>
<WhiteboardCaptureSession>
  <WhiteboardDescription>
    <SensorLocation corner="top_left"/>
    <DiagonallyOppositeCoords x="6512" y="1376"/>
    <VerticallyOppositeCoords x="966" y="1376"/>
    <HorizontallyOppositeCoords x="6512" y="787"/>
  </WhiteboardDescription>
  <StrokeSet>
{strokes}
  </StrokeSet>
</WhiteboardCaptureSession>
"""

ASCII = """Data Sets: IAM-OnDB
Writer: 10000
OCR:

{ocr}

CSR:

{csr}
"""


def write_line(path: Path, strokes: list[list[tuple[int, int]]]) -> None:
    body = []
    t = 100.0
    for s in strokes:
        body.append(f'    <Stroke colour="black" start_time="{t:.2f}" end_time="{t + 0.5:.2f}">')
        for x, y in s:
            body.append(f'      <Point x="{x}" y="{y}" time="{t:.2f}"/>')
            t += 0.01
        body.append("    </Stroke>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(XML.format(strokes="\n".join(body)), encoding="latin-1")


def make_iam_ondb(root: Path) -> Path:
    """Three forms (train, val, test), two lines each, in IAM-OnDB's layout. In form a01-000u
    line 2 has a pen glitch (a 5000-unit jump) and b02-001 line 2 a character outside the alphabet."""
    forms = {"a01-000u": ("trainset", ["hello world", "a glitchy line"]),
             "a01-000x": ("testset_v", ["two words", "more text"]),
             "b02-001": ("testset_f", ["the end", "euro \x80 sign"])}
    rng = np.random.default_rng(0)
    for form, (_, lines) in forms.items():
        writer, num = form.split("-")[0], form.split("-")[1][:3]
        folder = Path(writer) / f"{writer}-{num}"
        for i, _text in enumerate(lines, start=1):
            strokes = []
            x = 1000
            for _ in range(3):
                pts = [(x + 10 * k, 1200 - int(40 * np.sin(k / 2)) + int(rng.integers(3))) for k in range(8)]
                strokes.append(pts)
                x += 120
            if form == "a01-000u" and i == 2:
                strokes.append([(x + 5000, 1200), (x + 5010, 1210)])
            write_line(root / "lineStrokes" / folder / f"{form}-{i:02d}.xml", strokes)
        csr = "\n".join(lines)
        (root / "ascii" / folder).mkdir(parents=True, exist_ok=True)
        (root / "ascii" / folder / f"{form}.txt").write_text(ASCII.format(ocr=csr, csr=csr), encoding="latin-1")
    for name in ("trainset", "testset_v", "testset_t", "testset_f"):
        ids = [f for f, (split, _) in forms.items() if split == name]
        (root / f"{name}.txt").write_text("".join(f"{i}\n" for i in ids))
    return root


def iam_cfg(root: Path, **kw):
    base = OmegaConf.load(conf_dir() / "data" / "iam_ondb.yaml")
    return OmegaConf.merge(base, {"root": str(root), "num_styles": 2, **kw})


def test_offsets_roundtrip_and_end_of_stroke_flags() -> None:
    strokes = [np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 2.0]]), np.array([[5.0, 5.0], [6.0, 4.0]])]
    off = strokes_to_offsets(strokes)
    assert off.shape == (5, 3) and off[:, 2].tolist() == [0, 0, 1, 0, 1]
    np.testing.assert_allclose(off[3, :2], [2.0, 3.0])  # the pen-up jump
    back = offsets_to_strokes(off)
    assert len(back) == 2 and all(np.allclose(a, b) for a, b in zip(back, strokes, strict=True))


def test_iam_ondb_reader_parses_xml_and_transcriptions(tmp_path: Path) -> None:
    root = make_iam_ondb(tmp_path / "iam")
    strokes = read_line_strokes(root / "lineStrokes/a01/a01-000/a01-000u-01.xml")
    assert len(strokes) == 3 and strokes[0].shape == (8, 2) and strokes[0][0, 0] == 1000
    assert read_transcription(root / "ascii/a01/a01-000/a01-000u.txt") == ["hello world", "a glitchy line"]
    off = preprocess(strokes, smoothing=0.0, skew=False)
    assert off.shape == (24, 3) and off[:, 2].sum() == 3 and np.allclose(off[0, :2], 0)
    # y is flipped: the tablet's y grows downward
    np.testing.assert_allclose(np.cumsum(off[:8, 1]), -(strokes[0][:, 1] - strokes[0][0, 1]))


def test_iam_ondb_loader_splits_filters_and_caches(tmp_path: Path) -> None:
    root = make_iam_ondb(tmp_path / "iam")
    cfg = iam_cfg(root)
    data = build_in_cache(cfg, tmp_path / "cache")
    texts = {split: sorted(ds.data.text) for split, ds in data.splits.items()}
    # Graves Sec. 4: trainset + testset_t + testset_f train, testset_v validates; the glitchy line
    # and the line with a character outside the alphabet are dropped
    assert texts == {"train": ["hello world", "the end"], "val": ["more text", "two words"]}
    assert len(list((tmp_path / "cache" / "handwriting").glob("iam_ondb-*.h5"))) == 1
    again = build_in_cache(cfg, tmp_path / "cache")
    assert sorted(again.splits["train"].data.text) == texts["train"]
    item = data.splits["train"][0]
    assert item["strokes"].shape[1] == 3 and torch.equal(item["strokes"][0], torch.zeros(3))
    assert data.styles and data.styles[0]["text"] in texts["val"]


def test_iam_ondb_missing_root_names_the_layout(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="lineStrokes"):
        build_in_cache(iam_cfg(tmp_path / "nowhere"), tmp_path / "cache")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="original layout"):
        build_in_cache(iam_cfg(tmp_path / "empty"), tmp_path / "cache")
    with pytest.raises(UserError, match="needs data.root"):
        build_in_cache(OmegaConf.merge(iam_cfg(tmp_path), {"root": None}), tmp_path / "cache")


def test_stroke_set_hdf5_roundtrip(tmp_path: Path) -> None:
    data = StrokeSet(attrs={"source": "x"})
    data.append(np.arange(12, dtype=np.float32).reshape(4, 3), "ab", 3, "train")
    data.append(np.ones((2, 3), np.float32), "c d", 4, "val")
    back = StrokeSet.load(data.save(tmp_path / "s.h5"))
    assert back.text == ["ab", "c d"] and back.writer == [3, 4] and back.split == ["train", "val"]
    assert back.attrs == {"source": "x"} and np.array_equal(back.offsets[0], data.offsets[0])


def test_hershey_corpus_is_deterministic_and_has_distinct_writers() -> None:
    cfg = HersheyCorpusConfig(num_lines=24, num_writers=4, seed=3)
    a, b = generate_corpus(cfg), generate_corpus(cfg)
    assert a.text == b.text and all(np.array_equal(x, y) for x, y in zip(a.offsets, b.offsets, strict=True))
    assert all(8 <= len(t) <= 40 for t in a.text) and set(a.writer) == {0, 1, 2, 3}
    assert set(a.split) == {"train", "val", "test"}
    alphabet = Alphabet(" !\"'(),-.0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    assert not any(alphabet.unknown(t) for t in a.text)
    for off, text in zip(a.offsets, a.text, strict=True):
        assert off.dtype == np.float32 and off[-1, 2] == 1 and 4 < len(off) / len(text) < 25
    slants = {round(w["slant"], 3) for w in a.attrs["writers"]}
    assert len(slants) == 4
    assert generate_corpus(HersheyCorpusConfig(num_lines=24, num_writers=4, seed=4)).text != a.text


def test_hershey_builder_caches_and_normalises(tmp_path: Path) -> None:
    cfg = OmegaConf.load(conf_dir() / "data" / "hershey_handwriting.yaml")
    cfg = OmegaConf.merge(cfg, {"num_lines": 60, "num_styles": 3})
    data = build_in_cache(cfg, tmp_path)
    assert len(list((tmp_path / "handwriting").glob("hershey-*.h5"))) == 1
    train = data.splits["train"]
    xy = torch.cat([s[1:, :2] for s in train.strokes])
    assert torch.allclose(xy.mean(0), torch.zeros(2), atol=1e-4) and torch.allclose(xy.std(0), torch.ones(2), atol=1e-2)
    assert len(data.styles) == 3 and len({s["writer"] for s in data.styles}) == 3


def test_length_buckets_keep_batches_tight_and_reshuffle_by_epoch() -> None:
    rng = np.random.default_rng(0)
    data = StrokeSet()
    for _ in range(200):
        data.append(rng.normal(size=(int(rng.integers(10, 400)), 3)).astype(np.float32), "ab", 0, "train")
    ds = StrokeDataset(data, Alphabet("ab"), OffsetStats((0.0, 0.0), (1.0, 1.0)))
    ds.bucket(8, seed=0)
    lengths = [len(ds[i]["strokes"]) for i in range(len(ds))]
    padded = sum(max(lengths[i : i + 8]) * len(lengths[i : i + 8]) for i in range(0, 200, 8))
    assert padded < 1.15 * sum(lengths) and sorted(lengths) == sorted(len(o) for o in data.offsets)
    first = list(ds.order)
    ds.set_epoch(1)
    assert ds.order != first
    ds.set_epoch(0)
    assert ds.order == first
    batch = StrokeDataset.collate_fn([ds[0], ds[1]])
    assert batch["strokes"].shape[0] == 2 and batch["stroke_mask"].sum() == len(ds[0]["strokes"]) + len(ds[1]["strokes"])
    assert (batch["text"] >= 0).equal(batch["text_mask"])


def test_the_paper_recipe_trains_on_iam_ondb(tmp_path: Path) -> None:
    """experiment=graves_synthesis_iam composes with the IAM-OnDB fixture and takes a training step."""
    from paperlab.launch import composed
    from paperlab.learners import LEARNERS

    root = make_iam_ondb(tmp_path / "iam")
    overrides = ["experiment=graves_synthesis_iam", f"data.root={root}", f"paths.cache={tmp_path / 'cache'}",
                 "model.hidden_size=8", "trainer.batch_size=2"]
    with composed("train", overrides) as cfg:
        learner = LEARNERS.get(cfg.learner)(cfg)
    assert cfg.model.num_layers == 3 and cfg.optim.lr == 1e-4 and learner.data.source == "iam_ondb"
    batch = StrokeDataset.collate_fn([learner.datasets()["train"][i] for i in range(2)])
    loss, logs = learner.training_step(learner.model, batch)
    loss.backward()
    assert torch.isfinite(loss) and learner.model.cell.weight_hh.grad.abs().sum() > 0
