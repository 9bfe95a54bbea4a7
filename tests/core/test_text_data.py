"""Text corpora (Graves 2013 Sec. 3): each loader on a fixture written in its real on-disk format,
the truncated-BPTT layouts, and the compressor baselines."""

from __future__ import annotations

import bz2
import logging
import lzma
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import write_ptb
from omegaconf import OmegaConf

from paperlab.config import conf_dir
from paperlab.data import build_data
from paperlab.data.text import SymbolVocab, split_records
from paperlab.errors import UserError
from paperlab.papers.graves.text.bptt import EvalStreams, SegmentStreams
from paperlab.papers.graves.text.compressors import compressor_bpc


def data_cfg(name: str, **kw: object):
    return OmegaConf.merge(OmegaConf.load(conf_dir() / "data" / f"{name}.yaml"), kw)


# -- vocabulary -------------------------------------------------------------------------------------
def test_vocab_round_trips_characters_and_bytes() -> None:
    text = "naïve café, 1€\n"
    chars = SymbolVocab.build("char", text)
    assert chars.decode(chars.encode(text)) == text and len(chars) == len(set(text))
    raw = text.encode("utf-8")
    octets = SymbolVocab.build("byte", raw)
    ids = octets.encode(raw)
    assert len(ids) == len(raw) and octets.decode(ids) == text
    # streamed one byte at a time, a multi-byte character appears once it is complete
    dec = octets.decoder()
    pieces = [dec.feed(int(i)) for i in ids]
    assert "".join(pieces) == text and "" in pieces
    assert chars.unknown("nay!") == ["'!'", "'y'"]
    assert chars.encode("n?a", skip_unknown=True).tolist() == chars.encode("na").tolist()
    with pytest.raises(ValueError):
        chars.encode("zzz")


# -- data=text ------------------------------------------------------------------------------------------
def test_text_file_and_folder_split_contiguously(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("0123456789" * 10)
    (tmp_path / "a.txt").write_text("abcdefghij" * 10)
    corpus = build_data(data_cfg("text", path=str(tmp_path)))
    whole = "abcdefghij" * 10 + "0123456789" * 10  # files in sorted order
    assert corpus.texts == {"train": whole[:180], "val": whole[180:190], "test": whole[190:]}
    assert corpus.vocab.decode(corpus.ids["train"]) == whole[:180]
    one = build_data(data_cfg("text", path=str(tmp_path / "a.txt"), split=[0.5, 0.3, 0.2]))
    assert [len(one.texts[s]) for s in ("train", "val", "test")] == [50, 30, 20]


@pytest.mark.parametrize("case", ["missing", "empty_file", "empty_folder", "bad_split", "not_utf8"])
def test_text_bad_input_is_a_user_error(tmp_path: Path, case: str) -> None:
    path, kw = tmp_path / "corpus.txt", {}
    if case == "empty_file":
        path.write_text("")
    elif case == "empty_folder":
        path = tmp_path / "folder"
        path.mkdir()
    elif case == "bad_split":
        path.write_text("hello world")
        kw = {"split": [0.5, 0.6, 0.1]}
    elif case == "not_utf8":
        path.write_bytes(b"caf\xe9")
    with pytest.raises(UserError) as err:
        build_data(data_cfg("text", path=str(path), **kw))
    needle = {"missing": "does not exist", "empty_file": "is empty", "empty_folder": "holds no files",
              "bad_split": "three fractions", "not_utf8": "data.unit=byte"}[case]
    assert needle in str(err.value)
    if case == "not_utf8":  # ... and read as bytes it loads
        assert build_data(data_cfg("text", path=str(path), unit="byte")).vocab.unit == "byte"


# -- data=fortunes (fortune(6) files: records separated by lines holding '%') ---------------------
def test_fortunes_records_are_split_by_hash_whole_and_once(tmp_path: Path) -> None:
    records = [f"Saying number {i}.\n\t\t-- Author {i % 7}" for i in range(200)]
    (tmp_path / "wisdom").write_text("\n%\n".join(records[:120]) + "\n%\n")
    (tmp_path / "people").write_text("\n%\n".join(records[120:] + [records[5]]) + "\n")  # a duplicate
    corpus = build_data(data_cfg("fortunes", root=str(tmp_path), files=["people", "wisdom"], holdout=10))
    parts = {s: [r for r in t.split("\n%\n") if r] for s, t in corpus.texts.items()}
    assert sorted(parts["train"] + parts["val"] + parts["test"]) == sorted(records + [records[5]])
    assert 5 <= len(parts["test"]) <= 40 and 5 <= len(parts["val"]) <= 40
    home = [s for s in parts if records[5] in parts[s]]
    assert len(home) == 1 and parts[home[0]].count(records[5]) == 2  # duplicates stay together
    assert parts["train"][:3] == [r for r in records[120:] if r in parts["train"]][:3]  # file order kept
    assert split_records(records, 10, "\n") == split_records(records, 10, "\n")  # deterministic


def test_fortunes_missing_file_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "wisdom").write_text("A.\n%\nB.\n")
    with pytest.raises(UserError, match="fortune file .*nothere is missing"):
        build_data(data_cfg("fortunes", root=str(tmp_path), files=["wisdom", "nothere"]))


def test_fortunes_fall_back_to_python_docs_when_not_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    import paperlab.data.text as text

    monkeypatch.setattr(text, "DEBIAN_FORTUNES", tmp_path / "absent")
    with caplog.at_level(logging.WARNING):
        corpus = build_data(data_cfg("fortunes"))
    assert corpus.name == "python_docs" and "apt-get install fortunes" in caplog.text


def test_python_docs_is_always_there() -> None:
    corpus = build_data(data_cfg("python_docs"))
    assert len(corpus.texts["train"]) > 300_000 and "class" in corpus.texts["train"]


