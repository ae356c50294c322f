"""GroupAdam: every member is torch's Adam on its own slices, and a member that sits a step out is left
exactly as it was."""

from __future__ import annotations

import torch
from torch import nn

from rlzero.agents.optim import GroupAdam, clip_grad_norm


def grouped_quadratic(members: int) -> tuple[nn.Parameter, torch.Tensor]:
    """Parameters ``(members, 5)`` and one target per member: a loss whose gradient is each member's own."""
    generator = torch.Generator().manual_seed(0)
    param = nn.Parameter(torch.randn(members, 5, generator=generator))
    return param, torch.randn(members, 5, generator=generator)


def test_each_member_is_torch_adam_with_its_own_learning_rate() -> None:
    param, target = grouped_quadratic(2)
    lrs = (0.1, 0.01)
    singles = [nn.Parameter(param[m].detach().clone()) for m in range(2)]
    references = [torch.optim.Adam([single], lr=lr) for single, lr in zip(singles, lrs, strict=True)]
    group = GroupAdam([param], lr=torch.tensor(lrs))
    for _ in range(5):
        group.zero_grad()
        (param - target).square().sum().backward()
        group.step()
        for single, reference, row in zip(singles, references, target, strict=True):
            reference.zero_grad()
            (single - row).square().sum().backward()
            reference.step()
    for m in range(2):
        torch.testing.assert_close(param[m], singles[m], rtol=1e-6, atol=1e-7)


def test_a_member_that_sits_out_keeps_its_weights_moments_and_step_count() -> None:
    param, target = grouped_quadratic(2)
    group = GroupAdam([param], lr=torch.tensor([0.1, 0.1]))
    member0_alone, _ = grouped_quadratic(2)
    alone = GroupAdam([member0_alone], lr=torch.tensor([0.1, 0.1]))

    def step(optimizer: GroupAdam, p: nn.Parameter, active: torch.Tensor | None) -> None:
        optimizer.zero_grad()
        (p - target).square().sum().backward()
        optimizer.step(active)

    step(group, param, torch.tensor([True, True]))
    step(alone, member0_alone, None)
    frozen = param[1].detach().clone(), group.exp_avg[0][1].clone(), group.exp_avg_sq[0][1].clone()
    for _ in range(3):
        step(group, param, torch.tensor([True, False]))
        step(alone, member0_alone, None)
    assert group.steps.tolist() == [4.0, 1.0]
    assert torch.equal(param[0], member0_alone[0])  # the member that stepped: as if alone
    for now, then in zip((param[1], group.exp_avg[0][1], group.exp_avg_sq[0][1]), frozen, strict=True):
        assert torch.equal(now, then)
    # Its next step is its second: bias-corrected as a second step, not a fifth.
    fresh, _ = grouped_quadratic(2)
    two_steps = GroupAdam([fresh], lr=torch.tensor([0.1, 0.1]))
    for _ in range(2):
        step(two_steps, fresh, None)
    step(group, param, torch.tensor([False, True]))
    assert torch.equal(param[1], fresh[1])


def test_clipping_a_member_does_not_depend_on_its_group_size() -> None:
    # Ten gradients whose norm is past the threshold, as a group of one and as the first of three.
    generator = torch.Generator().manual_seed(0)
    shapes = [(64, 4), (64,), (64, 64), (64,), (2, 64), (2,)] * 2
    grouped = [torch.randn(3, *shape, generator=generator) for shape in shapes]
    alone = [g[:1].clone() for g in grouped]
    total = torch.cat([g[0].flatten() for g in grouped]).norm()
    norms = {}
    for name, grads in (("group", grouped), ("alone", alone)):
        params = [nn.Parameter(torch.zeros_like(g)) for g in grads]
        for param, grad in zip(params, grads, strict=True):
            param.grad = grad
        norms[name] = clip_grad_norm(params, torch.full((len(grads[0]),), 1.0))
    assert torch.equal(norms["alone"], norms["group"][:1])
    for single, member in zip(alone, grouped, strict=True):
        assert torch.equal(single, member[:1])
    torch.testing.assert_close(norms["alone"][0], total)
    torch.testing.assert_close(torch.cat([g.flatten() for g in alone]).norm(), torch.tensor(1.0))
