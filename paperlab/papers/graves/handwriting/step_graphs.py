"""Layer 1 and the soft window of the synthesis network (Graves 2013, Sec. 5.1, Eq. 46-53) as
CUDA graphs: the step loops of paperlab/papers/graves/handwriting/window_recurrence.py, captured
once and replayed.

One time step is some twenty small kernels (two products of a few hundred columns, the gates, the
window's Gaussians); on a large GPU each takes less time than launching it, so the eager loop runs
at the launch rate, whatever the GPU. A CUDA graph launches a recorded sequence of kernels at
once. A graph is fixed in its shapes and its memory, so the sequence is cut into chunks of 64,
32, ..., 1 steps (T = 64 n + the binary digits of the rest), each captured once (forward and
backward) per batch size and padded text length and replayed in turn over static buffers:
inputs copied in, outputs copied out, the carried state (h, c, kappa, w forward; dc, dh, dw,
dkappa backward) handed from chunk to chunk. The captured functions are the eager ones
(`forward_steps`, `backward_steps`), so the graphs compute the same numbers.

Text lengths are padded up to a multiple of 16 with zero rows, so that a handful of shapes cover a
dataset: a zero row adds nothing to w_t (Eq. 47) and gets no derivative, and phi(t, u) is
computed per position u, so the padded positions are simply cut off (phi(t, U+1), Sec. 5.3's
stopping position, is kept).

Capture follows torch.cuda.graph's documented recipe: a warm-up run on a side stream first (lazy
cuBLAS set-up must not happen during a capture), capture_error_mode="thread_local" (a data loader
thread may allocate pinned memory meanwhile). Graphs are kept for the last few shapes (LRU).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch

from paperlab.papers.graves.handwriting.window_recurrence import (
    Carry,
    Layer1Weights,
    Recurrence,
    Steps,
    backward_steps,
    forward_steps,
    input_part,
)

CHUNK = 64  # longest chunk: 64 steps per replay leave the launch cost of one replay negligible
TEXT_MULTIPLE = 16  # text lengths padded up to this multiple: few shapes, few captures
KEEP_SHAPES = 8  # (batch, text length) shapes whose graphs are kept


def chunk_lengths(steps: int) -> list[int]:
    """steps = 64 n + the powers of two of the rest, longest first."""
    rest = steps % CHUNK
    return [CHUNK] * (steps // CHUNK) + [1 << j for j in reversed(range(CHUNK.bit_length())) if rest & (1 << j)]


def _capture(fn: Callable[[], Any], device: torch.device) -> tuple[torch.cuda.CUDAGraph, Any]:
    """A CUDA graph of `fn` (which reads and writes static tensors) and its static outputs."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        fn()  # warm-up outside the capture
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, capture_error_mode="thread_local"):
        out = fn()
    return graph, out


def _on(device: torch.device) -> AbstractContextManager:
    """`device` as the current CUDA device (replays and captures run on the current device's stream)."""
    return torch.cuda.device(device) if device.type == "cuda" else nullcontext()


class _Shape:
    """The static inputs shared by one shape's chunks (weights, text, positions), and its chunks."""

    def __init__(self, b: int, u1: int, like: Layer1Weights, clip: float | None) -> None:
        self.weights = Layer1Weights(*(torch.empty_like(t) for t in like))
        hidden, v = like.weight_hh.shape[1], like.weight_ih.shape[1] - 3
        self.text = like.weight_hh.new_zeros(b, u1 - 1, v)
        self.u = like.weight_hh.new_zeros(u1)
        self.b, self.u1, self.hidden, self.v, self.k = b, u1, hidden, v, like.window_bias.shape[0] // 3
        self.clip = clip
        self.forward_chunks: dict[int, _ForwardChunk] = {}
        self.backward_chunks: dict[int, _BackwardChunk] = {}

    def load(self, text: torch.Tensor, u: torch.Tensor, weights: Layer1Weights) -> None:
        for static, t in zip(self.weights, weights, strict=True):
            static.copy_(t.detach())
        self.text.zero_()[:, : text.shape[1]].copy_(text)
        self.u[: len(u)].copy_(u)
        # positions past the text: the next ones along (their text rows are zero)
        self.u[len(u):] = u[-1] + torch.arange(1, self.u1 - len(u) + 1, device=u.device, dtype=u.dtype)

    def forward_chunk(self, steps: int) -> _ForwardChunk:
        if steps not in self.forward_chunks:
            self.forward_chunks[steps] = _ForwardChunk(self, steps)
        return self.forward_chunks[steps]

    def backward_chunk(self, steps: int) -> _BackwardChunk:
        if steps not in self.backward_chunks:
            self.backward_chunks[steps] = _BackwardChunk(self, steps)
        return self.backward_chunks[steps]


