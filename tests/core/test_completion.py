"""Shell completion of the Hydra overrides, through Typer's own completion protocol (the env
variables its installed bash and zsh scripts set): config groups' options, experiments, keys and
`paperlab list` kinds, read from conf/ without importing torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_env, run_cli

from paperlab.config import config_options


def bash(words: str, tmp_path: Path) -> list[str]:
    """What `paperlab` offers for the last word of `words` (bash: COMP_WORDS and COMP_CWORD)."""
    parts = words.split(" ")
    r = run_cli(cwd=tmp_path, env={"_PAPERLAB_COMPLETE": "complete_bash", "COMP_WORDS": words,
                                   "COMP_CWORD": str(len(parts) - 1)})
    assert r.returncode == 0 and not r.stderr, r.stderr
    return r.stdout.split()


@pytest.mark.parametrize("group", ["model", "data", "optim", "sched", "experiment"])
def test_a_group_completes_to_its_options(group: str, tmp_path: Path) -> None:
    options = config_options(group)
    assert len(options) >= 3
    assert bash(f"paperlab train {group}=", tmp_path) == [f"{group}={o}" for o in options]


def test_completion_narrows_by_prefix_and_offers_keys(tmp_path: Path) -> None:
    assert bash("paperlab train model=zf", tmp_path) == ["model=zfnet"]
    assert bash("paperlab train experiment=graves_text", tmp_path) == [
        "experiment=graves_text", "experiment=graves_text_ptb", "experiment=graves_text_wikipedia"]
    assert bash("paperlab train trainer.max", tmp_path) == ["trainer.max_epochs=", "trainer.max_steps="]
    assert {"model=", "experiment=", "trainer.batch_size="} <= set(bash("paperlab train ", tmp_path))
    assert "legibility.lines=" in bash("paperlab legibility leg", tmp_path)
    assert bash("paperlab sample-text --temp", tmp_path) == ["--temperature"]  # the command's own options too


def test_bash_splits_at_the_equals_sign(tmp_path: Path) -> None:
    """Bash's COMP_WORDBREAKS holds '=': `model=zf` reaches the program as model, =, zf."""
    assert bash("paperlab train model = zf", tmp_path) == ["zfnet"]
    assert bash("paperlab train model =", tmp_path) == config_options("model")


def test_list_completes_the_kinds(tmp_path: Path) -> None:
    kinds = bash("paperlab list ", tmp_path)
    assert {"models", "data", "experiments", "optim", "sched", "learners", "trainer"} <= set(kinds)
    assert bash("paperlab list exp", tmp_path) == ["experiments", "experiment"]


def test_zsh_gets_the_same_and_torch_is_never_imported(tmp_path: Path) -> None:
    probe = ("import atexit, runpy, sys; atexit.register(lambda: print('torch' in sys.modules)); "
             "sys.argv = ['paperlab']; runpy.run_module('paperlab', run_name='__main__')")
    env = cli_env({"_PAPERLAB_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "paperlab train data=fashion"})
    p = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "data=fashion_mnist" in p.stdout and p.stdout.split()[-1] == "False"
