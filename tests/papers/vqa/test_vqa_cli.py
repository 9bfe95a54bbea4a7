"""`paperlab vqa-eval` and `paperlab vqa-baselines` end to end in a temp dir; the command line's own
checks of vqa-eval's options, and the task's (in process)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import vqa_messy
from conftest import assert_user_error, raises_user_error, run_cli, task_config

from paperlab.papers.vqa.metric import evaluate


def test_vqa_eval_end_to_end(tmp_path: Path) -> None:
    q, a, r = vqa_messy.write_messy_vqa(tmp_path / "data", n=500, seed=2)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(json.loads(r.read_text())[:400]))
    res = run_cli("vqa-eval", "--questions", str(q), "--annotations", str(a), "--results", str(partial),
                  "--protocol", "2017", "--allow-partial", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    (run,) = (tmp_path / "outputs" / "vqa-eval" / "vqa_eval").iterdir()
    want = evaluate(a, partial, q, protocol="2017", allow_partial=True)
    assert json.loads((run / "accuracy.json").read_text()) == want.official()
    per_q = json.loads((run / "per_question.json").read_text())
    assert len(per_q) == 400 and per_q[str(want.question_id[0])] == round(100 * want.accuracy[0], 2)
    results = json.loads((run / "results.json").read_text())
    assert results["overall"] == want.overall and results["protocol"] == "2017"
    assert results["partial"] and results["questions"] == 400 and results["annotated"] == 500
    with h5py.File(run / "arrays" / "per_question.h5") as f:
        assert np.array_equal(f["accuracy"][()], want.accuracy)
    assert f"{want.overall:.2f}" in res.stdout and "question type: how many" in res.stdout
    assert "partial: 400 of 500" in res.stdout


def test_vqa_eval_bad_input_is_one_line(tmp_path: Path) -> None:
    from paperlab.papers.vqa import vqa_eval

    q, a, r = vqa_messy.write_messy_vqa(tmp_path, n=20, seed=1)
    results = json.loads(r.read_text())
    r.write_text(json.dumps(results[:-3]))
    # `paperlab vqa-eval --annotations A --results R`
    cfg = task_config("vqa-eval", [f'annotations="{a.resolve()}"', f'results="{r.resolve()}"', 'protocol="2021"',
                                   "allow_partial=false"])
    with raises_user_error("do not match the annotations", "3 of the 20 annotated questions have no answer",
                           "--allow-partial") as err:
        vqa_eval.run(cfg, run_dir=tmp_path / "run")
    assert str(results[-1]["question_id"]) in str(err.value)


def test_vqa_eval_options_are_checked_by_the_command_line(tmp_path: Path) -> None:
    q, a, r = vqa_messy.write_messy_vqa(tmp_path, n=20, seed=1)
    assert_user_error(run_cli("vqa-eval", "--results", str(r), cwd=tmp_path), "needs --annotations and --results")
    assert_user_error(run_cli("vqa-eval", "--annotations", str(a), "--results", str(r), "--protocol", "2019",
                              cwd=tmp_path), "unknown VQA evaluation protocol '2019'")


def test_vqa_baselines_end_to_end(tmp_path: Path) -> None:
    env = {"PAPERLAB_CACHE": str(tmp_path / "cache")}
    res = run_cli("vqa-baselines", "data=sort_of_clevr", "data.train_images=60", "data.val_images=6",
                  "data.test_images=20", cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    (run,) = (tmp_path / "outputs" / "vqa-baselines" / "vqa_baselines_sort_of_clevr").iterdir()
    results = json.loads((run / "results.json").read_text())
    assert results["questions"] == 160
    for task in ("open_ended", "multiple_choice"):
        for b in ("random", "prior_yes", "qtype_prior", "nearest_neighbor"):
            assert {"overall", "yes/no", "number", "other"} <= {k.split("/", 3)[3] for k in results
                                                                if k.startswith(f"test/{task}/{b}/")}
    assert results["test/open_ended/prior_yes/other"] == 0.0 and results["test/open_ended/prior_yes/yes/no"] > 30
    assert (run / "figures" / "examples.png").stat().st_size > 10_000
    assert "nearest_neighbor" in res.stdout and "multiple-choice" in res.stdout
    # the saved predictions are official results files: scored again against the set's own files
    (folder,) = (tmp_path / "cache").glob("sort_of_clevr_*")
    again = evaluate(folder / "annotations_test.json", run / "predictions" / "qtype_prior_MultipleChoice.json",
                     folder / "questions_test_mc.json")
    assert again.task_type == "Multiple-Choice"
    assert again.overall == results["test/multiple_choice/qtype_prior/overall"]
