"""The bridge from a CLI command to Hydra (docs/design.md, "CLI -> Hydra").

Typer owns `--help`, typed options and completion; Hydra owns composition, the whole override
grammar, multirun (-m), `--cfg`, run directories, logging and launchers. Before handing over, the
overrides are composed once here, so that

* a bad override, an unknown key or an unknown config choice is one clear line (UserError),
* the run (or sweep) directory is resolved and pinned (`hydra.run.dir=...`): an existing run is
  never written into, except by `--resume`, which continues that run in place.

Under `torchrun` every rank runs the command: rank 0 decides the run directory and hands it to the
others through the process group; the other ranks join it without writing into it (no .hydra/,
no log file: conf/hydra/job_logging/rank.yaml).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import hydra
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import ConfigKeyError, MissingMandatoryValue, OmegaConfBaseException

from paperlab.config import check_fields, conf_dir, config_options, validate_config
from paperlab.engine.distributed import close_distributed, dist_info, from_main, init_distributed
from paperlab.errors import UserError
from paperlab.io.atomic import unwritable
from paperlab.io.rundir import ARGV_ENV, LOCK_FILE, RUN_FILE, lock_run_dir, unlock_run_dir
from paperlab.overrides import quoted

# Hydra's own flags; everything else on the command line is an override.
_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--info", "-i", "--config-path", "-cp",
                     "--config-name", "-cn", "--config-dir", "-cd", "--experimental-rerun"}
_INSPECT = {"--cfg", "-c", "--info", "-i", "--help", "-h", "--hydra-help", "--shell-completion", "-sc"}
_HYDRA_FLAGS = _FLAGS_WITH_VALUE | _INSPECT | {"-m", "--multirun", "-r", "--run", "--resolve", "--version"}


def split_args(args: list[str], config_name: str = "") -> tuple[list[str], list[str]]:
    """(hydra flags with their values, overrides). An option that is neither Hydra's nor the
    command's (the command's own were taken by Typer) is a UserError suggesting the nearest option
    or config key: `--max-epochs 3` -> "did you mean trainer.max_epochs=3?"."""
    flags: list[str] = []
    overrides: list[str] = []
    it = iter(args)
    for a in it:
        if a.startswith("-"):
            name, eq, value = a.partition("=")
            if name not in _HYDRA_FLAGS:
                if not eq:
                    nxt = next(it, None)
                    value = nxt if nxt is not None and not nxt.startswith("-") and "=" not in nxt else ""
                raise unknown_option(config_name, name, value, [o for o in args if "=" in o and not o.startswith("-")])
            flags.append(a)
            if a in _FLAGS_WITH_VALUE:
                nxt = next(it, None)
                if nxt is not None:
                    flags.append(nxt)
        else:
            overrides.append(_quote_non_ascii(a))
    return flags, overrides


def _quote_non_ascii(override: str) -> str:
    """`key=wörk/myé` as `key="wörk/myé"`: Hydra's grammar takes only ASCII in an unquoted value,
    so a run under a non-ASCII folder could not be named, nor resumed. Values with Hydra's own
    syntax (quotes, lists, sweeps, interpolations) are left as written."""
    key, eq, value = override.partition("=")
    if eq and not value.isascii() and not set(value) & set("\"'[]{}(),$"):
        return f"{key}={quoted(value)}"
    return override


def _command_options() -> tuple[str, dict[str, bool]]:
    """The running Typer command's name and options (option -> takes a value), if there is one."""
    try:  # Typer >= 0.17 runs its commands on its own copy of click
        from typer._click.globals import get_current_context
    except ImportError:
        from click import get_current_context
    ctx = get_current_context(silent=True)
    if ctx is None:
        return "", {}
    options = {opt: not p.is_flag for p in ctx.command.params if p.param_type_name == "option"
               for opt in [*p.opts, *p.secondary_opts] if opt.startswith("--") and opt != "--help"}
    return str(ctx.info_name or ""), options