class _ForwardChunk:
    """The forward graph of `steps` time steps: static input part of the gates and state before
    the chunk in, `Steps` out."""

    def __init__(self, s: _Shape, steps: int) -> None:
        new = s.weights.weight_hh.new_zeros
        self.z_x = new(s.b, steps, 4 * s.hidden)
        self.state = (new(s.b, s.hidden), new(s.b, s.hidden), new(s.b, s.k), new(s.b, s.v))
        with torch.no_grad():
            self.graph, self.out = _capture(
                lambda: forward_steps(self.z_x, *self.state, s.text, s.u, s.weights, keep=True), s.text.device)


class _BackwardChunk:
    """The backward graph of `steps` time steps: static derivatives of the chunk's outputs, what
    the forward pass kept, the carry from the step after in; (dz, dp, carry) out."""

    def __init__(self, s: _Shape, steps: int) -> None:
        new = s.weights.weight_hh.new_zeros
        self.d_out = (new(s.b, steps, s.hidden), new(s.b, steps, s.v), new(s.b, steps, s.u1), new(s.b, steps, s.k))
        self.kept = (new(steps, s.b, 3 * s.k), new(s.b, steps, s.k), new(steps, s.b, s.k, s.u1),
                     new(steps, s.b, 4 * s.hidden), new(steps + 1, s.b, s.hidden))
        self.carry = Carry(new(s.b, s.hidden), new(s.b, s.hidden), new(s.b, s.v), new(s.b, s.k))
        with torch.no_grad():
            self.graph, self.out = _capture(
                lambda: backward_steps(*self.d_out, *self.kept, self.carry, s.text, s.u, s.weights, s.clip),
                s.text.device)


