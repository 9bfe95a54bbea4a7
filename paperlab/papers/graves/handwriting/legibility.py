"""`paperlab legibility`: how legible the synthesis network's handwriting is (Graves 2013, Sec. 5),
read back by an online handwriting recogniser (paperlab/papers/graves/handwriting/reading.py).

The network writes held-out lines of its own corpus (or texts given on the command line) at each
bias, with the sampler `paperlab sample-handwriting` uses; the recogniser reads every sample, and
the readings are scored against the texts: character and word error rates, the share of words
found in order, the share of lines read exactly. The same recogniser reading the corpus's real
lines of those texts gives the floor the samples are compared with.

`legibility.best_of` scores `sample-handwriting --best-of N` (4 by default, 1: the paper's single
draw): N candidates per line, the one `select` prefers kept: the sharpest window, or the candidate
a given recogniser reads closest to the text. Judge those with a `reader` other than the selector:
a reader that chose a candidate is partial to it.

Writes results.json (the rates per bias and for the real lines), readings.jsonl (each text and
what was read at each bias) and a page of the first lines at each bias (figures/).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from paperlab.config import above, at_least, config_schema, one_of
from paperlab.console import track
from paperlab.data import build_data_as
from paperlab.engine.lifecycle import open_run
from paperlab.engine.restore import load_model
from paperlab.errors import UserError
from paperlab.io.rundir import RunDir
from paperlab.papers.graves.handwriting.figures import PageLine, page_figure
from paperlab.papers.graves.handwriting.reading import Reader, legibility_scores
from paperlab.papers.graves.handwriting.sample_handwriting import _floats, best_of, load_selector
from paperlab.papers.graves.handwriting.sampling import (
    HandwritingModel,
    synthesize,
)
from paperlab.papers.graves.handwriting.strokes import HandwritingData, offsets_to_strokes
from paperlab.tasks.report import print_results

log = logging.getLogger(__name__)


@config_schema("legibility")
@dataclass
class LegibilityConfig:
    """conf/legibility.yaml's `legibility` node (its defaults and their reasons are there)."""

    texts: list[str] | None
    split: str = one_of("test", "val")
    lines: int = at_least(1)
    min_chars: int = at_least(0)
    bias: Any = at_least(0)
    sharpen_eos: bool
    cap_factor: float = above(0)
    batch_size: int = at_least(1)
    show: int = at_least(0)
    best_of: int = at_least(1)
    select: str


def held_out_lines(model: HandwritingModel, count: int, min_chars: int,
                   split_name: str = "test") -> tuple[list[str], list[np.ndarray], str]:
    """The first `count` lines of at least `min_chars` characters of the `split_name` split of the
    data the model was trained on (a corpus without a test split: its validation split), with
    their real pen offsets, and the split's name. Choose sampling settings on "val"; report on "test"."""
    if split_name not in ("test", "val"):
        raise UserError(f"legibility.split={split_name} is not a held-out split", "give legibility.split=test or val")
    data = build_data_as(OmegaConf.create(model.data), HandwritingData, "a handwriting dataset",
                         "a synthesis checkpoint trained on handwriting data")
    if split_name not in data.splits:
        split_name = "val"
    split = data.splits[split_name]
    keep = [i for i, t in enumerate(split.data.text) if len(t) >= min_chars][:count]
    if not keep:
        raise UserError(f"no held-out line has {min_chars} or more characters", "lower legibility.min_chars")
    return [split.data.text[i] for i in keep], [split.data.offsets[i] for i in keep], split_name


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    with open_run("legibility", cfg, run_dir) as run:
        return _score(cfg, run)


