"""The synthesis network's first LSTM layer and soft window as one recurrence with its own
backward pass: Graves 2013, Sec. 5.1 (Eq. 46-53) and the LSTM of Sec. 2 (Eq. 7-11).

Layer 1 and the window must run step by step (w_t needs h^1_t, which needs w_{t-1}). Left to
autograd, every step records a graph of some forty nodes and, on the way back, accumulates each
weight's gradient with one small matrix product per step. Here the backward pass walks the steps
by hand, propagating only the derivatives of the carried state (h, c, kappa, w), and keeps the
derivatives of the gate and window pre-activations of every step; the weight gradients are then
one large matrix product each over all steps at once, as in a fused LSTM kernel. Same numbers as
autograd (tests/papers/graves/test_handwriting_models.py checks them against it and against finite differences).

Layer 1 (Eq. 52): z_t = W_x x_t + W_w w_{t-1} + W_h h^1_{t-1} + b, gates i, f, g, o of z_t in
nn.LSTMCell's order, c_t = f c_{t-1} + i g, h^1_t = o tanh(c_t). Window (Eq. 46-51): see
paperlab/papers/graves/handwriting/soft_window.py. The LSTM derivative clip of Sec. 4.2 clamps dL/dh^1_t (its
total: from the layers above, the window and the next step) to [-clip, clip], as the hooks of
the other layers do (paperlab/papers/graves/deep_lstm.py).

On CUDA the step loops can run as CUDA graphs (paperlab/papers/graves/handwriting/step_graphs.py,
`model.cuda_graphs=true`): the same step functions below, captured once and replayed, so that the
GPU is not left waiting for the launch of each of the loop's small kernels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import torch

from paperlab.papers.graves.handwriting.soft_window import window_step

if TYPE_CHECKING:
    from paperlab.papers.graves.handwriting.step_graphs import StepGraphs


class Layer1Weights(NamedTuple):
    weight_ih: torch.Tensor  # (4H, 3 + V): x_t then w_{t-1}
    weight_hh: torch.Tensor  # (4H, H)
    bias_ih: torch.Tensor  # (4H,)
    bias_hh: torch.Tensor  # (4H,)
    window_weight: torch.Tensor  # (3K, H)
    window_bias: torch.Tensor  # (3K,)


class Recurrence(NamedTuple):
    h: torch.Tensor  # h^1_t (B, T, H)
    w: torch.Tensor  # w_t (B, T, V)
    phi: torch.Tensor  # phi(t, u) (B, T, U+1)
    kappa: torch.Tensor  # kappa_t (B, T, K)
    c: torch.Tensor  # the last cell state c_T (B, H)


def layer1_and_window(x: torch.Tensor, text: torch.Tensor, u: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                      kappa: torch.Tensor, w: torch.Tensor, weights: Layer1Weights, clip: float | None,
                      graphs: StepGraphs | None = None) -> Recurrence:
    """x (B, T, 3) pen offsets, text one-hot (B, U, V), positions u (U+1,), the state before x_1:
    h, c (B, H), kappa (B, K), w (B, V); clip: the LSTM derivative clip (None: off); graphs: the
    CUDA graphs to run a training step's loops in (None: the eager loops)."""
    if torch.is_autocast_enabled(x.device.type):
        # the hand-written backward keeps one dtype: under mixed precision the step loop would mix
        # bf16 products with fp32 state, and the window's kappa drifts if summed in bf16
        with torch.autocast(x.device.type, enabled=False):
            return layer1_and_window(*(t.float() for t in (x, text, u, h, c, kappa, w)), weights, clip, graphs)
    if torch.is_grad_enabled() and any(t.requires_grad for t in (x, h, c, kappa, w, *weights)):
        return Recurrence(*_Layer1AndWindow.apply(x, text, u, h, c, kappa, w, clip, graphs, *weights))
    return _forward(x, text, u, h, c, kappa, w, weights, saved=None)


def input_part(x: torch.Tensor, weights: Layer1Weights) -> torch.Tensor:
    """W_x x_t + b for every step at once: (B, T, 3) -> (B, T, 4H)."""
    w_x = weights.weight_ih[:, :3]
    return torch.addmm(weights.bias_ih + weights.bias_hh, x.flatten(0, 1), w_x.T).view(*x.shape[:2], -1)


