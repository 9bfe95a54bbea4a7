"""A fork server for the CLI tests: `python -m paperlab ARGS` without paying the imports each time.

Importing torch, Hydra, matplotlib and paperlab's tasks takes about 6 s on a 2-core CI machine, and the
suite runs the real command some 80 times. This process imports them once and then, per request,
forks a child that becomes the command: its own working directory, environment, argv, stdout and
stderr files, `runpy` of `paperlab` as `__main__` (what `python -m` does), and its exit status or
signal handed back as `subprocess` reports it. The server itself never runs a tensor op, so no
OpenMP pool is alive across a fork. Anything the imports printed or put in the environment is
replayed into each child, so a command that would print a warning on start still does.

Protocol (one JSON object a line): stdin gets {"args", "cwd", "env", "stdout", "stderr"}; stdout
answers {"pid": ...} at the fork and {"rc": ...} when the child ends.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import runpy
import sys
import tempfile
import traceback

_STARTED_WITH = dict(os.environ)
PRELOAD = ("torch", "torchvision", "h5py", "hydra", "hydra._internal.hydra", "omegaconf", "typer", "rich",
           "paperlab.cli", "paperlab.launch", "paperlab.io.figures")


def _preload() -> tuple[tuple[str, str], dict[str, str]]:
    """Import the heavy modules with fd 1 and 2 captured; return what they wrote and set in os.environ."""
    env_before = dict(os.environ)
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            for name in PRELOAD:
                importlib.import_module(name)
            import paperlab.papers
            import paperlab.tasks

            for package in (paperlab.tasks, paperlab.papers):  # every command's module
                for mod in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
                    importlib.import_module(mod.name)
            from paperlab.data import DATASETS
            from paperlab.learners import LEARNERS
            from paperlab.models import MODELS

            DATASETS.names(), LEARNERS.names(), MODELS.names()  # the registries import their modules at the first lookup
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
        out.seek(0)
        err.seek(0)
        printed = out.read().decode(), err.read().decode()
    added = {k: v for k, v in os.environ.items() if env_before.get(k) != v}
    return printed, added


def _child(req: dict, printed: tuple[str, str], env_added: dict[str, str]) -> None:
    """Become `python -m paperlab ARGS`; never returns."""
    code = 1
    try:
        os.chdir(req["cwd"])
        sys.path[0] = os.getcwd()  # as `python -m` has it (the server started with tests/ there)
        os.environ.clear()
        os.environ.update(req["env"])
        for k, v in env_added.items():  # what the imports set with setdefault, as a fresh process would
            os.environ.setdefault(k, v)
        threads = os.environ.get("OMP_NUM_THREADS", "")
        if threads != _STARTED_WITH.get("OMP_NUM_THREADS", ""):
            # OpenMP read the variable when torch loaded, in the server: apply the command's value
            import torch

            torch.set_num_threads(int(threads) if threads.isdigit() else len(os.sched_getaffinity(0)))
        for fd, path, text in ((1, req["stdout"], printed[0]), (2, req["stderr"], printed[1])):
            f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(f, fd)
            os.close(f)
            os.write(fd, text.encode())
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        import paperlab

        sys.argv = [os.path.join(os.path.dirname(paperlab.__file__), "__main__.py"), *req["args"]]
        try:
            runpy.run_module("paperlab", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as e:
            if e.code is None or isinstance(e.code, int):
                code = e.code or 0
            else:
                print(e.code, file=sys.stderr)
                code = 1
    except BaseException:  # noqa: BLE001 - the interpreter's own last resort: print and exit 1
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def main() -> None:
    printed, env_added = _preload()
    channel = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        channel.flush()
        pid = os.fork()
        if pid == 0:
            _child(req, printed, env_added)
        channel.write(json.dumps({"pid": pid}) + "\n")
        channel.flush()
        _, status = os.waitpid(pid, 0)
        rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        channel.write(json.dumps({"rc": rc}) + "\n")
        channel.flush()


if __name__ == "__main__":
    main()
