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
from paperlab.interpret.stack import LayerStack, Span, Window, windows

# Passed straight through on the way down: no normalisation in the reconstruction path (Sec. 2.1).
PASS_THROUGH = (nn.LocalResponseNorm, nn.Identity, nn.Dropout)
# A transposed convolution writing at most this many channels (the image's) runs as GEMM + col2im.
FEW_CHANNELS = 4


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
    """Deconvnet projections, each in the window of the image its activation can see.

    `pixels[n]` covers image rows top[n] .. top[n]+h-1 and columns left[n] .. left[n]+w-1: the
    receptive field (the image patch of Fig. 2), cut to the image where it is larger and shifted
    inside it at the image's edges; `activation[n]` is the value that was projected."""

    pixels: torch.Tensor  # (N, C, h, w)
    top: torch.Tensor  # (N,)
    left: torch.Tensor  # (N,)
    activation: torch.Tensor  # (N,)

    def full(self, height: int, width: int) -> torch.Tensor:
        """The projections in the image frame, (N, C, height, width)."""
        n, c, h, w = self.pixels.shape
        canvas = self.pixels.new_zeros(n, c, height, width)
        rows = self.top[:, None] + torch.arange(h)
        cols = self.left[:, None] + torch.arange(w)
        canvas[torch.arange(n)[:, None, None], :, rows[:, :, None], cols[:, None, :]] = self.pixels.permute(0, 2, 3, 1)
        return canvas

    def patches(self, images: torch.Tensor) -> torch.Tensor:
        """The same windows of `images` (N, C, H, W), one image per projection: the image patches."""
        return _grid(images, self.top[:, None] + torch.arange(self.pixels.shape[2]),
                     self.left[:, None] + torch.arange(self.pixels.shape[3]))


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


@dataclass
class _Window:
    """Where each neuron's signal can be nonzero at one level (a module's input): its receptive
    field there, cut to the map where it is larger and shifted inside the map at its edges (it
    still holds all of the field that lies on the map). Starts are per neuron."""

    top: torch.Tensor
    left: torch.Tensor
    height: int
    width: int

    @classmethod
    def of(cls, spans: tuple[Span, Span], size: tuple[int, int], neurons: Neurons) -> _Window:
        (rows, cols), (h, w) = spans, size
        hh, ww = min(rows.size, h), min(cols.size, w)
        return cls(rows.start(neurons.row).clamp(0, h - hh), cols.start(neurons.col).clamp(0, w - ww), hh, ww)


def _grid(t: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, item: torch.Tensor | None = None) -> torch.Tensor:
    """Windows of t (B, ..., H, W) at per-neuron row/col indices (N, h), (N, w) -> (N, ..., h, w);
    neuron n reads t[item[n]] (default: t[n])."""
    item = torch.arange(len(rows)) if item is None else item
    return t[item[:, None, None], ..., rows[:, :, None], cols[:, None, :]].movedim((1, 2), (-2, -1))


def _switch_offsets(indices: torch.Tensor, in_width: int, geometry: tuple[Window, Window]) -> torch.Tensor:
    """The switches of a max-pool (flat indices into its input, (B, C, h, w)) as the row and column
    of each maximum inside its own pooling window, (B, 2, C, h, w): unlike the flat index, an offset
    does not depend on where a neuron's window lies, so unpooling needs no index arithmetic."""
    wr, wc = geometry
    h, w = indices.shape[2:]
    rows = indices // in_width - (torch.arange(h) * wr.stride - wr.padding)[:, None]
    cols = indices % in_width - (torch.arange(w) * wc.stride - wc.padding)
    return torch.stack([rows, cols], dim=1)


