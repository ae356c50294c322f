"""REINFORCE (Williams 1992) with a learned baseline, on a batched env on one device.

Read top to bottom it is the algorithm as taught: play the current stochastic policy in every env,
compute each step's discounted reward-to-go G_t, and take one gradient step on
``-log pi(a_t | s_t) * A_t`` (A_t = G_t - V(s_t), normalized per batch) minus an entropy bonus, while
V regresses on G_t. Gradients are clipped per network; the learning rate decays linearly to 0.

Two options turn it into PPO's update (Schulman et al. 2017) where one gradient step per rollout is
too little and a larger one too much, as on CartPole-v1: ``update_epochs > 1`` takes several full-batch
steps on each rollout, past the first with PPO's clipped surrogate, which stops pushing an action's
probability once it has moved ``clip_range`` away from the one it was played with (``anneal_clip``
narrows that clip to 0 over the budget, as rl-zoo3's PPO schedules do); and
``gae_lambda < 1`` makes G_t a lambda-return, so A_t is GAE's advantage. Their defaults (1 and 1.0)
are plain REINFORCE, bit for bit. ``target_kl > 0`` adds SB3's early stop: a member takes no more
epochs on a rollout once its policy has moved that far (in approximate KL) from the one that played.

Rollouts: every update learns from a rollout of ``rollout_steps`` steps of every env, and the next
rollout goes on from where this one stopped (the envs are not reset between rollouts). So every env
step is learnt from, and a batch holds every episode in the order it happened, whatever its length or
return (keeping whole episodes only would favour the short ones).

Where a return is cut short (termination vs truncation): a terminated episode's return ends with it.
An episode cut by the env's time limit, or still running when the rollout stops, goes on in the state
its last action led to (``info["final_obs"]``), so gamma * V(s') joins its last reward: the cut is not
part of the task. Where the rollout is long next to the episodes (ZeroOut's optimal episodes take at
most 10 steps), almost every return is a plain Monte Carlo one; ``rollout_steps = 1`` would make it a
one-step actor-critic, which it is not meant to be.

Every tensor has the group's members as its leading dimension (see :mod:`rlzero.agents.base`): one
member is one REINFORCE agent; a group of seeds plays and updates together, each member with its own
boards, random stream, weights, Adam state, advantage normalisation and gradient-norm clips.

Baseline: a learned state-value network ``value`` (the policy's architecture and output shape, its
outputs summed to V(s), so whatever network fits the policy fits it too). Why not a batch statistic:
the mean return cannot tell a board with nine nonzero entries left from one with one left, so on
ZeroOut most of the "advantage" would be the board's luck rather than the action's merit; and only a
value lets a rollout stop anywhere and bootstrap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from rlzero.agents.base import Agent, Scalars, check_positive, check_unit_interval
from rlzero.agents.networks import build_network
from rlzero.agents.optim import GroupAdam, clip_grad_norm
from rlzero.agents.schedules import linear_schedule


@dataclass
class ReinforceConfig:
    num_envs: int = 64
    """boards (or env copies) stepped together"""
    rollout_steps: int = 16
    """steps of every env per rollout; a rollout (``num_envs * rollout_steps`` steps) is one batch"""
    learning_rate: float = 0.03
    """Adam step size (policy and value network)"""
    gamma: float = 0.99
    """discount factor"""
    gae_lambda: float = 1.0
    """lambda of the returns: 1 is REINFORCE's Monte Carlo reward-to-go, lower bootstraps more on V
    (GAE, Schulman et al. 2016: less variance, more bias)"""
    ent_coef: float = 0.001
    """weight of the entropy bonus in the policy loss"""
    max_grad_norm: float = 0.5
    """gradient-norm clipping threshold, applied to each network separately"""
    normalize_advantage: bool = True
    """scale the advantages of each batch to zero mean and unit standard deviation"""
    update_epochs: int = 1
    """gradient steps per rollout; past the first, each step's policy loss is PPO's clipped surrogate"""
    clip_range: float = 0.2
    """how far (as a ratio of probabilities) later epochs may move an action's probability from the
    one it was played with before its advantage stops pulling it (used when ``update_epochs > 1``)"""
    anneal_clip: bool = False
    """decay ``clip_range`` linearly to 0 over the training budget (rl-zoo3's ``lin_`` schedules), so a
    policy that is good moves less and less from one rollout to the next"""
    target_kl: float = 0.0
    """stop a member's epochs on a rollout before the step that would start from a policy whose
    approximate KL from the one that played exceeds ``1.5 * target_kl`` (SB3's early stop); 0: never"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over the training budget"""
    hidden_sizes: tuple[int, ...] = (32,)
    """widths of the hidden layers (policy and value network alike)"""
    net_arch: str = "mlp"
    """network architecture (see rlzero.agents.networks)"""
    activation: str = "relu"
    """nonlinearity of the hidden layers: relu or tanh"""

    def __post_init__(self) -> None:
        check_positive(
            self, "num_envs", "rollout_steps", "learning_rate", "max_grad_norm", "update_epochs", "clip_range"
        )
        check_unit_interval(self, "gamma", "gae_lambda")
        for name in ("ent_coef", "target_kl"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")


class Rollout(NamedTuple):
    """``rollout_steps`` steps of every env, stacked along time: ``(members, T, num_envs, ...)``."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    final_obs: torch.Tensor
    """the state each action led to (before any reset)"""


def reward_to_go(rewards: torch.Tensor, dones: torch.Tensor, gamma: float | torch.Tensor) -> torch.Tensor:
    """Discounted reward-to-go ``G_t = r_t + gamma * G_{t+1}`` per column of ``(T, ...)`` rewards
    (``gamma``: a float, or a tensor that broadcasts against one row, such as one per member).

    The sum restarts after every step where ``dones`` is True, so a return never crosses into the
    next episode; an episode still running at the last row is summed up to that row only (fold a
    bootstrap value into its last reward to finish it).
    """
    continues = (~dones).to(rewards.dtype) * gamma
    returns = torch.empty_like(rewards)
    future = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        future = torch.addcmul(rewards[t], continues[t], future)
        returns[t] = future
    return returns


def rollout_returns(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    next_values: torch.Tensor,
    gamma: float | torch.Tensor,
    lam: float | torch.Tensor = 1.0,
) -> torch.Tensor:
    """Lambda-return of every step of a rollout, each return finished where it is cut short.

    All ``(T, ...)``; ``next_values[t]`` is V of the state step ``t`` led to. ``lam = 1`` gives the
    reward-to-go; below 1, each step's return mixes in ``gamma * (1 - lam) * next_values``:
    ``G_t = r_t + gamma * ((1 - lam) * V(s_{t+1}) + lam * G_{t+1})`` (Sutton & Barto 12.1; G - V is
    then GAE's advantage). Where an episode is truncated, or still running at the rollout's last
    step, all of ``gamma * next_values`` joins that step's reward and the sum restarts; a terminated
    episode's return just ends.
    """
    cut = truncated & ~terminated
    cut[-1] |= ~terminated[-1]
    bootstrap = torch.where(cut, 1.0, (~terminated) * (1 - lam))
    return reward_to_go(rewards + bootstrap * (gamma * next_values), terminated | cut, gamma * lam)


def clipped_surrogate(
    log_probs: torch.Tensor,
    played_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    clip_range: torch.Tensor,
) -> torch.Tensor:
    """PPO's clipped surrogate objective per sample (Schulman et al. 2017), to be maximized.

    The probability ratio to the policy that played is 1 in an update's first epoch, where the
    gradient of ``ratio * A`` is REINFORCE's ``A * grad log pi``; later epochs stop pulling an action
    whose ratio has left ``[1 - clip_range, 1 + clip_range]`` in its advantage's direction.
    """
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
    approx_kl = (ratio - 1 - log_ratio).mean(dim=1)
    clipfrac = ((ratio - 1).abs() > clip_range).float().mean(dim=1)
    return approx_kl, clipfrac


LOGIT_LIMIT = 60.0
"""Logits are clamped to +-LOGIT_LIMIT, so exp stays finite in float32 without subtracting each
row's max; past a gap of 120 the smaller probability is below 1e-52 anyway."""


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Log-probabilities of the categorical distribution softmax(clamped logits) over the last dimension.

    On the CPU, softmax-like kernels over a few columns are slow; an exp and a matrix-vector
    product for the normalizer are several times faster, forward and backward.
    """
    logits = logits.clamp(-LOGIT_LIMIT, LOGIT_LIMIT)
    ones = torch.ones(logits.shape[-1], dtype=logits.dtype, device=logits.device)
    return logits - (logits.exp() @ ones).log_().unsqueeze(-1)


def sample_categorical(logits: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """One action per row of ``logits`` (the last dimension indexes actions), drawn from
    softmax(clamped logits) with ``uniforms`` in [0, 1), one per row (shape ``logits.shape[:-1]``).

    Inverse-CDF sampling: one uniform per row and a ``searchsorted`` on the running sums of
    exp(logits), several times faster on the CPU than ``torch.multinomial`` or Gumbel-max (which
    draw a uniform per column and need softmax or argmax over a few columns, slow kernels there).
    """
    cumulative = logits.clamp(-LOGIT_LIMIT, LOGIT_LIMIT).exp_().cumsum(dim=-1)
    draws = uniforms.to(cumulative.dtype).unsqueeze(-1) * cumulative[..., -1:]
    actions = torch.searchsorted(cumulative, draws).squeeze(-1)
    return actions.clamp_(max=logits.shape[-1] - 1)


class Reinforce(Agent):
    """REINFORCE agent: ``Reinforce("ZeroOut-v0", seed=0).learn(1_000_000)``; see :class:`ReinforceConfig`."""

    name = "reinforce"
    config_class = ReinforceConfig
    default_timesteps = 1_000_000

    def _setup(self) -> None:
        cfg = self.config
        space, n_actions = self.observation_space, self.n_actions
        shape = (cfg.net_arch, space, n_actions, cfg.hidden_sizes)
        self.policy = build_network(*shape, seeds=self.init_seeds(0), activation=cfg.activation)
        # The value network has the policy's shape and V(s) is the sum of its outputs, so any
        # architecture that fits the policy fits it too (the slot network's V sums per-slot values).
        self.value = build_network(*shape, seeds=self.init_seeds(1), activation=cfg.activation)
        self.policy.to(self.device)
        self.value.to(self.device)
        params = [*self.policy.parameters(), *self.value.parameters()]
        self.learning_rate = self.hparam("learning_rate")
        self.optimizer = GroupAdam(params, lr=self.learning_rate.clone())
        self.gamma = self.hparam("gamma").unsqueeze(1)  # (members, 1): against (members, num_envs)
        self.gae_lambda = self.hparam("gae_lambda").unsqueeze(1)
        self.ent_coef, self.max_grad_norm = self.hparam("ent_coef"), self.hparam("max_grad_norm")
        self.clip_range = self.hparam("clip_range").unsqueeze(1)
        self.target_kl = self.hparam("target_kl")
        self.stops_early = cfg.update_epochs > 1 and any(c.target_kl > 0 for c in self.member_configs)

    @property
    def networks(self) -> dict[str, nn.Module]:
        return {"policy": self.policy, "value": self.value}

    def _value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.value(obs).sum(dim=2)

    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        logits = self.policy(obs)
        if deterministic:
            return logits.argmax(dim=2)
        return sample_categorical(logits, self.streams.uniform(obs.shape[1]))

    @torch.no_grad()
    def _collect(self) -> Rollout:
        """Play ``rollout_steps`` steps in every env, going on from where the last rollout stopped."""
        obs = self.last_obs
        steps: list[tuple[torch.Tensor, ...]] = []
        for _ in range(self.config.rollout_steps):
            actions = self._act(obs, deterministic=False)
            next_obs, rewards, terminated, truncated, info = self.step_env(actions)
            steps.append((obs, actions, rewards, terminated, truncated, info["final_obs"]))
            obs = next_obs
        return Rollout(*(torch.stack(x, dim=1) for x in zip(*steps, strict=True)))

    def _advantages(self, returns: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        advantages = returns - values
        if self.config.normalize_advantage and advantages.shape[1] > 1:
            mean, std = advantages.mean(dim=1, keepdim=True), advantages.std(dim=1, keepdim=True)
            advantages = (advantages - mean) / (std + 1e-8)
        return advantages

    def _update(self, rollout: Rollout) -> Scalars:
        """``update_epochs`` gradient steps: policy gradient with advantages G_t - V(s_t), V taken from
        the networks that played the rollout; V regressed on G_t."""
        cfg = self.config
        if cfg.anneal_lr:
            self.optimizer.lr = linear_schedule(self.learning_rate, 0.0, self.progress)
        clip_range = (
            linear_schedule(self.clip_range, 0.0, self.progress) if cfg.anneal_clip else self.clip_range
        )
        with torch.no_grad():
            next_values = self._value(rollout.final_obs.flatten(1, 2)).view_as(rollout.rewards)
        rewards, terminated, truncated, next_values = (
            x.transpose(0, 1) for x in (rollout.rewards, rollout.terminated, rollout.truncated, next_values)
        )  # (T, members, num_envs): the returns run back along time
        returns = rollout_returns(rewards, terminated, truncated, next_values, self.gamma, self.gae_lambda)
        returns = returns.transpose(0, 1).flatten(1)  # (members, T * num_envs)
        obs, actions = rollout.obs.flatten(1, 2), rollout.actions.flatten(1)

        advantages = played_log_probs = torch.empty(0)
        active: torch.Tensor | None = None  # the members still stepping, where some may stop early
        epochs_taken: torch.Tensor | int = 0
        for epoch in range(cfg.update_epochs):
            values = self._value(obs)
            log_probs = log_softmax(self.policy(obs))
            entropy = -(log_probs.exp() * log_probs).sum(dim=(1, 2)) / log_probs.shape[1]
            action_log_probs = log_probs.gather(2, actions.unsqueeze(2)).squeeze(2)
            if epoch == 0:  # the networks that played the rollout
                advantages = self._advantages(returns, values.detach())
                played_log_probs = action_log_probs.detach()
            elif self.stops_early:
                kl, _ = policy_shift(action_log_probs.detach(), played_log_probs, clip_range)
                within = (self.target_kl == 0) | (kl <= 1.5 * self.target_kl)
                active = within if active is None else active & within
                if not active.any():  # one host sync per epoch, and the rest of the epochs saved
                    break
            surrogate = clipped_surrogate(action_log_probs, played_log_probs, advantages, clip_range)
            policy_loss = -surrogate.mean(dim=1)
            value_loss = (values - returns).square().mean(dim=1)

            self.optimizer.zero_grad()
            # Summed over members: each member's weights get their own loss's gradient only.
            (policy_loss - self.ent_coef * entropy + value_loss).sum().backward()
            for net in (self.policy, self.value):
                clip_grad_norm(net.parameters(), self.max_grad_norm)
            self.optimizer.step(active)
            epochs_taken = epochs_taken + (1 if active is None else active.double())
        # Per member where some stopped early (a (members,) count), else one count for all.
        self.gradient_samples = self.gradient_samples + returns.shape[1] * epochs_taken
        scalars: Scalars = {
            "losses/policy_loss": policy_loss.detach(),
            "losses/entropy": entropy.detach(),
            "losses/value_loss": value_loss.detach(),
        }
        if cfg.update_epochs > 1:  # how far the last epoch's policy had moved from the one that played
            approx_kl, clipfrac = policy_shift(action_log_probs.detach(), played_log_probs, clip_range)
            scalars["losses/approx_kl"], scalars["losses/clipfrac"] = approx_kl, clipfrac
        return scalars
