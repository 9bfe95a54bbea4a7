"""The deep LSTM with skip connections shared by Graves's text and handwriting models (Sec. 2)."""

from __future__ import annotations

import torch

from paperlab.papers.graves.deep_lstm import DeepLSTM, DeepLSTMConfig, detach_state


def test_every_layer_sees_the_input_and_feeds_the_output() -> None:
    net = DeepLSTM(DeepLSTMConfig(input_size=3, hidden_size=5, num_layers=3))
    assert [lstm.input_size for lstm in net.layers] == [3, 8, 8]  # [h^{n-1}, x] for n > 1
    x = torch.randn(2, 4, 3)
    y, state = net(x)
    assert y.shape == (2, 4, 15) and len(state) == 3 and net.output_size == 15
    # the top layer's output depends on x directly (skip), not only through the layers below
    x.requires_grad_(True)
    y, _ = net(x)
    (g,) = torch.autograd.grad(y[..., 10:].sum(), x)
    assert g.abs().sum() > 0


def test_gradients_match_finite_differences() -> None:
    torch.manual_seed(0)
    net = DeepLSTM(DeepLSTMConfig(input_size=2, hidden_size=3, num_layers=2)).double()
    x = torch.randn(1, 3, 2, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: net(inp)[0], (x,), eps=1e-6, atol=1e-6)


def test_state_carried_across_segments_equals_one_pass() -> None:
    torch.manual_seed(0)
    net = DeepLSTM(DeepLSTMConfig(input_size=3, hidden_size=4, num_layers=2))
    x = torch.randn(2, 10, 3)
    whole, _ = net(x)
    a, state = net(x[:, :6])
    b, _ = net(x[:, 6:], detach_state(state))
    assert torch.allclose(torch.cat([a, b], 1), whole, atol=1e-6)
    c, _ = net(x[:, 6:])  # without the state: a different result
    assert not torch.allclose(c, b, atol=1e-3)


def test_derivative_clipping_clamps_dloss_dh() -> None:
    torch.manual_seed(0)
    clip = 1e-3
    clipped = DeepLSTM(DeepLSTMConfig(input_size=2, hidden_size=3, num_layers=1, grad_clip=clip))
    plain = DeepLSTM(DeepLSTMConfig(input_size=2, hidden_size=3, num_layers=1))
    plain.load_state_dict(clipped.state_dict())
    x = torch.randn(2, 5, 2, requires_grad=True)
    (g_clipped,) = torch.autograd.grad(1e6 * clipped(x)[0].sum(), x)  # dL/dh = 1e6, clamped to 1e-3
    (g_ref,) = torch.autograd.grad(clip * plain(x)[0].sum(), x)  # dL/dh = 1e-3 exactly
    assert torch.allclose(g_clipped, g_ref, rtol=1e-5, atol=1e-10)


def test_single_steps_without_grad_match_the_fused_layers() -> None:
    torch.manual_seed(0)
    net = DeepLSTM(DeepLSTMConfig(input_size=3, hidden_size=4, num_layers=2, skip_size=2))
    x, skip = torch.randn(2, 5, 3), torch.randn(2, 5, 2)
    whole, _ = net(x, skip=skip)
    state, steps = None, []
    with torch.no_grad():  # the sampling path: one point at a time through the cell kernel
        for t in range(5):
            y, state = net(x[:, t : t + 1], state, skip=skip[:, t : t + 1])
            steps.append(y)
    assert torch.allclose(torch.cat(steps, 1), whole, atol=1e-6)
