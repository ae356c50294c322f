"""A whole new agent in one file, as the README's "Adding an agent" describes: a one-step Q-learner.

It regresses Q(s, a) on the immediate reward only (a contextual bandit: discount 0) from the latest
transitions, and acts epsilon-greedily. That is enough for ZeroOut-v0, where a right pick pays at once,
and not for ZeroOutFewestSteps-v0, where every pick pays -1. ``tests/test_registry.py`` registers it with
one line and trains it through the CLI.

Like every rlzero agent it is written for a group of members (``seed=[0, 1, 2]``; one seed is a group of
one): tensors are ``(members, num_envs, ...)``, networks and the optimizer hold one set of weights per
member, random draws come from ``self.streams`` (one stream per member), and each member's loss is
summed, so that each member's weights get their own gradient only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rlzero.agents.base import OnPolicyAgent, Scalars, check_positive
from rlzero.agents.networks import build_network
from rlzero.agents.optim import GroupAdam


@dataclass
class BanditConfig:
    num_envs: int = 256
    """boards stepped together; each iteration learns from their transitions"""
    learning_rate: float = 3e-3
    """Adam step size"""
    epsilon: float = 0.2
    """probability of a uniformly random action while training"""
    hidden_sizes: tuple[int, ...] = (64,)
    """widths of the hidden layers"""

    def __post_init__(self) -> None:
        check_positive(self, "num_envs", "learning_rate")


class Bandit(OnPolicyAgent):
    name = "bandit"
    config_class = BanditConfig

    def _setup(self) -> None:
        cfg = self.config
        self.q_net = build_network(
            "mlp", self.observation_space, self.n_actions, cfg.hidden_sizes, seeds=self.init_seeds(0)
        )
        self.q_net.to(self.device)
        self.optimizer = GroupAdam(self.q_net.parameters(), lr=self.hparam("learning_rate"))
        self.epsilon = self.hparam("epsilon").unsqueeze(1)

    @property
    def networks(self) -> dict[str, nn.Module]:
        return {"q_net": self.q_net}

    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        greedy = self.q_net(obs).argmax(dim=-1)
        if deterministic:
            return greedy
        n = obs.shape[1]
        explore = self.streams.uniform(n) < self.epsilon
        return torch.where(explore, self.streams.integers(self.n_actions, n), greedy)

    def _collect_rollout(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        obs = self.last_obs
        with torch.no_grad():
            actions = self._act(obs, deterministic=False)
        _, rewards, _, _, _ = self.step_env(actions)
        return obs, actions, rewards

    def _train(self, rollout: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> Scalars:
        obs, actions, rewards = rollout
        q = self.q_net(obs).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        loss = (q - rewards).square().mean(dim=-1)
        self.optimizer.zero_grad()
        loss.sum().backward()
        self.optimizer.step()
        self.gradient_samples += obs.shape[1]
        return {"losses/reward_loss": loss.detach()}
