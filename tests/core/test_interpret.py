"""The Zeiler & Fergus analyses' machinery on tiny networks: the deconvnet against captum's
NeuronDeconvolution and against a hand computation, LRN passed through on the way down, top-k
search against brute force, incremental occlusion against one full forward pass per position,
and the invariance sweeps against direct computation."""

from __future__ import annotations

import pytest
import torch
import torchvision
from captum.attr import NeuronDeconvolution, Occlusion
from torch import nn

from paperlab.errors import UserError
from paperlab.interpret.deconvnet import Neurons, deconv_project, top_activations
from paperlab.interpret.invariance import sweep, transform
from paperlab.interpret.occlusion import occlusion_maps, pixel_attribution, positions
from paperlab.interpret.stack import LayerStack, flatten_model
from paperlab.models import create_model

# captum warns that it sets requires_grad and hooks ReLUs: expected here
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:captum.*")


def zfnet_small(lrn: bool) -> nn.Module:
    torch.manual_seed(0)
    return create_model("zfnet", num_classes=10, in_channels=1, image_size=28, channels=[8, 12, 16, 16, 12],
                        hidden=16, lrn=lrn).eval()


def zfnet_imagenet() -> nn.Module:
    """Fig. 3's layer geometry (7x7 stride-2 conv1, 5x5 stride-2 conv2, overlapping pools), narrow."""
    torch.manual_seed(1)
    return create_model("zfnet", num_classes=10, in_channels=3, image_size=128, variant="imagenet",
                        channels=[8, 12, 16, 16, 12], hidden=16, lrn=False).eval()


def vgg16_convs() -> nn.Module:
    """torchvision's VGG-16 conv stack (inplace ReLUs, 13 convs, 5 pools) with a small head, 32 px."""
    torch.manual_seed(2)
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"])
    return nn.Sequential(features, nn.Flatten(), nn.Linear(512, 10)).eval()


@pytest.fixture(scope="module")
def alexnet() -> nn.Module:
    """torchvision's AlexNet (11x11 stride-4 conv1, inplace ReLUs, avgpool), random weights, 67 px."""
    torch.manual_seed(3)
    return create_model("alexnet", num_classes=10, in_channels=3, image_size=67).eval()


def real_module(model: nn.Module, stack: LayerStack, index: int) -> nn.Module:
    """The model's own module at a stack position (captum hooks the model, not our copy of it)."""
    leaves = [m for m in model.modules() if not list(m.children())]
    kinds = [type(m) for m in stack.modules if not isinstance(m, nn.Flatten)]
    own = [m for m in leaves if not isinstance(m, nn.Flatten)]
    assert [type(m) for m in own] == kinds
    return own[[i for i, m in enumerate(stack.modules) if not isinstance(m, nn.Flatten)].index(index)]