def _config_keys(config_name: str, overrides: list[str]) -> list[str]:
    """The dotted keys of the command's composed config (not hydra's), [] if it does not compose."""
    try:
        with composed(config_name, overrides) as cfg:
            container = OmegaConf.to_container(cfg, resolve=False)
    except (UserError, HydraException, OmegaConfBaseException):
        return []
    return [k for k, _ in _leaves({k: v for k, v in container.items() if k != "hydra"})]


def unknown_option(config_name: str, option: str, value: str, overrides: list[str]) -> UserError:
    """'unknown option --sise; did you mean --size 3?': the command's own options and the config's
    keys (by their last part or whole, dashes read as underscores): the first one the option
    begins, else the closest."""
    import difflib

    command, options = _command_options()
    command = command or config_name
    word = option.lstrip("-").replace("-", "_")
    keys = _config_keys(config_name, overrides) if config_name else []
    shown_value = value if value else "<value>"
    candidates: dict[str, str] = {}  # what the user compares with -> what to suggest
    for opt, takes_value in options.items():
        candidates[opt.lstrip("-").replace("-", "_")] = f"{opt} {quoted_arg(value)}" if takes_value and value else opt
    for key in sorted(keys, key=lambda k: k.count(".")):  # the shallowest key of a name first
        for name in (key, key.rsplit(".", 1)[-1]):
            candidates.setdefault(name, f"{key}={shown_value}")
    prefixed = [c for c in candidates if len(word) >= 3 and c.startswith(word)]  # --temp: --temperature
    best = prefixed[:1] or difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    if best:
        return UserError(f"unknown option {option}", f"did you mean {candidates[best[0]]}?")
    own = ", ".join(options) or "none"
    return UserError(f"unknown option {option}",
                     f"paperlab {command} takes the options {own}, Hydra's flags (-m, --cfg job) and key=value "
                     f"overrides (paperlab {command} --cfg job lists the keys)")


def quoted_arg(value: str) -> str:
    import shlex

    return shlex.quote(value)


