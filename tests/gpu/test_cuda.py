"""The GPU tier (`make test-gpu`, marker `cuda`): what must hold on a CUDA GPU, checked against the
CPU where a CPU result exists. Skipped where no CUDA GPU is visible.

* a two-step training run of every learner kind (tests/gpu/gpu_recipes.py) in fp32 and bf16-mixed,
  the handwriting synthesis network also with its CUDA-graph step loops;
* resume on CUDA: a run killed mid-epoch and resumed ends with the weights of an uninterrupted run
  (trainer.deterministic=true, as the CPU test in tests/core/test_resume.py);
* sampling: the handwriting and text networks give the CPU's next-step distributions along a line
  sampled on the CPU, and the CUDA samplers run;
* deconvnet, occlusion and Grad-CAM on CUDA give the CPU's numbers within 1e-4, with TF32 off
  (fp32 products; TF32's 10-bit products differ from the CPU's by about 1e-3 relative);
* the image pipeline with nvJPEG decoding against the CPU decoder on the same files;
* the synthesis network's CUDA graphs against its eager loops, in fp32;
* trainer.compile and trainer.channels_last take a training step.
"""

from __future__ import annotations

import json
import math
import signal
from pathlib import Path

import pytest
import torch
from conftest import make_idx_set, run_cli, task_config, tiny_train_overrides
from gpu_recipes import RECIPES, recipe
from image_folder import write_jpeg_folder
from omegaconf import OmegaConf

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.fixture
def fp32_products():
    """Convolutions and matrix products in full fp32 (cuDNN's default is TF32 convolutions)."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def train_losses(run: Path) -> list[float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["train/loss"] for r in records if "train/loss" in r]


@pytest.mark.parametrize("precision", ["32", "bf16-mixed"])
@pytest.mark.parametrize("kind", list(RECIPES))
def test_every_learner_trains_on_cuda(kind: str, precision: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from paperlab.tasks import train

    monkeypatch.setenv("PAPERLAB_CACHE", str(tmp_path / "cache"))
    cfg = task_config("train", recipe(kind, tmp_path, "trainer.device=cuda", f"trainer.precision={precision}"))
    results = train.run(cfg, run_dir=tmp_path / "run")
    losses = train_losses(tmp_path / "run")
    assert results["steps"] == 2 and len(losses) == 2 and all(math.isfinite(v) for v in losses), losses
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["device"].startswith("cuda"), info["device"]


def test_compile_and_channels_last_take_a_step(tmp_path: Path) -> None:
    from paperlab.tasks import train

    cfg = task_config("train", [*tiny_train_overrides(make_idx_set(tmp_path / "idx"), epochs=1), "trainer.max_steps=3",
                                "trainer.device=cuda", "trainer.compile=true", "trainer.channels_last=true",
                                "trainer.limit_eval_batches=1"])
    train.run(cfg, run_dir=tmp_path / "run")
    losses = train_losses(tmp_path / "run")
    assert len(losses) >= 1 and all(math.isfinite(v) for v in losses)
    saved = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert not any(k.startswith("_orig_mod") for k in saved["model"])  # the bare model is saved


def test_sigkill_then_resume_on_cuda_equals_uninterrupted(tmp_path: Path) -> None:
    root = make_idx_set(tmp_path / "data")
    args = [*tiny_train_overrides(root, epochs=3), "trainer.checkpoint_every_n_steps=2", "data.pad_crop=2",
            "trainer.device=cuda", "trainer.deterministic=true"]
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    r = run_cli("train", *args, f"hydra.run.dir={straight}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    r = run_cli("train", *args, f"hydra.run.dir={crashed}", cwd=tmp_path, env={"PAPERLAB_FAULT_STEP": "7"})
    assert r.returncode == -signal.SIGKILL
    r = run_cli("train", "--resume", str(crashed), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = (torch.load(run / "checkpoints" / "last.pt", weights_only=True) for run in (straight, crashed))
    assert a["trainer"] == b["trainer"] and a["trainer"]["step"] == 15
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert train_losses(straight) == train_losses(crashed)


# -- sampling -------------------------------------------------------------------------------------


def test_handwriting_network_on_cuda_follows_the_cpu_along_a_sampled_line(fp32_products) -> None:
    from paperlab.models import create_model
    from paperlab.papers.graves.handwriting.sampling import HandwritingModel, synthesize
    from paperlab.papers.graves.handwriting.strokes import DEFAULT_ALPHABET, Alphabet, OffsetStats

    torch.manual_seed(0)
    alphabet = Alphabet(DEFAULT_ALPHABET)
    net = create_model("graves_synthesis", alphabet_size=len(alphabet), hidden_size=32, num_layers=2).eval()
    model = HandwritingModel(net, alphabet, OffsetStats((0.0, 0.0), (1.0, 1.0)), [], "test", 11.0, {}, Path("test"))
    (line,) = synthesize(model, ["gpu"], bias=1.0, generator=torch.Generator().manual_seed(0), max_points_per_char=10)
    ids = alphabet.encode("gpu")[None]
    x = torch.as_tensor(line.offsets, dtype=torch.float32)[None]
    with torch.no_grad():
        cpu = net(x, ids)
        gpu = net.to("cuda")(x.cuda(), ids.cuda())
    torch.testing.assert_close(gpu.y_hat.cpu(), cpu.y_hat, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(gpu.phi.cpu(), cpu.phi, rtol=1e-4, atol=1e-4)


def test_char_lstm_on_cuda_gives_the_cpus_distributions_and_samples(fp32_products) -> None:
    from paperlab.models import create_model
    from paperlab.papers.graves.text.char_lstm import generate

    torch.manual_seed(0)
    net = create_model("char_lstm", vocab_size=20, hidden_size=32, num_layers=2).eval()
    ids = torch.tensor(list(generate(net, torch.tensor([1, 2]), 40, 1.0, torch.Generator().manual_seed(0))))
    with torch.no_grad():
        cpu = torch.softmax(net(ids[None])[0], -1)
        gpu = torch.softmax(net.to("cuda")(ids[None].cuda())[0], -1).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-4, atol=1e-5)
    drawn = list(generate(net, torch.tensor([1, 2], device="cuda"), 20, 1.0,
                          torch.Generator(device="cuda").manual_seed(0)))
    assert len(drawn) == 20 and all(0 <= i < 20 for i in drawn)


# -- the Zeiler & Fergus analyses and Grad-CAM ----------------------------------------------------


def _zfnet() -> torch.nn.Module:
    from paperlab.models import create_model

    torch.manual_seed(1)
    return create_model("zfnet", num_classes=10, in_channels=3, image_size=128, variant="imagenet",
                        channels=[8, 12, 16, 16, 12], hidden=16, lrn=True).eval()


def test_deconvnet_on_cuda_matches_cpu(fp32_products) -> None:
    from paperlab.interpret.deconvnet import Neurons, deconv_project
    from paperlab.interpret.stack import LayerStack

    x = torch.randn(2, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    model = _zfnet()
    results = []
    for device in ("cpu", "cuda"):
        stack = LayerStack(model.to(device))
        _, index = stack.resolve("conv5")
        neurons = Neurons(*(torch.tensor(v, device=device) for v in ([0, 1, 1], [0, 3, 5], [2, 1, 3], [1, 2, 0])))
        results.append(deconv_project(stack, x.to(device), index, neurons))
    cpu, gpu = results
    assert torch.equal(cpu.top, gpu.top.cpu()) and torch.equal(cpu.left, gpu.left.cpu())
    torch.testing.assert_close(gpu.activation.cpu(), cpu.activation, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(gpu.pixels.cpu(), cpu.pixels, rtol=1e-4, atol=1e-4)


def test_occlusion_on_cuda_matches_cpu(fp32_products) -> None:
    from paperlab.interpret.occlusion import occlusion_maps
    from paperlab.interpret.stack import LayerStack

    x = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    model = _zfnet()
    maps = []
    for device in ("cpu", "cuda"):
        stack = LayerStack(model.to(device))
        _, index = stack.resolve("conv5")
        maps.append(occlusion_maps(stack, x.to(device), target=3, map_index=index, channel=2, square=24, stride=8))
    cpu, gpu = maps
    torch.testing.assert_close(gpu.activation.cpu(), cpu.activation, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(gpu.probability.cpu(), cpu.probability, rtol=1e-4, atol=1e-4)
    assert torch.equal(gpu.top_class.cpu(), cpu.top_class)


def test_gradcam_on_cuda_matches_cpu(fp32_products) -> None:
    from paperlab.interpret.gradcam import GradCAM

    x = torch.randn(3, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    model = _zfnet()
    out = []
    for device in ("cpu", "cuda"):
        with GradCAM(model.to(device), "conv5") as cam:
            out.append(cam.attribute(x.to(device), torch.tensor([0, 4, 9], device=device)))
    cpu, gpu = out
    torch.testing.assert_close(gpu.cams.cpu(), cpu.cams, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(gpu.maps.cpu(), cpu.maps, rtol=1e-4, atol=1e-4)


# -- the image pipeline ---------------------------------------------------------------------------


def test_nvjpeg_pipeline_matches_the_cpu_pipeline_on_the_same_files(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Same crops within the decoders' differences: nvJPEG's IDCT and chroma upsampling are not
    libjpeg-turbo's, so pixels may differ by a few levels; on average by under one level in 255."""
    from paperlab.data import build_data

    monkeypatch.setenv("PAPERLAB_CACHE", str(tmp_path / "cache"))
    folder = write_jpeg_folder(tmp_path / "imagenet")
    data = build_data(OmegaConf.create({"name": "imagenet", "root": str(folder), "val_size": 2, "split_seed": 0,
                                        "mean_images": 6, "decode": "auto"}))
    for split in ("train", "test"):
        ds = data.splits[split]
        idx = list(range(len(ds)))
        ds.set_device(torch.device("cpu"))
        cpu_x, cpu_y = ds.finish_batch(ds.collate_fn([ds[i] for i in idx]))
        ds.set_device(torch.device("cuda"))
        assert ds.mode == "gpu"  # decode=auto on a CUDA model
        batch = ds.collate_fn([ds[i] for i in idx])
        batch = {k: v.cuda() if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        gpu_x, gpu_y = ds.finish_batch(batch)
        assert gpu_x.is_cuda and torch.equal(gpu_y.cpu(), cpu_y) and gpu_x.shape == cpu_x.shape
        diff = (gpu_x.cpu() - cpu_x).abs() * 255
        stats = f"{split}: mean {float(diff.mean()):.3f}, 99.9% {float(diff.flatten().quantile(0.999)):.1f}, max {float(diff.max()):.1f} levels"
        assert float(diff.mean()) < 1.0 and float(diff.flatten().quantile(0.999)) <= 8, stats


# -- the synthesis network's CUDA graphs ----------------------------------------------------------


@pytest.mark.parametrize("steps", [700, 37])
def test_synthesis_cuda_graphs_match_the_eager_loops(steps: int) -> None:
    """Outputs and all gradients (fp32, the paper's 3 x 400 network, batch 8, a 21-character text)
    through the graphs as through the eager loops; the second step replays what the first captured."""
    from paperlab.models import create_model

    torch.manual_seed(0)
    eager = create_model("graves_synthesis", alphabet_size=60, window_initial_step=0.05).cuda()
    graphed = create_model("graves_synthesis", alphabet_size=60, window_initial_step=0.05, cuda_graphs=True).cuda()
    graphed.load_state_dict(eager.state_dict())
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, steps, 3, generator=g)
    x[..., 2] = (torch.rand(8, steps, generator=g) < 0.1).float()
    text = torch.randint(0, 60, (8, 21), generator=g)
    text[:3, -4:] = -1
    x, text = x.cuda(), text.cuda()
    for _ in range(2):
        grads = []
        for net in (eager, graphed):
            net.zero_grad(set_to_none=True)
            out = net(x, text)
            (out.y_hat.square().mean() + out.phi.mean() + out.kappa.mean()).backward()
            grads.append([out.y_hat.detach(), out.phi.detach(), *(p.grad for p in net.parameters())])
        for a, b in zip(*grads, strict=True):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
        with torch.no_grad():
            for p, q in zip(eager.parameters(), graphed.parameters(), strict=True):
                p.sub_(1e-3 * p.grad)
                q.copy_(p)
    assert graphed.step_graphs._shapes
