"""The online handwriting recogniser (BLSTM-CTC) and `paperlab legibility`, which reads the
synthesis network's samples back: scores against hand computations, CTC decoding, padding
invariance, a recogniser that learns to read, and the command on tiny models (once through the
command line, the other settings and bad inputs in process on the config it composes)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import raises_user_error, run_cli, task_config

from paperlab.engine.restore import load_model
from paperlab.models import create_model
from paperlab.papers.graves.handwriting.hershey import HersheyCorpusConfig, generate_corpus
from paperlab.papers.graves.handwriting.reading import Reader, legibility_scores
from paperlab.papers.graves.handwriting.recognizer import greedy_decode, reversal_index
from paperlab.papers.graves.handwriting.recognizer_learner import ctc_loss
from paperlab.papers.graves.handwriting.strokes import (
    DEFAULT_ALPHABET,
    Alphabet,
    OffsetStats,
    StrokeDataset,
)


def test_scores_against_a_hand_computation() -> None:
    asked = ["the cat sat", "on a mat"]
    read = ["the cut sat", "on mat"]
    s = legibility_scores(asked, read)
    # characters: 1 substitution + 2 deletions ("a ") over 11 + 8 characters
    assert s["cer"] == pytest.approx(3 / 19)
    # words: "cat" -> "cut" (1) and "a" missing (1) over 3 + 3 words; found in order: 2 + 2 of 6
    assert s["wer"] == pytest.approx(2 / 6)
    assert s["words_in_order"] == pytest.approx(4 / 6)
    assert s["lines_exact"] == 0.0
    # "cut" for "cat" is one letter of three: the word is there; the dropped "a" is a missing word
    assert s["lines_all_words"] == 0.5
    assert legibility_scores(asked, asked) == {"cer": 0.0, "wer": 0.0, "words_in_order": 1.0, "lines_exact": 1.0,
                                               "lines_all_words": 1.0}
    # swapped words: every word is there, but not in order
    assert legibility_scores(["a b c"], ["c b a"])["words_in_order"] == pytest.approx(1 / 3)


def test_every_word_read_allows_one_slip_a_word_and_ignores_spacing() -> None:
    from paperlab.papers.graves.handwriting.reading import all_words_read

    asked = "the cat sat down"
    assert all_words_read(asked, "thecat sat down")  # run together: both words are there
    assert all_words_read(asked, "the ct sat dovn")  # one letter wrong in each of two words
    assert all_words_read(asked, "the cat sat downn")  # an extra letter at the end: the last word's slip
    assert not all_words_read(asked, "the sat down")  # "cat" missing
    assert not all_words_read(asked, "the cxx sat down")  # two letters of "cat" wrong
    assert not all_words_read("on a mat", "on mat")  # a one-letter word dropped
    assert not all_words_read("to be", "to bo")  # half of a two-letter word is another word


def test_greedy_ctc_decoding_merges_repeats_and_drops_blanks() -> None:
    # classes per frame: a a _ a b b _ (a=1, b=2, blank=0), then padding frames that must be ignored
    frames = [1, 1, 0, 1, 2, 2, 0, 2, 2]
    log_probs = torch.log(torch.nn.functional.one_hot(torch.tensor(frames), 3).float() + 1e-6)[None]
    assert greedy_decode(log_probs, torch.tensor([7])) == [[0, 0, 1]]  # "aab" as alphabet indices


def test_reversal_index_reverses_each_line_within_its_length() -> None:
    idx = reversal_index(torch.tensor([3, 5]), 5)
    assert idx.tolist() == [[2, 1, 0, 3, 4], [4, 3, 2, 1, 0]]


def test_a_line_reads_the_same_alone_and_in_a_padded_batch() -> None:
    torch.manual_seed(0)
    net = create_model("handwriting_recognizer", alphabet_size=5, conv_channels=8, hidden_size=6).eval()
    short, long = torch.randn(1, 9, 3), torch.randn(1, 20, 3)
    batch = torch.cat([torch.cat([short, torch.randn(1, 11, 3)], 1), long])  # junk after the short line
    out, frames = net(batch, torch.tensor([9, 20]))
    alone, n = net(short, torch.tensor([9]))
    assert frames.tolist() == [5, 10] and n.tolist() == [5]
    torch.testing.assert_close(out[0, :5], alone[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out[1:], net(long, torch.tensor([20]))[0], atol=1e-5, rtol=1e-5)


def test_ctc_loss_matches_torch_on_the_recognisers_outputs() -> None:
    torch.manual_seed(0)
    net = create_model("handwriting_recognizer", alphabet_size=5, conv_channels=8, hidden_size=6)
    batch = StrokeDataset.collate_fn([{"strokes": torch.randn(12, 3), "text": torch.tensor([0, 1, 1])},
                                      {"strokes": torch.randn(7, 3), "text": torch.tensor([4])}])
    loss, log_probs, frames = ctc_loss(net, batch)
    for i, target in enumerate(([1, 2, 2], [5])):
        expected = torch.nn.functional.ctc_loss(log_probs[i : i + 1, : frames[i]].transpose(0, 1),
                                                torch.tensor([target]), frames[i : i + 1], torch.tensor([len(target)]),
                                                reduction="sum")
        torch.testing.assert_close(loss[i], expected)


def test_the_recogniser_learns_to_read_a_few_lines() -> None:
    """Trained on four Hershey lines, it reads them back (CER from ~1 to < 0.2): CTC, decoding and
    the reader's normalisation fit together."""
    torch.manual_seed(0)
    corpus = generate_corpus(HersheyCorpusConfig(num_lines=20, num_writers=2, min_chars=3, max_chars=6, seed=3))
    alphabet = Alphabet(DEFAULT_ALPHABET)
    stats = OffsetStats.fit(corpus.offsets)
    ds = StrokeDataset(corpus, alphabet, stats)
    net = create_model("handwriting_recognizer", alphabet_size=len(alphabet), conv_channels=32, hidden_size=48,
                       dropout=0.0)
    batch = StrokeDataset.collate_fn([{"strokes": ds.strokes[i], "text": ds.text[i]} for i in range(4)])
    reader = Reader(net, alphabet, stats, Path("tiny.pt"))
    assert legibility_scores(corpus.text[:4], reader.read(corpus.offsets[:4]))["cer"] > 0.8
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(450):
        loss = ctc_loss(net, batch)[0].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert legibility_scores(corpus.text[:4], reader.read(corpus.offsets[:4]))["cer"] < 0.2


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, dict[str, str]]:
    """A 20-step synthesis network and a 20-step recogniser, trained by `paperlab train` in process
    (the generated corpus in the module's own cache, $PAPERLAB_CACHE)."""
    from paperlab.tasks import train

    cwd = tmp_path_factory.mktemp("legibility")
    env = {"PAPERLAB_CACHE": str(cwd / "cache")}
    data = ["data.num_lines=60", "data.num_writers=4", "data.max_chars=14", "data.num_styles=2"]
    common = ["trainer.max_steps=20", "trainer.batch_size=4", "trainer.progress=false"]
    synthesis, reader = cwd / "synthesis", cwd / "reader"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAPERLAB_CACHE", env["PAPERLAB_CACHE"])
        train.run(task_config("train", ["experiment=graves_synthesis", "model.hidden_size=12", "model.num_layers=2",
                                        *data, *common, "optim.lr=0.001"]), run_dir=synthesis)
        train.run(task_config("train", ["experiment=handwriting_recognizer", "model.hidden_size=8",
                                        "model.conv_channels=8", *data, *common]), run_dir=reader)
    return cwd, synthesis, reader, env


