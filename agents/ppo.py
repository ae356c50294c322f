"""Proximal Policy Optimization (Schulman et al. 2017) after CleanRL's ``ppo.py``, on a batched env.

Read top to bottom it is the algorithm as CleanRL writes it:

1. play ``rollout_steps`` steps of every env with the current stochastic policy, going on from where the
   last rollout stopped (the envs are not reset between rollouts);
2. compute GAE advantages (Schulman et al. 2016) and the returns ``advantage + V(s)`` with the value
   network that played;
3. for ``update_epochs`` epochs, shuffle the rollout into ``num_minibatches`` minibatches and take a
   gradient step on each: the clipped surrogate (an action's probability ratio to the policy that
   played stops pulling once it leaves ``1 +- clip_range``), the value loss (optionally clipped the same
   way around the values that played), minus an entropy bonus; the gradient's norm is clipped;
4. optionally stop a member's epochs early once its policy has moved ``target_kl`` away (SB3's rule) and
   anneal the learning rate and the clip range linearly to 0 over the budget.

Where a return is cut short (termination vs truncation): a terminated episode's return ends with it. An
episode cut by the env's time limit, or still running when the rollout stops, goes on in the state its
last action led to (``info["final_obs"]``), so ``gamma * V(s')`` finishes it: the cut is not part of the
task. Actor and critic are separate networks by default (CleanRL's ``Agent``); ``shared_network`` gives
them one body with two heads (SB3's shared ``MlpPolicy`` of old).

Every tensor has the group's members as its leading dimension (see :mod:`rlzero.agents.base`): one member
is one PPO agent with its own envs, random stream (its rollouts and its minibatch shuffles), weights,
Adam state, advantage normalisation, gradient-norm clip and early stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from rlzero.agents.base import OnPolicyAgent, Scalars, check_positive, check_unit_interval
from rlzero.agents.buffers import member_rows
from rlzero.agents.distributions import entropy, log_softmax, sample_categorical
from rlzero.agents.memory import check_fits
from rlzero.agents.networks import build_network, check_network, policy_and_value
from rlzero.agents.normalize import check_normalize_config
from rlzero.agents.optim import GroupAdam, clip_grad_norm
from rlzero.agents.returns import gae_advantages
from rlzero.agents.schedules import linear_schedule


@dataclass
class PPOConfig:
    num_envs: int = 4
    """envs stepped together"""
    rollout_steps: int = 128
    """steps of every env per rollout; a rollout (``num_envs * rollout_steps`` steps) is one batch"""
    learning_rate: float = 2.5e-4
    """Adam step size"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over the training budget"""
    gamma: float = 0.99
    """discount factor"""
    gae_lambda: float = 0.95
    """lambda of GAE: 1 is the Monte Carlo return, lower bootstraps more on V (less variance, more bias)"""
    num_minibatches: int = 4
    """minibatches per epoch, the rollout shuffled anew every epoch"""
    update_epochs: int = 4
    """passes over each rollout"""
    normalize_advantage: bool = True
    """scale each minibatch's advantages to zero mean and unit standard deviation"""
    clip_range: float = 0.2
    """how far (as a ratio of probabilities) an action's probability may move from the one it was
    played with before its advantage stops pulling it"""
    anneal_clip: bool = False
    """decay ``clip_range`` linearly to 0 over the training budget (rl-zoo3's ``lin_`` schedules)"""
    clip_vloss: bool = True
    """clip the value loss around the values that played, by ``clip_range`` (CleanRL's default)"""
    ent_coef: float = 0.01
    """weight of the entropy bonus"""
    vf_coef: float = 0.5
    """weight of the value loss"""
    max_grad_norm: float = 0.5
    """gradient-norm clipping threshold, over every parameter of the agent"""
    target_kl: float = 0.0
    """stop a member's epochs on a rollout before a minibatch step that would start from a policy whose
    approximate KL from the one that played exceeds ``1.5 * target_kl`` (SB3's early stop); 0: never"""
    ortho_init: bool = False
    """initialise orthogonally, as SB3 and CleanRL do: hidden layers with gain sqrt(2), the policy's
    output layer with 0.01 (near-uniform first actions), the value's with 1, biases 0; False: as
    ``nn.Linear`` initialises"""
    shared_network: bool = False
    """one body for actor and critic, with a value output beside the logits (needs ``net_arch="mlp"``);
    False: two separate networks"""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """widths of the hidden layers"""
    net_arch: str = "mlp"
    """network architecture (see rlzero.agents.networks)"""
    activation: str = "tanh"
    """nonlinearity of the hidden layers: relu or tanh"""
    normalize_obs: bool = False
    """feed the networks observations normalised by each member's running mean and variance, clipped to
    ``+-clip_obs`` (SB3's VecNormalize): inputs of mixed scales (MountainCar, LunarLander) at unit scale"""
    clip_obs: float = 10.0
    """bound of the normalised observations (SB3's default)"""

    def __post_init__(self) -> None:
        check_network(self.net_arch, self.hidden_sizes, self.activation)
        check_normalize_config(self)
        check_positive(
            self,
            "num_envs",
            "rollout_steps",
            "learning_rate",
            "num_minibatches",
            "update_epochs",
            "clip_range",
            "max_grad_norm",
        )
        check_unit_interval(self, "gamma", "gae_lambda")
        for name in ("ent_coef", "vf_coef", "target_kl"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.num_minibatches > self.num_envs * self.rollout_steps:
            raise ValueError(
                f"num_minibatches ({self.num_minibatches}) must be <= num_envs * rollout_steps "
                f"({self.num_envs * self.rollout_steps})"
            )
        if self.shared_network and self.net_arch != "mlp":
            raise ValueError(f"shared_network needs net_arch 'mlp', got {self.net_arch!r}")
        if self.shared_network and self.ortho_init:
            raise ValueError("ortho_init needs separate networks (shared_network=False)")


class Rollout(NamedTuple):
    """``rollout_steps`` steps of every env, stacked along time: ``(members, T, num_envs, ...)``."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    final_obs: torch.Tensor
    """the state each action led to (before any reset)"""


def clipped_surrogate(
    log_probs: torch.Tensor,
    played_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    clip_range: torch.Tensor,
) -> torch.Tensor:
    """PPO's clipped surrogate objective per sample, to be maximized: ``min(ratio * A, clip(ratio) * A)``
    with ``ratio`` the probability ratio to the policy that played."""
    ratio = (log_probs - played_log_probs).exp()
    clipped = torch.clamp(ratio, 1 - clip_range, 1 + clip_range)
    return torch.min(ratio * advantages, clipped * advantages)


def policy_shift(
    log_probs: torch.Tensor, played_log_probs: torch.Tensor, clip_range: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """How far the policy has moved from the one that played, per member of ``(members, batch)`` action
    log-probabilities: the approximate KL (the ``ratio - 1 - log ratio`` estimator, as SB3 and CleanRL
    log it) and the fraction of samples whose ratio is outside ``1 +- clip_range``."""
    log_ratio = log_probs - played_log_probs
    ratio = log_ratio.exp()
    approx_kl = (ratio - 1 - log_ratio).mean(dim=-1)
    clipfrac = ((ratio - 1).abs() > clip_range).float().mean(dim=-1)
    return approx_kl, clipfrac


def normalized(advantages: torch.Tensor) -> torch.Tensor:
    """Advantages scaled to zero mean and unit standard deviation over the batch (the last dimension)."""
    if advantages.shape[-1] < 2:
        return advantages
    mean, std = advantages.mean(dim=-1, keepdim=True), advantages.std(dim=-1, keepdim=True)
    return (advantages - mean) / (std + 1e-8)


class PPO(OnPolicyAgent):
    """PPO agent: ``PPO("CartPole-v1", seed=0).learn(100_000)``; hyperparameters are :class:`PPOConfig`."""

    name = "ppo"
    config_class = PPOConfig

    def _setup(self) -> None:
        cfg = self.config
        space, n_actions = self.observation_space, self.n_actions
        if cfg.shared_network:
            self.actor_critic = build_network(
                cfg.net_arch,
                space,
                n_actions + 1,
                cfg.hidden_sizes,
                seeds=self.init_seeds(0),
                activation=cfg.activation,
            )
            self.actor_critic.to(self.device)
        else:
            seeds = (self.init_seeds(0), self.init_seeds(1))
            self.policy, self.value = policy_and_value(
                cfg.net_arch,
                space,
                n_actions,
                cfg.hidden_sizes,
                seeds,
                cfg.activation,
                self.device,
                cfg.ortho_init,
            )
        self.learning_rate = self.hparam("learning_rate")
        params = [p for net in self.networks.values() for p in net.parameters()]
        self.optimizer = GroupAdam(params, lr=self.learning_rate.clone())
        self.gamma = self.hparam("gamma").unsqueeze(1)  # (members, 1): against (members, num_envs)
        self.gae_lambda = self.hparam("gae_lambda").unsqueeze(1)
        self.clip_range = self.hparam("clip_range").unsqueeze(1)
        self.ent_coef, self.vf_coef = self.hparam("ent_coef"), self.hparam("vf_coef")
        self.max_grad_norm, self.target_kl = self.hparam("max_grad_norm"), self.hparam("target_kl")
        self.stops_early = any(c.target_kl > 0 for c in self.member_configs)
        steps = self.n_members * cfg.rollout_steps * cfg.num_envs  # a rollout's rows, kept for its epochs
        what = f"rollouts of {self.n_members} member(s) x {cfg.rollout_steps} steps x {cfg.num_envs} envs"
        check_fits(steps * (2 * space.shape[0] * 8 + 64), what, self.device)

    @property
    def networks(self) -> dict[str, nn.Module]:
        if self.config.shared_network:
            return {"actor_critic": self.actor_critic}
        return {"policy": self.policy, "value": self.value}

    def logits_and_values(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The policy's logits ``(members, batch, n_actions)`` and V ``(members, batch)``."""
        if self.config.shared_network:
            out = self.actor_critic(obs)
            return out[..., :-1], out[..., -1]
        return self.policy(obs), self.value(obs).sum(dim=-1)

    @torch.no_grad()
    def policy_probabilities(self, obs: torch.Tensor) -> torch.Tensor:
        """pi(a|s) of every action, ``(members, batch, n_actions)``."""
        return log_softmax(self.logits_and_values(obs)[0]).exp()

    @torch.no_grad()
    def state_values(self, obs: torch.Tensor) -> torch.Tensor:
        """V(s), ``(members, batch)``."""
        return self.logits_and_values(obs)[1]

    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        logits = self.actor_critic(obs)[..., :-1] if self.config.shared_network else self.policy(obs)
        if deterministic:
            return logits.argmax(dim=-1)
        return sample_categorical(logits, self.streams.uniform(obs.shape[1]))

    @torch.no_grad()
    def _collect_rollout(self) -> Rollout:
        """Play ``rollout_steps`` steps in every env, going on from where the last rollout stopped."""
        obs = self.last_obs
        steps: list[Rollout] = []
        for _ in range(self.config.rollout_steps):
            actions = self._act(obs, deterministic=False)
            next_obs, rewards, terminated, truncated, info = self.step_env(actions)
            steps.append(Rollout(obs, actions, rewards, terminated, truncated, final_obs=info["final_obs"]))
            obs = next_obs
        return Rollout(*(torch.stack(field, dim=1) for field in zip(*steps, strict=True)))

    def _train(self, rollout: Rollout) -> Scalars:
        """``update_epochs`` passes of minibatch steps on the clipped surrogate, the value loss and the
        entropy bonus."""
        cfg = self.config
        if cfg.anneal_lr:
            self.optimizer.lr = linear_schedule(self.learning_rate, 0.0, self.progress)
        clip_range = (
            linear_schedule(self.clip_range, 0.0, self.progress) if cfg.anneal_clip else self.clip_range
        )
        obs, actions = rollout.obs.flatten(1, 2), rollout.actions.flatten(1)
        with torch.no_grad():  # what the networks that played say of the rollout
            logits, values = self.logits_and_values(obs)
            played_log_probs = log_softmax(logits).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
            next_values = self.logits_and_values(rollout.final_obs.flatten(1, 2))[1].view_as(rollout.rewards)
        # (T, members, num_envs): GAE runs back along time
        rewards, terminated, truncated, old_values, next_values = (
            x.transpose(0, 1)
            for x in (
                rollout.rewards,
                rollout.terminated,
                rollout.truncated,
                values.view_as(next_values),
                next_values,
            )
        )
        advantages = (
            gae_advantages(
                rewards, terminated, truncated, old_values, next_values, self.gamma, self.gae_lambda
            )
            .transpose(0, 1)
            .flatten(1)
        )
        returns = advantages + values

        batch = obs.shape[1]
        minibatch = batch // cfg.num_minibatches
        active: torch.Tensor | None = None  # the members still stepping, where some may stop early
        minibatch_steps: torch.Tensor | int = 0
        for _ in range(cfg.update_epochs):
            # Each member's own shuffle of its rollout, from its own stream.
            order = self.streams.uniform(batch).argsort(dim=-1)
            for start in range(0, minibatch * cfg.num_minibatches, minibatch):
                index = order[:, start : start + minibatch]
                mb_obs, mb_actions, mb_played, mb_advantages, mb_returns, mb_values = (
                    member_rows(x, index)
                    for x in (obs, actions, played_log_probs, advantages, returns, values)
                )
                new_logits, new_values = self.logits_and_values(mb_obs)
                log_probs = log_softmax(new_logits)
                action_log_probs = log_probs.gather(-1, mb_actions.unsqueeze(-1)).squeeze(-1)
                if self.stops_early:
                    kl, _ = policy_shift(action_log_probs.detach(), mb_played, clip_range)
                    within = (self.target_kl == 0) | (kl <= 1.5 * self.target_kl)
                    active = within if active is None else active & within
                    if not active.any():  # one host sync per minibatch, and the rest of the epochs saved
                        break
                if cfg.normalize_advantage:
                    mb_advantages = normalized(mb_advantages)
                policy_loss = -clipped_surrogate(action_log_probs, mb_played, mb_advantages, clip_range).mean(
                    dim=-1
                )
                value_error = (new_values - mb_returns).square()
                if cfg.clip_vloss:
                    clipped_values = mb_values + (new_values - mb_values).clamp(-clip_range, clip_range)
                    value_error = torch.max(value_error, (clipped_values - mb_returns).square())
                value_loss = 0.5 * value_error.mean(dim=-1)
                entropies = entropy(log_probs).mean(dim=-1)
                loss = policy_loss - self.ent_coef * entropies + self.vf_coef * value_loss

                self.optimizer.zero_grad()
                loss.sum().backward()  # summed over members: each member's weights get their own gradient
                clip_grad_norm(self.optimizer.params, self.max_grad_norm)
                self.optimizer.step(active)
                minibatch_steps = minibatch_steps + (1 if active is None else active.double())
            else:
                continue
            break  # every member stopped early
        # Per member where some stopped early (a (members,) count), else one count for all.
        self.gradient_samples = self.gradient_samples + minibatch * minibatch_steps
        approx_kl, clipfrac = policy_shift(action_log_probs.detach(), mb_played, clip_range)
        return {
            "losses/policy_loss": policy_loss.detach(),
            "losses/value_loss": value_loss.detach(),
            "losses/entropy": entropies.detach(),
            "losses/approx_kl": approx_kl,
            "losses/clipfrac": clipfrac,
        }