class StepGraphs:
    """CUDA graphs of layer 1 + window for one model (`HandwritingSynthesis`, cuda_graphs=True):
    `forward` and `backward` stand in for the eager loops of window_recurrence._Layer1AndWindow."""

    def __init__(self) -> None:
        self._shapes: OrderedDict[tuple, _Shape] = OrderedDict()

    def __reduce__(self) -> tuple:
        return (StepGraphs, ())  # a cache of captures: a copy (deepcopy, pickle) starts empty

    def _shape(self, b: int, u1: int, weights: Layer1Weights, clip: float | None) -> _Shape:
        w = weights.weight_hh
        key = (b, u1, tuple(weights.weight_ih.shape), tuple(weights.window_weight.shape), clip, w.dtype, w.device)
        if key not in self._shapes:
            self._shapes[key] = _Shape(b, u1, weights, clip)
            while len(self._shapes) > KEEP_SHAPES:
                self._shapes.popitem(last=False)
        self._shapes.move_to_end(key)
        return self._shapes[key]

    def forward(self, x: torch.Tensor, text: torch.Tensor, u: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                kappa: torch.Tensor, w: torch.Tensor, weights: Layer1Weights, clip: float | None,
                saved: dict) -> Recurrence:
        """window_recurrence._forward with `saved`, chunk by chunk. saved["gauss"] keeps the padded
        positions, for `backward`."""
        b, steps = x.shape[:2]
        u1 = -(-text.shape[1] // TEXT_MULTIPLE) * TEXT_MULTIPLE + 1
        with _on(x.device):
            shape = self._shape(b, u1, weights, clip)
            shape.load(text, u, weights)
            z_x = input_part(x, weights)
            new = x.new_empty
            hidden, v, k = shape.hidden, shape.v, shape.k
            out = Steps(new(b, steps, hidden), new(b, steps, v), new(b, steps, u1), new(b, steps, k),
                        new(steps + 1, b, hidden), new(steps, b, 4 * hidden), new(steps, b, 3 * k), new(steps, b, k, u1))
            out.c[0] = c
            state, t0 = (h, c, kappa, w), 0
            for n in chunk_lengths(steps):
                chunk = shape.forward_chunk(n)
                shape.backward_chunk(n)  # captured here, in the main thread, not in autograd's
                chunk.z_x.copy_(z_x[:, t0 : t0 + n])
                for static, value in zip(chunk.state, state, strict=True):
                    static.copy_(value)
                chunk.graph.replay()
                got = chunk.out
                for full, part in zip(out[:4], got[:4], strict=True):  # (B, L, .)
                    full[:, t0 : t0 + n] = part
                out.c[t0 + 1 : t0 + n + 1] = got.c
                for full, part in zip(out[5:], got[5:], strict=True):  # (L, B, .)
                    full[t0 : t0 + n] = part
                state, t0 = (got.h[:, -1], got.c[-1], got.kappa[:, -1], got.w[:, -1]), t0 + n
        saved.update(c=out.c, gates=out.gates, exps=out.exps, gauss=out.gauss)
        return Recurrence(out.h, out.w, out.phi[..., : u.shape[0]].contiguous(), out.kappa, out.c[-1])

    def backward(self, dh_out: torch.Tensor, dw_out: torch.Tensor, dphi_out: torch.Tensor, dkappa_out: torch.Tensor,
                 exps: torch.Tensor, kappa: torch.Tensor, gauss: torch.Tensor, gates: torch.Tensor, c: torch.Tensor,
                 carry: Carry, text: torch.Tensor, u: torch.Tensor, wts: Layer1Weights, clip: float | None,
                 ) -> tuple[torch.Tensor, torch.Tensor, Carry]:
        """window_recurrence.backward_steps over the whole sequence, chunk by chunk from the end.
        `gauss` comes from `forward` (padded positions); dphi_out gets zeros there."""
        b, steps = dh_out.shape[:2]
        with _on(dh_out.device):
            shape = self._shape(b, gauss.shape[-1], wts, clip)
            shape.load(text, u, wts)
            dz_seq = dh_out.new_empty(steps, b, 4 * shape.hidden)
            dp_seq = dh_out.new_empty(steps, b, 3 * shape.k)
            t1 = steps
            for n in reversed(chunk_lengths(steps)):
                t0, chunk = t1 - n, shape.backward_chunk(n)
                d_h, d_w, d_phi, d_kappa = chunk.d_out
                d_h.copy_(dh_out[:, t0:t1])
                d_w.copy_(dw_out[:, t0:t1])
                d_phi.zero_()[..., : dphi_out.shape[-1]].copy_(dphi_out[:, t0:t1])
                d_kappa.copy_(dkappa_out[:, t0:t1])
                for static, value in zip(chunk.kept, (exps[t0:t1], kappa[:, t0:t1], gauss[t0:t1], gates[t0:t1],
                                                      c[t0 : t1 + 1]), strict=True):
                    static.copy_(value)
                for static, value in zip(chunk.carry, carry, strict=True):
                    static.copy_(value)
                chunk.graph.replay()
                dz, dp, carry = chunk.out
                dz_seq[t0:t1] = dz
                dp_seq[t0:t1] = dp
                t1 = t0
            # the carry out of the first chunk lives in a graph's static memory: copies for the caller
            return dz_seq, dp_seq, Carry(*(t.clone() for t in carry))
