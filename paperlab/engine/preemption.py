"""Stopping a training run cleanly when the cluster or the user says so: SIGTERM, SIGUSR1 and
SIGUSR2 (preemption, a time limit near: SLURM's --signal, submitit's USR2) and Ctrl-C (SIGINT) set
a flag; the loop writes a checkpoint and exits after the current step, and every DDP rank stops
after the same step. A second Ctrl-C stops at once, as Ctrl-C usually does."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from paperlab.engine.distributed import max_over_ranks


class StopSignals:
    """The stop flag the training loop polls once per step."""

    SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGINT)

    def __init__(self) -> None:
        self.signal: int | None = None  # received by this process
        self.decided = 0  # agreed by all ranks: stop after the current step

    def agreed(self) -> int:
        """The signal to stop for (0: none), the same on every rank, so that all ranks stop after
        the same step (one rank may get the signal a step before another)."""
        self.decided = max_over_ranks(self.signal or 0)
        return self.decided

    @contextmanager
    def installed(self) -> Iterator[StopSignals]:
        """The handlers, while the loop runs (the main thread only: Python's rule for signals)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        old = {s: signal.getsignal(s) for s in self.SIGNALS}

        def received(signum: int, frame: object) -> None:
            self.signal = signum
            if signum == signal.SIGINT:  # the next Ctrl-C interrupts at once
                signal.signal(signal.SIGINT, signal.default_int_handler)

        for s in old:
            signal.signal(s, received)
        try:
            yield self
        finally:
            for s, h in old.items():
                signal.signal(s, h)
