"""REINFORCE (Williams 1992) with a learned baseline, on a batched env on one device.

Read top to bottom it is the algorithm as taught: play one episode in every env with the current
stochastic policy, compute each step's discounted reward-to-go G_t, and take one gradient step on
``-log pi(a_t | s_t) * A_t`` (A_t = G_t - V(s_t), normalized per batch) minus an entropy bonus, while
V regresses on G_t. Gradients are clipped per network; the learning rate decays linearly to 0.

Which steps count (masking): every rollout resets all ``num_envs`` envs and tracks the *first*
episode of each. The batched env cannot pause a board, so boards whose episode has ended keep
stepping (SAME_STEP autoreset starts them on new episodes); those steps are masked out of the loss
(:func:`first_episode_mask`) and the rollout stops as soon as every tracked episode has ended. Which
episodes count is decided when they start, never by how they turn out: the usual alternative, a
fixed horizon with the episodes still running at its end dropped, keeps only the episodes short
enough to finish, a sample biased by return (short is good on ZeroOut, bad on CartPole). The masked
steps are still counted as env steps; on ZeroOut-v0, once solved, about 80% of the steps count.

Termination vs truncation: a terminated episode's return ends with it. A truncated one (the env's
time limit, or the rollout cap ``max_rollout_steps``) goes on in the state its last action led to
(``info["final_obs"]``), so gamma * V(s') is added to its last reward (:func:`first_episode_returns`):
the time limit is not part of the task's state. On ZeroOut-v0 the cap (12) binds only while the
policy is poor (an optimal episode takes at most 10 steps); once it is good, every return is a plain
Monte Carlo return, with no bootstrapping left.

Baseline: a learned state-value network ``value`` (the policy's architecture and output shape, its
outputs summed to V(s), so whatever network fits the policy fits it too). Why not a batch statistic:
the mean return cannot tell a board with nine nonzero entries left from one with one left, so on
ZeroOut most of the "advantage" would be the board's luck rather than the action's merit; and only a
value lets a rollout stop at a cap and bootstrap. Measured (5 seeds, 1024 boards): with whole
episodes (cap 100, the env's limit), neither the time-indexed batch mean nor V solved ZeroOut-v0
within 600k env steps, since a random policy's rollouts run ~100 steps; with V and a cap of 12,
every seed solves in 110k-210k. V is evaluated only in the update, never while acting.

Tuned settings (figures in the project's benchmarks):

* ZeroOut-v0: the defaults, ``python -m rlzero.train --agent reinforce`` (1M env steps).
* CartPole-v1: whole episodes (cap 500) from 16 envs, a wider MLP and no entropy bonus reach a
  mean return >= 475 within 500k env steps (measured: 498.5-500 at the end on seeds 0-4, and >= 489
  from 300k on): ``python -m rlzero.train --agent reinforce --env CartPole-v1 --total-timesteps 500000
  --set num_envs=16 learning_rate=0.003 hidden_sizes=64,64 max_rollout_steps=500 ent_coef=0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from rlzero.agents.base import Agent, Scalars, check_positive, check_unit_interval
from rlzero.agents.networks import build_network
from rlzero.agents.schedules import linear_schedule, set_learning_rate


@dataclass
class ReinforceConfig:
    num_envs: int = 1024
    """boards (or env copies) stepped together; each rollout plays one episode in each, and the
    episodes of a rollout make one batch (one gradient step)"""
    learning_rate: float = 0.03
    """Adam step size (policy and value network)"""
    gamma: float = 0.99
    """discount factor"""
    ent_coef: float = 0.001
    """weight of the entropy bonus in the policy loss"""
    max_grad_norm: float = 0.5
    """gradient-norm clipping threshold, applied to each network separately"""
    normalize_advantage: bool = True
    """scale the advantages of each batch to zero mean and unit standard deviation"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over the ``learn`` call"""
    max_rollout_steps: int = 12
    """cap on a rollout's length: episodes still running there are truncated and bootstrapped from V
    (12 suits ZeroOut-v0, whose optimal episodes take at most 10 steps; the env's own time limit, e.g.
    500 on CartPole-v1, gives whole episodes only)"""
    hidden_sizes: tuple[int, ...] = (32,)
    """widths of the hidden layers (policy and value network alike)"""
    net_arch: str = "mlp"
    """network architecture (see rlzero.agents.networks)"""

    def __post_init__(self) -> None:
        check_positive(self, "num_envs", "learning_rate", "max_grad_norm", "max_rollout_steps")
        check_unit_interval(self, "gamma")
        if self.ent_coef < 0:
            raise ValueError(f"ent_coef must be >= 0, got {self.ent_coef!r}")


