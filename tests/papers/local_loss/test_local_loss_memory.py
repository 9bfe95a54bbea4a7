"""Peak step memory (CPU: torch.profiler's allocation trace): a local step holds one block at a
time, a global step every block."""

import pytest
import torch

from paperlab.papers.local_loss.memory import _profiled_peak, step_peak_memory
from paperlab.papers.local_loss.networks import LocalNet, NetConfig
from paperlab.papers.local_loss.training import build_optimizers

ADAM = torch.optim.Adam  # build_optimizers' factory: Adam with torch's defaults

MB = 2**20


def test_profiled_peak_is_the_largest_simultaneous_allocation():
    def work():
        a, b = torch.empty(MB // 4), torch.empty(MB // 4)  # 1 MiB each, both alive
        del a, b
        c = torch.empty(3 * MB // 4)  # 3 MiB alone
        del c

    assert _profiled_peak(work) == 3 * MB


@pytest.fixture(scope="module")
def peaks() -> dict[tuple[str, int], int]:
    """Peak step memory of a 2- and a 6-layer MLP (128 units, batch 128) under three rules."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: thread hand-offs cost more than they save
    out = {}
    for rule in ("backprop", "predsim", "predsim-bpf"):
        for depth in (2, 6):
            torch.manual_seed(0)
            net = LocalNet(
                NetConfig(arch="mlp", rule=rule, fc_layers=depth, image_size=8, num_hidden=128)
            )
            batch = (torch.randn(128, 1, 8, 8), torch.arange(128) % 10)
            out[rule, depth] = step_peak_memory(
                net, batch, build_optimizers(net, ADAM)
            ).bytes
    torch.set_num_threads(before)
    return out


@pytest.mark.parametrize("rule", ["predsim", "predsim-bpf"])
def test_local_peak_does_not_grow_with_depth_global_does(peaks, rule):
    activation = 128 * 128 * 4  # one hidden layer's batch of activations
    assert peaks[rule, 6] == pytest.approx(peaks[rule, 2], rel=0.01)
    assert peaks["backprop", 6] - peaks["backprop", 2] >= 4 * activation
