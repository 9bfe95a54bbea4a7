"""S(x) (paperlab.papers.local_loss.similarity) against hand computations and finite differences."""

import numpy as np
import torch

from paperlab.papers.local_loss.similarity import similarity_matrix


def test_flat_rows_hand_computed():
    # centred rows (-1, 0, 1), (1, 0, -1), (-1, 0, 1): cosines +-1
    x = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [0.0, 1.0, 2.0]])
    expected = torch.tensor([[1.0, -1.0, 1.0], [-1.0, 1.0, -1.0], [1.0, -1.0, 1.0]])
    torch.testing.assert_close(similarity_matrix(x), expected)


def test_conv_map_uses_channel_std_hand_computed():
    # 4 channels of 2 x 1 positions (0, k): unbiased std k / sqrt(2); sample 0 has k = 1..4,
    # sample 1 k = 4..1, so the centred std rows are opposite and S = [[1, -1], [-1, 1]]
    x = torch.zeros(2, 4, 2, 1)
    x[0, :, 1, 0] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    x[1, :, 1, 0] = torch.tensor([4.0, 3.0, 2.0, 1.0])
    torch.testing.assert_close(similarity_matrix(x), torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))
    # flattened instead, the rows (0,0,0,0,1,2,3,4) and (0,0,0,0,4,3,2,1) are far from opposite
    assert similarity_matrix(x, use_std=False)[0, 1] > 0


def _naive(rows: np.ndarray) -> np.ndarray:
    out = np.empty((len(rows), len(rows)))
    for i, a in enumerate(rows):
        for j, b in enumerate(rows):
            a_c, b_c = a - a.mean(), b - b.mean()
            out[i, j] = (a_c / (1e-8 + np.sqrt((a_c**2).sum()))) @ (
                b_c / (1e-8 + np.sqrt((b_c**2).sum()))
            )
    return out


def test_std_path_and_flat_paths_match_a_naive_loop():
    gen = torch.Generator().manual_seed(0)
    conv = torch.randn(5, 6, 3, 3, generator=gen, dtype=torch.float64)
    stds = conv.numpy().reshape(5, 6, 9).std(axis=2, ddof=1)
    np.testing.assert_allclose(similarity_matrix(conv).numpy(), _naive(stds), atol=1e-12)
    # 3 channels (e.g. an RGB input) or 1 x 1 maps: the flattened features
    for shape in [(5, 3, 4, 4), (5, 8, 1, 1)]:
        x = torch.randn(*shape, generator=gen, dtype=torch.float64)
        np.testing.assert_allclose(
            similarity_matrix(x).numpy(), _naive(x.reshape(5, -1).numpy()), atol=1e-12
        )


def test_gradient_matches_finite_differences():
    gen = torch.Generator().manual_seed(1)
    conv = torch.randn(4, 5, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    flat = torch.randn(4, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(similarity_matrix, (conv,))
    assert torch.autograd.gradcheck(similarity_matrix, (flat,))


def test_channel_std_gradient_equals_torchs():
    # the std over positions has a lean backward of its own; it must give torch's gradient,
    # also for a constant channel (std 0, gradient 0) and on channels_last maps
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(3, 5, 4, 4, generator=gen, dtype=torch.float64)
    x[1, 2] = 0.7
    g = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    for layout in (torch.contiguous_format, torch.channels_last):
        ours = x.clone().contiguous(memory_format=layout).requires_grad_()
        reference = x.clone().requires_grad_()
        (similarity_matrix(ours) * g).sum().backward()
        rows = reference.flatten(2).std(dim=2)
        centred = rows - rows.mean(dim=1, keepdim=True)
        unit = centred / (1e-8 + centred.pow(2).sum(dim=1, keepdim=True).sqrt())
        ((unit @ unit.t()).clamp(-1, 1) * g).sum().backward()
        torch.testing.assert_close(ours.grad, reference.grad, rtol=1e-12, atol=1e-12)
        assert torch.all(ours.grad[1, 2] == 0)
