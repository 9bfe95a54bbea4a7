"""The training rules compared by Nøkland & Eidnes 2019: global backprop and the local losses of
Sec. 3 (pred, sim, predsim and their backprop-free "bpf" versions), by name.

A rule fixes which local losses each hidden block has and how they are weighted; the reference
code selects them with --backprop, --loss-sup {pred,sim,predsim}, --bio and --beta (train.py,
lines 47-85).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from paperlab.errors import UserError


@dataclass(frozen=True)
class Rule:
    name: str
    local: bool  # False: one global backward pass (train.py --backprop)
    pred: bool = False  # a cross-entropy head on each block (L_pred)
    sim: bool = False  # a similarity matching head on each block (L_sim)
    bpf: bool = False  # backprop-free heads (train.py --bio): FA decoder, random label projection
    beta: float = 0.0  # weight of L_sim in (1 - beta) L_pred + beta L_sim

    @property
    def output_scale(self) -> float:
        """The output layer's cross-entropy is scaled like L_pred when both losses are used
        (train.py:1531-1532), so the output layer learns at the pace of the hidden decoders."""
        return 1.0 - self.beta if self.pred and self.sim else 1.0


RULES: dict[str, Rule] = {
    "backprop": Rule("backprop", local=False),
    "pred": Rule("pred", local=True, pred=True),
    "sim": Rule("sim", local=True, sim=True, beta=1.0),
    "predsim": Rule(
        "predsim", local=True, pred=True, sim=True, beta=0.99
    ),  # train.py:49, --beta 0.99
    "pred-bpf": Rule("pred-bpf", local=True, pred=True, bpf=True),
    "sim-bpf": Rule("sim-bpf", local=True, sim=True, bpf=True, beta=1.0),
    # run_experiments.sh:75, --bio --beta 0.01
    "predsim-bpf": Rule("predsim-bpf", local=True, pred=True, sim=True, bpf=True, beta=0.01),
}


def get_rule(name: str, beta: float | None = None) -> Rule:
    """The rule called `name`; `beta` (in [0, 1]) overrides the weight of the two-loss rules."""
    if name not in RULES:
        raise UserError(
            f"unknown training rule '{name}'",
            f"choose one of: {', '.join(RULES)} (local_loss.rule=<name>)",
        )
    rule = RULES[name]
    if beta is None:
        return rule
    if not 0.0 <= beta <= 1.0:
        raise UserError(
            f"beta={beta} is outside [0, 1]", "set local_loss.beta to a weight between 0 and 1"
        )
    if not (rule.pred and rule.sim):
        raise UserError(
            f"beta weights pred against sim, but rule '{name}' has only one of them",
            "leave local_loss.beta unset, or use rule predsim or predsim-bpf",
        )
    return replace(rule, beta=beta)
