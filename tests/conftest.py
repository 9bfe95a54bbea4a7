"""Shared fixtures: tiny datasets written in their real on-disk formats, and a CLI runner."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    """Write an IDX file (magic 0 0 0x08 ndim, big-endian dims, uint8 data), as LeCun's files are."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    data = bytes([0, 0, 0x08, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape) + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def make_idx_set(root: Path, n_train: int = 96, n_test: int = 40, gz: bool = True, seed: int = 0) -> Path:
    """A tiny MNIST-format set: class k is a bright horizontal bar at row 2k+4 plus noise."""
    rng = np.random.default_rng(seed)

    def images(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % 10
        x = rng.integers(0, 60, size=(n, 28, 28))
        for i, k in enumerate(y):
            x[i, 2 * k + 4 : 2 * k + 6, 4:24] = 250
        return x.astype(np.uint8), y.astype(np.uint8)

    sfx = ".gz" if gz else ""
    for split, n in (("train", n_train), ("t10k", n_test)):
        x, y = images(n)
        write_idx(root / f"{split}-images-idx3-ubyte{sfx}", x, gz)
        write_idx(root / f"{split}-labels-idx1-ubyte{sfx}", y, gz)
    return root


# Penn Treebank in Mikolov's simple-examples/data layout (data=ptb_char / ptb_word), two lines of train.
PTB_WORD = {"train": [" aer banknote berlitz <unk> ", " pierre N years old "],
            "valid": [" consumers may want "], "test": [" no it was n't black monday "]}


def write_ptb(root: Path) -> Path:
    data = root / "simple-examples" / "data"
    data.mkdir(parents=True)
    for split, lines in PTB_WORD.items():
        (data / f"ptb.{split}.txt").write_text("".join(line + "\n" for line in lines))
        # the character files: symbols separated by spaces, '_' between words
        chars = [" ".join("_".join(line.split())) for line in lines]
        (data / f"ptb.char.{split}.txt").write_text("".join(c + "\n" for c in chars))
    return data


@pytest.fixture
def idx_root(tmp_path: Path) -> Path:
    return make_idx_set(tmp_path / "fashion")


# Overrides that make `paperlab train` tiny: a few-channel ZFNet on the IDX fixture, at its own 28 px
# (layer 1 5x5; the tests of the shipped model cover the default recipe's 56 px and 7x7 stride 2).
def tiny_train_overrides(root: Path, epochs: int = 2) -> list[str]:
    return [
        f"data.root={root}", "data.val_size=16", "data.resize=null", "model.channels=[4,8,8,8,8]", "model.hidden=16",
        f"trainer.max_epochs={epochs}", "trainer.batch_size=16", "trainer.progress=false",
        "trainer.log_every_n_steps=2", "optim.lr=0.05",
    ]


@dataclass
class CLIResult:
    returncode: int
    stdout: str
    stderr: str


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI subprocess: this checkout's paperlab and a wide terminal."""
    return {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200", **(env or {})}


class _ForkServer:
    """Client of tests/cli_forkserver.py: the CLI's imports paid once per session, not per command."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.buffer = b""

    def _line(self, deadline: float | None) -> dict:
        assert self.proc is not None and self.proc.stdout is not None
        while b"\n" not in self.buffer:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self.proc.stdout], [], [], wait)[0]:
                raise TimeoutError
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError("the CLI fork server died; run with PAPERLAB_TESTS_FRESH_PYTHON=1 to see why")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def run(self, args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> CLIResult:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "cli_forkserver.py")], cwd=REPO,
                                         env=cli_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            self.buffer = b""
        assert self.proc.stdin is not None
        with tempfile.TemporaryDirectory() as tmp:
            out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
            req = {"args": list(args), "cwd": str(cwd), "env": env, "stdout": str(out), "stderr": str(err)}
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
            pid = self._line(None)["pid"]
            try:
                rc = self._line(time.monotonic() + timeout)["rc"]
            except BaseException as err:  # our timeout, pytest-timeout's, Ctrl-C: the command goes too
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                self._line(None)  # its exit status: the server is ready for the next command
                if isinstance(err, TimeoutError):
                    raise subprocess.TimeoutExpired(["paperlab", *args], timeout) from None
                raise
            return CLIResult(rc, out.read_text(errors="replace"), err.read_text(errors="replace"))

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()  # the server ends at the end of its input
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


_FORK_SERVER = _ForkServer()


@pytest.fixture(scope="session", autouse=True)
def _close_fork_server():
    yield
    _FORK_SERVER.close()


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: int = 300) -> CLIResult:
    """Run `python -m paperlab ARGS` end to end: through the fork server (the same command, its
    imports already paid), or in a fresh interpreter with PAPERLAB_TESTS_FRESH_PYTHON=1."""
    cwd = Path(cwd or os.getcwd())
    if os.environ.get("PAPERLAB_TESTS_FRESH_PYTHON") == "1":
        p = subprocess.run([sys.executable, "-m", "paperlab", *args], cwd=cwd, env=cli_env(env),
                           capture_output=True, text=True, timeout=timeout)
        return CLIResult(p.returncode, p.stdout, p.stderr)
    return _FORK_SERVER.run(list(args), cwd, cli_env(env), timeout)


def assert_user_error(result: CLIResult, *needles: str) -> str:
    """One line on stderr starting with 'error:', exit code 2, no traceback; returns the line."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@contextlib.contextmanager
def raises_user_error(*needles: str):
    """In process, what `assert_user_error` checks of the command line: the block raises a
    UserError (the CLI's exit code 2) whose one line holds every needle. Yields pytest's
    ExceptionInfo; `str(info.value)` is the line the CLI prints after 'error: '."""
    from paperlab.errors import UserError

    with pytest.raises(UserError) as info:
        yield info
    line = str(info.value)
    assert info.value.exit_code == 2, (info.value.exit_code, line)
    assert "\n" not in line, line
    for needle in needles:
        assert needle in line, (needle, line)


def task_config(task: str, overrides: list[str]):
    """A task's config as the command line would compose it (`paperlab <task> OVERRIDES`): what an
    in-process test hands to the task's `run(cfg, run_dir=...)`. As Hydra does before it calls the
    task, the `hydra` node is taken out (its run/sweep settings only resolve inside a Hydra job)."""
    from omegaconf import open_dict, read_write

    from paperlab.launch import composed

    with composed(task, list(overrides)) as cfg:
        with read_write(cfg), open_dict(cfg):
            del cfg["hydra"]
        return cfg


def build_in_cache(cfg, cache: Path):
    """build_data(cfg) with paperlab's cache (paths.cache) in `cache`: what it generates goes there."""
    from paperlab.data import build_data

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAPERLAB_CACHE", str(cache))
        return build_data(cfg)


@pytest.fixture(scope="session")
def tiny_sort_of_clevr(tmp_path_factory: pytest.TempPathFactory):
    """The embedded relational scenes, generated small (40 / 6 / 10 images) into a temp cache."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(REPO / "conf" / "data" / "sort_of_clevr.yaml")
    cfg.merge_with({"train_images": 40, "val_images": 6, "test_images": 10})
    return build_in_cache(cfg, tmp_path_factory.mktemp("cache"))


@pytest.fixture
def one_thread():
    """Tiny tensors: on a busy 2-core machine thread hand-offs cost more than they save."""
    from paperlab.engine.threads import single_threaded

    with single_threaded():
        yield
