"""Shared fixtures: tiny datasets written in their real on-disk formats, and a CLI runner."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
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


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: int = 300) -> CLIResult:
    """Run `python -m paperlab ARGS` in a subprocess (the real command, end to end)."""
    p = subprocess.run([sys.executable, "-m", "paperlab", *args], cwd=cwd, env=cli_env(env),
                       capture_output=True, text=True, timeout=timeout)
    return CLIResult(p.returncode, p.stdout, p.stderr)


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


@pytest.fixture(scope="session")
def tiny_sort_of_clevr(tmp_path_factory: pytest.TempPathFactory):
    """The embedded relational scenes, generated small (40 / 6 / 10 images) into a temp cache."""
    from omegaconf import OmegaConf

    from paperlab.data import build_data

    cfg = OmegaConf.load(REPO / "conf" / "data" / "sort_of_clevr.yaml")
    cfg.merge_with({"cache_dir": str(tmp_path_factory.mktemp("cache")), "train_images": 40, "val_images": 6,
                    "test_images": 10})
    return build_data(cfg)
