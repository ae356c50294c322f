"""REINFORCE with a baseline (Williams 1992; Sutton & Barto 2018, 13.3-13.4), on a batched env on one device.

Read top to bottom it is the algorithm as taught:

1. play a batch of whole episodes with the current stochastic policy: every env plays one episode
   from its reset to its end (an env whose episode ended waits for the others);
2. compute each step's discounted reward-to-go ``G_t = r_t + gamma * r_{t+1} + ...`` up to the end of
   its own episode;
3. take **one** gradient step on ``-log pi(a_t | s_t) * (G_t - b(s_t))``, averaged over the batch's
   steps, and one on the baseline ``b``, a learned state value regressed on ``G_t``.

The baseline only lowers the variance of the gradient: it never enters a return, with one exception,
where the env's time limit cuts an episode: the cut is not part of the task, so ``gamma * b(s')`` of the
state the last action led to finishes that return (the return an episode that went on would have had).
With ``baseline=False`` it is Williams' algorithm without one (Sutton & Barto 13.3), and a cut return
just ends. As most implementations do (and Sutton & Barto do not), the ``gamma**t`` factor of an
episode's later steps is left out of the gradient.

Options that keep it REINFORCE: the batch size in episodes (``num_envs``), advantage normalisation per
batch, an entropy bonus, a learning rate annealed to 0, gradient-norm clipping, reward scaling. Several
gradient steps per batch, a clipped surrogate or lambda-returns make it PPO: see :mod:`rlzero.agents.ppo`.

A batch's episodes differ in length, so the steps of a member are counted as they are played (see
``live`` in :meth:`rlzero.agents.base.Agent.step_env`): a member's budget, schedules and evaluations
follow its own count. The steps of an env past its episode's end are zeroed and masked out, and the
update adds up its sums chunk by chunk, so a member's update is the same whoever else is in its group.
The batch's buffers are sized by the env's step limit: REINFORCE needs an env that has one.

Every tensor has the group's members as its leading dimension (see :mod:`rlzero.agents.base`): one member
is one REINFORCE agent, with its own boards, random stream, weights, Adam state and gradient-norm clips.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from gymnasium.vector import AutoresetMode
from torch import nn

from rlzero.agents.base import OnPolicyAgent, Scalars, check_positive, check_unit_interval
from rlzero.agents.distributions import entropy, log_softmax, sample_categorical
from rlzero.agents.memory import check_fits
from rlzero.agents.networks import check_network, policy_and_value
from rlzero.agents.normalize import check_normalize_config
from rlzero.agents.optim import GroupAdam, clip_grad_norm
from rlzero.agents.returns import reward_to_go
from rlzero.agents.schedules import linear_schedule
from rlzero.agents.vec_env import episode_limit


@dataclass
class ReinforceConfig:
    num_envs: int = 16
    """envs played together, each one whole episode per batch: the batch size in episodes"""
    learning_rate: float = 1e-3
    """Adam step size of the policy"""
    baseline: bool = True
    """subtract a learned state value from the returns (REINFORCE with baseline); False: plain REINFORCE"""
    baseline_learning_rate: float = 1e-3
    """Adam step size of the baseline's value network"""
    gamma: float = 0.99
    """discount factor"""
    normalize_advantage: bool = False
    """scale each batch's advantages ``G_t - b(s_t)`` to zero mean and unit standard deviation"""
    ent_coef: float = 0.0
    """weight of the entropy bonus in the policy loss"""
    max_grad_norm: float = 0.0
    """gradient-norm clipping threshold, applied to each network separately; 0: no clipping"""
    anneal_lr: bool = False
    """decay both learning rates linearly to 0 over the training budget"""
    reward_scale: float = 1.0
    """factor applied to every reward before the returns are computed"""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """widths of the hidden layers (policy and value network alike)"""
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
        check_positive(self, "num_envs", "learning_rate", "baseline_learning_rate", "reward_scale")
        check_unit_interval(self, "gamma")
        for name in ("ent_coef", "max_grad_norm"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")


CHUNK_ROWS = 1024
"""The update takes a batch in chunks of about this many steps (``CHUNK_ROWS // num_envs`` steps of every
env): no more of them than the batch's longest episode needs."""


class Episodes(NamedTuple):
    """One episode of every env, stacked along time: ``(members, T, num_envs, ...)``, zeros where ``live``
    is False (past an episode's end); ``T`` is a whole number of update chunks."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    next_obs: torch.Tensor
    """the state each action led to"""
    live: torch.Tensor
    """bool: the step belongs to its env's episode"""


class Reinforce(OnPolicyAgent):
    """REINFORCE agent: ``Reinforce("CartPole-v1", seed=0).learn(300_000)``; see :class:`ReinforceConfig`."""

    name = "reinforce"
    config_class = ReinforceConfig
    autoreset_mode = AutoresetMode.DISABLED  # every env plays one episode, then waits for the reset

    def _setup(self) -> None:
        cfg = self.config
        limit = episode_limit(self.env)
        if limit is None:
            raise ValueError(
                f"REINFORCE plays whole episodes: {self.env_id} needs a step limit (max_episode_steps)"
            )
        self.limit = limit
        steps = self.n_members * limit * cfg.num_envs  # a batch's rows, up to the step limit
        what = f"batches of {self.n_members} member(s) x {cfg.num_envs} episodes of up to {limit} steps"
        check_fits(steps * (2 * self.observation_space.shape[0] * 8 + 32), what, self.device)
        seeds = (self.init_seeds(0), self.init_seeds(1))
        self.policy, self.value = policy_and_value(  # the baseline b(s): the value network's output sum
            cfg.net_arch,
            self.observation_space,
            self.n_actions,
            cfg.hidden_sizes,
            seeds,
            cfg.activation,
            self.device,
        )
        self.learning_rate = self.hparam("learning_rate")
        self.baseline_learning_rate = self.hparam("baseline_learning_rate")
        self.policy_optimizer = GroupAdam(self.policy.parameters(), lr=self.learning_rate.clone())
        self.value_optimizer = GroupAdam(self.value.parameters(), lr=self.baseline_learning_rate.clone())
        self.gamma = self.hparam("gamma").unsqueeze(1)  # (members, 1): against (members, num_envs)
        self.ent_coef, self.max_grad_norm = self.hparam("ent_coef"), self.hparam("max_grad_norm")
        self.clips = any(c.max_grad_norm > 0 for c in self.member_configs)
        self.reward_scale = self.hparam("reward_scale").view(-1, 1, 1)
        self.fresh_episodes = False  # whether every env stands at the start of an episode not yet played
        self.chunk = max(1, CHUNK_ROWS // cfg.num_envs)

    @property
    def networks(self) -> dict[str, nn.Module]:
        return {"policy": self.policy, "value": self.value}

    def _baseline(self, obs: torch.Tensor) -> torch.Tensor:
        return self.value(obs).sum(dim=-1)

    @torch.no_grad()
    def policy_probabilities(self, obs: torch.Tensor) -> torch.Tensor:
        """pi(a|s) of every action, ``(members, batch, n_actions)``."""
        return log_softmax(self.policy(obs)).exp()

    @torch.no_grad()
    def state_values(self, obs: torch.Tensor) -> torch.Tensor | None:
        """The baseline b(s), ``(members, batch)``; None without one."""
        return self._baseline(obs) if self.config.baseline else None

    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        logits = self.policy(obs)
        if deterministic:
            return logits.argmax(dim=-1)
        return sample_categorical(logits, self.streams.uniform(obs.shape[1]))

    def reset_env(self, keep_stats: bool = False) -> torch.Tensor:
        self.fresh_episodes = True
        return super().reset_env(keep_stats)

    @torch.no_grad()
    def _collect_rollout(self) -> Episodes:
        """Play one episode in every env of the members still training; count each member's steps."""
        obs = self.last_obs if self.fresh_episodes else self.reset_env(keep_stats=True)
        self.fresh_episodes = False
        members, num_envs = obs.shape[:2]
        live = self.active.to(self.device).unsqueeze(1).repeat(1, num_envs)
        length = -(-self.limit // self.chunk) * self.chunk  # the step limit, in whole chunks
        steps = (members, length, num_envs)
        batch = Episodes(
            obs=obs.new_zeros((members, length, *obs.shape[1:])),
            actions=torch.zeros(steps, dtype=torch.long, device=self.device),
            rewards=torch.zeros(steps, device=self.device),
            terminated=torch.zeros(steps, dtype=torch.bool, device=self.device),
            truncated=torch.zeros(steps, dtype=torch.bool, device=self.device),
            next_obs=obs.new_zeros((members, length, *obs.shape[1:])),
            live=torch.zeros(steps, dtype=torch.bool, device=self.device),
        )
        # Whether every episode has ended is read back from the device: at every step on the CPU, where
        # that costs nothing, and every 8th elsewhere (the steps in between are padding).
        check_every = 1 if self.device.type == "cpu" else 8
        for t in range(self.limit):
            # A member draws only while one of its envs plays, so its draws are those it makes alone.
            uniforms = self.streams.uniform(num_envs, live.any(dim=-1))
            actions = sample_categorical(self.policy(obs), uniforms)
            next_obs, rewards, terminated, truncated, _ = self.step_env(actions, live)
            keep = live.unsqueeze(-1)
            batch.obs[:, t] = torch.where(keep, obs, 0)
            batch.next_obs[:, t] = torch.where(keep, next_obs, 0)
            batch.actions[:, t] = actions * live
            batch.rewards[:, t] = rewards * live
            batch.terminated[:, t] = terminated & live
            batch.truncated[:, t] = truncated & live
            batch.live[:, t] = live
            live = live & ~(terminated | truncated)
            obs = next_obs
            if (t + 1) % check_every == 0 and not live.any():
                break
        self.count_steps(batch.live.sum(dim=(1, 2)).tolist())
        played = -(-(t + 1) // self.chunk) * self.chunk
        return Episodes(*(field[:, :played] for field in batch))

    def _train(self, batch: Episodes) -> Scalars:
        """One gradient step of the policy on ``-log pi(a|s) * (G - b(s))`` and one of the baseline on
        ``(b(s) - G)**2``, each averaged over the batch's steps.

        The batch is taken in chunks of ``self.chunk`` steps of every env (as many as the longest
        episode needs): sums over it, and the gradient, add up chunk by chunk, and a chunk past the end
        of every episode of a member adds exact zeros, so a member's update is the same however long
        the episodes of the rest of its group.
        """
        cfg = self.config
        if cfg.anneal_lr:
            progress = self.member_progress()
            self.policy_optimizer.lr = linear_schedule(self.learning_rate, 0.0, progress)
            self.value_optimizer.lr = linear_schedule(self.baseline_learning_rate, 0.0, progress)
        chunks = [slice(t, t + self.chunk) for t in range(0, batch.live.shape[1], self.chunk)]
        live = batch.live.float()
        steps = live.sum(dim=(1, 2)).clamp(min=1.0)  # counts: exact in any order

        def total(x: torch.Tensor) -> torch.Tensor:
            """Per member, the sum of ``x`` over the batch's live steps, added up chunk after chunk (one
            reduction of all the chunks' sums would group them by their number, and round so)."""
            acc = torch.zeros_like(steps)
            for c in chunks:
                acc = acc + (x[:, c] * live[:, c]).sum(dim=(1, 2))
            return acc

        rewards = batch.rewards * self.reward_scale
        values = torch.zeros_like(rewards)
        if cfg.baseline:
            with torch.no_grad():
                values, next_values = (
                    torch.cat(
                        [self._baseline(x[:, c].flatten(1, 2)).view_as(live[:, c]) for c in chunks], dim=1
                    )
                    for x in (batch.obs, batch.next_obs)
                )
            cut = batch.truncated & ~batch.terminated  # by the time limit: finished with the baseline
            rewards = rewards + cut * (self.gamma.unsqueeze(1) * next_values)
        ends = batch.terminated | batch.truncated | ~batch.live
        returns = reward_to_go(rewards.transpose(0, 1), ends.transpose(0, 1), self.gamma).transpose(0, 1)
        advantages = returns - values
        if cfg.normalize_advantage:
            mean = (total(advantages) / steps).view(-1, 1, 1)
            std = (total((advantages - mean).square()) / steps + 1e-8).sqrt().view(-1, 1, 1)
            advantages = (advantages - mean) / std

        self.policy_optimizer.zero_grad()
        self.value_optimizer.zero_grad()
        scalars: Scalars = {"losses/policy_loss": 0.0, "losses/entropy": 0.0, "losses/value_loss": 0.0}
        weight = live / steps.view(-1, 1, 1)  # a step's share of its member's batch mean
        for c in chunks:
            log_probs = log_softmax(self.policy(batch.obs[:, c].flatten(1, 2)))
            action_log_probs = log_probs.gather(-1, batch.actions[:, c].flatten(1).unsqueeze(-1)).squeeze(-1)
            w = weight[:, c].flatten(1)
            terms = {
                "losses/policy_loss": -(action_log_probs * advantages[:, c].flatten(1) * w).sum(dim=-1),
                "losses/entropy": (entropy(log_probs) * w).sum(dim=-1),
            }
            loss = terms["losses/policy_loss"] - self.ent_coef * terms["losses/entropy"]
            if cfg.baseline:
                error = self._baseline(batch.obs[:, c].flatten(1, 2)) - returns[:, c].flatten(1)
                terms["losses/value_loss"] = (error.square() * w).sum(dim=-1)
                loss = loss + terms["losses/value_loss"]
            loss.sum().backward()  # summed over members: each member's weights get their own gradient
            for tag, term in terms.items():
                scalars[tag] = scalars[tag] + term.detach()

        # The members that played this batch (one that took its budget before it sits the rest out).
        played = batch.live.flatten(1).any(dim=-1)
        everyone = bool(played.all())
        for optimizer in (self.policy_optimizer, self.value_optimizer):
            if self.clips:
                clip_grad_norm(optimizer.params, self.max_grad_norm)
            optimizer.step(None if everyone else played)
        self.gradient_samples = self.gradient_samples + steps * played
        if not cfg.baseline:
            del scalars["losses/value_loss"]
        return scalars
