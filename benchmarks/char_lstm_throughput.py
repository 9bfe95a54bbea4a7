"""Training throughput of `paperlab train experiment=graves_text` vs a bare nn.LSTM loop.

The peer is the loop a person writes by hand for a character LM: one `nn.LSTM` of the same depth
and width (2 x 256), a linear softmax layer, one-hot inputs, the same batch (16 streams), sequence
length (100), Adam, and the state carried and detached between segments. Ours is the whole engine
(data loader, progress bar, logging, checkpoints, evaluation) training Graves's model, whose skip
connections (input -> every layer, every layer -> output) cost some extra FLOPs. A third line, our
model in the same bare loop, separates the engine's overhead from the architecture's cost.
The sides alternate in one process so that machine noise hits all of them. Target: ratio >= 0.9.

    python benchmarks/char_lstm_throughput.py [--steps 100] [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from torch import nn

from paperlab.config import conf_dir, to_dataclass
from paperlab.engine.seed import seed_everything
from paperlab.engine.trainer import Trainer, TrainerConfig
from paperlab.io.rundir import RunDir
from paperlab.learners import LEARNERS
from paperlab.papers.graves.deep_lstm import detach_state


def config(steps: int):
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return compose("train", ["experiment=graves_text", f"trainer.limit_train_batches={steps}", "trainer.max_epochs=1",
                                 "trainer.limit_eval_batches=1", "char_lm.eval_streams=64", "trainer.progress=true",
                                 f"trainer.checkpoint_every_n_steps={steps}"])


class BareLSTM(nn.Module):
    def __init__(self, vocab: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.lstm = nn.LSTM(vocab, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids, state=None):
        h, state = self.lstm(F.one_hot(ids, self.vocab).float(), state)
        return self.head(h), state


def bare_loop(model: nn.Module, data: torch.Tensor, batch: int, seq_len: int, steps: int, lr: float) -> float:
    """Slice consecutive segments of `batch` streams, forward, backward, step; carry the state."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    streams = data[: (len(data) // batch) * batch].view(batch, -1)
    state = None
    t = time.perf_counter()
    for k in range(steps):
        x = streams[:, k * seq_len : (k + 1) * seq_len]
        y = streams[:, k * seq_len + 1 : (k + 1) * seq_len + 1]
        logits, state = model(x, state)
        state = detach_state(state) if isinstance(state, list) else tuple(s.detach() for s in state)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps * batch * seq_len / (time.perf_counter() - t)


def engine(cfg, steps: int) -> float:
    seed_everything(0)
    learner = LEARNERS.get("char_lm")(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir.start(Path(tmp), task="train", name="bench")
        trainer = Trainer(to_dataclass(TrainerConfig, cfg.trainer, "trainer"), run, 0, cfg.optim, cfg.get("sched"), cfg)
        t = time.perf_counter()
        trainer.fit(learner)  # everything counted: loader, progress bar, logging, checkpoint, evaluation
        return steps * cfg.trainer.batch_size * cfg.char_lm.seq_len / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    cfg = config(args.steps)
    seed_everything(0)
    learner = LEARNERS.get("char_lm")(cfg)
    data, vocab = learner.corpus.ids["train"], len(learner.corpus.vocab)
    b, T, H, L, lr = cfg.trainer.batch_size, cfg.char_lm.seq_len, cfg.model.hidden_size, cfg.model.num_layers, cfg.optim.lr
    bare, ours_bare, ours = [], [], []
    for _ in range(args.repeats):
        seed_everything(0)
        bare.append(bare_loop(BareLSTM(vocab, H, L), data, b, T, args.steps, lr))
        seed_everything(0)
        ours_bare.append(bare_loop(LEARNERS.get("char_lm")(cfg).model, data, b, T, args.steps, lr))
        ours.append(engine(cfg, args.steps))
    bb, ob, oe = statistics.median(bare), statistics.median(ours_bare), statistics.median(ours)
    print(f"character LM {L}x{H} on {learner.corpus.name} ({vocab} symbols), batch {b}, sequence {T}, "
          f"{args.steps} steps x {args.repeats}, {torch.get_num_threads()} thread(s)")
    print(f"  bare nn.LSTM loop                   : {bb:8.0f} chars/s")
    print(f"  Graves deep LSTM (skips), bare loop : {ob:8.0f} chars/s   ({ob / bb:.3f} x nn.LSTM: the skip connections' cost)")
    print(f"  paperlab train experiment=graves_text: {oe:8.0f} chars/s")
    print(f"  ratio paperlab / bare nn.LSTM       : {oe / bb:8.3f}   (target >= 0.9)")
    print(f"  ratio paperlab / same model bare    : {oe / ob:8.3f}   (the engine's own overhead)")


if __name__ == "__main__":
    main()
