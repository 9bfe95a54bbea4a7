"""The networks against the paper's parameter counts, and the local heads' geometry and losses."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from paperlab.papers.local_loss.local_losses import LocalLoss, LocalLossConfig, decoder_pooling
from paperlab.papers.local_loss.networks import LocalNet, NetConfig
from paperlab.papers.local_loss.similarity import similarity_matrix

# #Params of the tables in anokland/local-loss README.md (the paper's Tables 1-7), in millions
PUBLISHED = [
    ("vgg8b", 1, 28, 10, 1, 1024, 7.3),  # MNIST, Fashion-MNIST, Kuzushiji-MNIST
    ("vgg8b", 1, 28, 10, 2, 1024, 28.2),  # Fashion-MNIST, vgg8b (2x)
    ("mlp", 1, 28, 10, 1, 1024, 2.9),
    ("vgg8b", 3, 32, 10, 1, 1024, 8.9),  # CIFAR-10, SVHN
    ("vgg8b", 3, 32, 100, 1, 1024, 9.0),  # CIFAR-100
    ("vgg11b", 3, 32, 10, 1, 1024, 11.6),
    ("vgg11b", 3, 32, 10, 3, 1024, 91.3),
    ("mlp", 3, 32, 10, 1, 3000, 27.3),
    ("vgg8b", 3, 96, 10, 1, 1024, 11.5),  # STL-10: a 7 x 7 stride-2 first conv
]


@pytest.mark.parametrize(
    ("arch", "channels", "size", "classes", "mult", "hidden", "millions"), PUBLISHED
)
def test_parameter_counts_match_the_paper(arch, channels, size, classes, mult, hidden, millions):
    with torch.device("meta"):  # the shapes without the memory
        net = LocalNet(
            NetConfig(
                arch=arch,
                rule="backprop",
                in_channels=channels,
                image_size=size,
                num_classes=classes,
                feat_mult=mult,
                num_hidden=hidden,
            )
        )
    assert round(sum(p.numel() for p in net.parameters()) / 1e6, 1) == millions


def test_vgg8b_layout():
    net = LocalNet(NetConfig(arch="vgg8b", rule="predsim", dropout=0.1, dim_in_decoder=1024))
    convs = [
        (b.cfg.in_features, b.cfg.out_features, b.cfg.size, b.cfg.max_pool) for b in net.blocks[:6]
    ]
    assert convs == [
        (1, 128, 28, False),
        (128, 256, 28, True),
        (256, 256, 14, False),
        (256, 512, 14, True),
        (512, 512, 7, True),
        (512, 512, 3, True),
    ]
    fc = net.blocks[6]
    assert (fc.cfg.in_features, fc.cfg.out_features, fc.cfg.size) == (512, 1024, 0)
    assert isinstance(net.blocks[0].drop, nn.Dropout2d) and type(fc.drop) is nn.Dropout
    # every pred decoder's input fits dim_in_decoder; block 0: 128 x 28 x 28 pooled to 128 x 2 x 4
    assert net.blocks[0].local_loss.decoder.in_features == 1024
    assert all(b.local_loss.decoder.in_features <= 1024 for b in net.blocks)
    # zero-initialised decoders and output layer under a local rule, not under backprop
    assert all(b.local_loss.decoder.weight.abs().sum() == 0 for b in net.blocks)
    assert net.output.weight.abs().sum() == 0
    assert LocalNet(NetConfig(rule="backprop")).output.weight.abs().sum() > 0


def test_large_inputs_start_with_a_7x7_stride_2_conv():
    with torch.device("meta"):
        net = LocalNet(NetConfig(arch="vgg8b", rule="backprop", in_channels=3, image_size=96))
    first = net.blocks[0].layer
    assert (first.kernel_size, first.stride, first.padding) == ((7, 7), (2, 2), (3, 3))
    assert net.blocks[0].cfg.size == 48


@pytest.mark.parametrize("channels", [1, 4, 64])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 14, 28, 32, 48])
def test_decoder_pooling_gives_the_features_it_announces(channels, size):
    for limit in (64, 1024):
        pool, flat = decoder_pooling(channels, size, limit)
        x = torch.zeros(2, channels, size, size)
        out = x if pool is None else pool(x)
        assert out[0].numel() == flat
        if pool is not None:  # pooled only as far as needed, keeping ceil(size / kernel) cells
            kh, kw = pool.kernel_size
            assert out.shape[2:] == (math.ceil(size / kh), math.ceil(size / kw))
            assert flat <= limit or kh >= size


def test_predsim_head_is_the_weighted_sum_of_its_losses():
    torch.manual_seed(0)
    cfg = LocalLossConfig(
        channels=8,
        size=6,
        num_classes=5,
        pred=True,
        sim=True,
        bpf=False,
        beta=0.7,
        dim_in_decoder=32,
    )
    head = LocalLoss(cfg)
    nn.init.normal_(head.decoder.weight)
    h, y = torch.randn(10, 8, 6, 6), torch.randint(0, 5, (10,))
    out = head(h, y)
    # S of the learned 3x3 conv's output vs S of the one-hot labels
    s_h = similarity_matrix(F.conv2d(h, head.sim_net.weight, padding=1))
    s_y = similarity_matrix(F.one_hot(y, 5).float())
    sim = ((s_h - s_y) ** 2).mean()
    # cross-entropy of the linear decoder on the average-pooled h (8 x 6 x 6 -> 8 x 2 x 2 = 32)
    logits = head.decoder(F.avg_pool2d(h, 4, padding=2).flatten(1))
    pred = F.cross_entropy(logits, y)
    torch.testing.assert_close(out.sim, sim)
    torch.testing.assert_close(out.pred, pred)
    torch.testing.assert_close(out.loss, 0.3 * pred + 0.7 * sim)


def test_bpf_targets_are_a_fixed_random_projection_of_the_labels():
    torch.manual_seed(0)
    cfg = LocalLossConfig(
        channels=4,
        size=0,
        num_classes=3,
        pred=True,
        sim=True,
        bpf=True,
        beta=0.01,
        target_proj_size=6,
    )
    head = LocalLoss(cfg)
    h, y = torch.randn(7, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0])
    out = head(h, y)
    proj = F.one_hot(y, 3).float() @ head.target_proj  # P y
    torch.testing.assert_close(out.sim, F.mse_loss(similarity_matrix(h), similarity_matrix(proj)))
    logits = head.decoder(h)
    torch.testing.assert_close(
        out.pred, F.binary_cross_entropy_with_logits(logits, (proj > 0).float())
    )
    # local class scores: the class whose code 1[P e_c > 0] is likeliest under the logits
    codes = (head.target_proj > 0).float()
    loglik = torch.stack(
        [
            -F.binary_cross_entropy_with_logits(
                logits, codes[c].expand(7, -1), reduction="none"
            ).sum(1)
            for c in range(3)
        ],
        1,
    )
    assert torch.equal(out.scores.argmax(1), loglik.argmax(1))



def test_pooling_before_dropout_gives_the_references_output():
    # the reference drops out, then max-pools (train.py LocalLossBlockConv, then VGGn's 'M');
    # pass_on pools first: the same tensor from the same random draws
    net = LocalNet(NetConfig(arch="vgg8b", rule="predsim", feat_mult=1 / 16, dropout=0.3))
    block = net.blocks[1]
    assert block.cfg.max_pool
    h = torch.randn(6, block.cfg.out_features, 28, 28)
    torch.manual_seed(3)
    ours = block.pass_on(h)
    torch.manual_seed(3)
    reference = block.pool(block.drop(h))
    assert torch.equal(ours, reference)
    assert (ours == 0).any() and not torch.equal(ours, block.pool(h))  # dropout did act
