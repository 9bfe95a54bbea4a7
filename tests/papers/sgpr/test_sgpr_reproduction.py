"""`paperlab reproduce sgpr`: its tables name the sizes its recipes run, and every number they show
is in the committed records (docs/results/sgpr/)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from conftest import task_config

from paperlab.papers.sgpr import reproduction as repro
from paperlab.tasks.reproduction import Ours

RECORDS = Path(__file__).parents[3] / "docs" / "results" / "sgpr"


def _recipe(name: str):
    (experiment,) = (e for e in repro.REPRODUCTION.experiments if e.name == name)
    return task_config("sgpr", list(experiment.args[1:])).sgpr


def test_the_tables_name_the_sizes_the_recipes_run() -> None:
    assert tuple(_recipe("kl_vs_m").kl_vs_m.sizes) == repro.KL_SIZES
    needed = _recipe("m_needed").m_needed
    assert {d: tuple(s) for d, s in zip(needed.dims, needed.sizes, strict=True)} == repro.NEEDED_SIZES
    assert needed.kl_max_n == repro.KL_MAX_N
    matern = _recipe("matern").matern
    assert tuple(matern.sizes) == repro.MATERN_SIZES and tuple(matern.kernels) == tuple(repro.KERNELS)
    real = _recipe("real_data").real_data
    assert tuple(real.datasets) == tuple(repro.REAL) and tuple(real.methods) == tuple(repro.METHODS)
    assert max(real.m_grid) == 400  # the column "KL at M = 400"


def test_every_number_of_the_tables_is_in_its_record() -> None:
    records = {p.stem: json.loads(p.read_text())["results"] for p in RECORDS.glob("*.json")}
    assert set(records) == {e.name for e in repro.REPRODUCTION.experiments}
    cells = [c for t in repro.REPRODUCTION.tables for r in t.rows for c in r.cells if isinstance(c, Ours)]
    assert len(cells) > 100
    for cell in cells:
        value = records[cell.experiment].get(cell.key)
        assert isinstance(value, (int, float)), f"{cell.experiment}: {cell.key} is {value!r}"
        # NaN only where a table says so: an M not reached on the grid
        assert math.isfinite(value) or "below_threshold" in cell.key, cell.key
