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
- the block's conv output z under the sim head: BatchNorm's backward needs z, so z is held until
  the block's backward pass, and the sim head's backward pass, which runs first, holds it beside
  h (kept for the sim conv's weight gradient) and the sim conv's output gradient. On vgg8b's
  256-channel block these maps with the block's input, the mask and the passed-on output already
  come to 0.555x of global backprop's peak. `conv_batch_norm_act` keeps the block's input x
  (half of z's size there) instead of z and computes z again in the backward pass: one more
  convolution of the block's size.

These ops are used only under a local rule in training (blocks.py, local_losses.py); global
backprop runs torch's own modules. Forward values are torch's (native_batch_norm, relu_ /
leaky_relu_, avg_pool2d: bit for bit, running statistics included; max_pool_2x2: the same
maxima; the sliced convs: per-slice convs, and the recomputed z is the forward pass's bit for
bit). The backward passes are the same formulas (BatchNorm's as torch's CPU kernel writes it;
a conv's weight gradient a sum over slices), equal to torch's up to float rounding
(tests/papers/local_loss/test_local_loss_lean_ops.py).
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


def _batch_norm_act(z: Tensor, weight: Tensor, bias: Tensor, running_mean: Tensor,
                    running_var: Tensor, momentum: float, eps: float,
                    slope: float | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """act(BatchNorm(z)) in training mode: (y, mean, invstd, drop), drop the bool mask of where
    the activation's backward pass scales the gradient (ReLU: zeroes it)."""
    y, mean, invstd = torch.native_batch_norm(
        z, weight, bias, running_mean, running_var, True, momentum, eps
    )
    if slope is None:
        y.relu_()
        drop = y <= 0  # threshold_backward: result <= 0 ? 0 : grad
    else:
        F.leaky_relu_(y, slope)
        drop = (y > 0).logical_not_()  # leaky_relu_backward: result > 0 ? grad : grad * slope
    return y, mean, invstd, drop


def _batch_norm_act_backward(
    grad: Tensor, z: Tensor, weight: Tensor, mean: Tensor, invstd: Tensor, drop: Tensor,
    slope: float | None, needs: tuple[bool, bool, bool],
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """(dz, dweight, dbias) of _batch_norm_act, for those `needs` asks; dz is written into the
    incoming gradient and z, needed no more, is the work map."""
    dy = _writable(grad)
    if slope is None:
        dy.masked_fill_(drop, 0)
    else:
        for g, d in zip(dy.split(CHUNK), drop.split(CHUNK), strict=True):
            g.copy_(torch.where(d, g * slope, g))
    # BatchNorm in training, per channel c over its n values (torch's CPU kernel's formula):
    # dz = (dy - mean(dy) - (z - mean) k) invstd w,  k = sum((z - mean) dy) invstd^2 / n
    dims = (0, *range(2, z.dim()))
    shape = (1, -1) + (1,) * (z.dim() - 2)
    n = z.numel() // z.size(1)
    total = dy.sum(dims)
    centred = z.sub_(mean.view(shape))
    dotp = sum(
        (c * g).sum(dims) for c, g in zip(centred.split(CHUNK), dy.split(CHUNK), strict=True)
    )
    k = dotp * invstd * invstd / n
    grad_w = dotp * invstd if needs[1] else None
    grad_b = total if needs[2] else None
    dz = None
    if needs[0]:
        dz = dy.sub_((total / n).view(shape)).sub_(centred.mul_(k.view(shape)))
        dz.mul_(invstd.view(shape)).mul_(weight.view(shape))
    return dz, grad_w, grad_b


class _BatchNormAct(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, z: Tensor, weight: Tensor, bias: Tensor, running_mean: Tensor,
                running_var: Tensor, momentum: float, eps: float, slope: float | None) -> Tensor:
        y, mean, invstd, drop = _batch_norm_act(
            z, weight, bias, running_mean, running_var, momentum, eps, slope
        )
        ctx.slope = slope
        ctx.save_for_backward(z, weight, mean, invstd, drop)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        z, weight, mean, invstd, drop = ctx.saved_tensors
        return *_batch_norm_act_backward(
            grad, z, weight, mean, invstd, drop, ctx.slope, ctx.needs_input_grad[:3]
        ), None, None, None, None, None


class _ConvBatchNormAct(torch.autograd.Function):
    """act(BatchNorm(conv(x))) keeping x instead of z = conv(x): z is computed again, slice by
    slice as in the forward pass (so bit for bit), in the backward pass. One more convolution
    buys one map less held from the forward pass to the backward pass."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, conv_w: Tensor, conv_b: Tensor | None, weight: Tensor,
                bias: Tensor, running_mean: Tensor, running_var: Tensor, momentum: float,
                eps: float, slope: float | None, conv: nn.Conv2d) -> Tensor:
        z = _sliced_conv(conv, x, conv_w, conv_b)
        y, mean, invstd, drop = _batch_norm_act(
            z, weight, bias, running_mean, running_var, momentum, eps, slope
        )
        ctx.conv, ctx.slope = conv, slope
        ctx.save_for_backward(x, conv_w, conv_b, weight, mean, invstd, drop)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, conv_w, conv_b, weight, mean, invstd, drop = ctx.saved_tensors
        need = ctx.needs_input_grad
        z = _sliced_conv(ctx.conv, x, conv_w, conv_b)
        dz, grad_w, grad_b = _batch_norm_act_backward(
            grad, z, weight, mean, invstd, drop, ctx.slope, (True, need[3], need[4])
        )
        del z  # spent as BatchNorm's work map: freed before the conv's backward pass
        dx = torch.empty_like(x) if need[0] else None
        grad_cw, grad_cb = _sliced_conv_backward(
            ctx.conv, dz, x, conv_w, dx, need[1], conv_b is not None and need[2]
        )
        return dx, grad_cw, grad_cb, grad_w, grad_b, None, None, None, None, None, None


def _norm_act_args(norm: nn.modules.batchnorm._BatchNorm,
                   act: nn.Module) -> tuple[Tensor, Tensor, Tensor, Tensor, float, float, float | None]:
    """The arguments of _batch_norm_act for `norm` a training-mode BatchNorm with affine weights
    and running statistics and `act` a ReLU or LeakyReLU; counts the batch as norm(z) does."""
    if not (norm.training and norm.affine and norm.track_running_stats):
        raise ValueError("batch_norm_act: a training-mode BatchNorm with weights and running stats")
    slope = act.negative_slope if isinstance(act, nn.LeakyReLU) else None
    if slope is None and not isinstance(act, nn.ReLU):
        raise ValueError(f"batch_norm_act: a ReLU or LeakyReLU, not {type(act).__name__}")
    momentum = norm.momentum
    if norm.num_batches_tracked is not None:
        norm.num_batches_tracked.add_(1)
        if momentum is None:  # a cumulative average, as _BatchNorm.forward
            momentum = 1.0 / float(norm.num_batches_tracked)
    return norm.weight, norm.bias, norm.running_mean, norm.running_var, momentum, norm.eps, slope


def batch_norm_act(norm: nn.modules.batchnorm._BatchNorm, act: nn.Module, z: Tensor) -> Tensor:
    """act(norm(z)) in training mode for `norm` a BatchNorm with affine weights and running
    statistics and `act` a ReLU or LeakyReLU, keeping only z and a bool mask for the backward
    pass; the running statistics and num_batches_tracked are updated as norm(z) updates them."""
    return _BatchNormAct.apply(z, *_norm_act_args(norm, act))


def conv_batch_norm_act(conv: nn.Conv2d, norm: nn.modules.batchnorm._BatchNorm, act: nn.Module,
                        x: Tensor) -> Tensor:
    """act(norm(conv(x))) as batch_norm_act, keeping x and the mask but not conv(x), which the
    backward pass computes again (contiguous NCHW x, zero padding; otherwise batch_norm_act)."""
    if not (x.dim() == 4 and x.is_contiguous() and conv.padding_mode == "zeros"):
        return batch_norm_act(norm, act, conv(x))
    return _ConvBatchNormAct.apply(x, conv.weight, conv.bias, *_norm_act_args(norm, act), conv)


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


def _sliced_conv(conv: nn.Conv2d, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """conv's convolution of x with (weight, bias), slice by slice of the batch into one output:
    torch's CPU (oneDNN) conv allocates a work map beside its output, here a slice's."""
    out = None
    for i, part in enumerate(x.split(CHUNK)):
        o = F.conv2d(part, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
        if out is None:
            out = o.new_empty((x.size(0), *o.shape[1:]))
        out[i * CHUNK : i * CHUNK + o.size(0)].copy_(o)
    return out


def _sliced_conv_backward(conv: nn.Conv2d, dy: Tensor, x: Tensor, weight: Tensor,
                          dx: Tensor | None, need_w: bool, need_b: bool
                          ) -> tuple[Tensor | None, Tensor | None]:
    """The weight and bias gradients of _sliced_conv, sums over the slices; the input gradient,
    when dx is given, written into it slice by slice (dx may be dy itself: each slice's input
    gradient depends on that slice's output gradient only)."""
    grad_w = grad_b = None
    for i, (g, part) in enumerate(zip(dy.split(CHUNK), x.split(CHUNK), strict=True)):
        gx, gw, gb = torch.ops.aten.convolution_backward(
            g, part, weight, [weight.size(0)] if need_b else None, conv.stride, conv.padding,
            conv.dilation, False, [0, 0], conv.groups, [dx is not None, need_w, need_b],
        )
        if need_w:
            grad_w = gw if grad_w is None else grad_w.add_(gw)
        if need_b:
            grad_b = gb if grad_b is None else grad_b.add_(gb)
        if dx is not None:
            dx[i * CHUNK : i * CHUNK + g.size(0)].copy_(gx)
    return grad_w, grad_b


class _SameSizeConv(torch.autograd.Function):
    """A bias-free conv whose output has its input's shape (the sim head's 3x3 C -> C conv), run
    on slices of the batch: torch's CPU (oneDNN) conv allocates a work map beside its output in
    the forward pass, and three (the input gradient and reordered copies of the input and of the
    output gradient) in the backward pass. Sliced, each slice's input gradient is written over
    its output gradient, in place."""

    @staticmethod
    def forward(ctx: Any, h: Tensor, weight: Tensor, conv: nn.Conv2d) -> Tensor:
        ctx.conv = conv
        ctx.save_for_backward(h, weight)
        return _sliced_conv(conv, h, weight, None)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        h, weight = ctx.saved_tensors
        dy = _writable(grad)
        need_h = ctx.needs_input_grad[0]
        grad_w, _ = _sliced_conv_backward(
            ctx.conv, dy, h, weight, dy if need_h else None, ctx.needs_input_grad[1], False
        )
        return (dy if need_h else None), grad_w, None


def same_size_conv(conv: nn.Conv2d, h: Tensor) -> Tensor:
    """conv(h) for a bias-free conv that keeps h's shape, with a sliced, in-place backward pass
    (contiguous NCHW maps with gradient; others: conv(h))."""
    if not (torch.is_grad_enabled() and h.is_contiguous() and h.dim() == 4 and conv.bias is None
            and conv.padding_mode == "zeros" and conv.weight.shape[0] == conv.weight.shape[1]
            and tuple(conv.stride) == (1, 1)):
        return conv(h)
    return _SameSizeConv.apply(h, conv.weight, conv)
