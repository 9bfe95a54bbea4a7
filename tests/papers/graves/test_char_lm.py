"""The character-level LSTM language model (Graves 2013 Sec. 3): bits per character against a hand
computation, the LSTM state carried across truncated-BPTT segments (and across --resume),
dynamic evaluation on its own copy, weight noise, sampling, training and sampling in process, and
through the command line `sample-text` (streamed to stdout) and a killed and resumed run."""

from __future__ import annotations

import json
import math
import signal
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import raises_user_error, run_cli, task_config, write_ptb
from hydra import compose, initialize_config_dir

from paperlab.config import conf_dir
from paperlab.learners import LEARNERS
from paperlab.papers.graves.text.char_lm import CharLM, bits_per_char, encode_prime
from paperlab.papers.graves.text.char_lstm import generate
from paperlab.papers.graves.text.dynamic_eval import dynamic_evaluation

TEXT = ("the cat sat on the mat. the dog sat on the log. " * 30 + "a bat and a rat sat on a hat. " * 30) * 2


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "cats.txt"
    path.write_text(TEXT)
    return path


def tiny_overrides(path: Path, *extra: str) -> list[str]:
    return ["experiment=graves_text", "data=text", f"data.path={path}", "model.hidden_size=12",
            "trainer.batch_size=4", "char_lm.seq_len=10", "trainer.progress=false", *extra]


def learner(path: Path, *extra: str) -> CharLM:
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        cfg = compose("train", tiny_overrides(path, *extra))
    torch.manual_seed(0)
    return LEARNERS.get("char_lm")(cfg)


def batch(ds, k: int, streams: int) -> tuple[torch.Tensor, ...]:
    items = [ds[i] for i in range(k * streams, (k + 1) * streams)]
    return torch.stack([x for x, _, _ in items]), torch.stack([y for _, y, _ in items]), torch.tensor([s for *_, s in items])


def test_bpc_is_the_mean_log2_loss_of_a_hand_computation(corpus_file: Path) -> None:
    lm = learner(corpus_file)
    model = lm.model
    with torch.no_grad():  # output = the bias alone: Pr(next = k) = p_k at every step
        model.head.weight.zero_()
        p = torch.rand(len(lm.corpus.vocab)) + 0.1
        p /= p.sum()
        model.head.bias.copy_(p.log())
    ids = lm.corpus.ids["val"]
    expected = -sum(math.log2(p[int(t)]) for t in ids[1:]) / (len(ids) - 1)
    val = lm.datasets()["val"]
    x, y, mask = (t.unsqueeze(0) for t in val[0])
    with torch.no_grad():
        sums = {k: float(v) for k, v in lm.eval_step(model, (x, y, mask)).items()}
    assert sums["count"] == len(ids) - 1
    assert lm.summarize(sums)["bpc"] == pytest.approx(expected, rel=1e-5)
    assert bits_per_char(2 * math.log(2) * 10, 10) == pytest.approx(2.0)


def test_state_is_carried_across_segments(corpus_file: Path) -> None:
    lm = learner(corpus_file)
    ds = lm.datasets()["train"]
    b0, b1 = batch(ds, 0, 4), batch(ds, 1, 4)
    lm.training_step(lm.model, b0)
    loss1, _ = lm.training_step(lm.model, b1)
    # the same two segments read as one sequence: the second half's loss is loss1
    logits, _ = lm.model(torch.cat([b0[0], b1[0]], 1))
    whole = F.cross_entropy(logits[:, 10:].flatten(0, 1), b1[1].flatten())
    assert loss1.item() == pytest.approx(whole.item(), rel=1e-5)
    fresh = F.cross_entropy(lm.model(b1[0])[0].flatten(0, 1), b1[1].flatten())
    assert abs(fresh.item() - loss1.item()) > 1e-4  # a reset state gives another loss

    # the carried state survives a checkpoint (learner.state_dict / load_state_dict, as --resume does)
    other = learner(corpus_file)
    other.model.load_state_dict(lm.model.state_dict())
    other.load_state_dict(lm.state_dict())
    b2 = batch(ds, 2, 4)
    assert other.training_step(other.model, b2)[0].item() == pytest.approx(lm.training_step(lm.model, b2)[0].item(), rel=1e-6)