@pytest.fixture
def legibility_run(tiny_models: tuple[Path, Path, Path, dict[str, str]], tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch):
    """`paperlab legibility checkpoint=SYNTHESIS reader=READER OVERRIDES` in process, in the tiny
    models' cache: run(*overrides, out=name) -> (run dir, results)."""
    from paperlab.papers.graves.handwriting import legibility

    _, synthesis, reader, env = tiny_models
    monkeypatch.setenv("PAPERLAB_CACHE", env["PAPERLAB_CACHE"])

    def run(*overrides: str, out: str = "run") -> tuple[Path, dict]:
        cfg = task_config("legibility", [f"checkpoint={synthesis}", f"reader={reader}", *overrides])
        return tmp_path / out, legibility.run(cfg, run_dir=tmp_path / out)

    return run


def test_legibility_command_end_to_end(tiny_models: tuple[Path, Path, Path, dict[str, str]], legibility_run,
                                       caplog: pytest.LogCaptureFixture) -> None:
    cwd, synthesis, reader, env = tiny_models
    r = run_cli("legibility", f"checkpoint={synthesis}", f"reader={reader}", "legibility.lines=3",
                "legibility.min_chars=5", "legibility.bias=[0,2]", "legibility.show=2", cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    (out,) = (cwd / "outputs" / "legibility" / "legibility").iterdir()
    results = json.loads((out / "results.json").read_text())
    assert results["lines"] == 3
    for prefix in ("real", "bias_0", "bias_2"):
        assert 0 <= results[f"{prefix}/words_in_order"] <= 1 and results[f"{prefix}/cer"] >= 0
    rows = [json.loads(line) for line in (out / "readings.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all({"text", "real", "bias 0", "bias 2"} <= set(row) for row in rows)
    assert all(len(row["text"]) >= 5 for row in rows)
    assert (out / "figures" / "samples_bias_0.png").is_file() and (out / "figures" / "samples_bias_2.png").is_file()
    # the validation split's lines instead: other texts, for choosing settings without seeing the test lines
    latest, _ = legibility_run("legibility.lines=3", "legibility.min_chars=5", "legibility.bias=[1]",
                               "legibility.split=val", out="val")
    assert json.loads((latest / "results.json").read_text())["split"] == "val" and results["split"] == "test"
    val_texts = {json.loads(line)["text"] for line in (latest / "readings.jsonl").read_text().splitlines()}
    assert val_texts and not val_texts & {row["text"] for row in rows}
    # given texts: no real lines to compare with
    latest, _ = legibility_run("legibility.texts=[ab cd]", "legibility.bias=[1]", out="texts")
    results = json.loads((latest / "results.json").read_text())
    assert results["lines"] == 1 and "real/cer" not in results and np.isfinite(results["bias_1/cer"])
    # best of 2, picked by a selector: the rates of the lines it kept
    with caplog.at_level(logging.WARNING):
        latest, _ = legibility_run(f"legibility.select={reader}", "legibility.best_of=2", "legibility.lines=2",
                                   "legibility.min_chars=5", "legibility.bias=[1]", out="best_of")
    assert any("flatter" in r.getMessage() for r in caplog.records)  # the selector also judges: said
    results = json.loads((latest / "results.json").read_text())
    assert results["best_of"] == 2 and results["select"] == results["reader"] and results["lines"] == 2


def test_legibility_bad_input(tiny_models: tuple[Path, Path, Path, dict[str, str]], tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    from paperlab.papers.graves.handwriting import legibility

    _, synthesis, reader, env = tiny_models
    monkeypatch.setenv("PAPERLAB_CACHE", env["PAPERLAB_CACHE"])
    cases = [([f"checkpoint={reader}", f"reader={reader}"], "not a 'handwriting' one"),
             ([f"checkpoint={synthesis}", f"reader={synthesis}"], "not a 'handwriting_recognition' one"),
             ([f"checkpoint={synthesis}", f"reader={reader}", "legibility.bias=[-1]"], "legibility.bias"),
             ([f"checkpoint={synthesis}", f"reader={reader}", "legibility.texts=[\"héllo\"]"], "'é'"),
             ([f"checkpoint={synthesis}", f"reader={reader}", "legibility.split=train"], "legibility.split=test or val")]
    for k, (overrides, needle) in enumerate(cases):
        with raises_user_error(needle):
            legibility.run(task_config("legibility", overrides), run_dir=tmp_path / str(k))


@pytest.mark.parametrize("name", ["handwriting_recognizer", "handwriting_judge"])
def test_the_shipped_readers_read_lines_they_never_saw(name: str) -> None:
    from paperlab.assets import shipped_info

    reader = Reader.of(load_model(name, "handwriting_recognition"))
    path = reader.path
    assert path.stat().st_size < 20e6 and "paperlab train" in shipped_info(name)["command"]
    corpus = generate_corpus(HersheyCorpusConfig(num_lines=20, num_writers=5, min_chars=15, max_chars=30, seed=7))
    assert legibility_scores(corpus.text, reader.read(corpus.offsets))["cer"] < 0.05
