"""SSCB and the memory network: shapes, masking of padded sentences, gradients against finite
differences, their inputs (similarity tensors, word ids) and the records that rebuild them, and
the attention figure. Training through the engine: test_movieqa_learner.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from paperlab.errors import UserError
from paperlab.models import create_model
from paperlab.papers.movieqa.data import dev_movies
from paperlab.papers.movieqa.embedded import load_embedded
from paperlab.papers.movieqa.figures import plot_attention, shown_rows
from paperlab.papers.movieqa.memn2n import (
    MemN2N,
    MemN2NConfig,
    MemN2NInputs,
    TokenExample,
    Vocabulary,
    collate_tokens,
    make_token_example,
)
from paperlab.papers.movieqa.sscb import (
    SSCB,
    SimilarityExample,
    SSCBConfig,
    SSCBInputs,
    collate_maps,
    similarity_maps,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors (tests/conftest.py)


def sscb_examples(n: int, seed: int = 0) -> list[SimilarityExample]:
    """The correct answer's column has one sentence much more similar than the others."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        length, label = int(rng.integers(4, 12)), int(rng.integers(5))
        maps = rng.normal(size=(length, 5, 2)).astype(np.float32)
        maps[rng.integers(length), label, 1] += 3.0
        out.append(SimilarityExample(maps, label))
    return out


def test_sscb_shapes_and_padding_is_masked() -> None:
    torch.manual_seed(0)
    model = SSCB(SSCBConfig(in_channels=4))
    short = SimilarityExample(np.random.default_rng(1).normal(size=(4, 5, 4)).astype(np.float32), 2)
    long = SimilarityExample(np.random.default_rng(2).normal(size=(10, 5, 4)).astype(np.float32), 0)
    inputs, labels = collate_maps([short, long])
    assert inputs["maps"].shape == (2, 10, 5, 4) and inputs["mask"].sum(1).tolist() == [4, 10]
    assert labels.tolist() == [2, 0]
    out = model(**inputs)
    assert out.shape == (2, 5) and torch.isfinite(out).all()
    alone = model(**collate_maps([short], min_len=1)[0])
    inputs["maps"][0, 4:] = 100.0  # garbage in the padding changes nothing
    assert torch.allclose(model(**inputs)[0], alone[0], atol=1e-6)


@pytest.mark.parametrize("last_relu", [True, False])
def test_sscb_is_the_mean_and_max_of_pooled_windows(last_relu: bool) -> None:
    torch.manual_seed(0)
    model = SSCB(SSCBConfig(last_relu=last_relu))
    act = torch.relu if last_relu else (lambda t: t)
    maps = torch.randn(1, 7, 5, 2)
    with torch.no_grad():
        h = torch.relu(model.conv2(torch.relu(model.conv1(maps.permute(0, 3, 1, 2)))))
        windows = [h[..., i: i + 3, :].amax(2) for i in (0, 3, 6)]  # 7 sentences: 3 windows
        z = act(torch.stack([model.conv3(w[..., None, :])[:, 0, 0] for w in windows], 1))
        expected = 0.3 * z.mean(1) + z.amax(1)
        assert torch.allclose(model(maps, torch.ones(1, 7, dtype=torch.bool)), expected, atol=1e-6)