# -- data=enwik8 (the raw 100 MB file, or enwik8.zip) ----------------------------------------------------
@pytest.fixture
def enwik8_root(tmp_path: Path) -> tuple[Path, bytes]:
    raw = bytes((i * 7 + i // 13) % 256 for i in range(10_000))
    (tmp_path / "enwik8").write_bytes(raw)
    return tmp_path, raw


def test_enwik8_paper_and_standard_splits(enwik8_root: tuple[Path, bytes], caplog: pytest.LogCaptureFixture) -> None:
    root, raw = enwik8_root
    with caplog.at_level(logging.WARNING):
        paper = build_data(data_cfg("enwik8", root=str(root)))
    assert "not the 100,000,000" in caplog.text
    assert paper.texts == {"train": raw[:9600], "val": raw[9600:], "test": b""} and "test" not in paper.ids
    assert paper.vocab.unit == "byte" and len(paper.vocab) == len(set(raw))
    std = build_data(data_cfg("enwik8", root=str(root), split="standard"))
    assert [len(std.texts[s]) for s in ("train", "val", "test")] == [9000, 500, 500]
    assert bytes(std.vocab.symbols[i] for i in std.ids["test"].tolist()) == raw[9500:]


def test_enwik8_from_the_zip(tmp_path: Path) -> None:
    raw = b"<mediawiki>" + bytes(range(256)) * 4
    with zipfile.ZipFile(tmp_path / "enwik8.zip", "w") as z:
        z.writestr("enwik8", raw)
    corpus = build_data(data_cfg("enwik8", root=str(tmp_path), split="standard"))
    assert corpus.texts["train"] + corpus.texts["val"] + corpus.texts["test"] == raw


def test_enwik8_missing_is_a_user_error_naming_the_layout(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"holding enwik8 \(the 100,000,000-byte file\) or enwik8\.zip"):
        build_data(data_cfg("enwik8", root=str(tmp_path)))
    with pytest.raises(UserError, match="unknown enwik8 split"):
        (tmp_path / "enwik8").write_bytes(b"x" * 100)
        build_data(data_cfg("enwik8", root=str(tmp_path), split="huge"))


# -- data=ptb_char / ptb_word (Mikolov's simple-examples/data files: conftest.write_ptb) ------------------
def test_ptb_char_and_word_files(tmp_path: Path) -> None:
    write_ptb(tmp_path)
    char = build_data(data_cfg("ptb_char", root=str(tmp_path)))
    assert char.texts["train"] == "aer banknote berlitz <unk>\npierre N years old\n"
    assert char.texts["val"] == "consumers may want\n" and char.texts["test"] == "no it was n't black monday\n"
    word = build_data(data_cfg("ptb_word", root=str(tmp_path / "simple-examples")))
    assert word.texts == char.texts
    assert char.vocab.decode(char.ids["test"]) == char.texts["test"]


def test_ptb_missing_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"ptb\.char\.\{train,valid,test\}\.txt"):
        build_data(data_cfg("ptb_char", root=str(tmp_path)))
    with pytest.raises(UserError, match="needs data.root"):
        build_data(data_cfg("ptb_word"))


# -- truncated-BPTT layouts --------------------------------------------------------------------------------
def test_segment_streams_serve_consecutive_segments_in_trainer_order() -> None:
    ids = torch.arange(1000)
    ds = SegmentStreams(ids, streams=4, seq_len=10)  # 249 inputs per stream -> 24 segments
    assert len(ds) == 4 * 24
    # batch k = items 4k..4k+3 = segment k of streams 0..3; segment k+1 continues each stream
    for k in range(3):
        for s in range(4):
            x, y, seg = ds[4 * k + s]
            nx, _, _ = ds[4 * (k + 1) + s]
            assert seg == k and torch.equal(y, x + 1) and int(nx[0]) == int(x[-1]) + 1
            assert int(x[0]) == s * 249 + k * 10


def test_eval_streams_predict_every_symbol_once() -> None:
    ids = torch.arange(103)
    for streams in (1, 4, 7):
        ds = EvalStreams(ids, streams)
        targets = torch.cat([ds[i][1][ds[i][2]] for i in range(len(ds))])
        inputs = torch.cat([ds[i][0][ds[i][2]] for i in range(len(ds))])
        assert torch.equal(targets, ids[1:]) and torch.equal(inputs, ids[:-1])


# -- compressors --------------------------------------------------------------------------------------------
def test_compressor_bpc_is_the_command_line_tools_and_marginal_is_a_difference() -> None:
    train = "The quick brown fox jumps over the lazy dog. " * 40
    test = "The lazy dog sleeps; the quick fox runs off. " * 8
    assert compressor_bpc("xz", test) == 8 * len(lzma.compress(test.encode(), preset=9 | lzma.PRESET_EXTREME)) / len(test)
    assert compressor_bpc("bzip2", test) == 8 * len(bz2.compress(test.encode(), 9)) / len(test)
    given = compressor_bpc("xz", test, given=train)
    xz = lambda b: len(lzma.compress(b, preset=9 | lzma.PRESET_EXTREME))  # noqa: E731
    assert given == 8 * (xz((train + test).encode()) - xz(train.encode())) / len(test)
    assert given < compressor_bpc("xz", test)  # the training text helps
    for tool, args, name in (("xz", ["-9e", "-c"], "xz"), ("bzip2", ["-9", "-c"], "bzip2")):
        if shutil.which(tool):
            out = subprocess.run([tool, *args], input=test.encode(), capture_output=True, check=True).stdout
            assert compressor_bpc(name, test) == 8 * len(out) / len(test), tool
    with pytest.raises(UserError, match="unknown compressor"):
        compressor_bpc("zip", test)
