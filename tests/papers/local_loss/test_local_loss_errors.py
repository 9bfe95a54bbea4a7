"""Bad input is one UserError line that names the problem and the fix."""

import pytest
import torch

from paperlab.errors import UserError
from paperlab.papers.local_loss.networks import LocalNet, NetConfig
from paperlab.papers.local_loss.rules import get_rule
from paperlab.papers.local_loss.training import build_optimizers, train_step

ADAM = torch.optim.Adam  # build_optimizers' factory: Adam with torch's defaults


def _one_line(excinfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text
    return text


def test_unknown_rule_lists_the_rules():
    with pytest.raises(UserError) as e:
        LocalNet(NetConfig(rule="predsimm"))
    text = _one_line(e)
    assert "predsimm" in text
    assert "backprop, pred, sim, predsim, pred-bpf, sim-bpf, predsim-bpf" in text


def test_unknown_network_lists_the_networks():
    with pytest.raises(UserError) as e:
        LocalNet(NetConfig(arch="vgg16"))
    assert "vgg8b, vgg11b, mlp" in _one_line(e)


@pytest.mark.parametrize("beta", [-0.1, 1.5, float("nan")])
def test_beta_outside_the_unit_interval(beta):
    with pytest.raises(UserError, match=r"outside \[0, 1\]") as e:
        get_rule("predsim", beta)
    _one_line(e)


def test_beta_for_a_single_loss_rule():
    with pytest.raises(UserError, match="only one of them"):
        get_rule("sim", 0.5)
    assert get_rule("predsim", 0.5).beta == 0.5 and get_rule("predsim").beta == 0.99


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("nonlin", "tanh", "relu, leakyrelu"),
        ("dropout", 1.0, "dropout"),
        ("feat_mult", 0.0, "feat_mult"),
        ("feat_mult", 1e-3, "no channels"),
        ("image_size", 8, "too small"),
    ],
)
def test_bad_network_settings(field, value, match):
    with pytest.raises(UserError, match=match) as e:
        LocalNet(NetConfig(**({"arch": "vgg8b", "feat_mult": 1 / 16} | {field: value})))
    _one_line(e)


def _tiny():
    net = LocalNet(NetConfig(arch="mlp", rule="predsim", image_size=4, num_classes=3, num_hidden=8))
    return net, build_optimizers(net, ADAM)


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        (torch.zeros(4, 3, 4, 4), torch.zeros(4, dtype=torch.long), "expects"),
        (torch.zeros(4, 16), torch.zeros(4, dtype=torch.long), "expects"),
        (torch.zeros(4, 1, 4, 4), torch.zeros(4), "labels"),
        (torch.zeros(4, 1, 4, 4), torch.tensor([0, 1, 2, 3]), "outside"),
        (torch.full((4, 1, 4, 4), float("nan")), torch.zeros(4, dtype=torch.long), "NaN"),
        (torch.zeros(1, 1, 4, 4), torch.zeros(1, dtype=torch.long), "batch of 1"),
    ],
)
def test_bad_batches(x, y, match):
    net, optimizers = _tiny()
    with pytest.raises(UserError, match=match) as e:
        train_step(net, (x, y), optimizers)
    _one_line(e)


def test_optimisers_of_another_rule():
    net, _ = _tiny()
    other = LocalNet(
        NetConfig(arch="mlp", rule="backprop", image_size=4, num_classes=3, num_hidden=8)
    )
    with pytest.raises(UserError, match="build_optimizers"):
        train_step(
            net,
            (torch.zeros(4, 1, 4, 4), torch.zeros(4, dtype=torch.long)),
            build_optimizers(other, ADAM),
        )
