"""`paperlab sample-handwriting`: handwriting from Graves 2013's networks (Sec. 4-5).

Writes the text (one or several lines: a page) with the synthesis network, at one or several
biases (Sec. 5.4), optionally primed with a stored style or a given line (Sec. 5.5); or samples
the prediction network unconditionally. Not in the paper: each line of text is drawn N times in
one batch (`--best-of`, default 4) and the candidate whose window steps most cleanly from character
to character is kept (`window_sharpness`; or `--select READER`: the one a recogniser reads closest
to the text); `--best-of 1` draws once, as the paper does. The run directory gets the page (figures/handwriting.png
and .svg), the window's alignment phi(t, u) (figures/attention.png), the mixture densities of
the predicted pen positions (figures/mixture_density.png) and the strokes (arrays/strokes.h5, the
stroke format of paperlab/papers/graves/handwriting/strokes.py, usable as --prime-strokes).
"""

from __future__ import annotations

import logging
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, ListConfig

from paperlab.config import above, at_least, config_schema, one_of
from paperlab.console import track
from paperlab.engine.lifecycle import open_run
from paperlab.engine.restore import load_model
from paperlab.errors import UserError
from paperlab.io.arrays import save_arrays
from paperlab.io.rundir import RunDir
from paperlab.papers.graves.handwriting.figures import (
    PageLine,
    attention_figure,
    density_figure,
    page_figure,
)
from paperlab.papers.graves.handwriting.reading import Reader, edit_distance
from paperlab.papers.graves.handwriting.sampling import (
    HandwritingModel,
    Primer,
    Sample,
    scribble,
    synthesize,
    window_sharpness,
)
from paperlab.papers.graves.handwriting.strokes import StrokeSet, offsets_to_strokes
from paperlab.tasks.report import print_results

log = logging.getLogger(__name__)

WINDOW = "window"  # best_of's default judge: the candidate with the sharpest alignment
DEFAULT_BEST_OF = 4  # candidates per line of text when sample.best_of is null (README: chosen on validation lines)


@config_schema("sample", command="sample-handwriting")
@dataclass
class SampleConfig:
    """conf/sample-handwriting.yaml's `sample` node (its defaults and their reasons are there)."""

    text: str | None
    bias: Any = at_least(0)
    sharpen_eos: bool
    style: Any = at_least(0)
    prime_strokes: str | None
    prime_text: str | None
    unconditional: bool
    points: int = at_least(1)
    unknown: str = one_of("error", "skip")
    wrap: int = at_least(1)
    cap_factor: float = above(0)
    figures: bool
    show_primer: bool
    best_of: int | None = at_least(1)
    select: str


def _floats(value: Any) -> list[float]:
    items = list(value) if isinstance(value, (list, tuple, ListConfig)) else [value]
    return [float(v) for v in items]


def text_lines(text: str | None, model: HandwritingModel, unknown: str, wrap: int) -> list[str]:
    """The lines to write: split at newlines (or a literal \\n), checked against the alphabet, wrapped."""
    if unknown not in ("error", "skip"):
        raise UserError(f"--unknown={unknown} is not a choice", "use --unknown=error or --unknown=skip")
    raw = (text or "").replace("\\n", "\n")
    bad = model.alphabet.unknown(raw.replace("\n", ""))
    if bad and unknown == "error":
        shown = " ".join(repr(c) for c in bad)
        raise UserError(f"characters outside the model's alphabet: {shown}",
                        f"the model writes {model.alphabet.chars.strip()!r} and spaces; "
                        "drop the others with --unknown=skip")
    if bad:
        raw = "".join(c for c in raw if c == "\n" or c not in bad)
    lines = [" ".join(line.split()) for line in raw.split("\n")]
    lines = [w for line in lines if line for w in textwrap.wrap(line, max(wrap, 1))]
    if not lines:
        raise UserError("the text is empty" + (" once the unknown characters are dropped" if bad else ""),
                        'give some words: --text "hello world"')
    return lines


NPY_FORMAT = "a .npy file of a (T, 3) float array of pen offsets, rows (dx, dy, end_of_stroke), from numpy.save"


def read_offsets_npy(file: Path) -> np.ndarray:
    """(T, 3) pen offsets from a .npy file; anything else (a pickle, another array, not numpy at
    all) is one line naming the file and the format."""
    try:
        offsets = np.load(file, allow_pickle=False)  # never unpickle: a pickle runs code
    except (ValueError, OSError, EOFError):  # a pickle, an object array, not a .npy file at all
        raise UserError(f"--prime-strokes {file} is not a numeric numpy array", f"give {NPY_FORMAT}") from None
    if not isinstance(offsets, np.ndarray) or offsets.ndim != 2 or offsets.shape[1] != 3 \
            or not np.issubdtype(offsets.dtype, np.number):
        what = f"an array of shape {offsets.shape} and type {offsets.dtype}" if isinstance(offsets, np.ndarray) else "no array"
        raise UserError(f"--prime-strokes {file} holds {what}, not (T, 3) pen offsets", f"give {NPY_FORMAT}")
    if not np.isfinite(offsets).all():
        raise UserError(f"--prime-strokes {file} holds NaN or infinite offsets", f"give {NPY_FORMAT}")
    return offsets.astype(np.float32)