class Rollout(NamedTuple):
    """One episode per env, stacked along time: ``(T, num_envs, ...)``."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor
    truncated: torch.Tensor
    final_obs: torch.Tensor
    """``(num_envs, obs_dim)``: the state each tracked episode's last action led to"""


def first_episode_mask(dones: torch.Tensor) -> torch.Tensor:
    """``(T, N)`` bool: True for the steps of each column's first episode, up to and including its end.

    ``dones[t, i]`` marks that env ``i``'s episode ended at step ``t`` (terminated or truncated).
    """
    ended_before = dones.long().cumsum(0) - dones.long()
    return ended_before == 0


def reward_to_go(rewards: torch.Tensor, dones: torch.Tensor, gamma: float) -> torch.Tensor:
    """Discounted reward-to-go ``G_t = r_t + gamma * G_{t+1}`` per column of ``(T, N)`` rewards.

    The sum restarts after every step where ``dones`` is True, so a return never crosses into the
    next episode; an episode still running at the last row is summed up to that row only (partial:
    mask it out, or fold a bootstrap value into its last reward).
    """
    continues = (~dones).to(rewards.dtype) * gamma
    returns = torch.empty_like(rewards)
    future = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        future = torch.addcmul(rewards[t], continues[t], future)
        returns[t] = future
    return returns