def strongest_neurons(stack: LayerStack, x: torch.Tensor, index: int, per_image: int = 2) -> Neurons:
    """The strongest activations of a few maps in each image (positive: something to project)."""
    with torch.no_grad():
        maps = stack.forward(x, stop=index + 1)[0]
    out = []
    for b in range(len(x)):
        value, pos = maps[b].flatten(1).max(dim=1)
        for c in value.argsort(descending=True)[:per_image].tolist():
            out.append((b, c, int(pos[c]) // maps.shape[3], int(pos[c]) % maps.shape[3]))
    return Neurons(*(torch.tensor(col) for col in zip(*out, strict=True)))


# -- the deconvnet ------------------------------------------------------------------------------


def _check_against_captum(model: nn.Module, x: torch.Tensor, layers: list[str]) -> None:
    stack = LayerStack(model)
    for layer in layers:
        _, index = stack.resolve(layer)
        neurons = strongest_neurons(stack, x, index)
        proj = deconv_project(stack, x, index, neurons, max_bytes=2**18)  # small batches: chunking exercised
        full = proj.full(*x.shape[2:]) / proj.activation.view(-1, 1, 1, 1)  # captum projects a unit signal
        deconv = NeuronDeconvolution(model, real_module(model, stack, index))
        for n in range(len(neurons)):
            b = int(neurons.image[n])
            selector = (int(neurons.channel[n]), int(neurons.row[n]), int(neurons.col[n]))
            theirs = deconv.attribute(x[b : b + 1].clone(), neuron_selector=selector)[0]
            assert theirs.abs().max() > 0
            assert (theirs - full[n]).abs().max() <= 1e-5, (layer, n, float((theirs - full[n]).abs().max()))


@pytest.mark.parametrize("build,shape,layers", [
    (lambda: zfnet_small(lrn=False), (2, 1, 28, 28), ["conv1", "conv2", "conv5"]),
    (zfnet_imagenet, (2, 3, 128, 128), ["conv2", "conv5"]),
    (vgg16_convs, (1, 3, 32, 32), ["conv3", "conv8", "conv13"]),
])
def test_deconvnet_equals_captum_neuron_deconvolution(build, shape, layers) -> None:
    torch.manual_seed(4)
    _check_against_captum(build(), torch.randn(*shape), layers)


def test_deconvnet_equals_captum_on_torchvision_alexnet(alexnet: nn.Module) -> None:
    torch.manual_seed(5)
    _check_against_captum(alexnet, torch.randn(2, 3, 67, 67), ["conv1", "conv3", "conv5"])


class _DeconvReLU(torch.autograd.Function):
    """ReLU forward; on the way back the signal itself is rectified (Sec. 2.1)."""

    @staticmethod
    def forward(ctx, x):  # noqa: ANN001, ANN205
        return x.relu()

    @staticmethod
    def backward(ctx, g):  # noqa: ANN001, ANN205
        return g.relu()


class _PassBack(torch.autograd.Function):
    """LRN forward; passed straight through on the way back (no normalisation, Sec. 2.1)."""

    @staticmethod
    def forward(ctx, x, lrn):  # noqa: ANN001, ANN205
        return lrn(x)

    @staticmethod
    def backward(ctx, g):  # noqa: ANN001, ANN205
        return g, None


def test_lrn_is_passed_through_on_the_way_down() -> None:
    """With LRN, the projection is the backward pass in which LRN is the identity (and differs
    from captum's, which backpropagates through LRN's normalisation)."""
    model = zfnet_small(lrn=True)
    stack = LayerStack(model)
    assert any(isinstance(m, nn.LocalResponseNorm) for m in stack.modules)
    torch.manual_seed(6)
    x = torch.randn(2, 1, 28, 28)
    _, index = stack.resolve("conv4")
    neurons = strongest_neurons(stack, x, index)
    ours = deconv_project(stack, x, index, neurons).full(28, 28)
    for n in range(len(neurons)):
        b = int(neurons.image[n])
        xi = x[b : b + 1].clone().requires_grad_(True)
        h = xi
        for module in stack.modules[: index + 1]:
            if isinstance(module, nn.ReLU):
                h = _DeconvReLU.apply(h)
            elif isinstance(module, nn.LocalResponseNorm):
                h = _PassBack.apply(h, module)
            else:
                h = module(h)
        neuron = h[0, neurons.channel[n], neurons.row[n], neurons.col[n]]
        (grad,) = torch.autograd.grad(neuron, xi)
        expected = grad[0] * neuron.detach()
        assert (expected - ours[n]).abs().max() <= 1e-5
        through_lrn = NeuronDeconvolution(model, real_module(model, stack, index)).attribute(
            x[b : b + 1].clone(), neuron_selector=(int(neurons.channel[n]), int(neurons.row[n]), int(neurons.col[n])))
        assert (through_lrn[0] * neuron.detach() - ours[n]).abs().max() > 1e-4  # LRN's backward would change it


def test_deconvnet_by_hand_unpools_to_the_switch_and_rectifies() -> None:
    """conv (one 1x1 filter, weight 2) -> ReLU -> 2x2 max-pool: the projection of pooled unit
    (0, 0) is one pixel, where the max was, worth activation x 2 (transposed filter)."""
    conv = nn.Conv2d(1, 1, 1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(2.0)
    model = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2))
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 0] = 3.0  # the max of the top-left pool window
    x[0, 0, 0, 1] = 1.0
    stack = LayerStack(model)
    proj = deconv_project(stack, x, 2, Neurons(*(torch.tensor([v]) for v in (0, 0, 0, 0))))
    expected = torch.zeros(1, 1, 4, 4)
    expected[0, 0, 1, 0] = 6.0 * 2.0  # activation 6, times the transposed filter's 2
    assert torch.equal(proj.full(4, 4), expected)
    assert float(proj.activation[0]) == 6.0
    # the signal is rectified at every ReLU on the way down: through a negative filter it turns
    # negative and dies at the next ReLU, where a gradient would pass it on (as -1)
    a, b = nn.Conv2d(1, 1, 1), nn.Conv2d(1, 1, 1)
    with torch.no_grad():
        a.weight.fill_(1.0), a.bias.zero_(), b.weight.fill_(-1.0), b.bias.fill_(5.0)
    stack = LayerStack(nn.Sequential(a, nn.ReLU(), b, nn.ReLU()))
    proj = deconv_project(stack, torch.ones(1, 1, 2, 2), 3, Neurons(*(torch.tensor([v]) for v in (0, 0, 1, 1))))
    assert float(proj.activation[0]) == 4.0 and torch.equal(proj.full(2, 2), torch.zeros(1, 1, 2, 2))


