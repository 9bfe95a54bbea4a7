"""Where the Hydra configs live, and typed config nodes: dataclasses with value ranges.

A config node that a command reads (`trainer`, `legibility`, `visualize`, ...) has a `@dataclass`
schema registered with `@config_schema("<node>")` beside the code that reads it. Its fields carry
their types and, in `field(metadata=...)`, their ranges:

    lines: int = at_least(1)              # field(metadata={"min": 1}): >= 1
    bias: Any = at_least(0)               # a number, or each number of a list
    temperature: float = above(0)         # > 0
    test_with: str = one_of("best", "last")
    maps: Any = checked(maps_problem)     # a function: None, or what is wrong (and the fix)

A schema of a command's own node gives no defaults (the YAML file holds them, with the comments
citing the paper); a dataclass that code builds too (TrainerConfig) gives them as `default=`.
`paperlab.launch` checks every registered node of the composed config once, before the command
makes its run directory (`validate_config`), so every command gets the same one-line errors
naming the key (`trainer.batch_size=0 must be >= 1`); `to_dataclass` applies the same checks
wherever a node is built (models, learners)."""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from paperlab.errors import UserError

T = TypeVar("T")

_PACKAGE = Path(__file__).resolve().parent


def conf_dir() -> Path:
    """The configs: inside the package in an installed wheel, the repo's conf/ in a checkout."""
    for candidate in (_PACKAGE / "conf", _PACKAGE.parent / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise RuntimeError(f"paperlab's configs are missing (looked in {_PACKAGE}/conf and ../conf)")


def config_options(group: str) -> list[str]:
    """The names in a config group (conf/<group>/*.yaml), e.g. the models for `model=`."""
    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml") if not p.stem.startswith("_"))


def at_least(bound: float, **default: Any) -> Any:
    """A field whose number (or each number of its list) is >= bound; `default=` optional."""
    return dataclasses.field(metadata={"min": bound}, **default)


def above(bound: float, **default: Any) -> Any:
    """A field whose number (or each number of its list) is > bound."""
    return dataclasses.field(metadata={"gt": bound}, **default)


def fraction(**default: Any) -> Any:
    """A field whose number is in [0, 1] (a dropout rate, a share)."""
    return dataclasses.field(metadata={"min": 0, "max": 1}, **default)


def one_of(*choices: Any, **default: Any) -> Any:
    """A field that takes one of `choices` (a list field: each of its items)."""
    return dataclasses.field(metadata={"choices": list(choices)}, **default)


def checked(problem: Callable[[Any], str | tuple[str, str] | None], **default: Any) -> Any:
    """A field checked by `problem(value)`: None, or what is wrong with the value ("is not ...")
    and optionally the fix (a {key} in it is filled in)."""
    return dataclasses.field(metadata={"check": problem}, **default)


# (command or None for every command, node path) -> schema; "" is the root node
SCHEMAS: dict[tuple[str | None, str], type] = {}


def config_schema(node: str, command: str | None = None) -> Callable[[type[T]], type[T]]:
    """Register a dataclass as the schema of the config node `node` (a dotted path), checked in
    every command whose config has it, or only in `command`'s. The root node ("") needs a command,
    and only the keys its schema names are checked there (the root holds every other node too)."""
    if node == "" and command is None:
        raise ValueError("a schema of the root node belongs to one command")

    def register(cls: type[T]) -> type[T]:
        held = SCHEMAS.setdefault((command, node), cls)
        if held is not cls and held.__qualname__ != cls.__qualname__:  # a module imported twice is fine
            raise ValueError(f"config node '{node}' has two schemas: {held.__qualname__} and {cls.__qualname__}")
        return cls

    return register


def validate_config(cfg: DictConfig, command: str) -> None:
    """Check each node of `cfg` that has a registered schema: types and ranges (UserErrors)."""
    for (owner, node), cls in list(SCHEMAS.items()):
        if owner not in (None, command):
            continue
        if node == "":
            names = {f.name for f in dataclasses.fields(cls)}
            to_dataclass(cls, {k: OmegaConf.select(cfg, k) for k in cfg if k in names}, where="")
            continue
        value = OmegaConf.select(cfg, node, default=None)
        if isinstance(value, DictConfig):
            to_dataclass(cls, value, where=node)


def to_dataclass(cls: type[T], node: DictConfig | dict[str, Any] | None, where: str, **extra: Any) -> T:
    """Validate a config node against a dataclass and build it: unknown keys, values of the wrong
    type and values out of the ranges in the fields' metadata are UserErrors naming the key."""
    data = {} if node is None else node
    if isinstance(data, DictConfig):
        data = OmegaConf.to_container(data, resolve=True)
    data = {**data, **extra}
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise UserError(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} in {where}",
            f"valid keys: {', '.join(sorted(names))}",
        )
    data = _nested_ints_as_floats(cls, data)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(cls), data)
        obj = OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        msg = str(err).splitlines()[0]
        key = getattr(err, "full_key", None)
        if key:
            raise UserError(f"invalid value for {_key(where, str(key))}: {msg}", "fix the override") from None
        raise UserError(f"invalid value in {where}: {msg}", "fix the override") from None
    check_ranges(obj, where)
    return obj  # type: ignore[return-value]


