"""Graves's handwriting networks (Sec. 4-5): the synthesis step loop, derivative clipping, and
stable training at a high learning rate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from paperlab.models import create_model
from paperlab.papers.graves.handwriting.learner import sequence_nll
from paperlab.papers.graves.handwriting.soft_window import positions
from paperlab.papers.graves.handwriting.window_recurrence import Layer1Weights, layer1_and_window


def tiny_synthesis(**kw) -> torch.nn.Module:
    cfg = {"alphabet_size": 5, "hidden_size": 6, "num_layers": 3, "num_components": 2, "window_components": 2,
           "window_initial_step": 0.2, **kw}
    return create_model("graves_synthesis", **cfg)


def batch(b: int = 2, t: int = 7, u: int = 3, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    strokes = torch.randn(b, t, 3, generator=g)
    strokes[..., 2] = (torch.rand(b, t, generator=g) < 0.2).float()
    text = torch.randint(0, 5, (b, u), generator=g)
    text[-1, -1] = -1  # padding
    return {"strokes": strokes, "stroke_mask": torch.ones(b, t, dtype=torch.bool), "text": text}


def test_synthesis_shapes_and_window_fed_to_every_layer() -> None:
    net = tiny_synthesis()
    assert net.cell.input_size == 3 + 5  # layer 1: x_t and w_{t-1} (Eq. 52)
    assert [lstm.input_size for lstm in net.deep.layers] == [6 + 5 + 3, 6 + 3 + 5]  # [h, w, x] / [h, x, w]
    assert net.mdn.linear.in_features == 3 * 6 and net.mdn.output_size == 1 + 6 * 2  # every layer -> output
    out = net(batch()["strokes"], batch()["text"])
    assert out.y_hat.shape == (2, 7, 13) and out.phi.shape == (2, 7, 4) and out.kappa.shape == (2, 7, 2)
    assert (out.kappa.diff(dim=1) > 0).all()


def test_stepping_one_point_at_a_time_equals_the_whole_sequence() -> None:
    torch.manual_seed(0)
    net = tiny_synthesis().eval()
    x, text = batch()["strokes"], batch()["text"]
    whole = net(x, text)
    state, ys, phis = None, [], []
    for t in range(x.shape[1]):
        out = net(x[:, t : t + 1], text, state)
        state = out.state
        ys.append(out.y_hat)
        phis.append(out.phi)
    assert torch.allclose(torch.cat(ys, 1), whole.y_hat, atol=1e-5)
    assert torch.allclose(torch.cat(phis, 1), whole.phi, atol=1e-6)


def test_synthesis_gradients_match_finite_differences() -> None:
    torch.manual_seed(0)
    net = tiny_synthesis(lstm_clip=None, output_clip=None, num_layers=2).double()
    b = batch(t=4)
    x = b["strokes"].double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda inp: net(inp, b["text"]).y_hat, (x,), eps=1e-6, atol=1e-5)


def _autograd_reference(net: torch.nn.Module, x: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Layer 1 and the window stepped with nn.LSTMCell and SoftWindow, autograd doing the backward
    pass, the LSTM clip as a hook on every h^1_t."""
    c, clip = net.one_hot(text).to(x.dtype), net.cfg.lstm_clip
    st = net.initial_state(x)
    h, cell, kappa, w = st.h1, st.c1, st.kappa, st.w
    u = positions(c.shape[1]).to(x.dtype)
    hs, ws, phis, kappas = [], [], [], []
    for t in range(x.shape[1]):
        h, cell = net.cell(torch.cat([x[:, t], w], dim=-1), (h, cell))
        if clip is not None:
            h.register_hook(lambda g: g.clamp(-clip, clip))
        w, kappa, phi = net.window(h, kappa, c, u)
        hs, ws, phis, kappas = hs + [h], ws + [w], phis + [phi], kappas + [kappa]
    return torch.stack(hs, 1), torch.stack(ws, 1), torch.stack(phis, 1), torch.stack(kappas, 1), cell