def test_state_reset_schedule_and_epoch_start(corpus_file: Path) -> None:
    lm = learner(corpus_file, "char_lm.reset_every=2")
    ds = lm.datasets()["train"]
    for k in range(2):
        lm.training_step(lm.model, batch(ds, k, 4))
    b2 = batch(ds, 2, 4)  # segment 2: reset (every 2 segments)
    fresh = F.cross_entropy(lm.model(b2[0])[0].flatten(0, 1), b2[1].flatten())
    assert lm.training_step(lm.model, b2)[0].item() == pytest.approx(fresh.item(), rel=1e-6)
    b3 = batch(ds, 3, 4)
    assert abs(F.cross_entropy(lm.model(b3[0])[0].flatten(0, 1), b3[1].flatten()).item()
               - lm.training_step(lm.model, b3)[0].item()) > 1e-4  # segment 3: carried
    b0 = batch(ds, 0, 4)  # a new epoch starts from a zero state
    fresh0 = F.cross_entropy(lm.model(b0[0])[0].flatten(0, 1), b0[1].flatten())
    assert lm.training_step(lm.model, b0)[0].item() == pytest.approx(fresh0.item(), rel=1e-6)


def test_dynamic_evaluation_adapts_only_its_own_copy(corpus_file: Path) -> None:
    lm = learner(corpus_file)
    before = {k: v.clone() for k, v in lm.model.state_dict().items()}
    ids = lm.corpus.ids["val"]
    with torch.no_grad():
        sums = lm.eval_step(lm.model, tuple(t.unsqueeze(0) for t in lm.datasets()["val"][0]))
    static = lm.summarize({k: float(v) for k, v in sums.items()})["bpc"]
    sums0, _ = dynamic_evaluation(lm.model, ids, 10, lr=0.0, progress=False)
    assert bits_per_char(sums0["loss_sum"], sums0["count"]) == pytest.approx(static, rel=1e-5)  # lr 0 = static
    sums, adapted = dynamic_evaluation(lm.model, ids, 10, lr=1.0, progress=False)
    assert bits_per_char(sums["loss_sum"], sums["count"]) < static - 0.3  # it learns the repetitive text
    for k, v in lm.model.state_dict().items():
        assert torch.equal(v, before[k]), k  # the trained weights are untouched
    assert any(not torch.equal(v, before[k]) for k, v in adapted.state_dict().items())


def test_weight_noise_is_removed_after_the_backward_pass(corpus_file: Path) -> None:
    lm = learner(corpus_file, "char_lm.weight_noise=0.075")
    before = {k: v.clone() for k, v in lm.model.state_dict().items()}
    b = batch(lm.datasets()["train"], 0, 4)
    with torch.no_grad():
        clean = F.cross_entropy(lm.model(b[0])[0].flatten(0, 1), b[1].flatten())
    loss, _ = lm.training_step(lm.model, b)
    assert abs(loss.item() - clean.item()) > 1e-3  # the loss was taken at noisy weights
    loss.backward()
    lm.on_after_backward(lm.model)
    for k, v in lm.model.state_dict().items():
        assert torch.allclose(v, before[k], atol=1e-6), k


def test_sampling_is_seeded_and_low_temperature_is_greedy(corpus_file: Path) -> None:
    lm = learner(corpus_file)
    prime = encode_prime(lm.corpus.vocab, "the ")
    a = list(generate(lm.model, prime, 30, 1.0, torch.Generator().manual_seed(1)))
    b = list(generate(lm.model, prime, 30, 1.0, torch.Generator().manual_seed(1)))
    assert a == b and len(a) == 30
    greedy = list(generate(lm.model, prime, 5, 1e-4, torch.Generator().manual_seed(2)))
    ids, state, expect = prime.view(1, -1), None, []
    with torch.no_grad():
        for _ in range(5):
            logits, state = lm.model(ids, state)
            ids = logits[:, -1:].argmax(-1)
            expect.append(int(ids))
    assert greedy == expect


