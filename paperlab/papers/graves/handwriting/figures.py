"""Drawing online handwriting: pages of lines (PNG and SVG), the synthesis window's alignment
phi(t, u) (Graves 2013, Fig. 13) and the mixture density of the predicted pen positions (Fig. 10).

Pen points are joined by Catmull-Rom splines (cubic Beziers in the SVG), which pass through every
sampled point: the drawing shows the trajectory as a pen would trace it, not the polygon.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from paperlab.io.figures import save_figure  # noqa: E402

PAGE_DPI = 300  # pages of handwriting: print quality, and sharp on a high-resolution (2x) screen
INK = "#1d2b4f"
PRIMER = "#b8bcc6"
LABEL = "#8a8f98"


def catmull_rom(points: np.ndarray, per_segment: int = 5) -> np.ndarray:
    """A smooth curve through every point (uniform Catmull-Rom), `per_segment` samples per segment."""
    if len(points) < 3:
        return points
    p = np.vstack([points[:1], points, points[-1:]])
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t3))
    out.append(points[-1:])
    return np.vstack(out)


def _extent(strokes: Sequence[np.ndarray]) -> tuple[float, float, float, float]:
    pts = np.vstack(strokes) if strokes else np.zeros((1, 2))
    return float(pts[:, 0].min()), float(pts[:, 0].max()), float(pts[:, 1].min()), float(pts[:, 1].max())


@dataclass
class PageLine:
    """One line of a page: its strokes (absolute points, y up), an optional primer drawn in grey
    in the same coordinates (the real line the network read before writing), and a margin label."""

    strokes: list[np.ndarray]
    primer: list[np.ndarray] = field(default_factory=list)
    label: str = ""

    @property
    def all_strokes(self) -> list[np.ndarray]:
        return [*self.primer, *self.strokes]


def line_height(lines: Sequence[Sequence[np.ndarray]]) -> float:
    """A robust height of the writing (the 5-95% range of y, which ignores stray flourishes)."""
    hs = [np.subtract(*np.percentile(np.vstack(s)[:, 1], [95, 5])) for s in lines if s]
    return float(np.median(hs)) if hs else 1.0


def layout(lines: Sequence[PageLine], gap: float = 1.4) -> list[PageLine]:
    """Stack lines top to bottom (y up): each starts at x = 0, `gap` x 2 line heights apart, with
    half a line more before each labelled line (a new group of rows)."""
    pitch = 2 * gap * line_height([ln.all_strokes for ln in lines])
    out: list[PageLine] = []
    y = 0.0
    for k, ln in enumerate(lines):
        y += 0 if k == 0 else pitch * (1.5 if ln.label else 1.0)
        if not ln.all_strokes:
            out.append(ln)
            continue
        pts = np.vstack(ln.all_strokes)
        shift = np.array([pts[:, 0].min(), np.median(pts[:, 1]) + y])
        out.append(PageLine([s - shift for s in ln.strokes], [s - shift for s in ln.primer], ln.label))
    return out


def page_figure(lines: Sequence[PageLine], png: Path | None, svg: Path | None) -> None:
    """Lines of handwriting as a page (PNG with the labels in the margin, and SVG)."""
    placed = layout(lines)
    x0, x1, y0, y1 = _extent([s for ln in placed for s in ln.all_strokes])
    h = line_height([ln.all_strokes for ln in lines])
    pad = 0.8 * h
    label_w = 0.33 * h * max((len(ln.label) for ln in lines), default=0)
    if png is not None:
        _page_png(placed, png, (x0 - pad - label_w, x1 + pad, y0 - pad, y1 + pad), h)
    if svg is not None:
        _page_svg(placed, svg, (x0 - pad, x1 + pad, y0 - pad, y1 + pad), h)


def _page_png(placed: list[PageLine], path: Path, box: tuple[float, float, float, float], h: float) -> None:
    inch = 0.42 / h  # one line height ~ 0.42 inch: ordinary handwriting size on screen
    width, height = (box[1] - box[0]) * inch, (box[3] - box[2]) * inch
    scale = min(1.0, 16 / width)  # very long lines: shrink the page, keep the proportions
    fig = plt.figure(figsize=(width * scale, height * scale))
    ax = fig.add_axes((0, 0, 1, 1))
    lw = 1.6 * scale**0.5
    for ln in placed:
        for strokes, color in ((ln.primer, PRIMER), (ln.strokes, INK)):
            for s in strokes:
                c = catmull_rom(s)
                ax.plot(c[:, 0], c[:, 1], color=color, lw=lw, solid_capstyle="round", solid_joinstyle="round")
        if ln.label and ln.all_strokes:
            ax.text(box[0] + 0.2 * h, float(np.median(np.vstack(ln.all_strokes)[:, 1])), ln.label, color=LABEL,
                    fontsize=max(6.0, 8 * scale), va="center", ha="left")
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_aspect("equal")
    ax.set_axis_off()
    save_figure(fig, path, dpi=PAGE_DPI)


def _svg_path(s: np.ndarray, xy: Callable[[np.ndarray], str]) -> str:
    """One stroke as a cubic Bezier path through its points (Catmull-Rom control points)."""
    if len(s) == 1:
        return f"M{xy(s[0])}l0.01,0"
    p = np.vstack([s[:1], s, s[-1:]])
    d = [f"M{xy(p[1])}"]
    for i in range(1, len(p) - 2):
        c1 = p[i] + (p[i + 1] - p[i - 1]) / 6
        c2 = p[i + 1] - (p[i + 2] - p[i]) / 6
        d.append(f"C{xy(c1)} {xy(c2)} {xy(p[i + 1])}")
    return "".join(d)


def _page_svg(placed: list[PageLine], path: Path, box: tuple[float, float, float, float], h: float) -> None:
    x0, x1, y0, y1 = box

    def xy(p: np.ndarray) -> str:
        return f"{p[0] - x0:.2f},{y1 - p[1]:.2f}"  # SVG's y points down

    groups = []
    for color, strokes in ((PRIMER, [s for ln in placed for s in ln.primer]),
                           (INK, [s for ln in placed for s in ln.strokes])):
        if strokes:
            body = "\n".join(f'    <path d="{_svg_path(s, xy)}"/>' for s in strokes)
            groups.append(f'  <g fill="none" stroke="{color}" stroke-width="{0.075 * h:.3f}" '
                          f'stroke-linecap="round" stroke-linejoin="round">\n{body}\n  </g>')
    w, ht = x1 - x0, y1 - y0
    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.2f} {ht:.2f}" '
        f'width="{w / h * 40:.0f}" height="{ht / h * 40:.0f}">\n'
        f'  <rect width="100%" height="100%" fill="white"/>\n' + "\n".join(groups) + "\n</svg>\n")


def attention_figure(strokes: Sequence[np.ndarray], phi: np.ndarray, window_text: str, path: Path) -> Path:
    """The window weights phi(t, u) (Fig. 13): the line above, the alignment below (t across,
    characters u up the side, the position past the end last)."""
    t_len, positions = phi.shape
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(5.0, min(16.0, 0.06 * t_len + 2)), 2.2 + 0.16 * positions),
                                      gridspec_kw={"height_ratios": [1, 0.2 * positions / 2 + 1]})
    for s in strokes:
        c = catmull_rom(s)
        top.plot(c[:, 0], c[:, 1], color=INK, lw=1.4, solid_capstyle="round")
    top.set_aspect("equal")
    top.set_axis_off()
    # each step's weights scaled to their maximum: where the window is, whatever its height
    shown = phi / np.maximum(phi.max(axis=1, keepdims=True), 1e-12)
    bottom.imshow(shown.T, aspect="auto", origin="lower", cmap="Greys", interpolation="nearest", vmin=0, vmax=1)
    chars = [repr(c)[1:-1] if c != " " else "␣" for c in window_text] + ["end"]
    bottom.set_yticks(range(positions))
    bottom.set_yticklabels(chars[:positions], fontsize=7, family="monospace")
    bottom.set_xlabel("pen point t")
    bottom.set_title("soft window phi(t, u) / max_u phi(t, u)", fontsize=9)
    return save_figure(fig, path, dpi=120)


def density_figure(offsets: np.ndarray, y_hat: np.ndarray, mean: Sequence[float], std: Sequence[float],
                   path: Path, cells: int = 700) -> Path:
    """Fig. 10: the densities of the predicted next pen position, summed over the line's steps
    (each step's mixture placed at the pen's current position), and the mixture weights pi_j(t)."""
    import torch

    from paperlab.papers.graves.handwriting.mixture_density import mixture_params

    p = mixture_params(torch.from_numpy(y_hat).float())
    mean, std = np.asarray(mean), np.asarray(std)
    mu = p.mu.numpy() * std + mean  # (T, M, 2), data units
    sig = np.exp(p.log_sigma.numpy()) * std
    rho, pi = p.rho.numpy(), np.exp(p.log_pi.numpy())
    pen = np.vstack([[0.0, 0.0], np.cumsum(offsets[:, :2], axis=0)[:-1]])  # position before each step
    strokes = [s for s in np.split(np.cumsum(offsets[:, :2], axis=0), np.flatnonzero(offsets[:, 2] > 0.5) + 1) if len(s)]
    x0, x1, y0, y1 = _extent(strokes)
    margin = 0.1 * max(x1 - x0, y1 - y0)
    x0, x1, y0, y1 = x0 - margin, x1 + margin, y0 - margin, y1 + margin
    step = (x1 - x0) / cells
    gx = np.arange(x0, x1, step)
    gy = np.arange(y0, y1, step)
    dens = np.zeros((len(gy), len(gx)))
    for t in range(len(offsets)):
        for j in np.flatnonzero(pi[t] > 1e-3):
            c = pen[t] + mu[t, j]
            r = 4 * sig[t, j]
            ix = slice(max(int((c[0] - r[0] - x0) / step), 0), max(int((c[0] + r[0] - x0) / step) + 1, 0))
            iy = slice(max(int((c[1] - r[1] - y0) / step), 0), max(int((c[1] + r[1] - y0) / step) + 1, 0))
            zx = (gx[ix] - c[0]) / sig[t, j, 0]
            zy = (gy[iy] - c[1]) / sig[t, j, 1]
            if not len(zx) or not len(zy):
                continue
            q = 1 - rho[t, j] ** 2
            zz = zx[None] ** 2 + zy[:, None] ** 2 - 2 * rho[t, j] * zx[None] * zy[:, None]
            dens[iy, ix] += pi[t, j] * np.exp(-zz / (2 * q)) / (2 * np.pi * sig[t, j, 0] * sig[t, j, 1] * np.sqrt(q))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 2.5 + 10 * (y1 - y0) / (x1 - x0)),
                                      gridspec_kw={"height_ratios": [(y1 - y0) / (x1 - x0) * 4, 1]})
    top.imshow(np.sqrt(dens), origin="lower", extent=(x0, x1, y0, y1), cmap="magma_r", interpolation="bilinear")
    for s in strokes:
        top.plot(s[:, 0], s[:, 1], color="#1f77b4", lw=0.5, alpha=0.6)
    top.set_axis_off()
    top.set_title("density of the predicted pen positions (summed over steps)", fontsize=9)
    bottom.imshow(pi.T, aspect="auto", origin="lower", cmap="Greys", interpolation="nearest")
    bottom.set_xlabel("pen point t")
    bottom.set_ylabel("component j")
    bottom.set_title("mixture weights pi_j(t)", fontsize=9)
    return save_figure(fig, path, dpi=120)
