"""Where paperlab finds datasets and writes what it generates: one policy for every loader.

    paths.data   $PAPERLAB_DATA, else ~/.cache/paperlab/data
                 datasets found (or downloaded, when a dataset's data.download=true asks) by name,
                 <data>/<dataset>/; a dataset's data.root names its folder instead
    paths.cache  $PAPERLAB_CACHE, else $XDG_CACHE_HOME/paperlab, else ~/.cache/paperlab
                 what paperlab generates or derives, <cache>/<what>/: the embedded sets, image
                 features, mean images
    models       $PAPERLAB_MODELS, else $XDG_DATA_HOME/paperlab/models, else
                 ~/.local/share/paperlab/models: models a user exported (`paperlab export --dest`),
                 <models>/<name>/model.pt, found by name as the shipped ones are

Every command's config has a `paths` node (conf/base.yaml); a value given there
(`paths.cache=/scratch/me`) wins over the environment for that command and what it starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DATA_ENV = "PAPERLAB_DATA"
CACHE_ENV = "PAPERLAB_CACHE"
MODELS_ENV = "PAPERLAB_MODELS"


def data_dir(name: str = "") -> Path:
    """Where the dataset `name` is looked for (or downloaded to, when asked)."""
    root = os.environ.get(DATA_ENV) or Path.home() / ".cache" / "paperlab" / "data"
    return Path(root).expanduser() / name


def cache_dir(name: str = "") -> Path:
    """Where generated and derived files of kind `name` go."""
    root = os.environ.get(CACHE_ENV) or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "paperlab"
    return Path(root).expanduser() / name


def models_dir() -> Path:
    """Where the models a user exported are kept (and looked up by name, before the shipped ones)."""
    root = os.environ.get(MODELS_ENV) or Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "paperlab" / "models"
    return Path(root).expanduser()


def use_config(node: Any) -> None:
    """Apply a config's `paths` node (null values keep the environment's) to this process and
    the processes it starts (data loader workers, DDP ranks)."""
    for key, env in (("data", DATA_ENV), ("cache", CACHE_ENV)):
        value = None if node is None else node.get(key)
        if value:
            os.environ[env] = str(Path(str(value)).expanduser())