def token_examples(n: int, vocab: int = 30, seed: int = 0) -> list[TokenExample]:
    """The correct answer is the word the question and one story sentence share."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        words = rng.choice(np.arange(2, vocab), size=5, replace=False).tolist()
        label = int(rng.integers(5))
        story = [rng.integers(2, vocab, size=int(rng.integers(2, 5))).tolist() for _ in range(4)]
        story[int(rng.integers(4))].append(words[label])
        out.append(TokenExample(story, [words[label], 1], [[w] for w in words], label))
    return out


def test_memn2n_shapes_and_attention() -> None:
    torch.manual_seed(0)
    model = MemN2N(MemN2NConfig(vocab_size=30, embed_dim=8, proj_dim=8, hops=2))
    batch = token_examples(3)
    batch[0].story = batch[0].story[:2]  # a shorter story: padded sentences get no attention
    inputs, labels = collate_tokens(batch)
    assert inputs["story"].shape[:2] == (3, 4) and inputs["answers"].shape[:2] == (3, 5)
    logits, p = model.attend(**inputs)
    assert logits.shape == (3, 5) and p.shape == (3, 2, 4)
    assert torch.allclose(p.sum(-1), torch.ones(3, 2))
    assert (p[0, :, 2:] == 0).all()
    assert torch.equal(model(**inputs), logits)


def test_memn2n_gradient_matches_finite_differences() -> None:
    torch.manual_seed(0)
    model = MemN2N(MemN2NConfig(vocab_size=30, embed_dim=6, proj_dim=4, hops=2,
                                freeze_embedding=False)).double()
    inputs, labels = collate_tokens(token_examples(4))

    def loss() -> torch.Tensor:
        return torch.nn.functional.cross_entropy(model(**inputs), labels)

    loss().backward()
    w = model.project.weight
    eps = 1e-6
    for idx in [(0, 0), (1, 3), (3, 5)]:
        with torch.no_grad():
            w[idx] += eps
            up = loss().item()
            w[idx] -= 2 * eps
            down = loss().item()
            w[idx] += eps
        assert abs((up - down) / (2 * eps) - w.grad[idx].item()) < 1e-6


def test_memn2n_word_vectors_and_pca_projection() -> None:
    model = MemN2N(MemN2NConfig(vocab_size=5, embed_dim=4, proj_dim=2))
    vectors = torch.randn(5, 4)
    model.load_word_vectors(vectors)
    assert torch.equal(model.embed.weight[1:], vectors[1:]) and not model.embed.weight[0].any()
    rows = model.project.weight
    assert torch.allclose(rows @ rows.T, torch.eye(2), atol=1e-5)  # orthonormal principal axes
    assert not model.embed.weight.requires_grad
    with pytest.raises(UserError, match=r"give \(5, 4\)"):
        model.load_word_vectors(torch.zeros(3, 4))


def test_vocabulary_and_token_examples() -> None:
    vocab = Vocabulary.from_texts(["Anna hides the ledger.", "Boris, the ledger!"])
    assert vocab.words == ["<pad>", "<unk>", "anna", "boris", "hides", "ledger", "the"]
    ex = make_token_example(vocab, ["Anna hides it."], "Who?", ["Anna", "", "b", "c", "d"], None)
    assert ex.story == [[2, 4, 1]] and ex.question == [1] and ex.answers[1] == [1]
    assert ex.label == -1


def test_dev_movies_are_a_fraction_of_the_training_movies() -> None:
    keys = [f"tt{i}" for i in range(10)]
    dev = dev_movies(keys * 3, 0.2, seed=0)
    assert len(dev) == 2 and dev <= set(keys) and dev == dev_movies(keys, 0.2, seed=0)
    assert dev_movies(["tt1"], 0.2, seed=0) == set()


def test_models_are_registered_with_their_configs() -> None:
    sscb = create_model("sscb", in_channels=4, last_relu=False)
    assert isinstance(sscb, SSCB) and sscb.spec.args["in_channels"] == 4 and not sscb.spec.args["last_relu"]
    mem = create_model("memn2n", vocab_size=7, embed_dim=4, proj_dim=4, init_scale=10.0)
    assert isinstance(mem, MemN2N) and torch.equal(mem.project.weight, 10 * torch.eye(4))
    with pytest.raises(UserError, match="hops"):
        create_model("memn2n", hop=2)


def test_similarity_maps_by_hand() -> None:
    story = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])  # three unit-norm sentences
    q = np.array([[0.0, 1.0]])
    a = np.eye(2)[[0, 1, 0, 1, 1]]
    maps = similarity_maps([story], [q], [a])
    assert maps.shape == (3, 5, 2)
    assert np.allclose(maps[..., 0], np.repeat([[0.0], [1.0], [0.8]], 5, 1))  # <s_k, q> over the answers
    assert np.allclose(maps[..., 1], story @ a.T)  # <s_k, a_j>
    fused = similarity_maps([story, story], [q, q], [a, a])
    assert fused.shape == (3, 5, 4) and np.allclose(fused[..., 2:], maps)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    return load_embedded(tmp_path_factory.mktemp("emb"), seed=1, n_movies=10)


def test_sscb_inputs_standardise_and_come_back_from_their_record(tiny) -> None:
    stories, qas = tiny.story_qa("train", "split_plot")
    inputs = SSCBInputs(["tfidf"]).fit(stories, qas)
    examples = inputs.examples(stories, qas)
    assert len(examples) == len(qas) and examples[0].maps.shape[1:] == (5, 2)
    flat = np.concatenate([ex.maps.reshape(-1, 2) for ex in examples])
    assert np.allclose(flat.mean(0), 0, atol=1e-4) and np.allclose(flat.std(0), 1, atol=1e-3)
    assert [ex.label for ex in examples] == [qa.correct_index for qa in qas]
    again = SSCBInputs(**inputs.record())  # a checkpoint's Extras: no refitting
    val_s, val_q = tiny.story_qa("val", "split_plot")
    for a, b in zip(inputs.examples(val_s, val_q), again.examples(val_s, val_q), strict=True):
        assert np.allclose(a.maps, b.maps, atol=1e-6)
    test_s, test_q = tiny.story_qa("test", "split_plot")
    assert {ex.label for ex in inputs.examples(test_s, test_q)} == {-1}  # answers withheld
    with pytest.raises(UserError, match="not fitted"):
        SSCBInputs(["tfidf"]).examples(stories, qas)
    with pytest.raises(UserError, match="choose one of: minilm, tfidf"):
        SSCBInputs(["word2vec"])


def test_memn2n_inputs_vocabulary_from_training_only(tiny) -> None:
    stories, qas = tiny.story_qa("train", "subtitle")
    inputs = MemN2NInputs().fit(stories, qas)
    assert inputs.model_inputs() == {"vocab_size": len(inputs.vocab)}
    assert MemN2NInputs(**inputs.record()).vocab.words == inputs.vocab.words
    ex = inputs.examples(stories, qas[:1])[0]
    assert len(ex.story) == len(stories[qas[0].imdb_key]) and ex.label == qas[0].correct_index
    assert 1 not in ex.question  # every training word is known


def test_attention_figure(tmp_path: Path) -> None:
    story = [f"Sentence number {i} of the story." for i in range(6)]
    p = np.array([[0.1, 0.5, 0.1, 0.1, 0.1, 0.1], [0.0, 0.9, 0.0, 0.1, 0.0, 0.0]])
    png = plot_attention(tmp_path / "att.png", story, p, "Who?", list("abcde"), np.arange(5.0), 1, [1])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(UserError, match="attention over"):
        plot_attention(tmp_path / "bad.png", story[:3], p, "Who?", list("abcde"), np.arange(5.0))
    long = np.zeros((1, 100))
    long[0, [5, 50, 99]] = [0.5, 0.3, 0.2]
    rows = shown_rows(long, gold=[7], max_rows=4)
    assert rows == [5, 7, 50, 99]  # gold first, then the most attended, in story order
