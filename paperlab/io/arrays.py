"""HDF5 arrays of a run (arrays/*.h5): one file per analysis, datasets plus attributes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch


def _np(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def save_arrays(
    path: str | Path,
    arrays: Mapping[str, Any],
    attrs: Mapping[str, Any] | None = None,
    compression: str | None = "gzip",
) -> Path:
    """Write `arrays` (name -> array; "a/b" names make groups) and scalar `attrs` to an HDF5 file.

    Written to a temp name and renamed, so an interrupted write leaves no broken file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with h5py.File(tmp, "w") as f:
        for name, value in arrays.items():
            data = _np(value)
            if data.dtype.kind in "US":  # strings: variable-length UTF-8
                f.create_dataset(name, data=data.astype(object), dtype=h5py.string_dtype())
            else:
                comp = compression if data.size > 1024 else None
                f.create_dataset(name, data=data, compression=comp)
        for key, value in (attrs or {}).items():
            f.attrs[key] = value if not isinstance(value, torch.Tensor) else _np(value)
    tmp.replace(path)
    return path


def load_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read back every dataset (by its full path) and the file's attributes."""
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                data = obj[()]
                if obj.dtype.kind == "O":
                    data = np.array([d.decode() if isinstance(d, bytes) else d for d in np.ravel(data)])
                out[name] = data

        f.visititems(visit)
        attrs = dict(f.attrs)
    return out, attrs
