"""The deconvnet of Zeiler & Fergus 2013, "Visualizing and Understanding Convolutional Networks",
Sec. 2.1 and Fig. 1: project one activation of a feature map back to pixel space.

To examine an activation, all other activations of its layer are set to zero and the map is passed
down through the layers below, each inverted as the paper says:

* unpooling: each pooled value goes back to where the max came from, using the *switches*
  recorded in the forward pass (overlapping pools add up, as in the gradient of max-pooling);
* rectification: the reconstructed signal goes through a ReLU (whatever the forward pass did);
* filtering: convolution with the transposed filters (a transposed convolution, no bias);
* normalisation is skipped on the way back ("no contrast normalization operations are used in
  this reconstruction path", Sec. 2.1): local response normalisation is passed straight through.

Everything below the layer depends on the forward pass only through the switches, so the forward
pass is run once per image and every neuron of that image reuses it. A single activation reaches
only its receptive field, so each layer's signal is computed on the window the neuron can reach
(the receptive field at that layer) rather than on the whole map; neurons are projected in
batches sized to a memory budget. The projection equals captum's `NeuronDeconvolution` (a
backward pass with ReLU's backward replaced by a ReLU of the signal) on networks without LRN,
scaled by the activation (the paper projects the activation itself; captum a unit signal).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from paperlab.errors import UserError
from paperlab.interpret.stack import LayerStack, Span

# Passed straight through on the way down: no normalisation in the reconstruction path (Sec. 2.1).
PASS_THROUGH = (nn.LocalResponseNorm, nn.Identity, nn.Dropout)


@dataclass
class Neurons:
    """Activations to project: image index, feature map, and row/column in that map (each (N,))."""

    image: torch.Tensor
    channel: torch.Tensor
    row: torch.Tensor
    col: torch.Tensor

    def __len__(self) -> int:
        return len(self.image)

    def select(self, idx: torch.Tensor) -> Neurons:
        return Neurons(self.image[idx], self.channel[idx], self.row[idx], self.col[idx])


@dataclass
class Projections:
    """Deconvnet projections, each inside its receptive field in the image.

    `pixels[n]` covers image rows top[n] .. top[n]+h-1 and columns left[n] .. left[n]+w-1 (the
    window may stick out of the image, where it is zero); `activation[n]` is the projected value."""

    pixels: torch.Tensor  # (N, C, h, w)
    top: torch.Tensor  # (N,)
    left: torch.Tensor  # (N,)
    activation: torch.Tensor  # (N,)

    def full(self, height: int, width: int) -> torch.Tensor:
        """The projections in the image frame, (N, C, height, width)."""
        n, c, h, w = self.pixels.shape
        pad = max(h, w)
        canvas = self.pixels.new_zeros(n, c, height + 2 * pad, width + 2 * pad)
        rows = (self.top + pad)[:, None] + torch.arange(h)
        cols = (self.left + pad)[:, None] + torch.arange(w)
        canvas[torch.arange(n)[:, None, None], :, rows[:, :, None], cols[:, None, :]] = self.pixels.permute(0, 2, 3, 1)
        return canvas[:, :, pad : pad + height, pad : pad + width]


@dataclass
class TopActivations:
    """The k strongest activations of every feature map of a layer, one per image (C, k each),
    strongest first: value, dataset image index, row and column in the map."""

    value: torch.Tensor
    image: torch.Tensor
    row: torch.Tensor
    col: torch.Tensor

    def neurons(self, maps: Iterable[int]) -> Neurons:
        """The top activations of the given maps, as neurons (map-major, strongest first)."""
        maps = torch.as_tensor(list(maps), dtype=torch.long)
        k = self.value.shape[1]
        return Neurons(self.image[maps].flatten(), maps.repeat_interleave(k), self.row[maps].flatten(),
                       self.col[maps].flatten())


def _check_supported(stack: LayerStack, index: int) -> None:
    for module in stack.modules[: index + 1]:
        if not isinstance(module, (nn.Conv2d, nn.ReLU, nn.MaxPool2d, *PASS_THROUGH)):
            raise UserError(f"the deconvnet cannot pass down through {type(module).__name__}",
                            "project from conv layers of a network built of conv, ReLU, max-pool and LRN layers")


@torch.no_grad()
def top_activations(stack: LayerStack, batches: Iterable[torch.Tensor], indices: Sequence[int],
                    k: int = 9) -> dict[int, TopActivations]:
    """For every feature map at the output of each modules[i] (i in `indices`), its k strongest
    activations over the images of `batches`, each image counting once per map (the position of
    its maximum): the top 9 of Fig. 2. One forward pass per batch serves every layer."""
    best: dict[int, TopActivations] = {}
    seen = 0
    for x in batches:
        _, kept = stack.forward(x, stop=max(indices) + 1, keep=indices)
        for i, maps in kept.items():
            b, c, h, w = maps.shape
            value, pos = maps.flatten(2).max(dim=2)  # (B, C)
            cand = [value.T, torch.arange(seen, seen + b).expand(c, b), (pos // w).T, (pos % w).T]
            if i in best:
                cand = [torch.cat([old, new], dim=1) for old, new in zip(vars(best[i]).values(), cand, strict=True)]
            order = cand[0].topk(min(k, cand[0].shape[1]), dim=1).indices
            best[i] = TopActivations(*(t.gather(1, order) for t in cand))
        seen += len(x)
    if not best:
        raise UserError("no images to search for top activations", "give a dataset split with images")
    return best


def _inside(start: torch.Tensor, size: int, limit: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions start..start+size-1 per neuron (N, size), and whether each is in [0, limit)."""
    pos = start[:, None] + torch.arange(size)
    return pos, (pos >= 0) & (pos < limit)


