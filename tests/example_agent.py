"""A whole new agent in one file, as the README's "Adding an agent" describes: a one-step Q-learner.

It regresses Q(s, a) on the immediate reward only (a contextual bandit: discount 0) from the latest
transitions, and acts epsilon-greedily. That is enough for ZeroOut-v0, where a right pick pays at once,
and not for ZeroOutFewestSteps-v0, where every pick pays -1. ``tests/test_registry.py`` registers it with
one line and trains it through the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rlzero.agents.base import Agent, Scalars, check_positive
from rlzero.agents.networks import build_network


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


class Bandit(Agent):
    name = "bandit"
    config_class = BanditConfig
    default_timesteps = 100_000

    def _setup(self) -> None:
        cfg = self.config
        self.q_net = build_network("mlp", self.observation_space, self.n_actions, cfg.hidden_sizes)
        self.q_net.to(self.device)
        self.optimizer = torch.optim.Adam(self.q_net.parameters(), lr=cfg.learning_rate)

    @property
    def networks(self) -> dict[str, nn.Module]:
        return {"q_net": self.q_net}

    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        greedy = self.q_net(obs).argmax(dim=1)
        if deterministic:
            return greedy
        explore = torch.rand(obs.shape[0], device=self.device, generator=self.generator) < self.config.epsilon
        random = torch.randint(
            0, self.n_actions, (obs.shape[0],), device=self.device, generator=self.generator
        )
        return torch.where(explore, random, greedy)

    def _collect(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        obs = self.last_obs
        with torch.no_grad():
            actions = self._act(obs, deterministic=False)
        _, rewards, _, _, _ = self.step_env(actions)
        return obs, actions, rewards

    def _update(self, experience: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> Scalars:
        obs, actions, rewards = experience
        q = self.q_net(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
        loss = F.mse_loss(q, rewards)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.gradient_samples += obs.shape[0]
        return {"losses/reward_loss": loss.detach()}