class Steps(NamedTuple):
    """The step loop's outputs over L steps, and what the backward pass needs (keep=True)."""

    h: torch.Tensor  # (B, L, H)
    w: torch.Tensor  # (B, L, V)
    phi: torch.Tensor  # (B, L, U+1)
    kappa: torch.Tensor  # (B, L, K)
    c: torch.Tensor  # c_t after each step (L, B, H); only the last one without keep
    gates: torch.Tensor | None  # i, f, g, o (L, B, 4H)
    exps: torch.Tensor | None  # exp(p_t) (L, B, 3K)
    gauss: torch.Tensor | None  # (L, B, K, U+1)


def forward_steps(z_x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, kappa: torch.Tensor, w: torch.Tensor,
                  text: torch.Tensor, u: torch.Tensor, weights: Layer1Weights, keep: bool) -> Steps:
    """The step loop over the steps of z_x (B, L, 4H) from the state (h, c, kappa, w)."""
    hidden = h.shape[-1]
    w_w = weights.weight_ih[:, 3:]
    hs, cs, ws, phis, kappas, gates, exps, gausses = [], [], [], [], [], [], [], []
    for t in range(z_x.shape[1]):
        # two products rather than one with [W_w W_h]: a concatenated weight copy per call costs more
        # than the second product when sampling one point at a time
        z = torch.addmm(torch.addmm(z_x[:, t], w, w_w.T), h, weights.weight_hh.T)
        s = torch.sigmoid(z)
        g = torch.tanh(z[:, 2 * hidden : 3 * hidden])
        c = s[:, hidden : 2 * hidden] * c + s[:, :hidden] * g
        h = s[:, 3 * hidden :] * torch.tanh(c)
        w, kappa, phi, e, gauss = window_step(torch.addmm(weights.window_bias, h, weights.window_weight.T),
                                              kappa, text, u)
        hs.append(h)
        ws.append(w)
        phis.append(phi)
        kappas.append(kappa)
        if keep:
            cs.append(c)
            gates.append(torch.cat([s[:, :2 * hidden], g, s[:, 3 * hidden :]], dim=-1))
            exps.append(e)
            gausses.append(gauss)
    kept = (torch.stack(cs), torch.stack(gates), torch.stack(exps), torch.stack(gausses)) if keep else (c[None], None, None, None)
    return Steps(torch.stack(hs, 1), torch.stack(ws, 1), torch.stack(phis, 1), torch.stack(kappas, 1), *kept)


def _forward(x: torch.Tensor, text: torch.Tensor, u: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
             kappa: torch.Tensor, w: torch.Tensor, weights: Layer1Weights, saved: dict | None) -> Recurrence:
    """The step loop. `saved` (a dict) receives what the backward pass needs."""
    out = forward_steps(input_part(x, weights), h, c, kappa, w, text, u, weights, keep=saved is not None)
    if saved is not None:
        saved.update(c=torch.cat([c[None], out.c]), gates=out.gates, exps=out.exps, gauss=out.gauss)
    return Recurrence(out.h, out.w, out.phi, out.kappa, out.c[-1])


class Carry(NamedTuple):
    """The derivatives the backward loop carries from step t+1 to step t."""

    dc: torch.Tensor  # dL/dc_t (B, H)
    dh: torch.Tensor  # dL/dh_t from step t+1's gates (B, H)
    dw: torch.Tensor  # dL/dw_t from step t+1's gates (B, V)
    dkappa: torch.Tensor  # dL/dkappa_t from steps after t (B, K)