@pytest.mark.parametrize("clip", [None, 0.01])
def test_layer_one_backward_matches_autograd(clip: float | None) -> None:
    """The hand-written backward pass of layer 1 + window gives autograd's gradients for every
    weight, the input and the initial state, with the derivative clip active or not."""
    torch.manual_seed(0)
    net = tiny_synthesis(lstm_clip=clip).double()
    b = batch(t=9, u=4)
    x = b["strokes"].double()
    weights = Layer1Weights(net.cell.weight_ih, net.cell.weight_hh, net.cell.bias_ih, net.cell.bias_hh,
                            net.window.linear.weight, net.window.linear.bias)
    probe = [torch.randn(o.shape, dtype=torch.double) for o in _autograd_reference(net, x, b["text"])]

    def grads(run) -> list[torch.Tensor]:
        inputs = [x.clone().requires_grad_(True)]
        outs = run(inputs[0])
        loss = sum((o * p).sum() for o, p in zip(outs, probe, strict=True))
        return [g.clone() for g in torch.autograd.grad(loss, [*inputs, *weights])]

    def ours(xx: torch.Tensor) -> tuple[torch.Tensor, ...]:
        st = net.initial_state(xx)
        c = net.one_hot(b["text"]).double()
        return tuple(layer1_and_window(xx, c, positions(c.shape[1]).double(), st.h1, st.c1, st.kappa, st.w,
                                       weights, clip))

    expected, got = grads(lambda xx: _autograd_reference(net, xx, b["text"])), grads(ours)
    for e, g in zip(expected, got, strict=True):
        assert torch.allclose(e, g, rtol=1e-9, atol=1e-12)
    if clip is not None:  # the clip bites: without it the gradients differ
        net.cfg.lstm_clip = None
        assert not torch.allclose(grads(lambda xx: _autograd_reference(net, xx, b["text"]))[2], got[2])


def test_layer_one_initial_state_gradients_match_finite_differences() -> None:
    torch.manual_seed(0)
    net = tiny_synthesis(lstm_clip=None).double()
    b = batch(t=5)
    c = net.one_hot(b["text"]).double()
    u = positions(c.shape[1]).double()
    weights = Layer1Weights(net.cell.weight_ih, net.cell.weight_hh, net.cell.bias_ih, net.cell.bias_hh,
                            net.window.linear.weight, net.window.linear.bias)
    g = torch.Generator().manual_seed(1)
    state = [0.5 * torch.randn(2, n, generator=g, dtype=torch.double).requires_grad_(True) for n in (6, 6)]
    state += [torch.rand(2, 2, generator=g, dtype=torch.double).requires_grad_(True),
              torch.rand(2, 5, generator=g, dtype=torch.double).requires_grad_(True)]
    x = b["strokes"].double()
    assert torch.autograd.gradcheck(lambda *s: tuple(layer1_and_window(x, c, u, *s, weights, None)), state,
                                    eps=1e-6, atol=1e-6)


def _cpu_runs_bf16_lstm() -> bool:
    """oneDNN builds a bf16 LSTM only on CPUs with bf16 instructions; elsewhere autocast's bf16
    nn.LSTM fails before our layer 1 is even reached."""
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.LSTM(2, 2, batch_first=True)(torch.zeros(1, 2, 2))
        return True
    except RuntimeError:
        return False


@pytest.mark.skipif(not _cpu_runs_bf16_lstm(), reason="this CPU has no bf16 LSTM kernel (oneDNN)")
def test_layer_one_runs_in_float32_under_mixed_precision() -> None:
    """trainer.precision=bf16-mixed: layer 1 and the window keep fp32 (their hand-written backward
    mixes no dtypes) and give the fp32 run's values; the layers above may run in bf16."""
    torch.manual_seed(0)
    net, b = tiny_synthesis(), batch()
    reference = net(b["strokes"], b["text"])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(b["strokes"], b["text"])
        out.y_hat.float().sum().backward()
    assert out.phi.dtype == torch.float32 and torch.allclose(out.phi, reference.phi)
    assert out.y_hat.dtype == torch.bfloat16
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