def read_primer(path: str, text: str | None, model: HandwritingModel) -> Primer:
    """A line to prime with, from .h5 (paperlab's stroke format), .npy (T, 3) offsets or IAM-OnDB .xml."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise UserError(f"--prime-strokes {file} does not exist", "give a .h5, .npy or IAM-OnDB .xml file")
    if file.suffix == ".h5":
        try:
            lines = StrokeSet.load(file)
        except (OSError, KeyError) as err:
            raise UserError(f"{file} is not a paperlab strokes file ({err})",
                            "give arrays/strokes.h5 of a sample-handwriting run, or a .npy / .xml file") from None
        offsets, text = lines.offsets[0], text or lines.text[0]
    elif file.suffix == ".npy":
        offsets = read_offsets_npy(file)
    elif file.suffix == ".xml":
        from paperlab.papers.graves.handwriting.iam_ondb import preprocess, read_line_strokes

        offsets = preprocess(read_line_strokes(file))
        # another tablet's units: match the model's typical pen step
        scale = np.hypot(*model.stats.std) / np.hypot(*offsets[1:, :2].std(0)).clip(1e-9)
        offsets[:, :2] *= scale
    else:
        raise UserError(f"--prime-strokes {file}: unknown file type '{file.suffix}'", "give a .h5, .npy or .xml file")
    if len(offsets) < 2:
        raise UserError(f"--prime-strokes {file} holds {len(offsets)} pen point(s)", "give a line of handwriting")
    if not text:
        raise UserError("--prime-strokes needs the primer's text", 'add --prime-text "what the primer says"')
    bad = model.alphabet.unknown(text)
    if bad:
        raise UserError(f"--prime-text has characters outside the model's alphabet: {' '.join(map(repr, bad))}",
                        "give the primer's transcription in the model's alphabet")
    return Primer(torch.as_tensor(np.asarray(offsets, np.float32)), text)


def primers(s: DictConfig, model: HandwritingModel) -> list[tuple[str, Primer | None]]:
    """(label, primer) for each row style: the stored styles asked for, a primer file, or none."""
    styles = [int(v) for v in _floats(s.style)] if s.style is not None else []
    if styles and s.prime_strokes:
        raise UserError("--style and --prime-strokes both choose a primer", "give one of them")
    out: list[tuple[str, Primer | None]] = []
    for k in styles:
        if not 0 <= k < len(model.styles):
            raise UserError(f"--style {k} does not exist", f"this model stores styles 0..{len(model.styles) - 1}")
        st = model.styles[k]
        out.append((f"style {k}", Primer(st["offsets"], st["text"])))
    if s.prime_strokes:
        out.append((f"primed: {Path(s.prime_strokes).name}", read_primer(s.prime_strokes, s.prime_text, model)))
    elif s.prime_text:
        raise UserError("--prime-text needs --prime-strokes", "add --prime-strokes FILE (or use --style N)")
    return out or [("", None)]


def load_selector(select: str) -> Reader | None:
    """Who picks among best_of's candidates: "window" (None: the sharpest alignment, the network's
    own judgement), or the recogniser at `select` (run dir, .pt file or shipped model)."""
    if str(select) == WINDOW:
        return None
    try:
        return Reader.of(load_model(select, "handwriting_recognition"))
    except UserError as err:
        raise UserError(f"--select {select}: {err.problem}",
                        f"give --select {WINDOW}, or a handwriting recogniser such as handwriting_recognizer") from None


def best_of(samples: list[Sample], n_lines: int, reader: Reader | None) -> tuple[list[Sample], list[str] | None]:
    """`samples` holds candidates for `n_lines` lines (candidate k of line i at k * n_lines + i):
    for each line, the candidate whose window is sharpest (`reader` None: `window_sharpness`), or
    the one `reader` reads closest to its text, and then those readings; the first of equals."""
    if reader is None:
        read, cost = None, [-window_sharpness(smp.phi) for smp in samples]
    else:
        read = reader.read([smp.offsets for smp in samples])
        cost = [edit_distance(smp.text, r) for smp, r in zip(samples, read, strict=True)]
    chosen = [min(range(i, len(samples), n_lines), key=cost.__getitem__) for i in range(n_lines)]
    return [samples[j] for j in chosen], None if read is None else [read[j] for j in chosen]


def page_line(smp: Sample, primer: Primer | None, label: str) -> PageLine:
    """A sample as a line of the page; after its primer (drawn in grey) when it has one: the
    network continues from where the primer's pen stopped."""
    if primer is None:
        return PageLine([st[:, :2] for st in offsets_to_strokes(smp.offsets)], [], label)
    both = np.concatenate([primer.offsets.numpy(), smp.offsets])
    both[len(primer.offsets) - 1, 2] = 1.0  # the pen lifts between the primer and the new text
    strokes = [st[:, :2] for st in offsets_to_strokes(both)]
    n_primer = int(both[: len(primer.offsets), 2].sum())
    return PageLine(strokes[n_primer:], strokes[:n_primer], label)


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    with open_run("sample-handwriting", cfg, run_dir) as run:
        return _sample(cfg, run)