def backward_steps(dh_out: torch.Tensor, dw_out: torch.Tensor, dphi_out: torch.Tensor, dkappa_out: torch.Tensor,
                   exps: torch.Tensor, kappa: torch.Tensor, gauss: torch.Tensor, gates: torch.Tensor, c: torch.Tensor,
                   carry: Carry, text: torch.Tensor, u: torch.Tensor, wts: Layer1Weights, clip: float | None,
                   ) -> tuple[torch.Tensor, torch.Tensor, Carry]:
    """The backward loop over L steps, last to first: the derivatives of the outputs (B, L, .), the
    saved exps, gauss, gates (L, B, .), kappa (B, L, K), c before and after each step (L+1, B, H),
    and the carry from the step after -> (dz (L, B, 4H), dp (L, B, 3K), the carry into the step before)."""
    b = dh_out.shape[0]
    dc, dh_next, dw_next, dkappa = carry
    dzs, dps = [], []
    for t in reversed(range(dh_out.shape[1])):
        # window (Eq. 46-51): w_t and phi(t, .) from p_t = W_p h_t + b_p and kappa_{t-1}
        dphi = torch.bmm(text, (dw_out[:, t] + dw_next)[..., None]).squeeze(-1)  # (B, U)
        dphi = torch.cat([dphi, dphi.new_zeros(b, 1)], dim=-1) + dphi_out[:, t]
        alpha, beta, step = exps[t].chunk(3, dim=-1)
        dist = kappa[:, t, :, None] - u  # (B, K, U+1)
        dgauss = dphi[:, None, :] * gauss[t]
        weighted = alpha[..., None] * dgauss
        dkappa = dkappa + dkappa_out[:, t] - 2 * beta * (weighted * dist).sum(-1)
        dp = torch.cat([alpha * dgauss.sum(-1), -beta * (weighted * dist * dist).sum(-1), step * dkappa], dim=-1)
        # layer 1's LSTM cell
        dh = torch.addmm(dh_out[:, t] + dh_next, dp, wts.window_weight)
        if clip is not None:
            dh = dh.clamp(-clip, clip)
        i, f, g, o = gates[t].chunk(4, dim=-1)
        tanh_c = torch.tanh(c[t + 1])
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        dz = torch.cat([dc * g * i * (1 - i), dc * c[t] * f * (1 - f), dc * i * (1 - g * g),
                        dh * tanh_c * o * (1 - o)], dim=-1)
        dzs.append(dz)
        dps.append(dp)
        dc = dc * f
        dw_next, dh_next = dz @ wts.weight_ih[:, 3:], dz @ wts.weight_hh
    return torch.stack(dzs[::-1]), torch.stack(dps[::-1]), Carry(dc, dh_next, dw_next, dkappa)


class _Layer1AndWindow(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, text: torch.Tensor, u: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor,
                kappa0: torch.Tensor, w0: torch.Tensor, clip: float | None, graphs: StepGraphs | None,
                *weights: torch.Tensor) -> tuple[torch.Tensor, ...]:
        saved: dict = {}
        wts = Layer1Weights(*weights)
        if graphs is not None:
            out = graphs.forward(x, text, u, h0, c0, kappa0, w0, wts, clip, saved)
        else:
            out = _forward(x, text, u, h0, c0, kappa0, w0, wts, saved)
        ctx.clip, ctx.graphs = clip, graphs
        ctx.save_for_backward(x, text, u, h0, w0, out.h, out.w, out.kappa, saved["c"], saved["gates"],
                              saved["exps"], saved["gauss"], *weights)
        return tuple(out)

    @staticmethod
    def backward(ctx: Any, dh_out: torch.Tensor, dw_out: torch.Tensor, dphi_out: torch.Tensor,
                 dkappa_out: torch.Tensor, dc_last: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (x, text, u, h0, w0, h_seq, w_seq, kappa_seq, c_seq, gates, exps, gauss, *weights) = ctx.saved_tensors
        wts = Layer1Weights(*weights)
        b, hidden = h_seq.shape[0], h_seq.shape[-1]
        zeros = h_seq.new_zeros
        carry = Carry(dc_last, zeros(b, hidden), zeros(b, w0.shape[-1]), zeros(b, kappa_seq.shape[-1]))
        args = (dh_out, dw_out, dphi_out, dkappa_out, exps, kappa_seq, gauss, gates, c_seq, carry, text, u, wts, ctx.clip)
        if ctx.graphs is not None:
            dz_seq, dp_seq, carry = ctx.graphs.backward(*args)
        else:
            dz_seq, dp_seq, carry = backward_steps(*args)
        # the weight gradients: one product over all steps
        dz_flat, dp_flat = dz_seq.flatten(0, 1), dp_seq.flatten(0, 1)
        h_prev = torch.cat([h0[None], h_seq.transpose(0, 1)[:-1]]).flatten(0, 1)
        w_prev = torch.cat([w0[None], w_seq.transpose(0, 1)[:-1]]).flatten(0, 1)
        x_tb = x.transpose(0, 1).flatten(0, 1)
        d_weight_ih = torch.cat([dz_flat.T @ x_tb, dz_flat.T @ w_prev], dim=1)
        d_bias = dz_flat.sum(0)
        dx = (dz_seq @ wts.weight_ih[:, :3]).transpose(0, 1)
        grads = (d_weight_ih, dz_flat.T @ h_prev, d_bias, d_bias,
                 dp_flat.T @ h_seq.transpose(0, 1).flatten(0, 1), dp_flat.sum(0))
        return (dx, None, None, carry.dh, carry.dc, carry.dkappa, carry.dw, None, None, *grads)