def test_output_derivatives_are_clipped_to_100() -> None:
    net = tiny_synthesis(lstm_clip=None)
    y = net(batch()["strokes"], batch()["text"]).y_hat
    (1e6 * y.sum()).backward()  # dL/dy_hat = 1e6 everywhere, clamped to 100
    assert torch.allclose(net.mdn.linear.bias.grad, torch.full((13,), 100.0 * 2 * 7))


def test_lstm_derivatives_are_clipped_in_layer_one_too() -> None:
    def cell_grads(scale: float, clip: float | None) -> torch.Tensor:
        torch.manual_seed(0)
        net = tiny_synthesis(lstm_clip=clip, output_clip=None)
        out = net(batch()["strokes"], batch()["text"])
        (scale * out.y_hat.sum()).backward()
        return net.cell.weight_hh.grad.clone()

    # with [-10, 10] clipping the derivatives saturate: 1000x the loss, the same layer-1 gradient
    assert torch.allclose(cell_grads(1e6, 10.0), cell_grads(1e9, 10.0), rtol=1e-4)
    assert not torch.allclose(cell_grads(1e6, None) * 1e3, cell_grads(1e6, None))


def test_prediction_network_predicts_each_next_point() -> None:
    net = create_model("graves_prediction", hidden_size=5, num_layers=2, num_components=3)
    b = batch()
    nll, points = sequence_nll(net, b)
    assert nll.shape == (2,) and points.tolist() == [6, 6]
    # the prediction at t must not see x_{t+1}: changing the last point leaves earlier outputs alone
    y1, _ = net(b["strokes"])
    changed = b["strokes"].clone()
    changed[:, -1] += 10
    y2, _ = net(changed)
    assert torch.allclose(y1[:, :-1], y2[:, :-1]) and not torch.allclose(y1[:, -1], y2[:, -1])


def _no_nan_training(steps: int) -> list[float]:
    """The paper's optimizer (centred RMSProp, momentum 0.9) at 10x its learning rate (1e-3),
    with both derivative clips, on real corpus lines with pen-up jumps."""
    from paperlab.papers.graves.handwriting.hershey import HersheyCorpusConfig, generate_corpus
    from paperlab.papers.graves.handwriting.strokes import Alphabet, OffsetStats, StrokeDataset

    data = generate_corpus(HersheyCorpusConfig(num_lines=24, num_writers=4, max_chars=12, seed=1))
    alphabet = Alphabet("".join(sorted(set("".join(data.text)))))
    ds = StrokeDataset(data, alphabet, OffsetStats.fit(data.offsets))
    torch.manual_seed(0)
    net = create_model("graves_synthesis", alphabet_size=len(alphabet), hidden_size=8, num_layers=2,
                       num_components=3, window_components=2, window_initial_step=0.1)
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.95, momentum=0.9, eps=1e-4, centered=True)
    losses = []
    rng = np.random.default_rng(0)
    for _ in range(steps):
        items = [ds[int(i)] for i in rng.choice(len(ds), 4, replace=False)]
        b = StrokeDataset.collate_fn([{"strokes": it["strokes"][:40], "text": it["text"]} for it in items])
        nll, _ = sequence_nll(net, b)
        loss = nll.sum()
        assert torch.isfinite(loss), f"loss {loss.item()} at step {len(losses)}"
        opt.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in net.parameters())
        opt.step()
        losses.append(loss.item() / 4)
    return losses


def test_no_nan_at_a_high_learning_rate_with_the_clips_fast() -> None:
    losses = _no_nan_training(200)
    assert np.mean(losses[-50:]) < np.mean(losses[:50])


@pytest.mark.slow
def test_no_nan_over_2000_steps_at_a_high_learning_rate_with_the_clips() -> None:
    losses = _no_nan_training(2000)
    assert np.mean(losses[-100:]) < np.mean(losses[:100])