def test_top_activations_match_brute_force() -> None:
    model = zfnet_small(lrn=True)
    stack = LayerStack(model)
    torch.manual_seed(7)
    x = torch.randn(23, 1, 28, 28)
    layers = [stack.resolve(name)[1] for name in ("conv2", "conv5")]
    tops = top_activations(stack, [x[:10], x[10:17], x[17:]], layers, k=4)
    for index in layers:
        with torch.no_grad():
            maps = stack.forward(x, stop=index + 1)[0]
        per_image = maps.flatten(2).max(dim=2).values  # (N, C)
        expected = per_image.topk(4, dim=0)
        top = tops[index]
        assert torch.equal(top.value, expected.values.T)
        # where it was found (ties aside, the same images as the brute force)
        assert torch.equal(maps[top.image, torch.arange(maps.shape[1])[:, None], top.row, top.col], top.value)
        five = per_image.topk(5, dim=0).values.T
        unique = (five[:, :-1] > five[:, 1:]).all(dim=1)
        assert torch.equal(top.image[unique], expected.indices.T[unique]) and unique.sum() > 0
        assert all(len(set(row)) == len(row) for row in top.image.tolist())  # an image counts once per map


def test_layer_stack_names_layers_and_runs_like_the_model(alexnet: nn.Module) -> None:
    torch.manual_seed(8)
    for model, x in ((zfnet_small(lrn=True), torch.randn(2, 1, 28, 28)), (alexnet, torch.randn(2, 3, 67, 67))):
        stack = LayerStack(model)
        assert stack.layer_names == ["conv1", "conv2", "conv3", "conv4", "conv5"]
        with torch.no_grad():
            assert torch.allclose(stack.forward(x)[0], model(x), atol=1e-6)
        assert all(not (isinstance(m, nn.ReLU) and m.inplace) for m in stack.modules)
        assert isinstance(stack.modules[stack.resolve(3)[1]], nn.ReLU)
    assert any(isinstance(m, nn.ReLU) and m.inplace for m in alexnet.modules())  # the model is untouched
    with pytest.raises(UserError, match=r"no layer 'conv9'.*conv1, conv2, conv3, conv4, conv5"):
        stack.resolve("conv9")
    with pytest.raises(UserError, match="not a plain CNN"):
        flatten_model(nn.LSTM(2, 2))


