"""K copies of one model trained as one: beyond Locatello et al. (ICML 2019), whose study trains
every (method, hyperparameter) with 50 random seeds (Sec. 4), one model per job.

`Stacked` holds the parameters of K modules stacked on a leading axis
(torch.func.stack_module_state) and runs the forward pass of all K at once with
torch.func.vmap over functional_call (convolutions become grouped convolutions). Inputs and
outputs carry the model axis first. Since the K losses are independent, backward on their sum
gives each slice of a stacked parameter its own model's gradient, and Adam, being element-wise,
then updates each copy exactly as K separate Adams would: the methods' losses (methods.py) and
FactorVAE's step (learner.factor_vae_step) need no change. `paperlab train` trains one model per
run; Stacked is what benchmarks/disentanglement.py times against K separate models.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from paperlab.errors import UserError


@dataclass
class StackedConfig:
    # copy k is the module that `torch.manual_seed(seeds[k]); build()` gives (sweep.py: the
    # study's model.random_seed runs over 0..49)
    seeds: tuple[int, ...] = (0, 1, 2, 3)


def _key(name: str) -> str:
    return name.replace(".", ":")  # module and parameter names may not contain "."


class Stacked(nn.Module):
    """K seeds of one module, evaluated together; `template` is a parameterless copy (meta)."""

    Config = StackedConfig

    def __init__(self, cfg: StackedConfig, build: Callable[[], nn.Module]) -> None:
        super().__init__()
        if not cfg.seeds:
            raise UserError("no seeds to stack", "pass at least one seed")
        self.cfg = cfg
        copies = []
        for seed in cfg.seeds:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                copies.append(build())
        params, buffers = stack_module_state(copies)
        self.stacked = nn.ParameterDict({_key(n): nn.Parameter(p) for n, p in params.items()})
        for name, buffer in buffers.items():
            self.register_buffer(_key(name), buffer)
        self._buffer_names = list(buffers)
        # kept out of the module tree, so that it adds no parameters
        self.__dict__["template"] = copy.deepcopy(copies[0]).to("meta")

    @property
    def copies(self) -> int:
        return len(self.cfg.seeds)

    def _state(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        params = {n: self.stacked[_key(n)] for n, _ in self.template.named_parameters()}
        buffers = {n: getattr(self, _key(n)) for n in self._buffer_names}
        return params, buffers

    def forward(self, *args: Any) -> Any:
        """The template's forward on each copy: tensor arguments have the model axis first; None
        passes through (random draws inside differ between copies)."""
        def one(params: dict, buffers: dict, *inputs: Any) -> Any:
            return functional_call(self.template, (params, buffers), inputs)

        in_dims = (0, 0, *(None if a is None else 0 for a in args))
        return vmap(one, in_dims=in_dims, randomness="different")(*self._state(), *args)

    def unstack(self, k: int) -> nn.Module:
        """Copy k as an ordinary module (for evaluation, saving, figures)."""
        module = copy.deepcopy(self.template).to_empty(device=next(self.parameters()).device)
        params, buffers = self._state()
        module.load_state_dict({n: t[k].detach() for n, t in {**params, **buffers}.items()})
        return module
