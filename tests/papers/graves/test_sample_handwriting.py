"""`paperlab train experiment=graves_synthesis` and `paperlab sample-handwriting` end to end on a
tiny corpus and network, the sampler's stopping rule (Graves 2013 Sec. 5.3), bad input, and the
shipped checkpoints."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import raises_user_error, run_cli, task_config

from paperlab.engine.restore import load_model
from paperlab.errors import UserError
from paperlab.launch import composed
from paperlab.papers.graves.handwriting.sampling import (
    HandwritingModel,
    synthesize,
    window_finished,
)
from paperlab.papers.graves.handwriting.strokes import StrokeSet


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """A 20-step `paperlab train experiment=graves_synthesis` run, in process: (cwd, run dir, env)."""
    from paperlab.tasks import train

    cwd = tmp_path_factory.mktemp("hw")
    env = {"PAPERLAB_CACHE": str(cwd / "cache")}
    run = cwd / "run"
    cfg = task_config("train", ["experiment=graves_synthesis", "model.hidden_size=12", "model.num_layers=2",
                                "data.num_lines=60", "data.num_writers=4", "data.max_chars=14", "data.num_styles=2",
                                "trainer.max_steps=20", "trainer.batch_size=4", "trainer.log_every_n_steps=1",
                                "trainer.progress=false", "optim.lr=0.001"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAPERLAB_CACHE", env["PAPERLAB_CACHE"])
        train.run(cfg, run_dir=run)
    return cwd, run, env


def test_twenty_step_training_run_loss_falls(trained: tuple[Path, Path, dict[str, str]]) -> None:
    _, run, _ = trained
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    # per point: lines of different lengths make the per-sequence loss jump from batch to batch
    losses = [r["train/nats_per_point"] for r in records if "train/nats_per_point" in r]
    assert len(losses) == 20 and np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.3
    results = json.loads((run / "results.json").read_text())
    assert math.isfinite(results["val/loss"]) and results["val/nats_per_point"] * 10 < results["val/loss"]
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["extras"]["kind"] == "synthesis" and len(ckpt["extras"]["styles"]) == 2


def test_sample_handwriting_writes_the_page_figures_and_strokes(trained: tuple[Path, Path, dict[str, str]]) -> None:
    cwd, run, env = trained
    r = run_cli("sample-handwriting", "--text", "ab cd\\nefg", "--bias", "0", "--bias", "2", "--style", "1",
                "--checkpoint", str(run), "--seed", "5", "--paper-bias", "--best-of", "2", "--select", "window",
                cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    (out,) = (cwd / "outputs" / "sample-handwriting" / "handwriting").iterdir()
    assert "sharpen_eos: false" in (out / ".hydra" / "config.yaml").read_text()  # --paper-bias: Eq. 61-62 only
    for rel in ("figures/handwriting.png", "figures/handwriting.svg", "figures/attention.png",
                "figures/mixture_density.png", "arrays/strokes.h5", "arrays/attention.h5", "results.json"):
        assert (out / rel).is_file(), rel
    lines = StrokeSet.load(out / "arrays" / "strokes.h5")
    assert lines.text == ["ab cd", "efg", "ab cd", "efg"]  # two lines at two biases
    results = json.loads((out / "results.json").read_text())
    assert results["lines"] == 4 and results["points"] == sum(len(o) for o in lines.offsets) > 0
    assert results["best_of"] == 2 and "select: window" in (out / ".hydra" / "config.yaml").read_text()
    assert results["stopped_by_window"] + results["stopped_by_cap"] == 4
    assert "<path d=" in (out / "figures" / "handwriting.svg").read_text()


def sample_cfg(run: Path, **sample):
    overrides = [f"checkpoint={run}"] + [f"sample.{k}={v}" for k, v in sample.items()]
    with composed("sample-handwriting", overrides) as cfg:
        return cfg


def test_text_outside_the_alphabet_is_one_line(trained: tuple[Path, Path, dict[str, str]], tmp_path: Path) -> None:
    from paperlab.papers.graves.handwriting.sample_handwriting import run as sample

    _, run, _ = trained
    # `paperlab sample-handwriting --text "héllo wörld" --checkpoint RUN`
    cfg = task_config("sample-handwriting", ['sample.text="héllo wörld"', f'checkpoint="{run}"'])
    with raises_user_error("outside the model's alphabet", "'é' 'ö'", "--unknown=skip"):
        sample(cfg, tmp_path / "never")


def test_bad_input_and_wrong_checkpoints_are_user_errors(trained: tuple[Path, Path, dict[str, str]], tmp_path: Path) -> None:
    from paperlab.papers.graves.handwriting.sample_handwriting import run as sample

    _, run, _ = trained
    cases = [({"text": '""'}, "the text is empty"), ({"text": "'!!'", "bias": "[-1]"}, "--bias -1.0 is invalid"),
             ({"style": "[7]"}, "--style 7 does not exist"), ({"prime_text": "ab"}, "--prime-text needs --prime-strokes"),
             ({"unconditional": "true"}, "not a prediction one"), ({"text": "'~'", "unknown": "skip"}, "empty once"),
             ({"best_of": "0"}, "--best-of 0 is not possible"),
             ({"text": "ab", "select": "nowhere"}, "--select nowhere: no run directory, .*give --select window")]
    for sample_kw, message in cases:
        with pytest.raises(UserError, match=message):
            sample(sample_cfg(run, **sample_kw), tmp_path / "never")
    # --unknown=skip drops what the model cannot write
    results = sample(sample_cfg(run, text="'a~b'", unknown="skip", figures="false"), tmp_path / "ok")
    assert StrokeSet.load(tmp_path / "ok" / "arrays" / "strokes.h5").text == ["ab"] and results["lines"] == 1
    # a prediction network cannot write text, but it can scribble; a classifier is no handwriting model
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    from paperlab.models import create_model

    prediction = create_model("graves_prediction", hidden_size=4, num_layers=1, num_components=2)
    ckpt.update(model=prediction.state_dict(), model_name=prediction.spec.name, model_args=prediction.spec.args)
    ckpt["extras"].update(kind="prediction")
    torch.save(ckpt, tmp_path / "prediction.pt")
    with pytest.raises(UserError, match="holds a handwriting prediction network, not a synthesis one"):
        sample(sample_cfg(tmp_path / "prediction.pt"), tmp_path / "never")
    results = sample(sample_cfg(tmp_path / "prediction.pt", unconditional="true", points=30), tmp_path / "scribble")
    assert results["points"] == 30 and results["best_of"] == 1  # null: one scribble, no text to choose by
    ckpt["learner"] = "classifier"
    torch.save(ckpt, tmp_path / "classifier.pt")
    with pytest.raises(UserError, match="holds a 'classifier' model, not a 'handwriting' one"):
        sample(sample_cfg(tmp_path / "classifier.pt"), tmp_path / "never")


def test_best_of_keeps_the_sharpest_window_or_the_closest_reading() -> None:
    from paperlab.papers.graves.handwriting.sample_handwriting import best_of
    from paperlab.papers.graves.handwriting.sampling import Sample, window_sharpness

    # shares of the top position per point: 1/2 and 3/4 -> 0.625
    assert window_sharpness(np.array([[1.0, 1.0, 0.0], [3.0, 0.0, 1.0]])) == pytest.approx(0.625)
    assert window_sharpness(None) == 0.0

    class Reader:  # reads candidate j as readings[j]
        def read(self, lines: list[np.ndarray]) -> list[str]:
            return [["hxllo", "wrld", "hello", "wrld", "hello", "world"][len(o)] for o in lines]

    # two lines, three candidates each: candidate k of line i at k * 2 + i; len(offsets) = its index
    texts = ["hello", "world"] * 3
    peaks = [0.5, 0.9, 0.9, 0.6, 0.7, 0.9]  # phi's top share of candidate j
    samples = [Sample(t, np.zeros((j, 3), np.float32), np.zeros((j, 1)), np.array([[p, 1 - p]]), t, "window")
               for j, (t, p) in enumerate(zip(texts, peaks, strict=True))]
    chosen, read = best_of(samples, 2, Reader())  # type: ignore[arg-type]
    assert [len(smp.offsets) for smp in chosen] == [2, 5] and read == ["hello", "world"]  # the first of equals
    chosen, read = best_of(samples, 2, None)
    assert [len(smp.offsets) for smp in chosen] == [2, 1] and read is None


def test_best_of_samples(trained: tuple[Path, Path, dict[str, str]], tmp_path: Path) -> None:
    from paperlab.papers.graves.handwriting.sample_handwriting import run as sample
    from paperlab.papers.graves.handwriting.sampling import window_sharpness

    _, run, _ = trained
    # by default: the candidate of sharpest window, among those one batch of the same seed draws
    sample(sample_cfg(run, text="'ab cd\\nef'", best_of="3", figures="false"), tmp_path / "window")
    kept = StrokeSet.load(tmp_path / "window" / "arrays" / "strokes.h5").offsets
    model = HandwritingModel.of(load_model(run, "handwriting"))
    drawn = synthesize(model, ["ab cd", "ef"] * 3, 1.0, None, torch.Generator().manual_seed(0),
                       max_points_per_char=3.0 * model.points_per_char)
    for i in range(2):
        sharpness = [window_sharpness(smp.phi) for smp in drawn[i::2]]
        assert len(set(sharpness)) == 3
        np.testing.assert_array_equal(kept[i], drawn[i::2][int(np.argmax(sharpness))].offsets)
    # or the one the shipped recogniser reads best
    results = sample(sample_cfg(run, text="'ab cd\\nef'", best_of="3", select="handwriting_recognizer",
                                figures="false"), tmp_path / "best")
    assert results["lines"] == 2 and results["best_of"] == 3
    assert StrokeSet.load(tmp_path / "best" / "arrays" / "strokes.h5").text == ["ab cd", "ef"]
    with pytest.raises(UserError, match="--best-of 2 is not possible with --unconditional"):
        sample(sample_cfg(run, best_of="2", unconditional="true"), tmp_path / "never")


def test_priming_from_files(trained: tuple[Path, Path, dict[str, str]], tmp_path: Path) -> None:
    """--prime-strokes takes the strokes .h5 a sample run wrote, (T, 3) .npy offsets, or IAM-OnDB XML."""
    from test_handwriting_data import write_line

    from paperlab.papers.graves.handwriting.sample_handwriting import run as sample

    _, run, _ = trained
    results = sample(sample_cfg(run, text="ab", figures="false"), tmp_path / "first")
    h5 = tmp_path / "first" / "arrays" / "strokes.h5"
    again = sample(sample_cfg(run, text="cd", prime_strokes=h5, figures="false"), tmp_path / "primed")
    assert results["lines"] == again["lines"] == 1
    np.save(tmp_path / "p.npy", StrokeSet.load(h5).offsets[0])
    write_line(tmp_path / "p.xml", [[(1000 + 10 * k, 1200 - 3 * k) for k in range(9)], [(1200, 1150), (1210, 1160)]])
    for primer in ("p.npy", "p.xml"):
        sample(sample_cfg(run, text="cd", prime_strokes=tmp_path / primer, prime_text="ab", figures="false"),
               tmp_path / primer.replace(".", "_"))
    with pytest.raises(UserError, match="needs the primer's text"):
        sample(sample_cfg(run, text="cd", prime_strokes=tmp_path / "p.npy"), tmp_path / "never")
    with pytest.raises(UserError, match="does not exist"):
        sample(sample_cfg(run, text="cd", prime_strokes=tmp_path / "missing.h5"), tmp_path / "never")


def test_primed_sampling_continues_after_the_whole_primer(trained: tuple[Path, Path, dict[str, str]]) -> None:
    """The first new point is drawn from what the network predicts once it has read every primer point."""
    from paperlab.papers.graves.handwriting.sampling import Primer

    _, run, _ = trained
    model = HandwritingModel.of(load_model(run, "handwriting"))
    style = model.styles[0]
    (s,) = synthesize(model, ["ab"], primer=Primer(style["offsets"], style["text"]), max_points_per_char=2)
    x = model.stats.normalise(style["offsets"].float())
    x[0] = 0
    ids = model.alphabet.encode(style["text"] + " ab")[None]
    expected = model.net(x[None], ids).y_hat[0, -1]
    assert torch.allclose(torch.from_numpy(s.y_hat[0]), expected, atol=1e-5)


def test_stop_rule_is_phi_past_the_end_above_every_character() -> None:
    phi = torch.tensor([[0.1, 0.9, 0.3, 0.0, 5.0],  # U=3: phi(U+1) = 0.0 < 0.9 -> not yet
                        [0.0, 0.1, 0.2, 0.3, 5.0],  # U=3: phi(U+1) = 0.3 > all -> stop
                        [0.0, 0.4, 0.5, 0.0, 0.0]])  # U=1: phi(U+1) = 0.4 > 0.0 -> stop (padding ignored)
    assert window_finished(phi, torch.tensor([3, 3, 1])).tolist() == [False, True, True]


def test_sampling_stops_by_the_window_or_at_the_cap(trained: tuple[Path, Path, dict[str, str]]) -> None:
    _, run, _ = trained
    model = HandwritingModel.of(load_model(run, "handwriting"))
    bias = model.net.window.linear.bias
    k = model.net.cfg.window_components
    with torch.no_grad():
        model.net.window.linear.weight.zero_()
        bias[2 * k :].fill_(math.log(0.5))  # the window moves half a character per point
    (s,) = synthesize(model, ["abc"], generator=torch.Generator().manual_seed(0), max_points_per_char=20,
                      finish_points=0)  # the paper's rule alone
    assert s.stop == "window" and 5 <= len(s.offsets) <= 8  # passes u = 3.5 after ~7 steps
    assert np.argmax(s.phi[-1]) >= 2
    with torch.no_grad():
        bias[2 * k :].fill_(-30.0)  # the window never moves: the cap (proportional to the text) stops it
    a, b = synthesize(model, ["abc", "abcdefg"], max_points_per_char=4)
    assert (a.stop, len(a.offsets), b.stop, len(b.offsets)) == ("cap", 16, "cap", 32)


def test_a_line_past_the_end_of_its_text_finishes_its_stroke(trained: tuple[Path, Path, dict[str, str]]) -> None:
    """Once the window has passed the last character, the pen goes on to its next lift after at
    least one more point (the end of the last letter, or its delayed bar), at most `finish_points`
    more points."""
    _, run, _ = trained
    model = HandwritingModel.of(load_model(run, "handwriting"))
    k = model.net.cfg.window_components
    mdn = model.net.mdn.linear
    with torch.no_grad():
        model.net.window.linear.weight.zero_()
        model.net.window.linear.bias[2 * k :].fill_(math.log(0.5))  # the window passes the end at a fixed step
        mdn.weight[0].zero_()

    def length(eos_logit: float, finish: int) -> int:
        with torch.no_grad():
            mdn.bias[0] = -eos_logit  # e_hat: Pr(end of stroke) = sigmoid(-e_hat)
        (s,) = synthesize(model, ["abc"], generator=torch.Generator().manual_seed(0), max_points_per_char=20,
                          finish_points=finish)
        assert s.stop == "window" and s.offsets[-1, 2] == 1
        return len(s.offsets)

    fired = length(-30.0, 0)  # the paper's rule alone
    assert length(30.0, 0) == fired
    assert length(30.0, 4) == fired + 1  # every point lifts the pen: one more (a stroke of one point)
    assert length(-30.0, 4) == fired + 4  # the pen never lifts: four more points, then the cut
    assert length(-30.0, 9) == fired + 9


def test_shipped_checkpoints_load_and_write() -> None:
    from paperlab.assets import shipped, shipped_info

    assert {"graves_synthesis", "graves_prediction"} <= set(shipped())
    for name, kind in (("graves_synthesis", "synthesis"), ("graves_prediction", "prediction")):
        model = HandwritingModel.of(load_model(name, "handwriting"))
        path = model.path
        info = shipped_info(name)
        assert model.kind == kind and path.stat().st_size < 20e6
        assert "paperlab train" in info["command"] and math.isfinite(info["metrics"]["val/loss"])
    model = HandwritingModel.of(load_model("graves_synthesis", "handwriting"))
    (s,) = synthesize(model, ["hello"], bias=1.0, generator=torch.Generator().manual_seed(0),
                      max_points_per_char=3 * model.points_per_char)
    assert s.stop == "window" and 2 * len("hello") < len(s.offsets) < 3 * model.points_per_char * 6