def _crop(reach: torch.Tensor, geometry: tuple[Window, Window], out: _Window, inp: _Window) -> torch.Tensor:
    """Cut the input window out of `reach`, the inputs that the output window reads (it starts at
    out.top * stride - padding and may stick out of the map where the window meets its edge)."""
    wr, wc = geometry
    dy, dx = inp.top - (out.top * wr.stride - wr.padding), inp.left - (out.left * wc.stride - wc.padding)
    if reach.shape[2:] == (inp.height, inp.width) and not dy.any() and not dx.any():
        return reach  # the window is the reach (a field inside the map): nothing to cut
    rows, cols = dy[:, None] + torch.arange(inp.height), dx[:, None] + torch.arange(inp.width)
    row_ok, col_ok = (rows >= 0) & (rows < reach.shape[2]), (cols >= 0) & (cols < reach.shape[3])
    picked = _grid(reach, rows.clamp(0, reach.shape[2] - 1), cols.clamp(0, reach.shape[3] - 1))
    return picked * (row_ok[:, None, :, None] & col_ok[:, None, None, :])


def _reach(size: tuple[int, int], geometry: tuple[Window, Window]) -> tuple[int, int]:
    """Height and width of the inputs that an output window of `size` reads."""
    return tuple((n - 1) * g.stride + g.span for n, g in zip(size, geometry, strict=True))


def _unpool(signal: torch.Tensor, offsets: torch.Tensor, image: torch.Tensor, geometry: tuple[Window, Window],
            out: _Window, inp: _Window) -> torch.Tensor:
    """Put each pooled value back where its maximum was (the switch of its image), in the input
    window; values whose pools overlap add up."""
    n, c, h, w = signal.shape
    wr, wc = geometry
    picked = _grid(offsets, out.top[:, None] + torch.arange(h), out.left[:, None] + torch.arange(w), image)
    # rows/cols in the input window: pool (i, j) of the output window starts at (i, j) * stride - padding
    # from the output window's corner; dy, dx: how far the input window lies from that corner
    dy = (inp.top - (out.top * wr.stride - wr.padding)).view(n, 1, 1, 1)
    dx = (inp.left - (out.left * wc.stride - wc.padding)).view(n, 1, 1, 1)
    r = picked[:, 0] + (torch.arange(h) * wr.stride)[:, None] - dy
    q = picked[:, 1] + torch.arange(w) * wc.stride - dx
    flat = signal.new_zeros(n, c, inp.height * inp.width)
    if dy.any() or dx.any() or _reach((h, w), geometry) != (inp.height, inp.width):
        # a switch outside the window belongs to an output the signal never reached (it is zero there)
        ok = (r >= 0) & (r < inp.height) & (q >= 0) & (q < inp.width)
        r, q, signal = r.clamp_(0, inp.height - 1), q.clamp_(0, inp.width - 1), signal * ok
    flat.scatter_add_(2, (r * inp.width + q).flatten(2), signal.flatten(2))
    return flat.view(n, c, inp.height, inp.width)


def _filter(signal: torch.Tensor, conv: nn.Conv2d, geometry: tuple[Window, Window], out: _Window,
            inp: _Window) -> torch.Tensor:
    """Convolve with the transposed filters, then keep the input window."""
    n, _, h, w = signal.shape
    size = _reach((h, w), geometry)
    if conv.in_channels <= FEW_CHANNELS and conv.groups == 1:
        # down to the image: each position's filters weighted by the signal (a GEMM), summed where
        # they overlap (col2im); oneDNN's transposed convolution vectorises over the channels it
        # writes and is ~1.7x slower on CPU when there are only 1-3 of them
        cols = torch.bmm(conv.weight.flatten(1).T.expand(n, -1, -1), signal.flatten(2))
        reach = F.fold(cols, size, conv.kernel_size, conv.dilation, 0, conv.stride)
    else:
        # the gradient of a convolution with respect to its input is the transposed convolution
        # (faster on CPU than F.conv_transpose2d); it covers the inputs the output window reads
        reach = torch.nn.grad.conv2d_input((n, conv.in_channels, *size), conv.weight, signal,
                                           conv.stride, 0, conv.dilation, conv.groups)
    return _crop(reach, geometry, out, inp)


