"""The CUDA-graph path of the synthesis network's layer 1 + window (step_graphs.py), on the CPU:
a stand-in for the capture that replays by running the captured function again into the first
run's output tensors (a graph's static outputs) exercises everything but the capture itself: the
chunking of the sequence, the padded text, the static buffers and the carry between chunks. The
real capture is tested on a GPU (tests/gpu/test_cuda.py)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import torch

from paperlab.models import create_model
from paperlab.papers.graves.handwriting import step_graphs
from paperlab.papers.graves.handwriting.soft_window import positions
from paperlab.papers.graves.handwriting.step_graphs import StepGraphs, chunk_lengths
from paperlab.papers.graves.handwriting.window_recurrence import Layer1Weights, layer1_and_window


def _tensors(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for o in out if o is not None for t in _tensors(o)]


class _Replay:
    """A graph stand-in: replay() recomputes into the static outputs of the first run."""

    def __init__(self, fn: Callable[[], Any], out: Any) -> None:
        self.fn, self.static = fn, _tensors(out)

    def replay(self) -> None:
        for static, new in zip(self.static, _tensors(self.fn()), strict=True):
            static.copy_(new)


def _cpu_capture(fn: Callable[[], Any], device: torch.device) -> tuple[_Replay, Any]:
    out = fn()
    return _Replay(fn, out), out


def test_chunk_lengths_cover_the_sequence() -> None:
    assert chunk_lengths(700) == [64] * 10 + [32, 16, 8, 4]
    assert chunk_lengths(5) == [4, 1] and chunk_lengths(64) == [64]
    assert all(sum(chunk_lengths(t)) == t for t in range(1, 300))


def _layer1(net: torch.nn.Module) -> Layer1Weights:
    return Layer1Weights(net.cell.weight_ih, net.cell.weight_hh, net.cell.bias_ih, net.cell.bias_hh,
                         net.window.linear.weight, net.window.linear.bias)


@pytest.mark.parametrize("steps, clip", [(71, 0.05), (9, None)])
def test_chunked_static_buffer_path_gives_the_eager_numbers(steps: int, clip: float | None,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Outputs and every gradient (input, initial state, weights) as the eager loops give them, over
    chunks of 64, 4, 2, 1 steps (71) or 8, 1 (9), a text of 5 characters padded to 16, the clip on
    and off; a second step with new weights reuses the captures and follows the weights."""
    monkeypatch.setattr(step_graphs, "_capture", _cpu_capture)
    torch.manual_seed(0)
    net = create_model("graves_synthesis", alphabet_size=5, hidden_size=6, num_layers=1, window_components=2,
                       window_initial_step=0.2, lstm_clip=clip).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, steps, 3, generator=g, dtype=torch.double)
    text = torch.randint(0, 5, (3, 5), generator=g)
    text[0, -2:] = -1  # padding
    c = net.one_hot(text).double()
    u = positions(c.shape[1]).double()
    state = [0.3 * torch.randn(3, n, generator=g, dtype=torch.double) for n in (6, 6, 2, 5)]
    state[2] = state[2].abs()  # kappa
    probe: list[torch.Tensor] = []
    graphs = StepGraphs()

    def run(use: StepGraphs | None) -> list[torch.Tensor]:
        inputs = [t.clone().requires_grad_(True) for t in (x, *state)]
        weights = _layer1(net)
        outs = list(layer1_and_window(inputs[0], c, u, *inputs[1:], weights, clip, use))
        if not probe:
            probe.extend(torch.randn(o.shape, generator=g, dtype=torch.double) for o in outs)
        loss = sum((o * p).sum() for o, p in zip(outs, probe, strict=True))
        return [o.detach() for o in outs] + list(torch.autograd.grad(loss, [*inputs, *weights]))

    want, got = run(None), run(graphs)
    assert got[2].shape == (3, steps, 6)  # phi: U + 1 positions, the padding cut off
    for a, b in zip(want, got, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12)
    (shape,) = graphs._shapes.values()
    assert shape.u1 == 17 and set(shape.forward_chunks) == set(shape.backward_chunks) == set(chunk_lengths(steps))
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=g, dtype=torch.double))
    captured = (dict(shape.forward_chunks), dict(shape.backward_chunks))
    want, got = run(None), run(graphs)
    assert (shape.forward_chunks, shape.backward_chunks) == captured  # nothing captured again
    for a, b in zip(want, got, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12)


def test_a_copy_of_the_model_starts_with_no_captures() -> None:
    net = create_model("graves_synthesis", alphabet_size=5, hidden_size=6, cuda_graphs=True)
    net.step_graphs._shapes["x"] = object()
    clone = copy.deepcopy(net)
    assert clone.step_graphs is not net.step_graphs and not clone.step_graphs._shapes
