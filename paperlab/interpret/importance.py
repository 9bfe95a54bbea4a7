"""Neuron importance (Selvaraju et al. 2018, "Choose Your Neuron", Sec. 3.1, Eq. 1).

The importance of neuron (feature map) n of layer L for class c on image x is the Grad-CAM weight

    a_{c,n}(x) = 1/Z sum_ij d y_c(x) / d A^n_ij(x),

y_c the class score (logit). NIWT averages it over the images of a seen class (Sec. 3.2), and for a
new class c with classifier row w_c on the penultimate features h(x) it needs a_c as a function of
w_c (Sec. 3.3). Since y_c = w_c . h(x) + b_c,

    a_c(x) = J(x)^T w_c,   J(x)_{j,n} = 1/Z sum_ij d h_j(x) / d A^n_ij(x),

exactly: the importance is linear in the new weights. `importance_jacobian` computes J once per
image (one vector-Jacobian product per penultimate unit, through the layers above L only), after
which optimising unseen-class weights needs no further pass through the CNN.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from paperlab.interpret.gradcam import GradCAM


def final_linear(model: nn.Module) -> tuple[str, nn.Linear]:
    """The classifier layer: the last nn.Linear of the model (its rows are the class weights)."""
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not found:
        raise ValueError(f"{type(model).__name__} has no nn.Linear classifier layer")
    return found[-1]


def neuron_importances(model: nn.Module, layer: str | nn.Module,
                       batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """(N, K) importances a_{y,n}(x) of each image's target class y, over (images, targets) batches."""
    out = []
    with GradCAM(model, layer) as cam:
        for x, y in batches:
            _, grad, _, _ = cam.activations_and_gradients(x, y)
            out.append(grad.mean(dim=(2, 3)))
    return torch.cat(out)


@contextmanager
def captured_input(module: nn.Module) -> Iterator[dict[str, torch.Tensor]]:
    """Keep the input of `module` in the yielded dict ("x") for each forward pass; unhooked on exit."""
    store: dict[str, torch.Tensor] = {}
    handle = module.register_forward_hook(lambda m, inputs, output: store.__setitem__("x", inputs[0]))
    try:
        yield store
    finally:
        handle.remove()


def importance_jacobian(model: nn.Module, layer: str | nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(B, D, K): J(x) with a_c(x) = J(x)^T w_c for any classifier row w_c on the D penultimate
    features (the input of the model's last nn.Linear) and the K maps of `layer`."""
    _, head = final_linear(model)
    with GradCAM(model, layer) as cam, captured_input(head) as feats, torch.enable_grad():
        model(x)
        activation, h = cam.activation, feats["x"]
        jac = torch.empty(h.shape[0], h.shape[1], activation.shape[1], device=x.device)
        for j in range(h.shape[1]):
            (grad,) = torch.autograd.grad(h[:, j].sum(), activation, retain_graph=True)
            jac[:, j] = grad.mean(dim=(2, 3))
    return jac