def _nested_ints_as_floats(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """`data` with the ints of its list[list[float]] fields (nested nodes too) as floats: OmegaConf
    2.3 converts an int in a list[float] but rejects one a level deeper
    (`sgpr.real_data.inits=[[1,0.1]]`)."""
    try:
        hints = typing.get_type_hints(cls)
    except NameError:  # an annotation only a type checker resolves: OmegaConf reports the rest
        return data
    data = dict(data)
    for name, hint in hints.items():
        value = data.get(name)
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            data[name] = _nested_ints_as_floats(hint, value)
        elif hint == list[list[float]] and isinstance(value, list):
            data[name] = [[float(v) if type(v) is int else v for v in row] if isinstance(row, list) else row
                          for row in value]
    return data


def check_fields(cls: type, values: dict[str, Any], where: str) -> None:
    """The ranges of the fields of `cls` that `values` gives: a node the code completes later (a
    model's number of classes comes from the data), checked before anything is written. Keys that
    are not fields are left to `to_dataclass`, which builds the whole node."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name, value in values.items():
        wrong = None if value is None or name not in fields else _out_of_range(value, fields[name].metadata)
        if wrong:
            key = _key(where, name)
            raise UserError(f"{key}={_shown(value)} {wrong[0]}", wrong[1].format(key=key))


def _key(where: str, name: str) -> str:
    """How the user writes the key: `trainer.batch_size`; a node with a descriptive name
    (model 'zfnet') says `channels in model 'zfnet'`."""
    if not where:
        return name
    return f"{where}.{name}" if re.fullmatch(r"[\w.\-]+", where) else f"{name} in {where}"


def _numbers(value: Any) -> list[float]:
    items = value if isinstance(value, (list, tuple, ListConfig)) else [value]
    return [float(v) for v in items if isinstance(v, (int, float)) and not isinstance(v, bool)]


def check_ranges(obj: Any, where: str) -> None:
    """The metadata ranges of a built dataclass's fields (nested dataclasses too)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = _key(where, f.name)
        if dataclasses.is_dataclass(value):
            check_ranges(value, key)
        elif value is not None:  # null means "the default behaviour" (no limit, automatic)
            wrong = _out_of_range(value, f.metadata)
            if wrong:
                shown = _shown(value)
                raise UserError(f"{key}={shown} {wrong[0]}", wrong[1].format(key=key))


def _shown(value: Any) -> Any:
    """A value as the user chose it: a list as [a,b], a config group's node by its name (data=mnist)."""
    if isinstance(value, (list, tuple)):
        return f"[{','.join(map(str, value))}]"
    if isinstance(value, dict) and "name" in value:
        return value["name"]
    return value


def _out_of_range(value: Any, rules: Any) -> tuple[str, str] | None:
    """(the problem, the fix with a {key} to fill) when `value` breaks the field's rules."""
    check = rules.get("check")
    if check is not None:
        wrong = check(value)
        return (wrong, "fix {key}") if isinstance(wrong, str) else wrong
    if "choices" in rules and any(v not in rules["choices"] for v in (value if isinstance(value, list) else [value])):
        return "is not a choice", "use {key}=" + "|".join(map(str, rules["choices"]))
    each = " (each of them)" if isinstance(value, (list, tuple)) else ""
    for number in _numbers(value):
        if math.isnan(number):
            return "is not a number", "give {key} a number"
        if "min" in rules and number < rules["min"]:
            return f"must be >= {rules['min']}{each}", f"set {{key}} to {rules['min']} or more"
        if "gt" in rules and number <= rules["gt"]:
            return f"must be > {rules['gt']}{each}", f"set {{key}} above {rules['gt']}"
        if "max" in rules and number > rules["max"]:
            return f"must be <= {rules['max']}{each}", f"set {{key}} to {rules['max']} or less"
    return None


def _leaf_keys(node: Any, prefix: str = "") -> list[str]:
    if not isinstance(node, dict) or not node:
        return [prefix[:-1]] if prefix else []
    return [key for k, v in node.items() for key in _leaf_keys(v, f"{prefix}{k}.")]


def completion_words(command: str) -> tuple[list[str], list[str]]:
    """(config groups, dotted keys) a command's overrides can name, read from its conf/ files
    alone: no composition, no torch, so that the shell's completion is instant."""
    primary = conf_dir() / f"{command}.yaml"
    if not primary.is_file():
        primary = conf_dir() / f"{command.replace('-', '_')}.yaml"
    if not primary.is_file():
        return [], []
    node = OmegaConf.to_container(OmegaConf.load(primary), resolve=False)
    groups: list[str] = []
    keys = _leaf_keys({k: v for k, v in node.items() if k not in ("defaults", "hydra")})
    for entry in node.get("defaults") or []:
        if not isinstance(entry, dict):
            continue  # base, _self_
        for group, option in entry.items():
            group = str(group)
            if group.startswith(("override ", "hydra/")) or not (conf_dir() / group).is_dir():
                continue
            groups.append(group)
            chosen = conf_dir() / group / f"{option}.yaml"
            if option and group != "experiment" and chosen.is_file():
                keys += [f"{group}.{k}" for k in _leaf_keys(OmegaConf.to_container(OmegaConf.load(chosen), resolve=False))
                         if not k.startswith(("_", "defaults"))]
    return groups, sorted(set(keys))


def complete_override(command: str, incomplete: str, before: list[str]) -> list[str]:
    """What completes `incomplete` among a command's overrides: `model=zf` -> model=zfnet (the
    group's options), `trainer.max` -> trainer.max_epochs=. Bash splits `model=zf` at the `=`
    (`before` then ends with "model", "=", or with "model" when the `=` itself is completed): there
    the bare option names."""
    groups, keys = completion_words(command)
    if before and before[-1] == "=":
        before = before[:-1]
    elif "=" not in incomplete and not (before and before[-1] in groups and not incomplete):
        return [w for w in [*(f"{g}=" for g in groups), *(f"{k}=" for k in keys)] if w.startswith(incomplete)]
    if "=" in incomplete:
        key, _, prefix = incomplete.partition("=")
        group = key.lstrip("+~")
        return [f"{key}={n}" for n in config_options(group) if n.startswith(prefix)] if group in groups else []
    group = before[-1].lstrip("+~") if before else ""
    return [n for n in config_options(group) if n.startswith(incomplete)] if group in groups else []
