"""Deep Q-Network (Mnih et al. 2015) with double-DQN targets, on a batched env on one device.

Read top to bottom it is the algorithm as taught: act epsilon-greedily in every env at once, store
the transitions, sample a batch, regress Q(s, a) on r + gamma * Q_target(s', argmax_a Q(s', a)),
step the optimizer, and copy the online network into the target every few updates.

Bootstrapping: the env autoresets in SAME_STEP mode, so each stored transition ends in
``info["final_obs"]``, the state the action led to. Terminal transitions do not bootstrap; truncated
ones do (the time limit is not part of the task's state); no transition crosses a reset.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rlzero.agents.base import Agent, Scalars, check_positive, check_unit_interval
from rlzero.agents.buffers import ReplayBuffer
from rlzero.agents.networks import build_network
from rlzero.agents.schedules import linear_schedule


@dataclass
class DQNConfig:
    num_envs: int = 512
    """boards (or env copies) stepped together; each iteration collects this many transitions"""
    learning_rate: float = 1e-3
    """Adam step size"""
    buffer_size: int = 200_000
    """replay capacity in transitions"""
    batch_size: int = 512
    """transitions per gradient step"""
    gamma: float = 0.9
    """discount factor. 0.9 on ZeroOut, where any productive pick is optimal whatever the discount:
    the margin between a productive and a wasted pick (2 - gamma**k with k entries left) stays large
    next to the values (up to 1 / (1 - gamma)), so the greedy policy does not drift onto a zero slot
    (with 0.99, 1 in 10 seeds dipped once after solving). Use 0.99 for long-horizon tasks (CartPole)."""
    learning_starts: int = 5_000
    """env steps of pure collection before the first update (counted as ``num_timesteps``, so a
    ``learn`` that continues another does not wait again)"""
    gradient_steps: int = 1
    """gradient steps per collection iteration"""
    target_update_interval: int = 100
    """gradient steps between copies of the online network into the target network"""
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
    net_arch: str = "mlp"
    """network architecture (see rlzero.agents.networks)"""

    def __post_init__(self) -> None:
        check_positive(
            self,
            "num_envs",
            "learning_rate",
            "buffer_size",
            "batch_size",
            "gradient_steps",
            "target_update_interval",
        )
        check_unit_interval(self, "gamma", "exploration_fraction")
        if self.buffer_size < self.num_envs:
            raise ValueError(f"buffer_size ({self.buffer_size}) must be >= num_envs ({self.num_envs})")


class DQN(Agent):
    """DQN agent: ``DQN("ZeroOut-v0", seed=0).learn(300_000)``; hyperparameters are :class:`DQNConfig`.

    The defaults are tuned for ZeroOut: many boards per step and one large batch per step keep the
    whole loop in a few big tensor operations (fast); one-hot observations (see networks), a discount
    of 0.9 and a target network synced every 100 updates keep the greedy policy solved once it is
    (seeds 0-9 solve by about 45k env steps and stay solved at every evaluation to 300k; see
    benchmarks/README.md). For CartPole-v1 see the settings in benchmarks/compare_sb3.py.
    """

    name = "dqn"
    config_class = DQNConfig
    default_timesteps = 300_000

    def _setup(self) -> None:
        cfg = self.config
        self.q_net = build_network(cfg.net_arch, self.observation_space, self.n_actions, cfg.hidden_sizes)
        self.q_net.to(self.device)
        self.target_net = copy.deepcopy(self.q_net)
        self.optimizer = torch.optim.Adam(self.q_net.parameters(), lr=cfg.learning_rate, foreach=True)
        self.buffer = ReplayBuffer(cfg.buffer_size, self.observation_space.shape[0], self.device)
        self.exploration_rate = cfg.exploration_initial_eps
        self.n_updates = 0

    @property
    def networks(self) -> dict[str, nn.Module]:
        return {"q_net": self.q_net, "target_net": self.target_net}

    def after_transfer(self) -> None:
        """Start the target network from the transferred online network."""
        self.target_net.load_state_dict(self.q_net.state_dict())

    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        greedy = self.q_net(obs).argmax(dim=1)
        if deterministic:
            return greedy
        n = obs.shape[0]
        explore = torch.rand(n, device=self.device, generator=self.generator) < self.exploration_rate
        random_actions = torch.randint(0, self.n_actions, (n,), device=self.device, generator=self.generator)
        return torch.where(explore, random_actions, greedy)

    def _collect(self) -> None:
        """Act epsilon-greedily in every env at once and store the transitions."""
        cfg = self.config
        self.exploration_rate = linear_schedule(
            cfg.exploration_initial_eps, cfg.exploration_final_eps, self.progress, cfg.exploration_fraction
        )
        obs = self.last_obs
        with torch.no_grad():
            actions = self._act(obs, deterministic=False)
        _, rewards, terminated, _, info = self.step_env(actions)
        self.buffer.add(obs, actions, rewards, info["final_obs"], terminated)

    def _update(self, experience: None) -> Scalars:
        """Learn from replayed transitions, once collection has filled ``learning_starts`` of them."""
        cfg = self.config
        if self.num_timesteps < cfg.learning_starts:
            return {}
        for _ in range(cfg.gradient_steps):
            scalars = self._train_step()
            self.n_updates += 1
            if self.n_updates % cfg.target_update_interval == 0:
                self.target_net.load_state_dict(self.q_net.state_dict())
        return {**scalars, "charts/epsilon": self.exploration_rate}

    def _train_step(self) -> Scalars:
        """One gradient step on a sampled batch: regress Q(s, a) on the double-DQN target."""
        cfg = self.config
        batch = self.buffer.sample(cfg.batch_size, self.generator)
        self.gradient_samples += cfg.batch_size
        with torch.no_grad():
            next_q_target = self.target_net(batch.next_obs)
            if cfg.double_q:
                next_actions = self.q_net(batch.next_obs).argmax(dim=1, keepdim=True)
                next_q = next_q_target.gather(1, next_actions).squeeze(1)
            else:
                next_q = next_q_target.max(dim=1).values
            target = batch.rewards + cfg.gamma * (1.0 - batch.terminated) * next_q
        q = self.q_net(batch.obs).gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        loss = F.smooth_l1_loss(q, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.q_net.parameters(), cfg.max_grad_norm, foreach=True)
        self.optimizer.step()
        return {"losses/td_loss": loss.detach(), "losses/q_values": q.detach().mean()}