# -- occlusion ----------------------------------------------------------------------------------


def naive_occlusion(model: nn.Module, x: torch.Tensor, target: int, index: int, channel: int, square: int,
                    stride: int, fill: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The naive way: the whole network on each occluded image, one position at a time."""
    stack = LayerStack(model)
    tops, lefts = positions(x.shape[2], square, stride), positions(x.shape[3], square, stride)
    act = torch.zeros(len(tops), len(lefts), dtype=torch.float64)
    prob = torch.zeros(len(tops), len(lefts))
    cls = torch.zeros(len(tops), len(lefts), dtype=torch.long)
    with torch.no_grad():
        for i, t in enumerate(tops.tolist()):
            for j, s in enumerate(lefts.tolist()):
                occluded = x.clone()
                occluded[:, :, t : t + square, s : s + square] = fill
                p = model(occluded).softmax(dim=-1)[0]
                act[i, j] = stack.forward(occluded, stop=index + 1)[0][0, channel].double().sum()
                prob[i, j], cls[i, j] = p[target], p.argmax()
    return act, prob, cls


@pytest.mark.parametrize("build,shape,square,stride,layer", [
    (lambda: zfnet_small(lrn=True), (1, 1, 28, 28), 8, 2, "conv5"),
    (lambda: zfnet_small(lrn=True), (1, 1, 28, 28), 7, 3, "conv1"),  # uneven: the last square is flush with the edge
    (zfnet_imagenet, (1, 3, 128, 128), 24, 8, "conv5"),
    (vgg16_convs, (1, 3, 32, 32), 12, 10, "conv13"),
])
def test_occlusion_maps_equal_one_forward_pass_per_position(build, shape, square, stride, layer) -> None:
    model = build()
    stack = LayerStack(model)
    torch.manual_seed(9)
    x = torch.randn(*shape)
    _, index = stack.resolve(layer)
    act, prob, cls = naive_occlusion(model, x, 3, index, 1, square, stride, fill=0.5)
    for max_window in (0.5, 1.0):  # incremental up to half of a map / all the way
        maps = occlusion_maps(stack, x, 3, index, 1, square, stride, fill=0.5, max_window=max_window,
                              max_bytes=2**20)  # small batches
        assert (maps.activation - act).abs().max() <= 1e-5 * max(1.0, float(act.abs().max()))
        assert (maps.probability - prob).abs().max() <= 1e-5
        assert torch.equal(maps.top_class, cls)


def test_occlusion_on_torchvision_alexnet(alexnet: nn.Module) -> None:
    stack = LayerStack(alexnet)
    torch.manual_seed(10)
    x = torch.randn(1, 3, 67, 67)
    _, index = stack.resolve("conv5")
    act, prob, cls = naive_occlusion(alexnet, x, 2, index, 0, 16, 9, fill=0.0)
    maps = occlusion_maps(stack, x, 2, index, 0, 16, 9)
    assert (maps.activation - act).abs().max() <= 1e-5 * max(1.0, float(act.abs().max()))
    assert (maps.probability - prob).abs().max() <= 1e-5
    assert torch.equal(maps.top_class, cls)


def test_pixel_attribution_equals_captum_occlusion() -> None:
    model = zfnet_small(lrn=True)
    torch.manual_seed(11)
    x = torch.randn(1, 1, 28, 28)
    with torch.no_grad():
        p = model(x).softmax(-1)[0, 4]
    theirs = Occlusion(lambda z: model(z).softmax(-1)[:, 4]).attribute(
        x, sliding_window_shapes=(1, 8, 8), strides=(1, 4, 4), baselines=0.0, perturbations_per_eval=16)
    stack = LayerStack(model)
    maps = occlusion_maps(stack, x, 4, stack.resolve(5)[1], 0, 8, 4)
    ours = pixel_attribution(p - maps.probability, maps.top, maps.left, 8, 28, 28)
    assert (theirs[0, 0] - ours).abs().max() <= 1e-5


def test_occluder_positions_and_bad_sizes() -> None:
    assert positions(28, 8, 2).tolist() == list(range(0, 21, 2))
    assert positions(28, 7, 3).tolist() == [0, 3, 6, 9, 12, 15, 18, 21]  # 21: flush with the far edge
    assert positions(28, 28, 5).tolist() == [0]
    with pytest.raises(UserError, match=r"occluder \(29 px\) is larger than the image \(28 px\)"):
        positions(28, 29, 2)
    with pytest.raises(UserError, match=">= 1"):
        positions(28, 8, 0)


# -- invariance ---------------------------------------------------------------------------------


def test_transformations() -> None:
    torch.manual_seed(12)
    x = torch.rand(2, 1, 12, 12)
    assert torch.equal(transform(x, "rotate", 0.0), x)
    down = transform(x, "translate", 3.0, fill=0.0)
    assert torch.allclose(down[:, :, 3:], x[:, :, :-3], atol=1e-5) and down[:, :, :3].abs().max() < 1e-6
    quarter = transform(x, "rotate", 90.0)
    assert torch.allclose(quarter, torch.rot90(x, -1, dims=(2, 3)), atol=1e-5)  # clockwise
    zoom = transform(torch.arange(144.0).view(1, 1, 12, 12), "scale", 2.0)
    assert zoom.std() < torch.arange(144.0).std() / 1.5  # a zoom shows the middle, a smaller range
    with pytest.raises(UserError, match="unknown transformation 'shear'"):
        transform(x, "shear", 1.0)


def test_sweep_distances_and_probabilities() -> None:
    model = zfnet_small(lrn=True)
    stack = LayerStack(model)
    torch.manual_seed(13)
    pixels = torch.rand(3, 1, 28, 28)
    labels = torch.tensor([1, 5, 7])
    layers = {"conv1": stack.resolve(1)[1], "penultimate": stack.penultimate}
    res = sweep(stack, pixels, [0.3], [0.4], labels, "rotate", [0.0, 20.0, 45.0], layers)
    assert res.distance["conv1"][:, 0].abs().max() == 0 and res.distance["penultimate"][:, 0].abs().max() == 0
    turned = transform(pixels, "rotate", 45.0)
    with torch.no_grad():
        p = model((turned - 0.3) / 0.4).softmax(-1)
        fc7_0 = model.classifier[:-1](model.features((pixels - 0.3) / 0.4))
        fc7 = model.classifier[:-1](model.features((turned - 0.3) / 0.4))
    assert torch.allclose(res.probability[:, 2], p[torch.arange(3), labels], atol=1e-6)
    assert torch.allclose(res.distance["penultimate"][:, 2], (fc7 - fc7_0).norm(dim=1), atol=1e-4)
    assert torch.equal(res.top_class[:, 2], p.argmax(-1))


def test_filter_smoothness_by_hand_and_on_noise():
    from paperlab.interpret.filters import filter_smoothness

    # [[1, 2], [2, 4]] minus its mean 2.25: products of the vertical and horizontal neighbour pairs
    # sum to -0.125 - 0.125, their mean squares to 2.375 + 2.375
    tiny = torch.tensor([[1.0, 2.0], [2.0, 4.0]]).view(1, 1, 2, 2)
    assert filter_smoothness(tiny).item() == pytest.approx(-0.25 / 4.75, abs=1e-6)
    checker = (torch.arange(4).view(4, 1) + torch.arange(4)).remainder(2).float().mul(2).sub(1)
    ramp = (torch.arange(5).view(5, 1) + torch.arange(5)).float()
    assert filter_smoothness(checker.view(1, 1, 4, 4)).item() == pytest.approx(-1.0)
    assert filter_smoothness(ramp.view(1, 1, 5, 5)).item() > 0.7
    noise = filter_smoothness(torch.randn(2000, 1, 5, 5, generator=torch.Generator().manual_seed(0)))
    assert abs(noise.mean().item()) < 0.05
