"""`paperlab sgpr` end to end on a tiny config (in process, on the config its command line
composes), and bad input through the command line: one line, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_user_error, run_cli, task_config

from paperlab.io.arrays import load_arrays
from paperlab.papers.sgpr import study

TINY = ["sgpr.kl_vs_m.dims=[1]", "sgpr.kl_vs_m.sizes=[60]", "sgpr.kl_vs_m.m_grids=[[3,6]]",
        "sgpr.kl_vs_m.methods=[uniform,greedy]",
        "sgpr.m_needed.dims=[1]", "sgpr.m_needed.sizes=[[100,200]]", "sgpr.m_needed.m_max=100",
        "sgpr.matern.kernels=[se,matern52]", "sgpr.matern.sizes=[100,200]", "sgpr.matern.m_max=150",
        "sgpr.real_data.datasets=[]", "sgpr.real_data.m_grid=[4,8]", "sgpr.real_data.methods=[greedy]",
        "sgpr.real_data.joint=false", "sgpr.real_data.inits=[[1.0,0.1]]", "sgpr.fit.steps=1",
        "sgpr.fit.max_iter=5"]


def write_points(path: Path, rows: int = 50, nan: bool = False) -> Path:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=rows), rng.normal(size=rows)
    y = np.sin(2 * a) + 0.5 * b + 0.1 * rng.normal(size=rows)
    lines = ["a,b,y"] + [f"{a[i]:.6f},{b[i]:.6f},{y[i]:.6f}" for i in range(rows)]
    if nan:
        lines[3] = "0.5,,1.0"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_experiment_on_a_tiny_config(tmp_path: Path) -> None:
    points = write_points(tmp_path / "points.csv")
    cfg = task_config("sgpr", [*TINY, f"sgpr.real_data.file={points}", "sgpr.real_data.x_columns=[a,b]",
                               "sgpr.real_data.y_column=y"])
    results = study.run(cfg, run_dir=tmp_path / "run")
    run = tmp_path / "run"
    assert json.loads((run / "run.json").read_text())["status"] == "completed"
    assert json.loads((run / "results.json").read_text()) == json.loads(json.dumps(results))
    for name in ("kl_vs_m", "m_needed", "matern", "real_data"):
        assert (run / "figures" / f"{name}.png").stat().st_size > 10_000
    arrays, attrs = load_arrays(run / "arrays" / "kl_vs_m.h5")
    assert list(arrays["D1/N60/greedy/m"]) == [3, 6] and attrs["noise_variance"] == 0.1
    assert arrays["D1/N60/greedy/kl"][-1] == pytest.approx(results["kl_vs_m/D1/N60/greedy/kl_at_largest_m"])
    arrays, _ = load_arrays(run / "arrays" / "m_needed.h5")
    assert list(arrays["points/n"]) == [100, 200]
    assert list(arrays["points/m_needed"]) == results["m_needed/D1/m"]
    assert (arrays["points/gap"] <= 1.0).all()
    # (d) the user's file: 50 points, 2 inputs, its exact GP fit a run directory of its own
    assert results["real_data/points/n"] == 50 and results["real_data/points/dim"] == 2
    assert (run / "fits" / "points_exact_from_ls1" / "run.json").is_file()
    arrays, _ = load_arrays(run / "arrays" / "real_data.h5")
    assert list(arrays["points/greedy/kl"]) == pytest.approx(results["real_data/points/greedy/kl"])


@pytest.mark.parametrize(("args", "message"), [
    (["sgpr.synthetic.noise_variance=0"], "sgpr.synthetic.noise_variance=0.0 must be > 0"),
    (["sgpr.synthetic.noise_variance=-0.1"], "sgpr.synthetic.noise_variance=-0.1 must be > 0"),
    (["sgpr.synthetic.lengthscale=0"], "sgpr.synthetic.lengthscale=0.0 must be > 0"),
    (["sgpr.kl_vs_m.sizes=[100]"], "asks for M = 160 inducing points but the smallest data set has only N = 100"),
    (["sgpr.real_data.max_n=150"], "sgpr.real_data.m_grid asks for M = 200 inducing points but co2 has only N = 150"),
    (["sgpr.real_data.datasets=[boston]"], "sgpr.real_data.datasets=[boston] is not a choice"),
    (["sgpr.experiments=[kl]"], "use sgpr.experiments=kl_vs_m|m_needed|matern|real_data"),
    # ints in the nested float list are numbers like any other (OmegaConf alone rejects them)
    (["sgpr.real_data.inits=[[0,1]]"], "sgpr.real_data.inits=[[0.0, 1.0]] are not positive"),
])
def test_bad_settings_are_one_line_and_write_nothing(args: list[str], message: str, tmp_path: Path) -> None:
    assert_user_error(run_cli("sgpr", *args, cwd=tmp_path), message)
    assert list(tmp_path.iterdir()) == []


def test_bad_data_files_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    bad = write_points(tmp_path / "bad.csv", nan=True)
    few = write_points(tmp_path / "few.csv", rows=30)
    file_args = ["sgpr.real_data.datasets=[]", "sgpr.real_data.x_columns=[a,b]", "sgpr.real_data.y_column=y"]
    assert_user_error(run_cli("sgpr", *file_args, f"sgpr.real_data.file={bad}", cwd=tmp_path),
                      "bad.csv has 1 missing or non-finite values in the chosen columns; drop or impute")
    assert_user_error(run_cli("sgpr", *file_args, f"sgpr.real_data.file={few}", cwd=tmp_path),
                      "asks for M = 200 inducing points but few has only N = 30 points; use M <= 30")
    assert_user_error(run_cli("sgpr", *file_args[:2], f"sgpr.real_data.file={few}", cwd=tmp_path),
                      "needs its input and target columns")
    assert_user_error(run_cli("sgpr", *file_args, "sgpr.real_data.file=absent.csv", cwd=tmp_path),
                      "data file absent.csv does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "few.csv"]
