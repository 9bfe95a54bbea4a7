"""Occlusion sensitivity, Zeiler & Fergus 2013, Sec. 4.2 and Fig. 7: slide a grey square over the
image and record, for every position, (b) the total activation of one feature map (the strongest
of the unoccluded image, at layer 5), (d) the probability of the correct class and (e) the most
probable class.

The naive way runs the whole network once per position. An occluder changes only a small window
of the early layers' outputs, so, as in incremental inference for occlusion (Krypton, Nakandala et
al., SIGMOD 2019), each position recomputes only that window through the early layers, on top of
the unoccluded image's activations: the window grows with each layer's kernel and shrinks with its
stride. Once it covers more than `max_window` of a layer's map, the occluded maps are assembled
in full and the rest of the network runs as usual. Positions are processed in batches (a fixed
window size per layer, so each batch is one tensor). The results are the exact ones (the same
arithmetic on the same numbers), not an approximation: tests compare them with one full forward
pass per position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from paperlab.errors import UserError
from paperlab.interpret.stack import POINTWISE, LayerStack, Window, windows


def positions(size: int, square: int, stride: int) -> torch.Tensor:
    """Top (or left) coordinates of the square along one axis: every `stride` pixels, plus a last
    one flush with the far edge so the whole image is covered."""
    if square > size:
        raise UserError(f"the occluder ({square} px) is larger than the image ({size} px)",
                        f"use occlude.size <= {size}")
    if square < 1 or stride < 1:
        raise UserError(f"occluder size and stride must be >= 1 (got {square}, {stride})",
                        "e.g. occlude.size=8 occlude.stride=2")
    pos = list(range(0, size - square + 1, stride))
    if pos[-1] != size - square:
        pos.append(size - square)
    return torch.tensor(pos)


@dataclass
class OcclusionMaps:
    """One value per occluder position, (rows, cols) each; `top`/`left` are the positions."""

    activation: torch.Tensor  # total activation of the chosen feature map (Fig. 7b)
    probability: torch.Tensor  # p(target class) (Fig. 7d)
    top_class: torch.Tensor  # most probable class (Fig. 7e)
    top: torch.Tensor
    left: torch.Tensor


@dataclass
class _Patch:
    """What the occluder changed at one layer: a (B, C, h, w) window per position at (rows, cols)."""

    values: torch.Tensor
    rows: torch.Tensor  # (B,) first changed row
    cols: torch.Tensor


def _changed_window(start: torch.Tensor, size: int, w: Window, out_len: int) -> tuple[torch.Tensor, int]:
    """Outputs of a conv/pool whose input window meets [start, start+size): their first index
    (per position) and one common count (the largest; windows shifted to stay in the map)."""
    first = torch.div(start + w.padding - w.span + w.stride, w.stride, rounding_mode="floor").clamp(min=0)
    last = torch.div(start + size - 1 + w.padding, w.stride, rounding_mode="floor").clamp(max=out_len - 1)
    count = int((last - first + 1).max())
    return first.clamp(max=out_len - count), count


def _gather(src: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """src (1, C, H, W) at per-position row/col index grids (B, h), (B, w) -> (B, C, h, w)
    (gathered channels-last: each index copies a run of C values)."""
    return src[0].permute(1, 2, 0)[rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def _paste(region: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, patch: _Patch) -> torch.Tensor:
    """`region` (B, C, h, w) covers map rows/cols given per position by `rows` (B, h), `cols` (B, w):
    replace what the patch covers with the patch."""
    ph, pw = patch.values.shape[2:]
    r = rows - patch.rows[:, None]
    c = cols - patch.cols[:, None]
    inside = ((r >= 0) & (r < ph))[:, :, None] & ((c >= 0) & (c < pw))[:, None, :]
    b = torch.arange(len(rows))[:, None, None]
    moved = patch.values.permute(0, 2, 3, 1)[b, r.clamp(0, ph - 1)[:, :, None], c.clamp(0, pw - 1)[:, None, :]]
    moved = moved.permute(0, 3, 1, 2)
    return torch.where(inside[:, None], moved, region)


@dataclass
class _Step:
    """Where one conv/pool's changed output window lies for every position: first row/col (P,) and
    the common height/width; and the unoccluded input of the layer, padded as the layer pads it."""

    rows: torch.Tensor
    cols: torch.Tensor
    height: int
    width: int
    padded: torch.Tensor


def _plan(stack: LayerStack, base: list[torch.Tensor], rows: torch.Tensor, cols: torch.Tensor, square: int,
          max_window: float) -> list[_Step | None]:
    """The changed window of each module's output (None: pointwise, same window), from the image
    up to the first layer whose window would cover more than `max_window` of its map."""
    steps: list[_Step | None] = []
    h = w = square
    for i in range(len(base) - 1):
        geometry = windows(stack.modules[i])
        if geometry is not None:
            out_h, out_w = base[i + 1].shape[2:]
            rows, h = _changed_window(rows, h, geometry[0], out_h)
            cols, w = _changed_window(cols, w, geometry[1], out_w)
            if h * w > max_window * out_h * out_w:
                break
            steps.append(_Step(rows, cols, h, w, _pad(stack.modules[i], geometry, base[i], (out_h, out_w))))
        else:
            steps.append(None)
    return steps


def _pad(module: nn.Module, geometry: tuple[Window, Window], base_in: torch.Tensor,
         out_size: tuple[int, int]) -> torch.Tensor:
    """A layer's input padded as the layer pads it (zeros for a conv, -inf for max-pooling), and on
    the far sides as far as its last window reaches (ceil mode)."""
    wr, wc = geometry
    (out_h, out_w), (in_h, in_w) = out_size, base_in.shape[2:]
    below = max(wr.padding, (out_h - 1) * wr.stride + wr.span - wr.padding - in_h)
    right = max(wc.padding, (out_w - 1) * wc.stride + wc.span - wc.padding - in_w)
    pad_value = float("-inf") if isinstance(module, nn.MaxPool2d) else 0.0
    return F.pad(base_in, (wc.padding, right, wr.padding, below), value=pad_value)


def _recompute(module: nn.Module, geometry: tuple[Window, Window], step: _Step, sel: slice, patch: _Patch) -> _Patch:
    """Recompute the window of a conv/pool's output that the patch at its input changes: gather the
    input it needs from the unoccluded map, paste the patch over it, apply the layer unpadded."""
    wr, wc = geometry
    row0, col0 = step.rows[sel], step.cols[sel]
    rows = (row0 * wr.stride)[:, None] + torch.arange((step.height - 1) * wr.stride + wr.span)  # padded coords
    cols = (col0 * wc.stride)[:, None] + torch.arange((step.width - 1) * wc.stride + wc.span)
    region = _paste(_gather(step.padded, rows, cols), rows - wr.padding, cols - wc.padding, patch)
    if isinstance(module, nn.Conv2d):
        values = F.conv2d(region, module.weight, module.bias, module.stride, 0, module.dilation, module.groups)
    else:
        values = F.max_pool2d(region, module.kernel_size, module.stride, 0, module.dilation)
    return _Patch(values, row0, col0)


def _assemble(base: torch.Tensor, patch: _Patch) -> torch.Tensor:
    """Full (B, C, H, W) maps: the unoccluded map with each position's patch pasted in."""
    h, w = base.shape[2:]
    b = len(patch.rows)
    rows = torch.arange(h).expand(b, h)
    cols = torch.arange(w).expand(b, w)
    return _paste(base.expand(b, -1, -1, -1), rows, cols, patch)


