"""Lean-memory versions of the ops of a block under a local rule (Nøkland & Eidnes 2019, Sec. 1
and 5: a local step need only hold one block). They compute the same functions and the same
gradients as torch's ops; what changes is what is kept for the backward pass, where the backward
pass writes, and which work maps are allocated.

Under a local rule one block's own step is the peak of the whole step, and in that step torch's
ops keep and allocate more than the gradient needs (benchmarks/local_loss.py, vgg8b's 256-channel
28 x 28 block, 98 MiB per map of a batch of 128):

- BatchNorm -> ReLU: ReLU keeps its float output h for its backward, the pred head's average
  pooling keeps h too (only for its shape), so h lives until the backward pass although the next
  block's input has already been made from it. `batch_norm_act` keeps a bool mask (a quarter of
  h) instead, and `avg_pool` keeps nothing, so h is freed as soon as it is passed on.
- the backward passes of ReLU and BatchNorm each allocate a new map (torch's CPU BatchNorm
  backward two: its result and a work map), while the incoming gradient and BatchNorm's input
  are held: up to four maps at once. `batch_norm_act`'s backward writes the activation's and
  BatchNorm's input gradients into the incoming gradient, in place, and uses BatchNorm's saved
  input (no longer needed) as its one work map.
- max-pooling the detached h to pass it on: torch's CPU max_pool2d allocates an int64 argmax
  map (twice the output) even without gradient; `max_pool_2x2` takes the maxima only.
- the sim head's 3x3 conv: torch's CPU (oneDNN) conv allocates a work map beside its output, and
  three beside the input gradient in its backward pass; `same_size_conv` runs both passes on
  slices of the batch and writes the input gradient over the output gradient.

These ops are used only under a local rule in training (blocks.py, local_losses.py); global
backprop runs torch's own modules. Forward values are torch's (native_batch_norm, relu_ /
leaky_relu_, avg_pool2d: bit for bit, running statistics included; max_pool_2x2: the same
maxima; the sliced conv: per-slice convs). The backward passes are the same formulas (BatchNorm's
as torch's CPU kernel writes it; the conv's weight gradient a sum over slices), equal to torch's
up to float rounding (tests/papers/local_loss/test_local_loss_lean_ops.py).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

CHUNK = 16  # samples per slice where a slice-sized temporary is needed


def _writable(grad: Tensor) -> Tensor:
    """The incoming gradient, to be overwritten: autograd hands each node a gradient of its own
    (a fresh result or a sum buffer); a broadcast one (stride 0) is copied first."""
    if torch._debug_has_internal_overlap(grad) != 0:
        return grad.clone(memory_format=torch.contiguous_format)
    return grad


class _BatchNormAct(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, z: Tensor, weight: Tensor, bias: Tensor, running_mean: Tensor,
                running_var: Tensor, momentum: float, eps: float, slope: float | None) -> Tensor:
        y, mean, invstd = torch.native_batch_norm(
            z, weight, bias, running_mean, running_var, True, momentum, eps
        )
        if slope is None:
            y.relu_()
            drop = y <= 0  # threshold_backward: result <= 0 ? 0 : grad
        else:
            F.leaky_relu_(y, slope)
            drop = (y > 0).logical_not_()  # leaky_relu_backward: result > 0 ? grad : grad * slope
        ctx.slope = slope
        ctx.save_for_backward(z, weight, mean, invstd, drop)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        z, weight, mean, invstd, drop = ctx.saved_tensors
        dy = _writable(grad)
        if ctx.slope is None:
            dy.masked_fill_(drop, 0)
        else:
            for g, d in zip(dy.split(CHUNK), drop.split(CHUNK), strict=True):
                g.copy_(torch.where(d, g * ctx.slope, g))
        # BatchNorm in training, per channel c over its n values (torch's CPU kernel's formula):
        # dz = (dy - mean(dy) - (z - mean) k) invstd w,  k = sum((z - mean) dy) invstd^2 / n
        dims = (0, *range(2, z.dim()))
        shape = (1, -1) + (1,) * (z.dim() - 2)
        n = z.numel() // z.size(1)
        total = dy.sum(dims)
        centred = z.sub_(mean.view(shape))  # z is needed no more: the work map
        dotp = sum(
            (c * g).sum(dims) for c, g in zip(centred.split(CHUNK), dy.split(CHUNK), strict=True)
        )
        k = dotp * invstd * invstd / n
        grad_w = dotp * invstd if ctx.needs_input_grad[1] else None
        grad_b = total if ctx.needs_input_grad[2] else None
        dz = None
        if ctx.needs_input_grad[0]:
            dz = dy.sub_((total / n).view(shape)).sub_(centred.mul_(k.view(shape)))
            dz.mul_(invstd.view(shape)).mul_(weight.view(shape))
        return dz, grad_w, grad_b, None, None, None, None, None


def batch_norm_act(norm: nn.modules.batchnorm._BatchNorm, act: nn.Module, z: Tensor) -> Tensor:
    """act(norm(z)) in training mode for `norm` a BatchNorm with affine weights and running
    statistics and `act` a ReLU or LeakyReLU, keeping only z and a bool mask for the backward
    pass; the running statistics and num_batches_tracked are updated as norm(z) updates them."""
    if not (norm.training and norm.affine and norm.track_running_stats):
        raise ValueError("batch_norm_act: a training-mode BatchNorm with weights and running stats")
    momentum = norm.momentum
    if norm.num_batches_tracked is not None:
        norm.num_batches_tracked.add_(1)
        if momentum is None:  # a cumulative average, as _BatchNorm.forward
            momentum = 1.0 / float(norm.num_batches_tracked)
    slope = act.negative_slope if isinstance(act, nn.LeakyReLU) else None
    if slope is None and not isinstance(act, nn.ReLU):
        raise ValueError(f"batch_norm_act: a ReLU or LeakyReLU, not {type(act).__name__}")
    return _BatchNormAct.apply(z, norm.weight, norm.bias, norm.running_mean, norm.running_var,
                               momentum, norm.eps, slope)


class _AvgPool(torch.autograd.Function):
    """torch's avg_pool2d, keeping only its input's shape for the backward pass (torch's keeps
    the input itself, of which its backward reads only the shape)."""

    @staticmethod
    def forward(ctx: Any, h: Tensor, pool: nn.AvgPool2d) -> Tensor:
        ctx.pool, ctx.shape = pool, h.shape
        return pool(h)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        p = ctx.pool
        shape_only = grad.new_empty(()).expand(ctx.shape)
        return torch.ops.aten.avg_pool2d_backward(
            grad, shape_only, p.kernel_size, p.stride, p.padding, p.ceil_mode,
            p.count_include_pad, p.divisor_override,
        ), None


def avg_pool(pool: nn.AvgPool2d, h: Tensor) -> Tensor:
    """pool(h), without keeping h for the backward pass (contiguous NCHW maps; others: pool(h))."""
    if not (torch.is_grad_enabled() and h.requires_grad and h.is_contiguous()):
        return pool(h)
    return _AvgPool.apply(h, pool)


def max_pool_2x2(h: Tensor) -> Tensor:
    """F.max_pool2d(h, 2, 2) without gradient: the same maxima (NaN propagating, odd sizes floored),
    without the argmax map (int64, twice the output's size) torch's CPU kernel allocates."""
    if h.requires_grad and torch.is_grad_enabled() or h.dim() != 4 or not h.is_contiguous():
        return F.max_pool2d(h, 2, 2)
    rows, cols = h.size(2) // 2, h.size(3) // 2
    h = h[:, :, : 2 * rows, : 2 * cols]
    return h.unflatten(3, (cols, 2)).unflatten(2, (rows, 2)).amax(dim=(3, 5))


class _SameSizeConv(torch.autograd.Function):
    """A bias-free conv whose output has its input's shape (the sim head's 3x3 C -> C conv), run
    on slices of the batch: torch's CPU (oneDNN) conv allocates a work map beside its output in
    the forward pass, and three (the input gradient and reordered copies of the input and of the
    output gradient) in the backward pass. Sliced, the forward pass writes each slice into the
    output; in the backward pass each slice's input gradient depends on that slice's output
    gradient only, so it is written over it, in place, and the weight gradient is the sum of the
    slices'."""

    @staticmethod
    def forward(ctx: Any, h: Tensor, weight: Tensor, conv: nn.Conv2d) -> Tensor:
        ctx.conv = conv
        ctx.save_for_backward(h, weight)
        out = torch.empty_like(h)
        for x, o in zip(h.split(CHUNK), out.split(CHUNK), strict=True):
            o.copy_(F.conv2d(x, weight, None, conv.stride, conv.padding, conv.dilation, conv.groups))
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        h, weight = ctx.saved_tensors
        c = ctx.conv
        need_h, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        dy = _writable(grad)
        grad_w = None
        for g, x in zip(dy.split(CHUNK), h.split(CHUNK), strict=True):
            dx, dw, _ = torch.ops.aten.convolution_backward(
                g, x, weight, None, c.stride, c.padding, c.dilation, False, [0, 0], c.groups,
                [need_h, need_w, False],
            )
            if need_w:
                grad_w = dw if grad_w is None else grad_w.add_(dw)
            if need_h:
                g.copy_(dx)
        return (dy if need_h else None), grad_w, None


def same_size_conv(conv: nn.Conv2d, h: Tensor) -> Tensor:
    """conv(h) for a bias-free conv that keeps h's shape, with a sliced, in-place backward pass
    (contiguous NCHW maps with gradient; others: conv(h))."""
    if not (torch.is_grad_enabled() and h.is_contiguous() and h.dim() == 4 and conv.bias is None
            and conv.padding_mode == "zeros" and conv.weight.shape[0] == conv.weight.shape[1]
            and tuple(conv.stride) == (1, 1)):
        return conv(h)
    return _SameSizeConv.apply(h, conv.weight, conv)
