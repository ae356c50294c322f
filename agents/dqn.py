"""Deep Q-Network (Mnih et al. 2015) with double-DQN targets, on a batched env on one device.

Read top to bottom it is the algorithm as taught: act epsilon-greedily in every env at once, store
the transitions, sample a batch, regress Q(s, a) on r + gamma * Q_target(s', argmax_a Q(s', a)),
step the optimizer, and move the target network towards the online one every few updates.

Options of the later literature, off by default (the presets turn them on where they help):
``n_steps`` returns (Sutton 1988; Rainbow, Hessel et al. 2018) carry a reward back n steps per
update instead of one; ``tau < 1`` makes the target a Polyak average of the online network (a
slowly moving target instead of a jump every few thousand steps); ``layer_norm`` normalises every
hidden layer (PQN, Gallici et al. 2024), which keeps the features bounded as the targets move;
``anneal_lr`` decays the step size to 0 over the budget, so a policy that is good stays put.

Every tensor has the group's members as its leading dimension (see :mod:`rlzero.agents.base`): one
member is one DQN; a group of seeds steps, stores, samples and updates together, each member on its
own boards, buffer rows, random stream, weights, Adam state and gradient-norm clip.

Bootstrapping: the env autoresets in SAME_STEP mode, so each step's ``info["final_obs"]`` is the state
the action led to. Terminal transitions do not bootstrap; truncated ones do (the time limit is not
part of the task's state); no transition crosses a reset (an n-step sum stops at its episode's end).
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rlzero.agents.base import OffPolicyAgent, Scalars, check_positive, check_unit_interval
from rlzero.agents.buffers import ReplayBuffer, Step, n_step_transitions
from rlzero.agents.memory import check_fits
from rlzero.agents.networks import build_network, check_network
from rlzero.agents.normalize import check_normalize_config
from rlzero.agents.optim import GroupAdam, clip_grad_norm, per_member
from rlzero.agents.schedules import linear_schedule


@dataclass
class DQNConfig:
    num_envs: int = 512
    """boards (or env copies) stepped together; each iteration collects this many transitions"""
    learning_rate: float = 1e-3
    """Adam step size"""
    anneal_lr: bool = False
    """decay the learning rate linearly to 0 over the training budget"""
    buffer_size: int = 200_000
    """replay capacity in transitions"""
    batch_size: int = 512
    """transitions per gradient step"""
    gamma: float = 0.9
    """discount factor. Where every productive pick pays at once, a small one keeps the values (up to
    1 / (1 - gamma)) small next to the margin between a productive and a wasted pick (2 - gamma**k with
    k entries left on ZeroOut-v0), so the greedy policy does not drift onto a zero slot; long-horizon
    tasks (CartPole) need one close to 1. The presets set it per env id, with their reasons."""
    learning_starts: int = 5_000
    """env steps of pure collection before the first update (counted as ``num_timesteps``, so a
    ``learn`` that continues another does not wait again)"""
    gradient_steps: int = 1
    """gradient steps per collection iteration"""
    target_update_interval: int = 100
    """gradient steps between updates of the target network"""
    tau: float = 1.0
    """how far each target update moves the target towards the online network: 1 copies it,
    smaller values keep a Polyak average (target <- (1 - tau) * target + tau * online)"""
    n_steps: int = 1
    """rewards summed per stored transition before bootstrapping (n-step returns)"""
    exploration_fraction: float = 0.25
    """share of the training budget over which epsilon falls from its initial to its final value"""
    exploration_initial_eps: float = 1.0
    """epsilon at the start"""
    exploration_final_eps: float = 0.05
    """epsilon after the decay"""
    max_grad_norm: float = 10.0
    """gradient-norm clipping threshold"""
    double_q: bool = True
    """pick the next action with the online network, value it with the target network"""
    hidden_sizes: tuple[int, ...] = (128, 128)
    """widths of the hidden layers"""
    layer_norm: bool = False
    """a LayerNorm after every hidden Linear layer"""
    net_arch: str = "mlp"
    """network architecture (see rlzero.agents.networks)"""
    activation: str = "relu"
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
            "learning_rate",
            "buffer_size",
            "batch_size",
            "gradient_steps",
            "target_update_interval",
            "tau",
            "n_steps",
            "max_grad_norm",
        )
        check_unit_interval(
            self, "gamma", "exploration_fraction", "tau", "exploration_initial_eps", "exploration_final_eps"
        )
        if self.learning_starts < 0:
            raise ValueError(f"learning_starts must be >= 0, got {self.learning_starts!r}")
        if self.buffer_size < self.num_envs:
            raise ValueError(f"buffer_size ({self.buffer_size}) must be >= num_envs ({self.num_envs})")


class DQN(OffPolicyAgent):
    """DQN agent: ``DQN("ZeroOut-v0", seed=0).learn(300_000)``; hyperparameters are :class:`DQNConfig`.

    The defaults suit ZeroOut: many boards per step and one large batch per step keep the whole loop
    in a few big tensor operations. The CLIs start from the per-env presets in
    :mod:`rlzero.agents.presets` (CartPole-v1 included), which turn on the options above.
    """

    name = "dqn"
    config_class = DQNConfig

    def _setup(self) -> None:
        cfg = self.config
        self.q_net = build_network(
            cfg.net_arch,
            self.observation_space,
            self.n_actions,
            cfg.hidden_sizes,
            cfg.layer_norm,
            self.init_seeds(0),
            cfg.activation,
        )
        self.q_net.to(self.device)
        self.target_net = copy.deepcopy(self.q_net)
        self.learning_rate = self.hparam("learning_rate")
        self.optimizer = GroupAdam(self.q_net.parameters(), lr=self.learning_rate.clone())
        width = 2 * self.observation_space.shape[0] + 4  # float32 values per stored transition
        what = f"a replay buffer of {self.n_members} member(s) x {cfg.buffer_size:,} transitions"
        check_fits(self.n_members * cfg.buffer_size * width * 4, what, self.device)
        self.buffer = ReplayBuffer(
            self.n_members, cfg.buffer_size, self.observation_space.shape[0], self.device
        )
        self.recent: deque[Step] = deque(maxlen=cfg.n_steps)  # the steps not yet stored
        self.gamma = self.hparam("gamma").unsqueeze(1)  # (members, 1): against (members, num_envs)
        self.tau, self.max_grad_norm = self.hparam("tau"), self.hparam("max_grad_norm")
        self.initial_eps, self.final_eps = (
            self.hparam("exploration_initial_eps"),
            self.hparam("exploration_final_eps"),
        )
        self.exploration_fraction = self.hparam("exploration_fraction")
        self.exploration_rate = self.initial_eps
        self.n_updates = 0

    @property
    def networks(self) -> dict[str, nn.Module]:
        return {"q_net": self.q_net, "target_net": self.target_net}

    def after_transfer(self) -> None:
        """Start the target network from the transferred online network."""
        self.target_net.load_state_dict(self.q_net.state_dict())

    def metadata(self, member: int = 0) -> dict[str, Any]:
        """The base's, plus the exploration rate reached, which ``predict(deterministic=False)`` uses."""
        return {**super().metadata(member), "exploration_rate": float(self.exploration_rate[member])}

    def after_load(self, metadata: Mapping[str, Any]) -> None:
        """Explore as the saved agent did (checkpoints from before it was saved: the initial rate)."""
        if "exploration_rate" in metadata:
            self.exploration_rate = torch.full_like(self.exploration_rate, metadata["exploration_rate"])

    @torch.no_grad()
    def q_values(self, obs: torch.Tensor) -> torch.Tensor:
        """Q of every action, ``(members, batch, n_actions)``, for observations ``(members, batch, ...)``."""
        return self.q_net(obs)

    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        greedy = self.q_net(obs).argmax(dim=-1)
        if deterministic:
            return greedy
        n = obs.shape[1]
        explore = self.streams.uniform(n) < self.exploration_rate.unsqueeze(1)
        return torch.where(explore, self.streams.integers(self.n_actions, n), greedy)

    def reset_env(self, keep_stats: bool = False) -> torch.Tensor:
        """Reset the envs; the steps not yet stored belong to the episodes that ended here."""
        self.recent.clear()
        return super().reset_env(keep_stats)

    def _collect_step(self) -> None:
        """Act epsilon-greedily in every env at once; store the transition that starts ``n_steps`` ago."""
        cfg = self.config
        self.exploration_rate = linear_schedule(
            self.initial_eps, self.final_eps, self.progress, self.exploration_fraction
        )
        obs = self.last_obs
        with torch.no_grad():
            actions = self._act(obs, deterministic=False)
        _, rewards, terminated, truncated, info = self.step_env(actions)
        self.recent.append(Step(obs, actions, rewards, info["final_obs"], terminated, truncated))
        if len(self.recent) == cfg.n_steps:
            self.buffer.add(n_step_transitions(self.recent, self.gamma))

    def _train(self) -> Scalars:
        """``gradient_steps`` gradient steps on replayed transitions, moving the target network as due."""
        cfg = self.config
        if cfg.anneal_lr:
            self.optimizer.lr = linear_schedule(self.learning_rate, 0.0, self.progress)
        for _ in range(cfg.gradient_steps):
            scalars = self._train_step()
            self.n_updates += 1
            if self.n_updates % cfg.target_update_interval == 0:
                self._update_target()
        return {**scalars, "charts/epsilon": self.exploration_rate}

    @torch.no_grad()
    def _update_target(self) -> None:
        """Move the target network ``tau`` of the way to the online network (``tau = 1``: copy it)."""
        for target, online in zip(self.target_net.parameters(), self.q_net.parameters(), strict=True):
            target.lerp_(online, per_member(self.tau, target))

    def _train_step(self) -> Scalars:
        """One gradient step on a sampled batch: regress Q(s, a) on the double-DQN target."""
        cfg = self.config
        batch = self.buffer.sample(cfg.batch_size, self.streams)  # (members, batch_size, ...)
        self.gradient_samples += cfg.batch_size
        with torch.no_grad():
            next_q_target = self.target_net(batch.next_obs)
            if cfg.double_q:
                next_actions = self.q_net(batch.next_obs).argmax(dim=-1, keepdim=True)
                next_q = next_q_target.gather(-1, next_actions).squeeze(-1)
            else:
                next_q = next_q_target.max(dim=-1).values
            target = batch.rewards + batch.discounts * (1.0 - batch.terminated) * next_q
        q = self.q_net(batch.obs).gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)
        loss = F.smooth_l1_loss(q, target, reduction="none").mean(dim=-1)
        self.optimizer.zero_grad()
        loss.sum().backward()  # summed over members: each member's weights get their own gradient
        clip_grad_norm(self.q_net.parameters(), self.max_grad_norm)
        self.optimizer.step()
        return {"losses/td_loss": loss.detach(), "losses/q_values": q.detach().mean(dim=-1)}
