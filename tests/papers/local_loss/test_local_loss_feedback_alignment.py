"""Feedback alignment: the backprop-free pred loss sends errors through a fixed random matrix,
never through the transposed forward weights."""

import torch
import torch.nn.functional as F

from paperlab.papers.local_loss.blocks import Block, BlockConfig
from paperlab.papers.local_loss.feedback_alignment import LinearFA, LinearFAConfig
from paperlab.papers.local_loss.local_losses import LocalLossConfig


def test_linear_fa_backward_uses_the_fixed_matrix():
    torch.manual_seed(0)
    layer = LinearFA(LinearFAConfig(6, 4)).double()
    x = torch.randn(5, 6, dtype=torch.float64, requires_grad=True)
    g = torch.randn(5, 4, dtype=torch.float64)
    out = layer(x)
    torch.testing.assert_close(out, x @ layer.weight.t() + layer.bias)
    out.backward(g)
    torch.testing.assert_close(x.grad, g @ layer.feedback)
    assert not torch.allclose(x.grad, g @ layer.weight)
    torch.testing.assert_close(layer.weight.grad, g.t() @ x.detach())
    torch.testing.assert_close(layer.bias.grad, g.sum(0))
    # B is saved with the model but is no parameter: no optimiser can move it
    assert "feedback" in layer.state_dict() and all(
        p is not layer.feedback for p in layer.parameters()
    )


def _pred_bpf_block(conv: bool) -> Block:
    loss = LocalLossConfig(
        channels=4,
        size=4 if conv else 0,
        num_classes=3,
        pred=True,
        sim=False,
        bpf=True,
        beta=0.0,
        dim_in_decoder=16,
        target_proj_size=5,
    )
    block = Block(BlockConfig(2 if conv else 6, 4, 4 if conv else 0, loss=loss)).double()
    with torch.no_grad():  # a non-zero decoder, so that W^T and B would give different errors
        block.local_loss.decoder.weight.normal_()
    return block


def _encoder_grad(
    block: Block, x: torch.Tensor, y: torch.Tensor, backward_matrix: torch.Tensor | None
) -> torch.Tensor:
    """d L_pred-bpf / d (encoder weight); with `backward_matrix`, through an independent
    stop-gradient twin of the decoder whose input gradient is grad_out @ backward_matrix."""
    head = block.local_loss
    h = block(x)
    if backward_matrix is None:
        loss = head(h, y).loss
    else:
        feats = head.pooled(h).flatten(1)
        w, b = head.decoder.weight, head.decoder.bias
        z = feats @ backward_matrix.t() + (feats @ w.t() - feats @ backward_matrix.t()).detach() + b
        loss = F.binary_cross_entropy_with_logits(z, (head.target_proj[y] > 0).double())
    return torch.autograd.grad(loss, block.layer.weight)[0]


def test_pred_bpf_hidden_gradient_comes_from_the_fixed_matrix():
    for conv in (False, True):
        torch.manual_seed(1)
        block = _pred_bpf_block(conv)
        x = (
            torch.randn(8, 2, 4, 4, dtype=torch.float64)
            if conv
            else torch.randn(8, 6, dtype=torch.float64)
        )
        y = torch.randint(0, 3, (8,))
        ours = _encoder_grad(block, x, y, None)
        torch.testing.assert_close(
            ours, _encoder_grad(block, x, y, block.local_loss.decoder.feedback)
        )
        transported = _encoder_grad(block, x, y, block.local_loss.decoder.weight.detach())
        assert not torch.allclose(ours, transported)


def test_bpf_heads_learn_nothing_backpropagated():
    # sim-bpf has no learned sub-network at all; pred-bpf only its decoder's own weights
    sim_bpf = LocalLossConfig(4, 4, 3, pred=False, sim=True, bpf=True, beta=1.0)
    assert list(Block(BlockConfig(2, 4, 4, loss=sim_bpf)).local_loss.parameters()) == []
    names = {n for n, _ in _pred_bpf_block(True).local_loss.named_parameters()}
    assert names == {"decoder.weight", "decoder.bias"}