# -- end to end -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(corpus_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`paperlab train` of the tiny LM, in process."""
    from paperlab.tasks import train

    run = tmp_path_factory.mktemp("lm") / "run"
    cfg = task_config("train", tiny_overrides(corpus_file, "trainer.max_epochs=2", "char_lm.dynamic_eval.lrs=[0.01,0.3]"))
    train.run(cfg, run_dir=run)
    return run


def test_train_reports_static_dynamic_and_compressor_bpc(trained: Path) -> None:
    results = json.loads((trained / "results.json").read_text())
    for key in ("val/bpc", "test/bpc", "val/bpc_dynamic", "test/bpc_dynamic", "test/bpc_xz", "test/bpc_bzip2",
                "test/bpc_xz_given_train", "test/bpc_bzip2_given_train", "dynamic_lr"):
        assert key in results, key
    assert results["dynamic_lr"] in (0.01, 0.3) and results["corpus"] == "cats.txt"
    ckpt = torch.load(trained / "checkpoints" / "best.pt", weights_only=True)
    assert ckpt["extras"]["vocab"]["unit"] == "char" and ckpt["learner_state"]["state"] is not None
    assert results["test/bpc"] < math.log2(len(ckpt["extras"]["vocab"]["symbols"]))  # better than uniform
    assert (trained / "figures" / "bpc.png").stat().st_size > 10_000
    assert len((trained / "sample.txt").read_text()) > 100


def test_sample_text_streams_from_a_run(trained: Path) -> None:
    r = run_cli("sample-text", "--checkpoint", str(trained), "--prime", "the c", "--length", "40", "--seed", "3",
                f"hydra.run.dir={trained.parent / 'sample'}", cwd=trained.parent)
    assert r.returncode == 0, r.stderr[-2000:]
    text = r.stdout.rstrip("\n")
    assert text.startswith("the c") and len(text) == 45
    assert (trained.parent / "sample" / "sample.txt").read_text() == text


def test_sample_text_temperature_zero_is_one_line(trained: Path, tmp_path: Path) -> None:
    from paperlab.papers.graves.text import sample_text

    # `paperlab sample-text --checkpoint RUN --temperature 0`
    cfg = task_config("sample_text", ["temperature=0.0", f'checkpoint="{trained}"'])
    with raises_user_error("temperature must be greater than 0"):
        sample_text.run(cfg, tmp_path / "run")