def _project_chunk(stack: LayerStack, index: int, spans: list[tuple[Span, Span]], switches: dict[int, torch.Tensor],
                   sizes: list[tuple[int, int, int]], value: torch.Tensor, neurons: Neurons) -> torch.Tensor:
    """Take one batch of neurons (their values at modules[index]) down to the image."""
    n = len(neurons)
    # "all other activations in the layer set to zero": a one-position window holding the value
    signal = torch.zeros(n, sizes[index + 1][2], 1, 1)
    signal[torch.arange(n), neurons.channel, 0, 0] = value
    out = _Window.of(spans[index + 1], sizes[index + 1][:2], neurons)
    for i in range(index, -1, -1):
        module = stack.modules[i]
        inp = _Window.of(spans[i], sizes[i][:2], neurons)
        if isinstance(module, nn.ReLU):
            signal = signal.relu_()
        elif isinstance(module, nn.Conv2d):
            signal = _filter(signal, module, windows(module), out, inp)
        elif isinstance(module, nn.MaxPool2d):
            signal = _unpool(signal, switches[i], neurons.image, windows(module), out, inp)
        out = inp
    return signal


@torch.no_grad()
def deconv_project(stack: LayerStack, images: torch.Tensor, index: int, neurons: Neurons,
                   max_bytes: int = 128 * 2**20, image_chunk: int = 64) -> Projections:
    """Project activations at modules[index]'s output back to pixels with the deconvnet.

    `images` (B, C, H, W) are the network's inputs; `neurons.image` indexes them. The forward pass
    runs once per image (chunks of `image_chunk`); neurons go down in batches whose largest signal
    fits `max_bytes`."""
    _check_supported(stack, index)
    spans = stack.receptive_fields(index)
    n, (in_ch, height, width) = len(neurons), images.shape[1:]
    first = _Window.of(spans[0], (height, width), neurons)
    pixels = torch.zeros(n, in_ch, first.height, first.width)
    activation = torch.zeros(n)
    order = neurons.image.argsort(stable=True)
    used = neurons.image[order].unique()
    for lo in range(0, len(used), image_chunk):
        chunk_images = used[lo : lo + image_chunk]
        x = images[chunk_images]
        switches: dict[int, torch.Tensor] = {}
        sizes: list[tuple[int, int, int]] = []
        for i, module in enumerate(stack.modules[: index + 1]):
            sizes.append((x.shape[2], x.shape[3], x.shape[1]))
            if isinstance(module, nn.MaxPool2d):
                width = x.shape[3]
                x, indices = F.max_pool2d(x, module.kernel_size, module.stride, module.padding,
                                          module.dilation, module.ceil_mode, return_indices=True)
                switches[i] = _switch_offsets(indices, width, windows(module))
            else:
                x = module(x)
        sizes.append((x.shape[2], x.shape[3], x.shape[1]))
        # the neurons of these images, their image index re-numbered within the chunk
        sel = order[torch.isin(neurons.image[order], chunk_images)]
        local = neurons.select(sel)
        local.image = torch.searchsorted(chunk_images, local.image)
        per_neuron = max(min(rows.size, h) * min(cols.size, w) * c for (rows, cols), (h, w, c) in zip(spans, sizes, strict=True))
        batch = max(1, max_bytes // (4 * 4 * per_neuron))  # signal, switch indices (int64), temporaries
        for b in range(0, len(sel), batch):
            part = local.select(torch.arange(b, min(b + batch, len(sel))))
            value = x[part.image, part.channel, part.row, part.col]
            pixels[sel[b : b + batch]] = _project_chunk(stack, index, spans, switches, sizes, value, part)
            activation[sel[b : b + batch]] = value
    return Projections(pixels, first.top, first.left, activation)
