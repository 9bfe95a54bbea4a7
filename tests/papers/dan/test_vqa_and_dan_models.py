"""The VQA models of Antol et al. 2015 and the Dual Attention Networks of Nam et al. 2017: shapes,
padding that changes nothing, the bag-of-words features by hand, attention gradients against
finite differences, the ranking loss and Recall@K by hand."""

from __future__ import annotations

import pytest
import torch

from paperlab.models import create_model
from paperlab.papers.dan.dual_attention import Attention, cell_coordinates
from paperlab.papers.dan.matching import ranking_loss, recall_hits
from paperlab.papers.vqa.learner import answer_accuracy, pick_choice, soft_target_loss

VOCAB, ANSWERS, GRID = 12, 5, [3, 3]


def _tiny(name: str) -> torch.nn.Module:
    image = {"image_dim": 6} if name in ("bow_q_i", "lstm_q_i", "deeper_lstm_q_norm_i", "bow_matching") else \
        {"region_dim": 4, "grid": GRID}
    sizes = {"bow_q_i": {"bow_words": 6, "position_words": 3, "mlp_hidden": 8},
             "lstm_q_i": {"embed_dim": 5, "hidden": 4, "fused_dim": 8, "mlp_hidden": 8},
             "deeper_lstm_q_norm_i": {"embed_dim": 5, "hidden": 4, "fused_dim": 6, "mlp_hidden": 8},
             "rdan": {"embed_dim": 5, "hidden": 6}, "mdan": {"embed_dim": 5, "hidden": 6},
             "bow_matching": {"dim": 6}}[name]
    answers = {"num_answers": ANSWERS} if name not in ("mdan", "bow_matching") else {}
    torch.manual_seed(0)
    return create_model(name, vocab_size=VOCAB, **image, **answers, **sizes).eval()


