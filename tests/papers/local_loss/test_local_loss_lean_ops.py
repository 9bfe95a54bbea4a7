"""The lean-memory ops of a local step (paperlab.papers.local_loss.lean_ops) compute what torch's
ops compute: the same forward values and running statistics (bit for bit), the same gradients
(the BatchNorm and sliced conv gradients up to float rounding), and a lower peak memory."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from paperlab.papers.local_loss.blocks import Block, BlockConfig
from paperlab.papers.local_loss.lean_ops import (
    avg_pool,
    batch_norm_act,
    conv_batch_norm_act,
    max_pool_2x2,
    same_size_conv,
)
from paperlab.papers.local_loss.local_losses import LocalLossConfig, decoder_pooling
from paperlab.papers.local_loss.memory import _profiled_peak
from paperlab.papers.local_loss.similarity import similarity_matrix

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors (tests/conftest.py)


def _pair(act: nn.Module, norm_cls=nn.BatchNorm2d, channels: int = 6, momentum=0.1):
    torch.manual_seed(0)
    norm = norm_cls(channels, momentum=momentum)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
    twin = norm_cls(channels, momentum=momentum)
    twin.load_state_dict(norm.state_dict())
    return norm, twin


@pytest.mark.parametrize("act", [nn.ReLU(inplace=True), nn.LeakyReLU(0.01, inplace=True)])
@pytest.mark.parametrize("shape", [(8, 6, 5, 5), (8, 6)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_act_equals_torchs(act, shape, momentum):
    norm_cls = nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d
    norm, twin = _pair(act, norm_cls, momentum=momentum)
    gen = torch.Generator().manual_seed(1)
    for _ in range(2):  # the second step reads the running stats the first wrote
        z = (torch.randn(*shape, generator=gen, dtype=torch.float64) * 2 + 1).float()
        grad = torch.randn(*shape, generator=gen)
        z1, z2 = z.clone().requires_grad_(), z.clone().requires_grad_()
        ours = batch_norm_act(norm, act, z1)
        theirs = act(twin(z2))
        assert torch.equal(ours.detach(), theirs.detach())
        ours.backward(grad.clone())
        theirs.backward(grad.clone())
        torch.testing.assert_close(z1.grad, z2.grad, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(norm.weight.grad, twin.weight.grad, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(norm.bias.grad, twin.bias.grad, rtol=1e-5, atol=1e-6)
        for name, buf in norm.named_buffers():
            assert torch.equal(buf, dict(twin.named_buffers())[name]), name
        for m in (norm, twin):
            m.zero_grad(set_to_none=True)


def test_batch_norm_act_backward_needs_less_memory_than_torchs():
    norm, twin = _pair(nn.ReLU())
    z = torch.randn(64, 6, 32, 32, requires_grad=True)  # 1.5 MiB maps
    map_bytes = z.numel() * 4

    def ours():
        batch_norm_act(norm, nn.ReLU(inplace=True), z).sum().backward()

    def theirs():
        nn.ReLU(inplace=True)(twin(z)).sum().backward()

    # torch: ReLU's and BatchNorm's input gradients and BatchNorm's work map are new maps;
    # ours writes both gradients into one (here a copy of the broadcast incoming gradient)
    assert _profiled_peak(ours) <= _profiled_peak(theirs) - map_bytes


def test_incoming_gradient_that_is_broadcast_is_copied_not_overwritten():
    norm, _ = _pair(nn.ReLU())
    z = torch.randn(4, 6, 3, 3, requires_grad=True)
    batch_norm_act(norm, nn.ReLU(inplace=True), z).sum().backward()  # grad: expanded ones
    assert torch.isfinite(z.grad).all()


@pytest.mark.parametrize("channels,size", [(256, 28), (512, 7), (512, 3), (128, 28)])
def test_avg_pool_equals_torchs_bit_for_bit(channels, size):
    pool, _ = decoder_pooling(channels, size, 1024)
    h = torch.randn(2, channels, size, size, requires_grad=True)
    out = avg_pool(pool, h)
    assert torch.equal(out, pool(h))
    grad = torch.randn_like(out)
    (ours,) = torch.autograd.grad(out, h, grad)
    (theirs,) = torch.autograd.grad(pool(h), h, grad)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("size", [28, 7, 3, 2])
def test_max_pool_2x2_equals_torchs(size):
    h = torch.randn(3, 5, size, size)
    h[0, 0, 0, 0] = float("nan")
    ours, theirs = max_pool_2x2(h), F.max_pool2d(h, 2, 2)
    assert ours.shape == theirs.shape
    assert torch.equal(ours.nan_to_num(7.0), theirs.nan_to_num(7.0))


def test_same_size_conv_equals_torchs():
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 8, 3, padding=1, bias=False).double()  # float64: rounding out of the way
    h = torch.randn(37, 8, 6, 6, dtype=torch.float64, requires_grad=True)  # slices 16, 16, 5
    grad = torch.randn(37, 8, 6, 6, dtype=torch.float64)
    out = same_size_conv(conv, h)
    torch.testing.assert_close(out, conv(h))
    ours = torch.autograd.grad(out, (h, conv.weight), grad.clone())
    theirs = torch.autograd.grad(conv(h), (h, conv.weight), grad.clone())
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("act", [nn.ReLU(inplace=True), nn.LeakyReLU(0.01, inplace=True)])
@pytest.mark.parametrize("kernel,stride", [(3, 1), (7, 2)])  # the blocks' convs; 7x7/2 over 64 px
def test_conv_batch_norm_act_equals_torchs(act, kernel, stride):
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 6, kernel, stride=stride, padding=kernel // 2).double()
    norm, twin = _pair(act)
    norm, twin = norm.double(), twin.double()
    x = torch.randn(37, 3, 10, 10, dtype=torch.float64)  # slices 16, 16, 5
    grad = torch.randn_like(conv(x))
    ours_x, theirs_x = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = conv_batch_norm_act(conv, norm, act, ours_x)
    ours_grads = torch.autograd.grad(ours, (ours_x, conv.weight, conv.bias, norm.weight, norm.bias), grad.clone())
    theirs = act(twin(conv(theirs_x)))
    theirs_grads = torch.autograd.grad(theirs, (theirs_x, conv.weight, conv.bias, twin.weight, twin.bias),
                                       grad.clone())
    torch.testing.assert_close(ours, theirs)
    for name, buf in norm.named_buffers():
        torch.testing.assert_close(buf, dict(twin.named_buffers())[name], msg=name)
    for name, a, b in zip(("x", "conv.weight", "conv.bias", "norm.weight", "norm.bias"), ours_grads,
                          theirs_grads, strict=True):
        torch.testing.assert_close(a, b, msg=name)


def test_conv_batch_norm_act_keeps_the_input_not_the_conv_output():
    conv, (norm, _) = nn.Conv2d(4, 8, 3, padding=1), _pair(nn.ReLU(), channels=8)
    x = torch.randn(5, 4, 6, 6)
    saved = []

    def pack(t):
        saved.append((tuple(t.shape), t.dtype))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        conv_batch_norm_act(conv, norm, nn.ReLU(inplace=True), x)
    assert ((5, 4, 6, 6), torch.float32) in saved  # x
    assert ((5, 8, 6, 6), torch.bool) in saved  # the mask
    assert ((5, 8, 6, 6), torch.float32) not in saved  # no z, no h


def test_consumed_channel_std_gradient_equals_the_kept_ones():
    x = torch.randn(6, 5, 4, 4, dtype=torch.float64)
    target = torch.randn(6, 6, dtype=torch.float64)
    grads = []
    for consume in (False, True):
        leaf = x.clone().requires_grad_()
        feats = leaf * 1.0  # a fresh map, as the sim head's conv output
        F.mse_loss(similarity_matrix(feats, consume=consume), target).backward()
        grads.append(leaf.grad)
    assert torch.equal(*grads)


@pytest.mark.parametrize("rule", [(True, False, False, 0.0), (True, True, False, 0.99),
                                  (True, True, True, 0.01)])
def test_a_local_block_gives_torchs_gradients(rule):
    """A block under a local rule (lean ops) against its twin run through torch's own modules."""
    pred, sim, bpf, beta = rule
    loss_cfg = LocalLossConfig(16, 12, 10, pred, sim, bpf, beta, dim_in_decoder=64, lean=True)
    cfg = BlockConfig(4, 16, 12, max_pool=True, nonlin="leakyrelu" if sim else "relu", loss=loss_cfg)
    torch.manual_seed(0)
    lean = Block(cfg)
    for p in lean.local_loss.parameters():  # the zero-initialised decoder would pass no error
        nn.init.normal_(p, std=0.1)
    plain = copy.deepcopy(lean)
    plain.local_loss = None  # no head: forward through torch's modules
    x = torch.randn(32, 4, 12, 12)
    y = torch.arange(32) % 10
    h_lean, h_plain = lean(x), plain(x)
    assert torch.equal(h_lean, h_plain)
    for name, buf in lean.norm.named_buffers():
        assert torch.equal(buf, dict(plain.norm.named_buffers())[name]), name
    lean.local_loss(h_lean, y).loss.backward()
    lean.local_loss(h_plain, y).loss.backward()
    # layer.bias, before a BatchNorm, has a gradient of 0 up to rounding noise either way
    for name in ("layer.weight", "norm.weight", "norm.bias"):
        torch.testing.assert_close(lean.get_parameter(name).grad, plain.get_parameter(name).grad,
                                   rtol=1e-4, atol=1e-6, msg=name)
    assert torch.equal(lean.pass_on(h_lean.detach()), F.max_pool2d(h_plain.detach(), 2, 2))


