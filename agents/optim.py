"""Adam and gradient clipping for a group of members whose parameters share tensors.

Every parameter's leading dimension indexes the members (see :mod:`rlzero.agents.networks`). Adam is
elementwise, so one Adam over the stacked tensors is every member's own Adam, except for what is not
elementwise: each member has its own learning rate here, and clipping scales each member's gradient by
the norm of that member's slices alone (a norm over the whole group would couple the seeds).
"""

from __future__ import annotations

import typing
from collections.abc import Iterable

import torch
from torch import nn


def per_member(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``(members,)`` values shaped to broadcast against a ``(members, ...)`` tensor."""
    return values.view(-1, *([1] * (like.dim() - 1)))


class GroupAdam:
    """Adam (Kingma and Ba 2015; torch's update, without weight decay or amsgrad) with a learning rate
    per member: ``lr`` is a ``(members,)`` tensor on the parameters' device; assign a new one to schedule it.

    Parameters without a gradient (frozen ones) are skipped. Each member counts its own steps, so a
    member may sit a step out (``step(active)``) without its bias corrections moving on.
    """

    def __init__(
        self,
        params: Iterable[nn.Parameter],
        lr: torch.Tensor,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = torch.zeros(lr.shape, dtype=torch.float64, device=lr.device)
        """each member's step count, in float64 so that ``beta ** steps`` rounds as Python's does"""

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, active: torch.Tensor | None = None) -> None:
        """One Adam step of every member, or only of those where ``active`` (``(members,)`` bool) is
        True: the others' weights, moments and step counts stay exactly as they are."""
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        params = typing.cast(list[torch.Tensor], [self.params[i] for i in live])
        grads = typing.cast(list[torch.Tensor], [p.grad for p in params])
        exp_avg = [self.exp_avg[i] for i in live]
        exp_avg_sq = [self.exp_avg_sq[i] for i in live]
        state = [*params, *exp_avg, *exp_avg_sq]
        before = [] if active is None else [t.clone() for t in state]
        beta1, beta2 = self.betas
        self.steps += 1 if active is None else active
        torch._foreach_lerp_(exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sq, beta2)
        torch._foreach_addcmul_(exp_avg_sq, grads, grads, 1 - beta2)
        bias_correction1 = (1 - beta1**self.steps).float()
        bias_correction2_sqrt = (1 - beta2**self.steps).sqrt().float()
        denom = torch._foreach_sqrt(exp_avg_sq)
        torch._foreach_div_(denom, [per_member(bias_correction2_sqrt, p) for p in params])
        torch._foreach_add_(denom, self.eps)
        updates = torch._foreach_div(exp_avg, denom)
        step_size = self.lr / bias_correction1
        torch._foreach_mul_(updates, [per_member(step_size, p) for p in params])
        torch._foreach_sub_(params, updates)
        if active is not None:  # put back the members that sat this step out
            for now, then in zip(state, before, strict=True):
                now.copy_(torch.where(per_member(active, now), now, then))


@torch.no_grad()
def clip_grad_norm(params: Iterable[nn.Parameter], max_norm: torch.Tensor) -> torch.Tensor:
    """Scale each member's gradient so its norm (over that member's slices of every parameter) is at most
    its ``max_norm`` (``(members,)``; 0 leaves the member's gradient as it is), as
    ``nn.utils.clip_grad_norm_`` does for one network; return the norms before clipping."""
    grads = [p.grad for p in params if p.grad is not None]
    # One row per member, its parameters' sums side by side, reduced along the row: the same contiguous
    # reduction whatever the group size. (Summing a (parameters, members) stack over its first dimension
    # reduces column by column for several members but contiguously for one, and the two round
    # differently, so a member's clip, and then its run, would depend on its group's size.)
    squares = torch.stack([g.pow(2).flatten(1).sum(1) for g in grads], dim=1).sum(1)
    norms = squares.sqrt()
    scale = torch.where(max_norm > 0, (max_norm / (norms + 1e-6)).clamp(max=1.0), 1.0)
    torch._foreach_mul_(grads, [per_member(scale, g) for g in grads])
    return norms