def _score(cfg: DictConfig, run: RunDir) -> dict[str, Any]:
    opts = cfg.legibility
    biases = _floats(opts.bias)
    if not biases or any(not np.isfinite(b) or b < 0 for b in biases):
        raise UserError(f"legibility.bias={list(biases)} is invalid", "give biases >= 0, e.g. legibility.bias=[0,1,2]")
    model = HandwritingModel.of(load_model(cfg.checkpoint or "graves_synthesis", "handwriting"))
    ckpt = model.path
    if model.kind != "synthesis":
        raise UserError(f"{ckpt} holds a handwriting {model.kind} network, not a synthesis one",
                        "give a synthesis checkpoint (trained with experiment=graves_synthesis)")
    reader = Reader.of(load_model(cfg.reader, "handwriting_recognition"))
    reader_path = reader.path
    n_best = int(opts.best_of)
    if n_best < 1:
        raise UserError(f"legibility.best_of={n_best} is not possible", "give legibility.best_of >= 1")
    selector = load_selector(opts.select) if n_best > 1 else None
    selector_path = selector.path if selector is not None else None
    if selector_path is not None and selector_path.resolve() == reader_path.resolve():
        log.warning("the selector of best_of also judges the samples: the scores flatter them")
    if opts.texts:
        texts, real, split = [" ".join(str(t).split()) for t in opts.texts], None, None
    else:
        texts, real, split = held_out_lines(model, int(opts.lines), int(opts.min_chars), str(opts.split))
    for alphabet, who in ((model.alphabet, "the synthesis network"), (reader.alphabet, "the recogniser")):
        bad = alphabet.unknown("".join(texts))
        if bad:
            raise UserError(f"{who} cannot handle the characters {' '.join(map(repr, bad))}",
                            "give texts in the models' alphabet")

    results: dict[str, Any] = {"checkpoint": str(ckpt), "reader": str(reader_path), "lines": len(texts),
                               "chars_per_line": round(float(np.mean([len(t) for t in texts])), 1), "best_of": n_best,
                               "sharpen_eos": bool(opts.sharpen_eos)}
    if n_best > 1:
        results["select"] = str(selector_path or opts.select)
    if split is not None:
        results["split"] = split
    readings: dict[str, list[str]] = {}
    if real is not None:
        readings["real"] = reader.read(real)
        results.update({f"real/{k}": v for k, v in legibility_scores(texts, readings["real"]).items()})
    cap = float(opts.cap_factor) * model.points_per_char
    batch = int(opts.batch_size)
    show = int(opts.show)
    starts = range(0, len(texts), batch)
    steps = [(b, start) for b in biases for start in starts]  # each bias's batches, bias after bias
    gen, samples = None, []
    lines = f"{len(texts)} line{'s' if len(texts) > 1 else ''}"
    for b, start in track(steps, f"writing and reading {lines} at {len(biases)} bias{'es' if len(biases) > 1 else ''}"):
        if start == 0:  # a new bias: its own generator, seeded alike
            gen, samples = torch.Generator().manual_seed(int(cfg.seed)), []
        part = synthesize(model, texts[start : start + batch] * n_best, b, None, gen, max_points_per_char=cap,
                          sharpen_eos=bool(opts.sharpen_eos))
        samples += best_of(part, len(part) // n_best, selector)[0] if n_best > 1 else part
        if start != starts[-1]:
            continue
        read = reader.read([s.offsets for s in samples])  # the bias's last batch: read and score its lines
        readings[f"bias {b:g}"] = read
        results.update({f"bias_{b:g}/{k}": v for k, v in legibility_scores(texts, read).items()})
        results[f"bias_{b:g}/stopped_by_cap"] = sum(s.stop == "cap" for s in samples)
        page = [PageLine([st[:, :2] for st in offsets_to_strokes(s.offsets)], [], f"{i + 1}")
                for i, s in enumerate(samples[:show]) if len(s.offsets)]
        if page:
            page_figure(page, run.figure(f"samples_bias_{b:g}.png"), None)
        for i, (t, r) in enumerate(zip(texts, read, strict=True)):
            if t != r:
                log.debug("bias %g, line %d: %r read as %r", b, i + 1, t, r)
    with open(run.path / "readings.jsonl", "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"line": i + 1, "text": t, **{k: v[i] for k, v in readings.items()}}) + "\n")
    run.save_results(results)
    return results


def main(cfg: DictConfig) -> None:
    print_results(run(cfg), title="legibility")
