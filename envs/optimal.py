"""The optimal values of every ZeroOut rule, in closed form: ``V*`` per board and ``Q*`` per board and pick.

Under every rule the board's future is fixed by one count ``n``, the productive picks left: the nonzero
entries (``zero``, ``in_order``, ``fewest_steps``) or their sum (``countdown``). An optimal policy makes a
productive pick at every step, so it finishes in ``n`` steps, each paying ``r`` (+1, or -1 under
``fewest_steps``), and

    V*(n) = r * (1 + gamma + ... + gamma**(n - 1)) = r * (1 - gamma**n) / (1 - gamma)

(``r * n`` at ``gamma = 1``). A productive pick leads to ``n - 1``; a wasted one (a zero entry, or under
``in_order`` any entry but the leftmost nonzero one) pays -1 and leaves the board as it was:

    Q*(s, productive) = r + gamma * V*(n - 1)        Q*(s, wasted) = -1 + gamma * V*(n)

This is the optimum of the task itself, without the env's step limit, which truncates an episode only
where it has wasted many picks (the limit is not part of the observation, so no agent can see it either).
The functions take boards as tensors on any device, batched along their first dimensions.
"""

from __future__ import annotations

import torch

REWARD = {"zero": 1.0, "countdown": 1.0, "in_order": 1.0, "fewest_steps": -1.0}
"""What a productive pick pays, by rule."""


def picks_left(boards: torch.Tensor, rule: str) -> torch.Tensor:
    """The productive picks an optimal policy still makes: ``(...,)`` for boards ``(..., size)``."""
    if rule not in REWARD:
        raise ValueError(f"unknown rule {rule!r}; valid: {', '.join(REWARD)}")
    if rule == "countdown":
        return boards.long().sum(dim=-1)
    return (boards != 0).long().sum(dim=-1)


def discounted_count(n: torch.Tensor, gamma: float) -> torch.Tensor:
    """``1 + gamma + ... + gamma**(n - 1)`` for counts ``n`` (0 for ``n = 0``), in float64."""
    if not 0 <= gamma <= 1:
        raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
    n = n.double()
    if gamma == 1:
        return n
    return (1 - gamma**n) / (1 - gamma)


def optimal_value(boards: torch.Tensor, gamma: float, rule: str) -> torch.Tensor:
    """``V*`` of each board, ``(...,)`` float64 for boards ``(..., size)``."""
    n = picks_left(boards, rule)
    return REWARD[rule] * discounted_count(n, gamma)


def productive_picks(boards: torch.Tensor, rule: str) -> torch.Tensor:
    """Which picks are productive, ``(..., size)`` bool: a nonzero entry (the leftmost one only under
    ``in_order``), as the env's ``action_mask`` marks them."""
    nonzero = boards != 0
    if rule != "in_order":
        return nonzero
    return nonzero & (nonzero.long().cumsum(dim=-1) == 1)


def optimal_q(boards: torch.Tensor, gamma: float, rule: str) -> torch.Tensor:
    """``Q*`` of every pick of each board, ``(..., size)`` float64 for boards ``(..., size)``. An all-zero
    board has ended: its values are 0."""
    n = picks_left(boards, rule)
    reward = REWARD[rule]
    productive = reward + gamma * reward * discounted_count((n - 1).clamp(min=0), gamma)
    wasted = -1.0 + gamma * reward * discounted_count(n, gamma)
    q = torch.where(productive_picks(boards, rule), productive.unsqueeze(-1), wasted.unsqueeze(-1))
    return torch.where((n > 0).unsqueeze(-1), q, torch.zeros_like(q))
