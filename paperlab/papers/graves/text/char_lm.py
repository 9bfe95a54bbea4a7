"""Character-level language modelling: Graves 2013, "Generating Sequences With Recurrent Neural
Networks", Sec. 3 (text prediction).

* Loss: the log-loss of the next symbol, -log Pr(x_{t+1} | x_1..x_t); reported in bits per
  character, BPC = mean over predicted symbols of -log2 Pr (Sec. 3).
* Truncated backpropagation through time over consecutive segments with the LSTM state carried
  from one to the next (Sec. 3.2: sequences of 100 bytes, in order), zeroed every
  `reset_every` segments (Sec. 3.2: every 100 sequences) and at the start
  of each pass over the data.
* Optional weight noise (Sec. 3.1: std 0.075, drawn once per training sequence): the
  gradient is taken at noisy weights and applied to the clean ones.
* Static evaluation scores each split as one stream with the state carried throughout; dynamic
  evaluation (`paperlab.papers.graves.text.dynamic_eval`) keeps training a copy of the model on the stream
  as it reads it (Sec. 3.1-3.2). xz and bzip2 on the same split are reported beside them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import Dataset

from paperlab.config import at_least, config_schema, one_of, to_dataclass
from paperlab.data import build_data_as
from paperlab.data.text import SymbolVocab, TextCorpus
from paperlab.engine.distributed import dist_info
from paperlab.engine.learner import Learner, register_learner
from paperlab.errors import UserError
from paperlab.io.figures import plt, save_figure
from paperlab.models import create_model
from paperlab.papers.graves.deep_lstm import LSTMState, detach_state
from paperlab.papers.graves.text.bptt import EvalStreams, SegmentStreams
from paperlab.papers.graves.text.char_lstm import generate
from paperlab.papers.graves.text.compressors import LABELS, compressor_bpc
from paperlab.papers.graves.text.dynamic_eval import DynamicEvalConfig, dynamic_evaluation

log = logging.getLogger(__name__)
LN2 = math.log(2)


@config_schema("char_lm")
@dataclass
class CharLMConfig:
    seq_len: int = at_least(1, default=100)  # truncated BPTT segment length (Sec. 3.2: sequences of 100 bytes)
    reset_every: int | None = at_least(1, default=None)  # zero the carried state every N segments (Sec. 3.2: 100); null: only per epoch
    loss: str = one_of("mean", "sum", default="mean")  # "mean": per symbol; "sum": summed over each sequence (rnnlib, the scale of Graves's lr)
    weight_noise: float = at_least(0, default=0.0)  # std of Gaussian weight noise, once per training batch (Sec. 3.1: 0.075)
    eval_streams: int = at_least(1, default=1)  # pieces each evaluated split is read in (1: one stream, as the paper)
    dynamic_eval: DynamicEvalConfig = field(default_factory=DynamicEvalConfig)
    compressors: list[str] = field(default_factory=lambda: ["xz", "bzip2"])  # baselines on the test split
    compressors_given_train: bool = True  # also their marginal BPC after reading the training split
    sample_prime: str = "The "  # a sample written to sample.txt at the end of training
    sample_length: int = at_least(0, default=600)


def bits_per_char(loss_sum_nats: float, count: float) -> float:
    """Mean log-loss in bits: sum of -ln Pr over `count` predictions, divided by count x ln 2."""
    return loss_sum_nats / max(count, 1) / LN2


@dataclass
class CharLMExtras:
    """What a trained character LM comes with: its symbols, and the corpus it read."""

    vocab: dict[str, Any]  # SymbolVocab.to_dict()
    corpus: str
    sizes: dict[str, int]  # symbols per split

    @property
    def symbols(self) -> SymbolVocab:
        return SymbolVocab.from_dict(self.vocab)


@register_learner("char_lm")
class CharLM(Learner):
    """Character-level LSTM language model (Graves 2013 Sec. 3): BPC, static and dynamic."""

    Extras = CharLMExtras
    monitor = "val/bpc"
    monitor_mode = "min"
    shuffle_train = False  # consecutive segments, in order (truncated BPTT)

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = to_dataclass(CharLMConfig, cfg.get("char_lm"), where="char_lm")
        corpus = build_data_as(cfg.data, TextCorpus, "a text corpus",
                               "data=fortunes, text, python_docs, enwik8, ptb_char or ptb_word with learner=char_lm")
        self.corpus = corpus
        model_kw = OmegaConf.to_container(cfg.model, resolve=True)
        self.model = create_model(model_kw.pop("name"), **model_kw, vocab_size=len(corpus.vocab))
        self.streams = int(cfg.trainer.batch_size) * dist_info().world_size
        self.state: LSTMState | None = None
        self._noise: list[torch.Tensor] = []
        log.info("corpus %s: %s symbols (%d distinct %ss)", corpus.name,
                 ", ".join(f"{k} {v:,}" for k, v in corpus.sizes().items()), len(corpus.vocab), corpus.vocab.unit)

    # -- data -----------------------------------------------------------------------------------
    def datasets(self) -> dict[str, Dataset]:
        ids = self.corpus.ids
        try:
            splits: dict[str, Dataset] = {"train": SegmentStreams(ids["train"], self.streams, self.cfg.seq_len)}
        except ValueError:
            raise UserError(f"the training split ({len(ids['train'])} symbols) is too short for "
                            f"{self.streams} streams of {self.cfg.seq_len}-symbol segments",
                            "lower trainer.batch_size or char_lm.seq_len, or give a larger corpus") from None
        if "val" not in ids:
            raise UserError(f"corpus {self.corpus.name} has an empty validation split", "give a larger data.split for val")
        for split in ("val", "test"):
            if split in ids:
                splits[split] = EvalStreams(ids[split], self.cfg.eval_streams)
        return splits

    # -- training -------------------------------------------------------------------------------
    def training_step(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y, segment = batch
        k = int(segment[0])
        if k == 0 or (self.cfg.reset_every and k % self.cfg.reset_every == 0):
            self.state = None
        if self.cfg.weight_noise:
            self._add_weight_noise()
        logits, state = model(x, self.state)
        self.state = detach_state(state)
        nll = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten())  # nats per symbol
        loss = nll * x.shape[1] if self.cfg.loss == "sum" else nll  # sum: per sequence, batch-averaged
        return loss, {"bpc": nll.detach() / LN2}

    def _add_weight_noise(self) -> None:
        with torch.no_grad():
            for p in self.model.parameters():
                noise = torch.randn_like(p) * self.cfg.weight_noise
                p.add_(noise)
                self._noise.append(noise)

    def on_after_backward(self, model: nn.Module) -> None:
        if self._noise:
            with torch.no_grad():
                for p, noise in zip(self.model.parameters(), self._noise, strict=True):
                    p.sub_(noise)
            self._noise = []

    def batch_size(self, batch: Any) -> int:
        return int(batch[0].numel())  # symbols: throughput is reported in characters per second

    def state_dict(self) -> dict[str, Any]:
        return {"state": None if self.state is None else [[h, c] for h, c in self.state]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        carried = state.get("state")
        self.state = None if carried is None else [(h, c) for h, c in carried]

    # -- evaluation -----------------------------------------------------------------------------
    def eval_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y, mask = batch
        state, total, T = None, torch.zeros((), dtype=torch.float64, device=x.device), self.cfg.seq_len
        for t in range(0, x.shape[1], T):
            logits, state = model(x[:, t : t + T], state)
            nll = F.cross_entropy(logits.flatten(0, 1).float(), y[:, t : t + T].flatten(), reduction="none")
            total += (nll * mask[:, t : t + T].flatten()).sum()
        return {"loss_sum": total, "count": mask.sum()}

    def summarize(self, sums: dict[str, float]) -> dict[str, float]:
        n = max(sums["count"], 1)
        return {"loss": sums["loss_sum"] / n, "bpc": bits_per_char(sums["loss_sum"], n)}

    def checkpoint_extras(self) -> CharLMExtras:
        return CharLMExtras(self.corpus.vocab.to_dict(), self.corpus.name, self.corpus.sizes())

    def on_fit_end(self, run: Any) -> dict[str, Any]:
        results: dict[str, Any] = {"corpus": self.corpus.name}
        results.update(self.dynamic_results())
        scored = "test" if "test" in self.corpus.ids else "val"
        for name in self.cfg.compressors:
            text = self.corpus.texts[scored]
            results[f"{scored}/bpc_{name}"] = compressor_bpc(name, text)
            if self.cfg.compressors_given_train:
                results[f"{scored}/bpc_{name}_given_train"] = compressor_bpc(name, text, given=self.corpus.texts["train"])
        sample = self.sample(self.cfg.sample_prime, self.cfg.sample_length, seed=0)
        (run.path / "sample.txt").write_text(sample)
        records = run.read_metrics()
        final = next((r for r in reversed(records) if r.get("final")), {})
        bpc_figure(records, {**final, **results}, run.figure("bpc.png"), scored, self.streams * self.cfg.seq_len)
        return results

    def dynamic_results(self) -> dict[str, float]:
        """Dynamic-evaluation BPC of the configured splits; with several learning rates, the one
        best on the validation split is used for the others (and reported as dynamic_lr)."""
        dyn, ids = self.cfg.dynamic_eval, self.corpus.ids
        splits = [s for s in dyn.splits if s in ids]
        if not dyn.lrs or not splits:
            return {}

        def score(split: str, lr: float) -> float:
            sums, _ = dynamic_evaluation(self.model, ids[split], self.cfg.seq_len, lr, dyn.momentum,
                                         loss=self.cfg.loss, label=f"dynamic eval {split} (lr {lr:g})")
            return bits_per_char(sums["loss_sum"], sums["count"])

        out: dict[str, float] = {}
        lr = dyn.lrs[0]
        if len(dyn.lrs) > 1:
            if "val" not in ids:
                raise UserError("choosing the dynamic-evaluation lr needs a validation split",
                                "give one lr: char_lm.dynamic_eval.lrs=[0.01]")
            on_val = {lr: score("val", lr) for lr in dyn.lrs}
            lr = min(on_val, key=on_val.get)
            log.info("dynamic evaluation on val: %s -> lr %g", ", ".join(f"lr {k:g}: {v:.4f}" for k, v in on_val.items()), lr)
            if "val" in splits:
                out["val/bpc_dynamic"] = on_val[lr]
        for split in splits:
            if f"{split}/bpc_dynamic" not in out:
                out[f"{split}/bpc_dynamic"] = score(split, lr)
        out["dynamic_lr"] = lr
        return out

    def sample(self, prime: str, length: int, seed: int = 0, temperature: float = 1.0) -> str:
        """A sample continuing `prime` (unknown symbols of the prime are dropped)."""
        vocab = self.corpus.vocab
        prime_ids = encode_prime(vocab, prime, unknown="skip")
        gen = torch.Generator(device=next(self.model.parameters()).device).manual_seed(seed)
        was_training = self.model.training
        ids = list(generate(self.model, prime_ids.to(gen.device), length, temperature, gen))
        self.model.train(was_training)
        return vocab.decode(prime_ids.tolist() + ids)


def bpc_figure(records: list[dict[str, Any]], results: dict[str, Any], path: Path, split: str,
               chars_per_step: int) -> Path:
    """BPC against characters read: training (per logged step), validation (per epoch), the final
    static and dynamic scores of `split`, and the compressors' BPC on `split` as reference lines."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    train = [(r["step"] * chars_per_step / 1e6, r["train/bpc"]) for r in records if "train/bpc" in r]
    val = [(r["step"] * chars_per_step / 1e6, r["val/bpc"]) for r in records if "val/bpc" in r and not r.get("final")]
    if train:
        ax.plot(*zip(*train, strict=True), lw=1, alpha=0.7, label="train")
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation")
    end = (train or val or [(0.0, 0.0)])[-1][0]
    for key, marker, label in ((f"{split}/bpc", "s", f"{split} (static)"),
                               (f"{split}/bpc_dynamic", "*", f"{split} (dynamic evaluation)")):
        if key in results:
            ax.plot([end], [results[key]], marker, ms=10, label=f"{label}: {results[key]:.3f}")
    colours = {}
    for key, value in results.items():
        if key.startswith(f"{split}/bpc_") and key != f"{split}/bpc_dynamic":
            name = key.split("bpc_", 1)[1]
            base, given = name.removesuffix("_given_train"), name.endswith("_given_train")
            colour = colours.setdefault(base, f"C{len(colours) + 4}")
            label = LABELS.get(base, base) + (" given the training split" if given else "") + f": {value:.3f}"
            ax.axhline(value, color=colour, ls=":" if given else "--", lw=1.2, label=label)
    ax.set_xlabel("characters read (millions)")
    ax.set_ylabel("bits per character")
    ax.set_title(f"Character-level LSTM (Graves 2013 Sec. 3): {split} split")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def encode_prime(vocab: SymbolVocab, prime: str, unknown: str = "error") -> torch.Tensor:
    """Prime text -> ids. Symbols the model never saw: a UserError (unknown="error") or dropped
    (unknown="skip"). An empty prime (after skipping) starts from a newline (or the first symbol)."""
    if unknown not in ("error", "skip"):
        raise UserError(f"unknown='{unknown}' is not a choice", "use --unknown=error or --unknown=skip")
    text: str | bytes = prime.encode("utf-8") if vocab.unit == "byte" else prime
    missing = vocab.unknown(text)
    if missing and unknown == "error":
        raise UserError(f"the prime has characters the model never saw: {', '.join(missing)}",
                        "remove them, or pass --unknown=skip to drop them")
    ids = vocab.encode(text, skip_unknown=True)
    if not len(ids):
        newline = ord("\n")
        ids = torch.tensor([vocab.symbols.index(newline) if newline in vocab.symbols else 0])
    return ids