@pytest.mark.parametrize("rule", [(True, False, False, 0.0), (True, True, False, 0.99),
                                  (True, True, True, 0.01)])
def test_without_lean_a_local_block_is_torchs_bit_for_bit(rule):
    """model.lean=false (the default, the recorded runs'): torch's own ops, the same gradients exactly."""
    pred, sim, bpf, beta = rule
    cfg = BlockConfig(4, 16, 12, max_pool=True, nonlin="leakyrelu" if sim else "relu",
                      loss=LocalLossConfig(16, 12, 10, pred, sim, bpf, beta, dim_in_decoder=64))
    torch.manual_seed(0)
    block = Block(cfg)
    for p in block.local_loss.parameters():
        nn.init.normal_(p, std=0.1)
    twin = copy.deepcopy(block)
    x, y = torch.randn(32, 4, 12, 12), torch.arange(32) % 10
    block.local_loss(block(x), y).loss.backward()
    h = twin.act(twin.norm(twin.layer(x)))  # torch's modules, the head's ops by hand
    head = twin.local_loss
    pooled = head.pool(h)
    loss = 0.0
    if pred:
        logits = head.decoder(pooled.flatten(1))
        loss = (1 - beta) * (F.binary_cross_entropy_with_logits(logits, (head.target_proj > 0).float()[y]) if bpf
                             else F.cross_entropy(logits, y))
    if sim:
        feats, target = (head.pool(h), head.target_proj[y]) if bpf else (head.sim_net(h), F.one_hot(y, 10).float())
        loss = loss + beta * F.mse_loss(similarity_matrix(feats), similarity_matrix(target))
    loss.backward()
    for name, param in block.named_parameters():
        assert torch.equal(param.grad, twin.get_parameter(name).grad), name


@pytest.mark.parametrize("rule", ["pred", "predsim", "predsim-bpf"])
def test_a_lean_network_trains_as_torchs(rule):
    """model.lean=true through whole training steps of a narrow vgg8b (every lean op, the
    recomputed conv output under predsim): the weights follow torch's ops' up to float rounding."""
    from paperlab.papers.local_loss.networks import LocalNet, NetConfig
    from paperlab.papers.local_loss.training import build_optimizers, train_step

    nets = []
    for lean in (False, True):
        torch.manual_seed(0)
        nets.append(LocalNet(NetConfig(rule=rule, feat_mult=1 / 16, num_hidden=32, dim_in_decoder=64,
                                       lean=lean)).double())
    gen = torch.Generator().manual_seed(1)
    batches = [(torch.randn(20, 1, 28, 28, generator=gen, dtype=torch.float64), torch.randint(0, 10, (20,), generator=gen))
               for _ in range(3)]
    for net in nets:
        optimizers = build_optimizers(net, lambda params: torch.optim.SGD(params, lr=0.1))
        for batch in batches:
            train_step(net, batch, optimizers)
    plain, lean = (dict(net.named_parameters()) for net in nets)
    for name, param in plain.items():
        torch.testing.assert_close(lean[name], param, msg=name)
