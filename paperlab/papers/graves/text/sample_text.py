"""`paperlab sample-text`: generate text with a trained character-level LSTM (Graves 2013 Sec. 3,
Sec. 3.2's generated samples): read the prime, then sample one character at a time from the
softmax, each fed back as the next input. Characters reach the terminal as they are generated."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from paperlab.config import above, at_least, config_schema, one_of
from paperlab.engine.lifecycle import open_run
from paperlab.engine.restore import load_model
from paperlab.errors import UserError
from paperlab.papers.graves.text.char_lm import encode_prime
from paperlab.papers.graves.text.char_lstm import generate

log = logging.getLogger(__name__)


@config_schema("", command="sample_text")
@dataclass
class SampleTextConfig:
    """The values of conf/sample_text.yaml that have a range (the file holds the defaults)."""

    length: int = at_least(0)
    temperature: float = above(0)
    seed: int
    unknown: str = one_of("error", "skip")


def _check(cfg: DictConfig) -> None:
    if not float(cfg.temperature) > 0:
        raise UserError(f"temperature must be greater than 0, not {cfg.temperature}",
                        "use e.g. --temperature 1.0 (lower is more conservative, higher more varied)")
    if int(cfg.length) < 0:
        raise UserError(f"length must be 0 or more, not {cfg.length}", "use e.g. --length 500")
    if str(cfg.unknown) not in ("error", "skip"):
        raise UserError(f"unknown='{cfg.unknown}' is not a choice", "use --unknown=error or --unknown=skip")


def run(cfg: DictConfig, run_dir: str | Path | None = None, emit: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Sample `cfg.length` characters after `cfg.prime`; `emit` receives the text piece by piece
    (the prime first). Writes sample.txt and results.json into the run directory."""
    with open_run("sample_text", cfg, run_dir) as run:
        _check(cfg)
        loaded = load_model(str(cfg.checkpoint), "char_lm")
        model, vocab, path = loaded.model, loaded.extras.symbols, loaded.path
        prime_ids = encode_prime(vocab, str(cfg.prime), unknown=str(cfg.unknown))
        emit = emit or (lambda piece: None)
        decoder = vocab.decoder()
        pieces = [decoder.feed(prime_ids)]
        emit(pieces[0])
        gen = torch.Generator().manual_seed(int(cfg.seed))
        for i in generate(model, prime_ids, int(cfg.length), float(cfg.temperature), gen):
            piece = decoder.feed(i)
            pieces.append(piece)
            emit(piece)
        pieces.append(decoder.feed([], final=True))
        emit(pieces[-1])
        text = "".join(pieces)
        (run.path / "sample.txt").write_text(text)
        results = {"checkpoint": str(path), "prime": str(cfg.prime), "length": int(cfg.length),
                   "temperature": float(cfg.temperature), "seed": int(cfg.seed)}
        run.save_results(results)
    return {**results, "text": text}


def main(cfg: DictConfig) -> None:
    def emit(piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()

    results = run(cfg, emit=emit)
    sys.stdout.write("\n")
    log.info("%d characters from %s (temperature %g, seed %d); saved in %s/sample.txt", results["length"],
             results["checkpoint"], results["temperature"], results["seed"], HydraConfig.get().runtime.output_dir)