def _patch_total(base: torch.Tensor, patch: _Patch, channel: int) -> torch.Tensor:
    """Total of map `channel` with the patch pasted in: base total - covered base + patch (summed
    in float64, so the difference of large totals keeps its precision)."""
    h, w = patch.values.shape[2:]
    rows = patch.rows[:, None] + torch.arange(h)
    cols = patch.cols[:, None] + torch.arange(w)
    covered = _gather(base[:, channel : channel + 1], rows, cols).sum(dim=(1, 2, 3), dtype=torch.float64)
    return base[0, channel].sum(dtype=torch.float64) - covered + patch.values[:, channel].sum(dim=(1, 2), dtype=torch.float64)


@torch.no_grad()
def occlusion_maps(stack: LayerStack, image: torch.Tensor, target: int, map_index: int, channel: int,
                   square: int, stride: int, fill: torch.Tensor | float = 0.0, max_window: float = 0.75,
                   max_bytes: int = 128 * 2**20) -> OcclusionMaps:
    """Slide a `square` x `square` patch of `fill` over `image` (1, C, H, W) every `stride` pixels.

    Records the total of feature map `channel` at modules[map_index]'s output, p(`target`) and the
    most probable class. `fill` is a value per channel (or one for all) in the network's input units:
    0 is the mean pixel after standardisation, the paper's grey. `max_window` (fraction of a map's
    area) is where incremental recomputation stops and full maps take over; 0 gives the naive
    method (the whole network for every position). Positions go in batches whose full maps fit
    `max_bytes`."""
    _, c_in, height, width = image.shape
    tops, lefts = positions(height, square, stride), positions(width, square, stride)
    grid_r, grid_c = torch.meshgrid(tops, lefts, indexing="ij")
    fill = torch.as_tensor(fill, dtype=image.dtype).reshape(-1, 1, 1).expand(c_in, square, square)

    # the unoccluded image's activations, through the layers a window can pass
    base = [image]
    for module in stack.modules:
        if windows(module) is None and not isinstance(module, POINTWISE):
            break
        base.append(module(base[-1]))
    steps = _plan(stack, base, grid_r.flatten(), grid_c.flatten(), square, max_window)
    start = len(steps)  # the first module that runs on full maps
    # per position: the largest full map, or the largest window with the region it reads
    per_position = max(x[0].numel() for x in base[start:])
    for i, step in enumerate(steps):
        if step is not None:
            wr, wc = windows(stack.modules[i])
            region = ((step.height - 1) * wr.stride + wr.span) * ((step.width - 1) * wc.stride + wc.span)
            per_position = max(per_position, base[i].shape[1] * region + base[i + 1].shape[1] * step.height * step.width)
    batch = max(1, max_bytes // (6 * 4 * per_position))  # float32 values and ~5 temporaries of the same size (measured)

    acts, probs, classes = [], [], []
    for lo in range(0, grid_r.numel(), batch):
        sel = slice(lo, lo + batch)
        rows, cols = grid_r.flatten()[sel], grid_c.flatten()[sel]
        patch = _Patch(fill.expand(len(rows), -1, -1, -1), rows, cols)
        total = None
        for i, step in enumerate(steps):
            module = stack.modules[i]
            if step is None:
                patch = _Patch(module(patch.values), patch.rows, patch.cols)
            else:
                patch = _recompute(module, windows(module), step, sel, patch)
            if i == map_index:
                total = _patch_total(base[i + 1], patch, channel)
        logits, kept = stack.forward(_assemble(base[start], patch), start=start,
                                     keep=[map_index] if total is None else [])
        if total is None:
            total = kept[map_index][:, channel].sum(dim=(1, 2), dtype=torch.float64)
        p = logits.softmax(dim=-1)
        acts.append(total)
        probs.append(p[:, target])
        classes.append(p.argmax(dim=-1))
    shape = (len(tops), len(lefts))
    return OcclusionMaps(torch.cat(acts).view(shape), torch.cat(probs).view(shape), torch.cat(classes).view(shape),
                         tops, lefts)


def pixel_attribution(delta: torch.Tensor, tops: torch.Tensor, lefts: torch.Tensor, square: int,
                      height: int, width: int) -> torch.Tensor:
    """captum-style occlusion attribution: each pixel gets the mean of `delta` (clean output minus
    occluded output, one per position) over the positions whose square covers it."""
    total = torch.zeros(height, width, dtype=delta.dtype)
    count = torch.zeros(height, width, dtype=delta.dtype)
    for i, t in enumerate(tops.tolist()):
        for j, s in enumerate(lefts.tolist()):
            total[t : t + square, s : s + square] += delta[i, j]
            count[t : t + square, s : s + square] += 1
    return total / count.clamp_min(1)