@contextmanager
def composed(config_name: str, overrides: list[str]) -> Iterator[DictConfig]:
    """The config Hydra would build (hydra node included), with errors turned into UserErrors."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3", job_name=config_name), \
            hydra_errors(config_name):
        yield compose(config_name=config_name, overrides=overrides, return_hydra_config=True)


# Hydra launcher plugins and the pip package that brings each (see pyproject's `launchers` extra).
LAUNCHER_PACKAGES = {"joblib": "hydra-joblib-launcher", "submitit_local": "hydra-submitit-launcher",
                     "submitit_slurm": "hydra-submitit-launcher", "ray": "hydra-ray-launcher",
                     "ray_aws": "hydra-ray-launcher", "rq": "hydra-rq-launcher"}


def _choices(group: str) -> list[str]:
    """A group's options: paperlab's conf/ files, and for hydra/ groups those of Hydra and its
    installed plugins."""
    names = set(config_options(group))
    if group.startswith("hydra/"):
        from hydra.core.config_store import ConfigStore

        with suppress(OSError):  # a group Hydra does not have
            names |= {n.removesuffix(".yaml") for n in ConfigStore.instance().list(group)}
    return sorted(names)


def _unknown_choice(err: MissingConfigException) -> UserError | None:
    m = re.search(r"Could not find '([\w/]+)/([^']+)'", str(err))
    if not m:
        return None
    group, name = m.group(1), m.group(2)
    if group == "hydra/launcher" and name in LAUNCHER_PACKAGES:
        package = LAUNCHER_PACKAGES[name]
        return UserError(f"the launcher '{name}' is not installed (it comes with the {package} package)",
                         f"pip install {package}")
    options = _choices(group)
    kind = {"data": "dataset"}.get(group, group)
    return UserError(f"unknown {kind} '{name}'",
                     f"choose one of: {', '.join(options)} ({group}=<name>; paperlab list {group})")


def _unknown_key(text: str) -> str | None:
    m = re.search(r"Could not override '([^']+)'", text) or re.search(r"Key '([^']+)' (?:is not in struct|not in)", text)
    return m.group(1) if m else None


@contextmanager
def hydra_errors(config_name: str, omegaconf: bool = True) -> Iterator[None]:
    """Translate Hydra (and, when composing, OmegaConf) errors about the user's overrides into
    one-line UserErrors. While a task runs, OmegaConf errors are bugs and keep their traceback."""
    try:
        yield
    except MissingConfigException as err:
        raise (_unknown_choice(err) or UserError(str(err).splitlines()[0], "check the config names")) from None
    except OverrideParseException as err:
        raise UserError(f"cannot parse the override: {str(err).splitlines()[0]}",
                        "overrides look like key=value, group=option, +new_key=value") from None
    except (HydraException, ConfigKeyError) as err:
        if not omegaconf and not isinstance(err, HydraException):
            raise
        text = f"{err} {err.__cause__ or ''}"
        key = _unknown_key(text)
        if key:
            raise UserError(f"unknown config key '{key}'",
                            f"see the valid keys with: paperlab {config_name} --cfg job") from None
        raise UserError(" ".join(str(err).split())[:300], f"see: paperlab {config_name} --cfg job") from None
    except MissingMandatoryValue as err:
        if not omegaconf:
            raise
        raise UserError(f"config value '{err.full_key}' is required", f"add {err.full_key}=<value>") from None
    except OmegaConfBaseException as err:
        if not omegaconf:
            raise
        raise UserError(f"invalid config: {str(err).splitlines()[0]}", f"see: paperlab {config_name} --cfg job") from None
    except RuntimeError as err:
        if 'Could not detect "srun"' not in str(err):  # submitit's SlurmExecutor off a cluster
            raise
        raise UserError("a SLURM launcher needs SLURM, and this machine has none (no srun)",
                        "submit from the cluster's login node, or run the jobs here with hydra/launcher=submitit_local") from None


def _is_sweep(override: str) -> bool:
    try:
        return OverridesParser.create().parse_overrides([override])[0].is_sweep_override()
    except OverrideParseException:
        return False


def _nonempty(path: Path) -> bool:
    return path.is_dir() and any(p.name != LOCK_FILE for p in path.iterdir())


def resume_overrides(run_dir: Path, config_name: str) -> list[str]:
    """The overrides a run of `config_name` was started with (its .hydra/overrides.yaml), minus the
    resume marker; a run of another command is refused before anything is written."""
    saved = run_dir / ".hydra" / "overrides.yaml"
    if not run_dir.is_dir():
        raise UserError(f"resume directory {run_dir} does not exist",
                        f"give the run directory of an earlier `paperlab {config_name}`")
    if not saved.is_file():
        raise UserError(f"{run_dir} is not a paperlab run directory (no .hydra/overrides.yaml)",
                        f"give the run directory of an earlier `paperlab {config_name}` (see: paperlab runs)")
    with suppress(OSError, ValueError):
        task = json.loads((run_dir / RUN_FILE).read_text()).get("task")
        if task is not None and task != config_name:
            raise UserError(f"{run_dir} is a run of `paperlab {task}`, not of `paperlab {config_name}`",
                            f"resume it with: paperlab {task} --resume {run_dir}")
    return [o for o in OmegaConf.load(saved) if not str(o).startswith("resume=")]


def _override_key(override: str) -> str:
    """The config key an override sets: `+a.b=1`, `~a.b`, `a.b=1` -> `a.b`."""
    return str(override).split("=", 1)[0].lstrip("+~")


def _leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict) and node:
        for k, v in node.items():
            yield from _leaves(v, f"{prefix}{k}.")
    elif prefix:
        yield prefix[:-1], node


def keep_run_settings(cfg: DictConfig, saved: DictConfig, typed: list[str],
                      transient: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """Give a resumed run back its own settings where the config files changed since it started.

    The run is recomposed from its recorded overrides against today's conf/, so an edited default
    (a new recipe, a changed layer) would otherwise slip into it. Every value of the run's saved
    config (.hydra/config.yaml) comes back unless this command's overrides (`typed`) name it or a
    group above it, or it is `transient` (a one-off request of an earlier command, never
    inherited). Keys the run never had keep today's default, and keys today's files no longer
    have are dropped (today's code would refuse them), except for the arguments of an object built
    from a `_target_` (its optimizer, say): it gets exactly the run's arguments. Returns
    ("key: now -> kept", ...) and ("key=value (new)" / "key=value (gone)", ...); does nothing when
    `experiment=` is given (a deliberate change of recipe)."""
    prefixes = ["resume", *transient]
    for o in typed:
        key = _override_key(o)
        if key == "experiment":
            return [], []
        if not key.startswith("hydra."):
            prefixes.append(key)

    def typed_here(key: str) -> bool:
        return any(key == p or key.startswith(p + ".") for p in prefixes)

    now = dict(_leaves(OmegaConf.to_container(cfg, resolve=False)))
    old = dict(_leaves(OmegaConf.to_container(saved, resolve=False)))

    def built_from_target(key: str) -> bool:
        return f"{key.rpartition('.')[0]}._target_" in old

    kept, changed = [], []
    for key, value in old.items():
        if typed_here(key) or (key in now and now[key] == value):
            continue
        if key in now or built_from_target(key):
            kept.append(f"{key}: {now.get(key, '(absent)')} -> {value}")
            OmegaConf.update(cfg, key, value, merge=False, force_add=True)
        else:
            changed.append(f"{key}={value} (gone)")
    for key, value in now.items():
        if key in old or typed_here(key):
            continue
        if built_from_target(key):
            kept.append(f"{key}: {value} -> (absent)")
            parent, _, name = key.rpartition(".")
            with open_dict(cfg):
                del OmegaConf.select(cfg, parent)[name]
        else:
            changed.append(f"{key}={value} (new)")
    return kept, changed


class _RunRecord:
    """A run's recorded config (.hydra/*.yaml) before a `--resume`. Hydra rewrites it as the job
    starts; if the job then fails before writing a checkpoint (a bad override, a model that does
    not fit), the run keeps its old record, so that a plain `--resume` does not inherit the bad
    override and fail again."""

    def __init__(self, run_dir: Path) -> None:
        self.files = {p: p.read_bytes() for p in (run_dir / ".hydra").glob("*.yaml")}
        self.checkpoint = run_dir / "checkpoints" / "last.pt"
        self.stamp = self._stamp()

    def _stamp(self) -> int | None:
        return self.checkpoint.stat().st_mtime_ns if self.checkpoint.is_file() else None

    def restore_if_untrained(self) -> None:
        if self._stamp() != self.stamp:
            return  # it trained: the new record describes the checkpoints it wrote
        for path, data in self.files.items():
            path.write_bytes(data)


def _sweep_variants(overrides: list[str]) -> list[list[str]]:
    """The overrides without their sweeps, once for each value of each swept key (the other
    sweeps at their first value is not needed: a value's range does not depend on the others)."""
    parser = OverridesParser.create()
    fixed = [o for o in overrides if not _is_sweep(o)]
    variants = []
    for o in overrides:
        if _is_sweep(o):
            key = o.split("=", 1)[0]
            with suppress(HydraException):  # glob(): its values depend on the config; Hydra checks it
                variants += [[*fixed, f"{key}={value}"] for value in parser.parse_overrides([o])[0].sweep_string_iterator()]
    return variants


def validate(cfg: DictConfig, config_name: str) -> None:
    """Check the composed config's values (the schemas of paperlab.config: types and ranges)
    before anything is written. The learner named by the config brings its own nodes' schemas."""
    if "learner" in cfg:
        from paperlab.learners import LEARNERS

        LEARNERS.get(str(cfg.learner))  # an unknown learner is one line here, before the run dir
    validate_config(cfg, config_name)
    model = cfg.get("model")
    if isinstance(model, DictConfig) and isinstance(model.get("name"), str):
        from paperlab.models import MODELS

        values = OmegaConf.to_container(model, resolve=True)
        check_fields(MODELS.get(values.pop("name")).Config, values, where="model")


def _validated_dir(config_name: str, overrides: list[str], key: str) -> Path:
    """Validate the config as every job will have it (each value of each sweep too), and return
    the run ("run") or sweep ("sweep") directory it names: one composition does both."""
    for variant in _sweep_variants(overrides):
        with composed(config_name, variant) as cfg:
            validate(cfg, config_name)
    with composed(config_name, [o for o in overrides if not _is_sweep(o)]) as cfg:
        validate(cfg, config_name)
        return Path(str(cfg.hydra[key].dir))


def _output_dir(config_name: str, overrides: list[str], key: str, resume: Path | None) -> Path:
    """The run (key "run") or sweep ("sweep") directory; an existing run only with --resume.

    The default directory is stamped to the second: a command started in the same second as another
    (a script's loop) gets the stamp with `_1`, `_2`, ... rather than an error or a shared directory;
    a directory named on the command line is never overwritten."""
    target = _validated_dir(config_name, overrides, key)
    if resume is not None:
        if key == "run":
            lock_run_dir(resume)
        return resume
    if target.exists() and not target.is_dir():
        raise UserError(f"hydra.{key}.dir {target} is a file, not a directory", f"give hydra.{key}.dir a new folder")
    if any(o.startswith(f"hydra.{key}.dir=") for o in overrides):
        taken = UserError(f"output directory {target} already exists and holds a run",
                          f"pick another hydra.{key}.dir, or continue it with: "
                          f"paperlab {config_name} --resume {target}")
        if _nonempty(target):
            raise taken  # before the lock: a refused folder is left exactly as it was
        if key == "run":
            lock_run_dir(target)  # of two commands started together on one folder, one is refused here
            if _nonempty(target):  # ... or here, when the other one got in between
                unlock_run_dir(target)
                raise taken
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise unwritable(target.parent, err) from None
    stamp, n = target.name, 0
    while True:
        try:
            target.mkdir()  # atomic: of two commands in the same second, each gets its own name
        except FileExistsError:
            n += 1
            target = target.with_name(f"{stamp}_{n}")
            continue
        except OSError as err:
            raise unwritable(target, err) from None
        if key == "run":
            lock_run_dir(target)
        return target


def launch(config_name: str, task_fn: Callable[[DictConfig], Any], args: list[str],
           resume: Path | None = None, transient: tuple[str, ...] = ()) -> None:
    """Run `task_fn` under Hydra with the command line's overrides and flags.

    `transient`: config keys that a resumed run does not inherit from its earlier command
    (one-off requests such as `paperlab zsl --redo`)."""
    flags, overrides = split_args(list(args), config_name)
    multirun = "-m" in flags or "--multirun" in flags
    inspect_only = any(f in _INSPECT for f in flags)
    ranks = dist_info()
    if multirun and inspect_only:
        raise UserError("--cfg and --info show the config of one run; they cannot be combined with -m",
                        f"drop -m (e.g. paperlab {config_name} hydra/launcher=slurm --cfg hydra -p hydra.launcher)")
    typed, saved = overrides, None  # with --resume: this command's own overrides, the run's saved config
    if resume is not None:
        if multirun:
            raise UserError("--resume continues one run; it cannot be combined with -m", "drop -m")
        resume = resume.resolve()
        inherited = [o for o in resume_overrides(resume, config_name) if _override_key(o) not in transient]
        overrides = [*inherited, *typed, f"resume={quoted(str(resume))}"]
        saved_cfg = resume / ".hydra" / "config.yaml"
        saved = OmegaConf.load(saved_cfg) if saved_cfg.is_file() else None
    if not inspect_only:
        key = "sweep" if multirun else "run"
        if ranks.enabled:
            if multirun:
                raise UserError("a sweep (-m) cannot run inside torchrun: each of its jobs would be every rank's",
                                "drop -m, or sweep with a launcher whose jobs start the ranks (hydra/launcher=slurm)")
            init_distributed()
        target = from_main(lambda: _output_dir(config_name, overrides, key, resume))
        overrides = [o for o in overrides if not o.startswith(f"hydra.{key}.dir=")] + [f"hydra.{key}.dir={quoted(str(target))}"]
        if not ranks.is_main:
            overrides += ["hydra.output_subdir=null", "hydra/job_logging=rank"]
    failures: list[BaseException] = []
    launcher_pid = os.getpid()

    def job(cfg: DictConfig) -> Any:
        # Hydra prints its own banner for a failed job; keep failures to ourselves and report
        # them once Hydra is done (a sweep goes on with its other jobs).
        try:
            if saved is not None:
                _restore_settings(cfg, saved, typed, transient, resume)
            return task_fn(cfg)
        except Exception as err:
            if os.getpid() != launcher_pid:
                # a launcher's worker process (joblib, submitit): the error travels back to the
                # sweep in Hydra's job result, which raises the first one once all jobs are done
                raise
            failures.append(err)
            if multirun:
                logging.getLogger("paperlab").error("job failed: %s", err)
            return None
        finally:
            close_distributed()

    record = _RunRecord(resume) if resume is not None and not inspect_only else None
    succeeded = False
    try:
        _run_hydra(config_name, job, flags + overrides)
        succeeded = not failures
    finally:
        if record is not None and not succeeded:
            record.restore_if_untrained()
    if len(failures) == 1 and not multirun:
        raise failures[0]
    if failures:
        bug = next((f for f in failures if not isinstance(f, UserError)), None)
        if bug is not None:
            raise bug
        raise UserError(f"{len(failures)} job(s) of the sweep failed, the first with: {failures[0]}",
                        "see each job's log in the sweep directory")


def _restore_settings(cfg: DictConfig, saved: DictConfig, typed: list[str], transient: tuple[str, ...],
                      run_dir: Path) -> None:
    kept, changed = keep_run_settings(cfg, saved, typed, transient)
    log = logging.getLogger("paperlab")
    if kept:
        log.warning("resume: the config files changed since this run started; kept the run's settings (now -> kept): %s",
                    "; ".join(kept))
        if dist_info().is_main:  # the record Hydra just wrote holds today's values
            OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
    if changed:
        log.warning("resume: settings added since this run started take today's defaults, removed ones are "
                    "dropped: %s", "; ".join(changed))


def _run_hydra(config_name: str, task_fn: Callable[[DictConfig], Any], argv: list[str]) -> None:
    main = hydra.main(config_path=str(conf_dir()), config_name=config_name, version_base="1.3")(task_fn)
    saved_argv = sys.argv
    saved_env = {k: os.environ.get(k) for k in ("HYDRA_FULL_ERROR", ARGV_ENV)}
    # our own errors must reach the CLI as exceptions, not as Hydra's printed tracebacks
    os.environ["HYDRA_FULL_ERROR"] = "1"
    # the command as typed, for run.json (Hydra needs sys.argv for itself)
    os.environ[ARGV_ENV] = json.dumps(sys.argv)
    sys.argv = [f"paperlab {config_name}", *argv]
    GlobalHydra.instance().clear()
    try:
        with hydra_errors(config_name, omegaconf=False):
            main()
    finally:
        sys.argv = saved_argv
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