def first_episode_returns(
    rewards: torch.Tensor,
    dones: torch.Tensor,
    truncated: torch.Tensor,
    next_values: torch.Tensor,
    gamma: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reward-to-go of each column's first episode, and the mask of its steps.

    ``rewards``, ``dones``, ``truncated`` are ``(T, N)``; ``next_values`` is ``(N,)``: the value of
    the state each column's first episode ended in. A truncated episode goes on in that state, so
    ``gamma * next_values`` joins its last reward; a terminated one ends where it ends.
    """
    mask = first_episode_mask(dones)
    bootstrap = (truncated & mask) * (gamma * next_values)
    return reward_to_go(rewards + bootstrap, dones, gamma), mask


LOGIT_LIMIT = 60.0
"""Logits are clamped to +-LOGIT_LIMIT, so exp stays finite in float32 without subtracting each
row's max; past a gap of 120 the smaller probability is below 1e-52 anyway."""


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Log-probabilities of the categorical distribution softmax(clamped logits).

    On the CPU, softmax-like kernels over a few columns are slow; an exp and a matrix-vector
    product for the normalizer are several times faster, forward and backward.
    """
    logits = logits.clamp(-LOGIT_LIMIT, LOGIT_LIMIT)
    ones = torch.ones(logits.shape[1], dtype=logits.dtype, device=logits.device)
    return logits - (logits.exp() @ ones).log_().unsqueeze(1)


def sample_categorical(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One action per row of ``logits``, drawn from softmax(clamped logits) with ``generator``.

    Inverse-CDF sampling: one uniform per row and a ``searchsorted`` on the running sums of
    exp(logits), several times faster on the CPU than ``torch.multinomial`` or Gumbel-max (which
    draw a uniform per column and need softmax or argmax over a few columns, slow kernels there).
    """
    cumulative = logits.clamp(-LOGIT_LIMIT, LOGIT_LIMIT).exp_().cumsum(dim=1)
    draws = torch.rand(
        (logits.shape[0], 1), generator=generator, device=logits.device, dtype=cumulative.dtype
    )
    actions = torch.searchsorted(cumulative, draws.mul_(cumulative[:, -1:])).squeeze(1)
    return actions.clamp_(max=logits.shape[1] - 1)


class Reinforce(Agent):
    """REINFORCE agent: ``Reinforce("ZeroOut-v0", seed=0).learn(1_000_000)``; see :class:`ReinforceConfig`."""

    name = "reinforce"
    config_class = ReinforceConfig
    default_timesteps = 1_000_000

    def _setup(self) -> None:
        cfg = self.config
        self.policy = build_network(cfg.net_arch, self.observation_space, self.n_actions, cfg.hidden_sizes)
        # The value network has the policy's shape and V(s) is the sum of its outputs, so any
        # architecture that fits the policy fits it too (the slot network's V sums per-slot values).
        self.value = build_network(cfg.net_arch, self.observation_space, self.n_actions, cfg.hidden_sizes)
        self.policy.to(self.device)
        self.value.to(self.device)
        params = [*self.policy.parameters(), *self.value.parameters()]
        self.optimizer = torch.optim.Adam(params, lr=cfg.learning_rate, foreach=True)

    @property
    def networks(self) -> dict[str, nn.Module]:
        return {"policy": self.policy, "value": self.value}

    def _value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.value(obs).sum(dim=1)

    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        logits = self.policy(obs)
        if deterministic:
            return logits.argmax(dim=1)
        return sample_categorical(logits, self.generator)

    @torch.no_grad()
    def _collect(self) -> Rollout:
        """Reset every env and play until each one's first episode has ended (or the cap)."""
        cfg = self.config
        # A host sync per step costs nothing on the CPU; on an accelerator check every few steps.
        check_every = 1 if self.device.type == "cpu" else 8
        obs = self.reset_env()
        running = torch.ones(cfg.num_envs, dtype=torch.bool, device=self.device)
        steps: list[tuple[torch.Tensor, ...]] = []
        for t in range(cfg.max_rollout_steps):
            actions = self._act(obs, deterministic=False)
            next_obs, rewards, terminated, truncated, info = self.step_env(actions, counted=running)
            steps.append((obs, actions, rewards, terminated, truncated, info["final_obs"]))
            running = running & ~terminated & ~truncated
            obs = next_obs
            if (t + 1) % check_every == 0 and not running.any():
                break
        self.episode_stats.end(running)  # the episodes the cap cuts count as ending here
        obs_t, actions_t, rewards_t, terminated_t, truncated_t, final_obs_t = (
            torch.stack(x) for x in zip(*steps, strict=True)
        )
        truncated_t[-1] |= running  # the cap truncates whatever still runs
        dones = terminated_t | truncated_t
        # Each env's first episode ends at its first done: the state its last action led to.
        last = first_episode_mask(dones).sum(0) - 1
        final_obs = final_obs_t[last, torch.arange(cfg.num_envs, device=self.device)]
        return Rollout(obs_t, actions_t, rewards_t, dones, truncated_t, final_obs)

    def _update(self, rollout: Rollout) -> Scalars:
        """One gradient step: policy gradient with advantages G_t - V(s_t), V regressed on G_t."""
        cfg = self.config
        if cfg.anneal_lr:
            set_learning_rate(self.optimizer, linear_schedule(cfg.learning_rate, 0.0, self.progress))
        with torch.no_grad():
            next_values = self._value(rollout.final_obs)
        returns, mask = first_episode_returns(
            rollout.rewards, rollout.dones, rollout.truncated, next_values, cfg.gamma
        )
        returns, obs, actions = returns[mask], rollout.obs[mask], rollout.actions[mask]
        self.gradient_samples += mask.sum()

        values = self._value(obs)
        advantages = returns - values.detach()
        if cfg.normalize_advantage and advantages.numel() > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        log_probs = log_softmax(self.policy(obs))
        entropy = -(log_probs.exp() * log_probs).sum() / log_probs.shape[0]
        policy_loss = -(log_probs.gather(1, actions.unsqueeze(1)).squeeze(1) * advantages).mean()
        value_loss = F.mse_loss(values, returns)

        self.optimizer.zero_grad(set_to_none=True)
        (policy_loss - cfg.ent_coef * entropy + value_loss).backward()
        for net in (self.policy, self.value):
            nn.utils.clip_grad_norm_(net.parameters(), cfg.max_grad_norm, foreach=True)
        self.optimizer.step()
        return {
            "losses/policy_loss": policy_loss.detach(),
            "losses/entropy": entropy.detach(),
            "losses/value_loss": value_loss.detach(),
            "charts/rollout_length": float(rollout.dones.shape[0]),
        }