def _unpool(signal: torch.Tensor, switches: torch.Tensor, out_rows: Span, out_cols: Span, in_rows: Span,
            in_cols: Span, neurons: Neurons, in_size: tuple[int, int]) -> torch.Tensor:
    """Put each pooled value back where its maximum was (the switch), inside the input window."""
    n, c, h, w = signal.shape
    rows, row_ok = _inside(out_rows.start(neurons.row), h, switches.shape[2])
    cols, col_ok = _inside(out_cols.start(neurons.col), w, switches.shape[3])
    rows, cols = rows.clamp(0, switches.shape[2] - 1), cols.clamp(0, switches.shape[3] - 1)
    picked = switches[neurons.image[:, None, None], :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    width = in_size[1]
    local_r = picked // width - in_rows.start(neurons.row).view(n, 1, 1, 1)
    local_c = picked % width - in_cols.start(neurons.col).view(n, 1, 1, 1)
    ok = (row_ok[:, None, :, None] & col_ok[:, None, None, :]).expand(n, c, h, w)
    target = torch.where(ok, local_r * in_cols.size + local_c, 0)
    out = signal.new_zeros(n, c, in_rows.size * in_cols.size)
    out.scatter_add_(2, target.flatten(2), torch.where(ok, signal, 0).flatten(2))
    return out.view(n, c, in_rows.size, in_cols.size)


def _filter(signal: torch.Tensor, conv: nn.Conv2d, in_rows: Span, in_cols: Span, neurons: Neurons,
            in_size: tuple[int, int]) -> torch.Tensor:
    """Convolve with the transposed filters; drop what falls on the zero padding."""
    out = F.conv_transpose2d(signal, conv.weight, None, conv.stride, 0, 0, conv.groups, conv.dilation)
    _, row_ok = _inside(in_rows.start(neurons.row), in_rows.size, in_size[0])
    _, col_ok = _inside(in_cols.start(neurons.col), in_cols.size, in_size[1])
    return out * (row_ok[:, None, :, None] & col_ok[:, None, None, :])


def _project_chunk(stack: LayerStack, index: int, spans: list[tuple[Span, Span]], switches: dict[int, torch.Tensor],
                   sizes: list[tuple[int, int, int]], value: torch.Tensor, neurons: Neurons) -> torch.Tensor:
    """Take one batch of neurons (their values at modules[index]) down to the image."""
    n = len(neurons)
    # "all other activations in the layer set to zero": a one-position window holding the value
    signal = torch.zeros(n, sizes[index + 1][2], 1, 1)
    signal[torch.arange(n), neurons.channel, 0, 0] = value
    for i in range(index, -1, -1):
        module = stack.modules[i]
        (in_rows, in_cols), (out_rows, out_cols) = spans[i], spans[i + 1]
        if isinstance(module, nn.ReLU):
            signal = signal.relu()
        elif isinstance(module, nn.Conv2d):
            signal = _filter(signal, module, in_rows, in_cols, neurons, sizes[i][:2])
        elif isinstance(module, nn.MaxPool2d):
            signal = _unpool(signal, switches[i], out_rows, out_cols, in_rows, in_cols, neurons, sizes[i][:2])
    return signal


@torch.no_grad()
def deconv_project(stack: LayerStack, images: torch.Tensor, index: int, neurons: Neurons,
                   max_bytes: int = 256 * 2**20, image_chunk: int = 64) -> Projections:
    """Project activations at modules[index]'s output back to pixels with the deconvnet.

    `images` (B, C, H, W) are the network's inputs; `neurons.image` indexes them. The forward pass
    runs once per image (chunks of `image_chunk`); neurons go down in batches whose largest signal
    fits `max_bytes`."""
    _check_supported(stack, index)
    spans = stack.receptive_fields(index)
    n = len(neurons)
    in_ch = images.shape[1]
    pixels = torch.zeros(n, in_ch, spans[0][0].size, spans[0][1].size)
    activation = torch.zeros(n)
    order = neurons.image.argsort(stable=True)
    sorted_images = neurons.image[order]
    used = sorted_images.unique()
    for lo in range(0, len(used), image_chunk):
        chunk_images = used[lo : lo + image_chunk]
        x = images[chunk_images]
        switches: dict[int, torch.Tensor] = {}
        sizes: list[tuple[int, int, int]] = []
        for i, module in enumerate(stack.modules[: index + 1]):
            sizes.append((x.shape[2], x.shape[3], x.shape[1]))
            if isinstance(module, nn.MaxPool2d):
                x, switches[i] = F.max_pool2d(x, module.kernel_size, module.stride, module.padding,
                                              module.dilation, module.ceil_mode, return_indices=True)
            else:
                x = module(x)
        sizes.append((x.shape[2], x.shape[3], x.shape[1]))
        # neurons of these images, re-indexed into the chunk
        sel = order[(sorted_images >= chunk_images[0]) & (sorted_images <= chunk_images[-1])]
        sel = sel[torch.isin(neurons.image[sel], chunk_images)]
        local = neurons.select(sel)
        local.image = torch.searchsorted(chunk_images, local.image)
        per_neuron = max(rows.size * cols.size * sizes[i][2] for i, (rows, cols) in enumerate(spans[:-1]))
        batch = max(1, max_bytes // (4 * 4 * per_neuron))  # signal + switch indices (int64) + temporaries
        for b in range(0, len(sel), batch):
            part = local.select(torch.arange(b, min(b + batch, len(sel))))
            value = x[part.image, part.channel, part.row, part.col]
            pixels[sel[b : b + batch]] = _project_chunk(stack, index, spans, switches, sizes, value, part)
            activation[sel[b : b + batch]] = value
    rows, cols = spans[0]
    return Projections(pixels, rows.start(neurons.row), cols.start(neurons.col), activation)