def test_sample_text_unknown_prime_characters_error_or_skip(trained: Path, tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from paperlab.errors import UserError
    from paperlab.papers.graves.text.sample_text import run as sample

    cfg = OmegaConf.load(conf_dir() / "sample_text.yaml")
    cfg.merge_with({"checkpoint": str(trained), "prime": "Zthe!", "length": 5})
    with pytest.raises(UserError, match=r"never saw: '!', 'Z'; remove them, or pass --unknown=skip"):
        sample(cfg, tmp_path / "a")
    cfg.unknown = "skip"
    text = sample(cfg, tmp_path / "b")["text"]
    assert text.startswith("the") and len(text) == 8


def test_train_on_a_missing_corpus_is_one_line(tmp_path: Path) -> None:
    # (an empty file or folder, a bad split, non-UTF-8 text: tests/core/test_text_data.py)
    from paperlab.tasks import train

    cfg = task_config("train", tiny_overrides(tmp_path / "nothing.txt"))
    with raises_user_error("does not exist", "data.path"):
        train.run(cfg, run_dir=tmp_path / "run")


def test_sigkill_then_resume_continues_the_carried_state(corpus_file: Path, tmp_path: Path) -> None:
    """Killed mid-epoch and resumed, the run ends with the weights of an uninterrupted one: the
    LSTM state carried between segments is restored from the checkpoint, not zeroed."""
    args = tiny_overrides(corpus_file, "trainer.max_epochs=1", "trainer.limit_train_batches=12", "trainer.checkpoint_every_n_steps=3",
                          "char_lm.dynamic_eval.lrs=[]", "char_lm.compressors=[]", "char_lm.sample_length=0")
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    assert run_cli("train", *args, f"hydra.run.dir={straight}", cwd=tmp_path).returncode == 0
    r = run_cli("train", *args, f"hydra.run.dir={crashed}", cwd=tmp_path, env={"PAPERLAB_FAULT_STEP": "7"})
    assert r.returncode == -signal.SIGKILL
    assert run_cli("train", "--resume", str(crashed), cwd=tmp_path).returncode == 0
    a, b = (torch.load(run / "checkpoints" / "last.pt", weights_only=True) for run in (straight, crashed))
    assert a["trainer"]["step"] == b["trainer"]["step"] > 7
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key


# -- the paper's settings and the shipped model ----------------------------------------------------------------
@pytest.mark.parametrize("experiment,data", [("graves_text_ptb", "ptb"), ("graves_text_wikipedia", "enwik8")])
def test_paper_experiments_train_on_their_real_formats(experiment: str, data: str, tmp_path: Path) -> None:
    from paperlab.tasks.train import run as train

    if data == "ptb":
        write_ptb(tmp_path)
    else:
        (tmp_path / "enwik8").write_bytes(TEXT.encode() * 3)
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        cfg = compose("train", [f"experiment={experiment}", f"data.root={tmp_path}", "trainer.progress=false",
                                "model.hidden_size=8", "model.num_layers=2", "char_lm.seq_len=5",
                                "trainer.max_epochs=1", "trainer.limit_train_batches=4"])
    assert cfg.optim.lr == 0.0001 and cfg.model.grad_clip == 1.0 and cfg.char_lm.loss == "sum"
    assert cfg.optim.momentum == (0.99 if data == "ptb" else 0.9)
    assert cfg.char_lm.reset_every == (None if data == "ptb" else 100)
    results = train(cfg, tmp_path / "run")
    assert results["steps"] == 4 and "val/bpc" in results and "val/bpc_dynamic" in results
    assert ("test/bpc" in results) == (data == "ptb")  # the paper's enwik8 split has no test part


def test_the_shipped_model_loads_and_writes_plausible_english(tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from paperlab.assets import shipped_checkpoint, shipped_info
    from paperlab.engine.restore import load_model
    from paperlab.papers.graves.text.sample_text import run as sample

    path = shipped_checkpoint("graves_text")
    assert path is not None and path.stat().st_size < 20e6
    info = shipped_info("graves_text")
    assert info["command"] == "paperlab train experiment=graves_text" and info["seed"] == 0
    m = info["metrics"]
    assert m["test/bpc_dynamic"] < m["test/bpc"] < min(m["test/bpc_xz"], m["test/bpc_bzip2"])
    loaded = load_model("graves_text", "char_lm")
    model, vocab = loaded.model, loaded.extras.symbols
    # its BPC on English it was not trained on (this module's docstring-like prose) is far below
    # uniform (log2 111 = 6.8) and below what a unigram model could do (~4.3)
    prose = ("The network keeps training on the test data as it reads it. Each segment is scored "
             "first, with the weights as they are, and then the weights take one step. ") * 2
    ids = vocab.encode(prose)
    with torch.no_grad():
        logits, _ = model(ids[None, :-1])
    assert F.cross_entropy(logits[0], ids[1:]).item() / math.log(2) < 3.0
    cfg = OmegaConf.load(conf_dir() / "sample_text.yaml")
    cfg.merge_with({"length": 300, "prime": "The "})
    pieces: list[str] = []
    text = sample(cfg, tmp_path / "sample", emit=pieces.append)["text"]
    assert text.startswith("The ") and len(text) == 304 and "".join(pieces) == text
    words = text.split()
    common = {"the", "of", "to", "a", "and", "is", "in", "that", "you", "it", "for", "be", "are", "with"}
    assert sum(w.lower().strip(".,;:!?\"'") in common for w in words) >= 0.1 * len(words)
    assert sum(c.isalpha() or c.isspace() for c in text) > 0.85 * len(text)
