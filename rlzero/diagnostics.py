"""How far an agent's beliefs are from the truth on ZeroOut, whose optimal values have closed forms.

On a fixed set of held-out boards (start states drawn with :data:`DIAGNOSTIC_SEED`, never a training or
evaluation seed), each member's outputs are compared with ``Q*`` and ``V*`` of :mod:`rlzero.envs.optimal`
at the member's own discount. The agent learns from observations and rewards only; these figures are
computed outside it, at evaluation time (so their cost is not training time):

* a Q-learner (``q_values``): ``q_error`` (mean |Q - Q*| over every pick), ``q_error_greedy`` (over the
  greedy picks) and ``overestimation`` (mean ``Q(s, argmax Q) - Q*(s, argmax Q)``: positive where the max
  over noisy estimates inflates the values, the bias double-Q is meant to remove);
* a policy-gradient agent (``policy_probabilities``): ``optimal_pick`` (the probability its policy gives to
  a productive pick, 1 for an optimal policy) and, with a learned baseline (``state_values``),
  ``value_error`` (mean |V - V*|, which tends to 0 only once the policy is optimal, as V* is the optimal
  policy's value).
"""

from __future__ import annotations

from typing import Any, cast

import gymnasium as gym
import torch

from rlzero.envs import VECTOR_ENTRY_POINT, ZeroOutVectorEnv
from rlzero.envs.optimal import optimal_q, optimal_value, productive_picks

DIAGNOSTIC_SEED = 2_000_000
"""Seed of the held-out boards: far from the training seeds and the evaluation seeds (1,000,000 + i)."""
BOARDS = 1024
"""Held-out boards per diagnosis."""


def held_out(env_id: str, env_kwargs: dict[str, Any] | None = None) -> tuple[torch.Tensor, str] | None:
    """The held-out boards (none all zero) and the rule of a ZeroOut env; None for any other env."""
    if gym.spec(env_id).vector_entry_point != VECTOR_ENTRY_POINT:
        return None
    envs = gym.make_vec(env_id, BOARDS, vectorization_mode="vector_entry_point", **dict(env_kwargs or {}))
    boards, _ = envs.reset(seed=DIAGNOSTIC_SEED)
    rule = cast(ZeroOutVectorEnv, envs.unwrapped).rule
    envs.close()
    return boards[boards.any(dim=1)], rule


def diagnose(agent: Any, env_id: str, env_kwargs: dict[str, Any] | None = None) -> list[dict[str, float]]:
    """Per member of ``agent``, the figures of the module docstring (tagged ``diagnostics/...``); empty
    dicts where the env is not a ZeroOut env or the agent exposes none of the outputs."""
    members = getattr(agent, "n_members", 1)
    found = held_out(env_id, env_kwargs)
    has_outputs = any(hasattr(agent, name) for name in ("q_values", "policy_probabilities"))
    if found is None or not has_outputs:
        return [{} for _ in range(members)]
    boards, rule = found
    boards = boards.to(agent.device)
    obs = boards.unsqueeze(0).expand(members, *boards.shape)
    if hasattr(agent, "normalize"):  # as the networks see them (normalize_obs)
        obs = agent.normalize(obs)
    gammas = agent.hparam("gamma").tolist()
    figures: list[dict[str, float]] = [{} for _ in range(members)]
    with torch.no_grad():
        if hasattr(agent, "q_values"):
            q = agent.q_values(obs).double()
            truth = torch.stack([optimal_q(boards, gamma, rule) for gamma in gammas])
            greedy = q.argmax(dim=2, keepdim=True)
            error = q.gather(2, greedy) - truth.gather(2, greedy)
            for m, row in enumerate(figures):
                row["diagnostics/q_error"] = float((q[m] - truth[m]).abs().mean())
                row["diagnostics/q_error_greedy"] = float(error[m].abs().mean())
                row["diagnostics/overestimation"] = float(error[m].mean())
        if hasattr(agent, "policy_probabilities"):
            optimal = (agent.policy_probabilities(obs) * productive_picks(boards, rule)).sum(dim=2)
            for m, row in enumerate(figures):
                row["diagnostics/optimal_pick"] = float(optimal[m].mean())
            values = agent.state_values(obs) if hasattr(agent, "state_values") else None
            if values is not None:
                truth_v = torch.stack([optimal_value(boards, gamma, rule) for gamma in gammas])
                for m, row in enumerate(figures):
                    row["diagnostics/value_error"] = float((values[m].double() - truth_v[m]).abs().mean())
    return figures