def _sample(cfg: DictConfig, run: RunDir) -> dict[str, Any]:
    s = cfg.sample
    biases = _floats(s.bias)
    if not biases:
        raise UserError("no --bias given", "give --bias 1.0 (or several)")
    for b in biases:
        if not np.isfinite(b) or b < 0:
            raise UserError(f"--bias {b} is invalid", "the bias is >= 0 (0: unbiased; 1-2: neater)")
    unconditional = bool(s.unconditional)
    n_best = (1 if unconditional else DEFAULT_BEST_OF) if s.best_of is None else int(s.best_of)
    if n_best < 1 or (unconditional and n_best > 1):
        raise UserError(f"--best-of {n_best} is not possible" + (" with --unconditional" if n_best >= 1 else ""),
                        "give --best-of N with N >= 1 candidates per line of text")
    model = HandwritingModel.of(load_model(cfg.checkpoint or ("graves_prediction" if unconditional else "graves_synthesis"),
                                           "handwriting"))
    ckpt = model.path
    wanted = "prediction" if unconditional else "synthesis"
    if model.kind != wanted:
        fix = ("drop --unconditional, or give a prediction checkpoint" if unconditional else
               "add --unconditional to scribble with it, or give a synthesis checkpoint (model=graves_synthesis)")
        raise UserError(f"{ckpt} holds a handwriting {model.kind} network, not a {wanted} one", fix)
    lines = [] if unconditional else text_lines(s.text, model, str(s.unknown), int(s.wrap))
    if unconditional and int(s.points) < 1:
        raise UserError(f"--points {s.points} is too few", "give --points 600 (or any number >= 1)")
    rows_primers = primers(s, model)
    reader = load_selector(s.select) if n_best > 1 else None

    seed = int(cfg.seed)
    rows: list[tuple[str, Primer | None, Sample]] = []
    t0 = time.perf_counter()
    groups = [(label, primer, b) for label, primer in rows_primers for b in biases]  # styles, then biases
    what = "scribbling" if unconditional else f"writing {len(lines)} line{'s' if len(lines) > 1 else ''}"
    for label, primer, b in track(groups, what + (f" x {n_best} candidates" if n_best > 1 else "")):
        gen = torch.Generator().manual_seed(seed)  # same seed per row: rows differ only by bias/style
        if unconditional:
            samples = scribble(model, int(s.points), 1, b, primer, gen, sharpen_eos=bool(s.sharpen_eos))
        else:
            cap = float(s.cap_factor) * model.points_per_char
            samples = synthesize(model, lines * n_best, b, primer, gen, max_points_per_char=cap,
                                 sharpen_eos=bool(s.sharpen_eos))
            if n_best > 1:
                samples, read = best_of(samples, len(lines), reader)
                for smp, r in zip(samples, read, strict=True) if read is not None else ():
                    log.info("best of %d: %r reads as %r", n_best, smp.text, r)
        tag = ", ".join(x for x in (label, f"bias {b:g}" if len(biases) > 1 else "") if x)
        rows += [(tag if i == 0 else "", primer, smp) for i, smp in enumerate(samples)]
    seconds = time.perf_counter() - t0
    points = sum(len(smp.offsets) for _, _, smp in rows)

    page = [page_line(smp, primer if bool(s.show_primer) else None, tag) for tag, primer, smp in rows]
    page_figure(page, run.figure("handwriting.png"), run.figure("handwriting.svg"))
    first = rows[0][2]
    if bool(s.figures) and len(first.offsets):
        if first.phi is not None:
            attention_figure(page[0].strokes, first.phi, first.window_text, run.figure("attention.png"))
        density_figure(first.offsets, first.y_hat, model.stats.mean, model.stats.std, run.figure("mixture_density.png"))
    out = StrokeSet(attrs={"checkpoint": str(ckpt), "seed": seed})
    for _, _, smp in rows:
        out.append(smp.offsets, smp.text, -1, "sample")
    out.save(run.arrays / "strokes.h5")
    save_arrays(run.arrays / "attention.h5",
                {f"phi_{i:03d}": smp.phi for i, (_, _, smp) in enumerate(rows) if smp.phi is not None},
                {"window_text": [smp.window_text for _, _, smp in rows]})
    results = {"checkpoint": str(ckpt), "lines": len(rows), "best_of": n_best, "points": points, "sampling_s": round(seconds, 3),
               "points_per_s": round(points / max(seconds, 1e-9), 1),
               "stopped_by_window": sum(smp.stop == "window" for _, _, smp in rows),
               "stopped_by_cap": sum(smp.stop == "cap" for _, _, smp in rows),
               "page": str(run.figures / "handwriting.png")}
    for _, _, smp in rows:
        if smp.stop == "cap":
            log.warning("the line %r reached the point cap before the window passed its end", smp.text)
    run.save_results(results)
    return results


def main(cfg: DictConfig) -> None:
    results = run(cfg)
    print_results(results, title="sample-handwriting")