def _inputs(model: torch.nn.Module, batch: int = 3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    image = torch.randn(batch, 6) if model.image_input == "pooled" else torch.randn(batch, 9, 4)
    lengths = torch.tensor([4, 2, 5])[:batch]
    words = torch.randint(2, VOCAB, (batch, 5))
    words[torch.arange(5)[None, :] >= lengths[:, None]] = 0
    return image, words, lengths


@pytest.mark.parametrize("name", ["bow_q_i", "lstm_q_i", "deeper_lstm_q_norm_i", "rdan", "mdan", "bow_matching"])
def test_shapes_and_padding_changes_nothing(name: str) -> None:
    model = _tiny(name)
    image, words, lengths = _inputs(model)
    with torch.no_grad():
        out = model(image, words, lengths)
        # the same questions with four more columns of padding, and garbage after each question's end
        padded = torch.cat([words, torch.zeros(3, 4, dtype=torch.long)], 1)
        noisy = padded.clone()
        noisy[torch.arange(9)[None, :] >= lengths[:, None]] = 7
        assert torch.allclose(model(image, padded, lengths), out, atol=1e-6)
        assert torch.allclose(model(image, noisy, lengths), out, atol=1e-6)
        # one question alone gives what it gets in the batch
        alone = model(image[1:2], words[1:2, :2], lengths[1:2])
    assert out.shape == ((3, ANSWERS) if name not in ("mdan", "bow_matching") else (3, 3))
    row = out[1:2] if name not in ("mdan", "bow_matching") else out[1:2, 1:2]
    assert torch.allclose(alone, row, atol=1e-6)


def test_dan_attention_shapes_and_masked_words() -> None:
    rdan, mdan = _tiny("rdan"), _tiny("mdan")
    image, words, lengths = _inputs(rdan)
    with torch.no_grad():
        logits, att = rdan.attend(image, words, lengths)
        z_v, visual = mdan.embed_image(image)
        z_u, textual = mdan.embed_text(words, lengths)
    assert att["visual"].shape == (3, 2, 9) and att["textual"].shape == (3, 2, 5)
    for a in (att["visual"], att["textual"], visual, textual):
        assert torch.allclose(a.sum(-1), torch.ones(a.shape[:2]), atol=1e-6)
    assert (att["textual"][1, :, 2:] == 0).all() and (textual[1, :, 2:] == 0).all()  # padding gets no attention
    assert z_v.shape == z_u.shape == (3, 3 * 6)  # [v(0); v(1); v(2)]
    assert torch.allclose(mdan(image, words, lengths), z_v @ z_u.T, atol=1e-5)  # S = sum_k v(k) . u(k)


def test_region_coordinates_are_cell_centres_in_row_major_order() -> None:
    c = cell_coordinates([2, 3])
    assert c.shape == (6, 2)
    assert torch.allclose(c[0], torch.tensor([-2 / 3, -0.5])) and torch.allclose(c[5], torch.tensor([2 / 3, 0.5]))


def test_attention_gradients_match_finite_differences() -> None:
    torch.manual_seed(0)
    att = Attention(3, 2, 4).double()
    x = torch.randn(2, 5, 3, dtype=torch.double, requires_grad=True)
    m = torch.randn(2, 2, dtype=torch.double, requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    assert torch.autograd.gradcheck(lambda x, m: att(x, m, mask)[0], (x, m))


def test_bow_question_features_by_hand() -> None:
    model = create_model("bow_q_i", vocab_size=8, image_dim=2, num_answers=3, bow_words=3, position_words=2,
                         mlp_hidden=4).eval()
    # words: 2 (x4), 3 (x3), 4 (x2) are the top 3 (5 and 6 once); first words 2 (x2), 6; second
    # words 3 (x2), 2; third words 2, 4, 5 once each (ties keep word order: 2, 4)
    model.fit_vocabulary([[2, 3, 2, 4], [2, 3, 4, 3], [6, 2, 5]])
    assert model.word_slot.tolist() == [-1, -1, 0, 1, 2, -1, -1, -1]
    assert model.position_slot.tolist() == [[-1, -1, 0, -1, -1, -1, 1, -1], [-1, -1, 1, 0, -1, -1, -1, -1],
                                            [-1, -1, 0, -1, 1, -1, -1, -1]]
    feats = model.question_features(torch.tensor([[2, 2, 5, 3], [6, 0, 0, 0]]), torch.tensor([4, 1]))
    #                     bag of words | first word | second word | third word
    assert feats[0].tolist() == [2, 1, 0, 1, 0, 0, 1, 0, 0]
    assert feats[1].tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0]


def test_ranking_loss_against_a_hand_computation() -> None:
    s = torch.tensor([[5.0, 3.0, 1.0], [4.5, 4.0, 0.0], [2.0, 6.0, 3.0]])  # s[i, j] = S(image i, text j)
    same = torch.eye(3, dtype=torch.bool)
    # margin 1: image 0: max(0, 1-5+3)=0, max(0, 1-5+1)=0; text 0: (1-5+4.5)=0.5, (1-5+2)=0
    # image 1: (1-4+4.5)=1.5, (1-4+0)=0; text 1: (1-4+3)=0, (1-4+6)=3
    # image 2: (1-3+2)=0, (1-3+6)=4; text 2: (1-3+1)=0, (1-3+0)=0
    assert ranking_loss(s, 1.0, same).item() == pytest.approx((0.5 + 1.5 + 3 + 4) / 3)
    same[0, 1] = same[1, 0] = True  # texts 0 and 1 describe the same image: no negatives of each other
    assert ranking_loss(s, 1.0, same).item() == pytest.approx((3 + 4) / 3)  # the 0.5 and 1.5 terms go


def test_recall_at_k_by_hand() -> None:
    # 2 images, 4 captions (0, 1 of image 0; 2, 3 of image 1)
    s = torch.tensor([[0.1, 0.9, 0.8, 0.2], [0.5, 0.3, 0.4, 0.6]])
    hits = recall_hits(s, torch.tensor([0, 0, 1, 1]), ks=(1, 2))
    # image 0: its best caption (1) ranks first; image 1: captions 3 (0.6) ranks 0 -> both hit at 1
    assert hits["i2t_r1"] == 2 and hits["i2t_r2"] == 2
    # caption 0: image 1 scores higher (0.5 > 0.1): rank 1; 1: rank 0; 2: image 0 higher: rank 1; 3: rank 0
    assert hits["t2i_r1"] == 2 and hits["t2i_r2"] == 4


def test_answer_accuracy_multiple_choice_and_soft_targets() -> None:
    cand_idx = torch.tensor([[1, 2, -1], [0, -1, -1]])
    cand_acc = torch.tensor([[1.0, 0.3, 0.0], [0.6, 0.0, 0.0]])
    assert answer_accuracy(torch.tensor([2, 3]), cand_idx, cand_acc).tolist() == pytest.approx([0.3, 0.0])
    logits = torch.tensor([[0.0, 1.0, 5.0, 2.0], [3.0, 0.0, 0.0, 9.0]])
    # choices outside the answer vocabulary (-1) are never picked, however the logits look
    assert pick_choice(logits, torch.tensor([[1, 3, -1], [-1, 0, 1]])).tolist() == [3, 0]
    target = torch.tensor([[0.0, 1 / 1.3, 0.3 / 1.3, 0.0], [1.0, 0.0, 0.0, 0.0]])
    want = -(target * torch.log_softmax(logits, 1)).sum(1).mean()
    assert soft_target_loss(logits, cand_idx, cand_acc).item() == pytest.approx(want.item(), rel=1e-6)
