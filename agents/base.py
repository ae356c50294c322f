"""The training skeleton every from-scratch agent shares, after SB3's ``BaseAlgorithm``.

:class:`Agent` owns what is the same for every algorithm: the hyperparameter dataclass, seeding, the
batched env, the loop of :meth:`Agent.learn` (callbacks, metric reports, interruption, and the state
that lets a second ``learn`` continue), ``predict``, ``save`` and ``load``.

An agent is a group of **members**: ``seed=[0, 1, 2]`` trains three independent agents in one process,
each with its own weights, optimizer state, buffers, random draws and env boards; ``seed=0`` is the
group of one. Every tensor an algorithm handles has the members as its leading dimension (observations
``(members, num_envs, ...)``, network weights ``(members, ...)``), and every random draw comes from
``self.streams``, one counter-based stream per member (:class:`rlzero.envs.streams.Streams`), so a
member's run never depends on who else is in its group. Members may differ in their float
hyperparameters (``members=[{"learning_rate": 1e-3}, ...]``; :meth:`Agent.hparam` gives them as a
``(members,)`` tensor); every other field fixes shapes or control flow and is shared.

An algorithm subclasses one of the two loop shapes SB3 has, and supplies only its own parts:

* ``config_class``: its hyperparameters as a documented dataclass;
* ``_setup``: build networks, optimizers and buffers from ``self.config``;
* ``networks``: the modules a checkpoint holds, by name;
* ``_act``: actions for a batch of observations;
* :class:`OnPolicyAgent` (REINFORCE, PPO): ``_collect_rollout`` plays with the current policy (through
  :meth:`Agent.step_env`) and returns the rollout, ``_train`` learns from it;
* :class:`OffPolicyAgent` (DQN): ``_collect_step`` steps every env once and stores the transitions in its
  replay buffer, ``_train`` takes the iteration's gradient steps on replayed batches once
  ``learning_starts`` env steps are in.

So a new algorithm is one file with one class, plus one line in :mod:`rlzero.agents.registry`.

Env steps are counted per member (:attr:`Agent.member_timesteps`). Agents that step every env at every
iteration (DQN, PPO) keep every member at the same count; an episodic agent (REINFORCE learns from whole
episodes) counts each member's own steps, so each member's budget, schedules, evaluations and reports
follow its own count, as they would in a run of its own.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import math
import random
import time
import typing
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from torch import nn

from rlzero.agents.buffers import ReplayBuffer
from rlzero.agents.callbacks import Callback
from rlzero.agents.checkpoint import (
    CheckpointError,
    check_agent,
    check_weights,
    load_checkpoint,
    save_checkpoint,
)
from rlzero.agents.device import resolve_device
from rlzero.agents.memory import ENV_ROW_BYTES, check_fits
from rlzero.agents.networks import load_member, member_state_dict
from rlzero.agents.normalize import ObsNormalizer
from rlzero.agents.vec_env import make_vec_env, reset_seeds
from rlzero.envs import normalized_return
from rlzero.envs.streams import Streams

AgentT = TypeVar("AgentT", bound="Agent")
Scalars = dict[str, "torch.Tensor | float"]
"""What ``_train`` reports: losses and such by TensorBoard tag, as ``(members,)`` tensors (read back
only when a report is due, so no host/device sync per update) or floats shared by every member."""

OBS_NORMALIZER = "obs_normalizer"
"""The name a checkpoint holds the observation statistics under, beside the networks' weights (only
where the agent normalises observations)."""

AGENT_STREAM = 1 << 31
"""Member ``m``'s stream is keyed by ``seed * 2**32 + AGENT_STREAM``: a key no board of any seed has
(board ``i`` of seed ``s`` is keyed by ``s * 2**32 + i``)."""


def make_config(config_class: type, hparams: Mapping[str, Any]) -> Any:
    """Build a hyperparameter dataclass, refusing unknown names with the list of valid ones."""
    fields = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(hparams) - fields)
    if unknown:
        raise ValueError(
            f"unknown hyperparameter(s) {', '.join(unknown)} for {config_class.__name__}; "
            f"valid: {', '.join(sorted(fields))}"
        )
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in hparams.items()}
    return config_class(**values)


def make_member_configs(
    config_class: type, hparams: Mapping[str, Any], members: Sequence[Mapping[str, Any]]
) -> list[Any]:
    """One config per member: ``hparams`` with each member's overrides on top. Only float fields may
    differ between members (the others fix shapes or control flow); ValueError names any other."""
    configs = [make_config(config_class, {**hparams, **member}) for member in members]
    hints = typing.get_type_hints(config_class)
    for f in dataclasses.fields(config_class):
        values = {repr(getattr(c, f.name)) for c in configs}
        if len(values) > 1 and hints[f.name] is not float:
            raise ValueError(
                f"members may differ in float hyperparameters only; {f.name} takes {sorted(values)}"
            )
    return configs


def check_positive(config: Any, *names: str) -> None:
    """Raise ValueError for any named field of ``config`` that is not > 0."""
    for name in names:
        value = getattr(config, name)
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value!r}")


def check_unit_interval(config: Any, *names: str) -> None:
    """Raise ValueError for any named field of ``config`` outside [0, 1]."""
    for name in names:
        value = getattr(config, name)
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must lie in [0, 1], got {value!r}")


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch's global generators, as SB3's ``set_random_seed`` does. Our agents draw
    from none of them (networks from :meth:`Agent.init_seeds`, the rest from ``streams``); this is for
    third-party code in the same process that does."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (third-party code may still draw from the legacy global)
    torch.manual_seed(seed)


def package_version() -> str:
    """rlzero's installed version, for checkpoint metadata (read without importing the package)."""
    try:
        return importlib.metadata.version("rlzero")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class EpisodeStats:
    """Finished-episode statistics of a batched env, per member, tracked on device as Gymnasium's
    ``RecordEpisodeStatistics`` does, and read back once per report. Tensors are ``(members, num_envs)``.

    Returns and lengths come from the rewards and done flags; the normalized return also needs each
    episode's optimum, which envs that know it (ZeroOut) give as ``info["optimal_return"]`` on reset
    and on every step (for the episode under way after the step). Elsewhere it is not reported.
    """

    def __init__(self, members: int, num_envs: int, device: torch.device) -> None:
        self.returns = torch.zeros((members, num_envs), device=device)
        self.lengths = torch.zeros_like(self.returns)
        self.optimal = torch.full_like(self.returns, torch.nan)
        # per member: episodes, return, length, normalized, normalized count
        self.sums = torch.zeros((members, 5), device=device)

    def _optimum(self, info: Mapping[str, Any]) -> torch.Tensor:
        if "optimal_return" not in info:
            return torch.full_like(self.optimal, torch.nan)
        optimal = torch.as_tensor(info["optimal_return"], device=self.optimal.device).float()
        optimal = optimal.view_as(self.optimal)
        return optimal.where(optimal != 0, torch.nan)  # an all-zero start has no normalized return

    def reset(self, info: Mapping[str, Any]) -> None:
        """Every env starts a new episode (and the episodes of before are no longer reported)."""
        self.sums.zero_()
        self.start(info)

    def start(self, info: Mapping[str, Any]) -> None:
        """Every env starts a new episode; the episodes that ended before are still reported."""
        self.returns.zero_()
        self.lengths.zero_()
        self.optimal = self._optimum(info)

    def step(
        self,
        rewards: torch.Tensor,
        terminated: torch.Tensor,
        truncated: torch.Tensor,
        info: Mapping[str, Any],
        live: torch.Tensor | None = None,
    ) -> None:
        """Account one env step (tensors of ``members * num_envs`` rows, in any shape); the episodes
        that ended in it join the sums. Where ``live`` (bool, ``(members, num_envs)``) is False the
        row's step is not part of an episode (an episodic agent's env that finished its episode)."""
        rewards, terminated, truncated = (x.view_as(self.returns) for x in (rewards, terminated, truncated))
        done = terminated | truncated
        if live is not None:
            rewards, done = rewards * live, done & live
        self.returns += rewards
        self.lengths += 1 if live is None else live
        normalized = normalized_return(self.returns, self.optimal)
        ended = done.float()
        has_normalized = (~normalized.isnan()).float() * ended
        self.sums += torch.stack(
            [
                ended.sum(1),
                (self.returns * ended).sum(1),
                (self.lengths * ended).sum(1),
                (normalized.nan_to_num(0.0) * has_normalized).sum(1),
                has_normalized.sum(1),
            ],
            dim=1,
        )
        kept = (~done).float()
        self.returns *= kept
        self.lengths *= kept
        self.optimal = self._optimum(info)

    def pop(self) -> list[dict[str, float]]:
        """Per member: mean return, length and normalized return of the episodes since the last call
        (one sync for the whole group)."""
        rows = self.sums.tolist()
        self.sums.zero_()
        out = []
        for episodes, ret, length, normalized, n_count in rows:
            metrics = {}
            if episodes:
                metrics = {
                    "charts/episodic_return": ret / episodes,
                    "charts/episodic_length": length / episodes,
                }
                if n_count:
                    metrics["charts/normalized_return"] = normalized / n_count
            out.append(metrics)
        return out


class Agent(ABC):
    """SB3-shaped API over a batched env on one device: ``learn``, ``predict``, ``save``, ``load``, for
    one agent (``seed=0``) or a group of independent members (``seed=[0, 1, 2]``)."""

    name: ClassVar[str]
    config_class: ClassVar[type]
    trains_groups: ClassVar[bool] = True
    """whether one agent trains several members (the SB3 adapters train one seed each)"""
    strategies: ClassVar[tuple[str, ...]] = ("full", "freeze", "head")
    """the fine-tuning strategies it can start from (see :mod:`rlzero.agents.transfer`)"""
    autoreset_mode: ClassVar[AutoresetMode] = AutoresetMode.SAME_STEP
    """how the batched env starts new episodes: at once within the step that ended one (``SAME_STEP``,
    ``info["final_obs"]`` holding the state the action led to), or only when the agent resets it
    (``DISABLED``: an episodic agent playing one episode per env at a time)"""

    def __init__(
        self,
        env_id: str,
        *,
        device: str | torch.device = "auto",
        seed: int | Sequence[int] = 0,
        env_kwargs: Mapping[str, Any] | None = None,
        members: Sequence[Mapping[str, Any]] | None = None,
        **hparams: Any,
    ) -> None:
        self.seeds = [int(seed)] if isinstance(seed, (int, np.integer)) else [int(s) for s in seed]
        if not self.seeds or any(s < 0 for s in self.seeds):
            raise ValueError(f"seed must be an integer >= 0 or a non-empty list of them, got {seed!r}")
        members = list(members) if members is not None else [{} for _ in self.seeds]
        if len(members) != len(self.seeds):
            raise ValueError(f"members gives {len(members)} overrides for {len(self.seeds)} seeds")
        self.member_configs = make_member_configs(self.config_class, hparams, members)
        self.config = self.member_configs[0]
        """the hyperparameters every member shares (and member 0's floats)"""
        self.n_members = len(self.seeds)
        self.seed = self.seeds[0]
        self.env_id, self.env_kwargs = env_id, dict(env_kwargs or {})
        self.device = resolve_device(device)
        envs = f"{self.n_members} member(s) x {self.config.num_envs} envs"
        check_fits(self.n_members * self.config.num_envs * ENV_ROW_BYTES, envs, self.device)
        seed_everything(self.seed)
        self.streams = Streams.from_seeds([(s << 32) + AGENT_STREAM for s in self.seeds], self.device)
        self.env = make_vec_env(
            env_id, self.config.num_envs, self.device, self.env_kwargs, self.n_members, self.autoreset_mode
        )
        # make_vec_env checked them: a flat Box and a Discrete space
        self.observation_space = typing.cast(spaces.Box, self.env.single_observation_space)
        """what the networks see: the env's observations, or where ``normalize_obs`` is on, floats in
        ``+-clip_obs`` (so that no network scales or one-hot encodes them as the env's space would)"""
        self.n_actions = int(typing.cast(spaces.Discrete, self.env.single_action_space).n)
        self.obs_normalizer: ObsNormalizer | None = None
        """each member's running observation statistics, where the config's ``normalize_obs`` is on
        (see :mod:`rlzero.agents.normalize`): updated while training, frozen in :meth:`predict`"""
        if getattr(self.config, "normalize_obs", False):
            clip = self.hparam("clip_obs")
            self.obs_normalizer = ObsNormalizer(self.observation_space.shape, clip)
            bound = max(c.clip_obs for c in self.member_configs)
            shape = self.observation_space.shape
            self.observation_space = spaces.Box(-bound, bound, shape, np.float32)
        self.episode_stats = EpisodeStats(self.n_members, self.config.num_envs, self.device)
        self.member_timesteps = [0] * self.n_members
        """env steps each member took, over every ``learn`` call since the last one with
        ``reset_num_timesteps``"""
        self.gradient_samples: torch.Tensor | int = 0
        """samples that entered a gradient step over those env steps: the same for every member, or a
        ``(members,)`` tensor where members differ (see :attr:`replay_ratios`)"""
        self.member_budgets: list[float] = [math.inf] * self.n_members
        """the env-step count at which each member's current ``learn`` ends (none before a ``learn``)"""
        self._last_obs: torch.Tensor | None = None
        self._env_seeded = False
        self._setup()

    # ------------------------------------------------------------------ what an algorithm supplies

    @abstractmethod
    def _setup(self) -> None:
        """Build networks, optimizers and buffers from ``self.config``."""

    @property
    @abstractmethod
    def networks(self) -> dict[str, nn.Module]:
        """Every module whose weights a checkpoint holds, by name."""

    @abstractmethod
    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        """Actions ``(members, batch)`` for observations ``(members, batch, ...)`` on ``self.device``."""

    @abstractmethod
    def _iterate(self) -> Scalars:
        """One pass of :meth:`learn`'s loop: collect, then learn (the loop shapes below); the scalars to
        report."""

    # ------------------------------------------------------------------ the loop

    def learn(
        self: AgentT,
        total_timesteps: int,
        callback: Callback | None = None,
        log_interval: int = 10_000,
        reset_num_timesteps: bool = True,
    ) -> AgentT:
        """Train for ``total_timesteps`` more env steps (whole iterations: the last may overshoot).

        As in SB3: with ``reset_num_timesteps`` the step count, and the schedules that follow it
        (exploration, learning rate), start again from 0 on a freshly reset env; without it a second
        call continues the first: same env state, same schedules, over the combined budget. Either way
        what the agent has learned and stored (weights, optimizer state, replay buffer) is kept, and the
        env is seeded with ``seed`` only at its very first reset.
        """
        if log_interval < 1:
            raise ValueError(f"log_interval must be >= 1 env step, got {log_interval}")
        if reset_num_timesteps:
            self.num_timesteps = self.gradient_samples = 0
        self.member_budgets = [steps + total_timesteps for steps in self.member_timesteps]
        if reset_num_timesteps or self._last_obs is None:
            self._last_obs = self.reset_env()
        reporter = Reporter(self, callback, log_interval)
        reporter.callback.on_training_start(self, total_timesteps)
        try:
            while self.active.any():
                scalars = self._iterate()
                if not reporter.step(scalars):
                    break
        finally:
            reporter.callback.on_training_end()
        return self

    @property
    def num_timesteps(self) -> int:
        """Env steps of the member that took fewest (every member's, where they step in lockstep)."""
        return min(self.member_timesteps)

    @num_timesteps.setter
    def num_timesteps(self, steps: int) -> None:
        self.member_timesteps = [int(steps)] * self.n_members

    @property
    def active(self) -> torch.Tensor:
        """``(members,)`` bool on the CPU: the members that have not yet taken their budget's env steps."""
        return torch.tensor([s < b for s, b in zip(self.member_timesteps, self.member_budgets, strict=True)])

    @property
    def progress(self) -> float:
        """Share of the current budget done by the group (its slowest member): 0 at the start, 1 at the
        end (SB3's 1 - progress_remaining)."""
        return min(self.num_timesteps / max(min(self.member_budgets), 1), 1.0)

    def member_progress(self) -> torch.Tensor:
        """Each member's share of its budget done, ``(members,)`` float32 on the agent's device."""
        shares = [
            min(s / max(b, 1), 1.0) for s, b in zip(self.member_timesteps, self.member_budgets, strict=True)
        ]
        return torch.tensor(shares, dtype=torch.float32, device=self.device)

    @property
    def last_obs(self) -> torch.Tensor:
        """The envs' current observations: where the next step starts from."""
        return self._last_obs if self._last_obs is not None else self.reset_env()

    def init_seeds(self, network: int) -> list[int]:
        """The seed each member's ``network``-th network is initialised from (see ``build_network``):
        a 32-bit word mixed from the member's seed and ``network``, as torch's CPU generator keeps only
        the low 32 bits of a seed."""
        return [int(np.random.SeedSequence([s, network]).generate_state(1)[0]) for s in self.seeds]

    def hparam(self, name: str) -> torch.Tensor:
        """A float hyperparameter of every member, as a ``(members,)`` tensor on the agent's device."""
        values = [getattr(c, name) for c in self.member_configs]
        return torch.tensor(values, dtype=torch.float32, device=self.device)

    def members_view(self, x: torch.Tensor) -> torch.Tensor:
        """Rows of the group's env, ``(members * num_envs, ...)``, as ``(members, num_envs, ...)``."""
        return x.view(self.n_members, self.config.num_envs, *x.shape[1:])

    @property
    def replay_ratios(self) -> list[float]:
        """Each member's samples per env step that entered a gradient step: what makes env-steps/s
        comparable (members differ where they stop their epochs early)."""
        samples = torch.as_tensor(self.gradient_samples, dtype=torch.float64).expand(self.n_members)
        steps = torch.tensor(self.member_timesteps, dtype=torch.float64).clamp(min=1)
        return (samples.cpu() / steps).tolist()

    def reset_env(self, keep_stats: bool = False) -> torch.Tensor:
        """Reset every env (each member's seeded with its seed the first time only) and return the
        observations, ``(members, num_envs, ...)`` (normalised where ``normalize_obs`` is on, the
        statistics of the members still training updated first); the episode statistics not yet
        reported are dropped unless ``keep_stats``."""
        seeds = None if self._env_seeded else reset_seeds(self.env, self.seeds, self.config.num_envs)
        obs, info = self.env.reset(seed=seeds)  # type: ignore[arg-type]  # a seed per row: Gymnasium's convention
        self._env_seeded = True
        if keep_stats:
            self.episode_stats.start(info)
        else:
            self.episode_stats.reset(info)
        self._last_obs = self.members_view(obs)
        if self.obs_normalizer is not None:
            # A member that has taken its budget sits out, as it would have stopped alone.
            training = self.active.to(self.device).unsqueeze(1).expand(-1, self.config.num_envs)
            self._last_obs = self._observe(self._last_obs, training)
        return self._last_obs

    def _observe(self, obs: torch.Tensor, counted: torch.Tensor | None) -> torch.Tensor:
        """Training observations as the networks see them: the statistics take in the rows where
        ``counted`` (all where None; none while the normaliser is in eval mode), then normalise."""
        assert self.obs_normalizer is not None
        if self.obs_normalizer.training:
            self.obs_normalizer.update(obs, counted)
        return self.obs_normalizer(obs)

    def normalize(self, obs: torch.Tensor) -> torch.Tensor:
        """Observations ``(members, batch, ...)`` as the networks see them: normalised with the frozen
        statistics where ``normalize_obs`` is on, else as they are."""
        return obs if self.obs_normalizer is None else self.obs_normalizer(obs)

    def step_env(
        self, actions: torch.Tensor, live: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """One step of every env, ``actions`` ``(members, num_envs)``: counts the env steps, tracks
        episodes, keeps the new observations. Returns tensors ``(members, num_envs, ...)``, with
        ``final_obs`` (and ``optimal_return`` where the env has it) in the info.

        ``live`` (bool, ``(members, num_envs)``): only these rows' steps belong to episodes; the caller
        then counts its members' env steps itself (:meth:`count_steps`), as only it knows when to read
        them back from the device."""
        obs, rewards, terminated, truncated, info = self.env.step(actions.flatten())
        if live is None:
            self.num_timesteps += self.config.num_envs
        self.episode_stats.step(rewards, terminated, truncated, info, live)
        view = self.members_view
        self._last_obs = view(obs)
        keys = ("final_obs", "optimal_return")
        shaped: dict[str, Any] = {k: view(info[k]) for k in keys if k in info}
        if self.obs_normalizer is not None:
            # As VecNormalize: the statistics take in the observations the next actions start from
            # (a new episode's first where one ended), not the final ones, which they then normalise.
            counted = live
            if self.autoreset_mode is AutoresetMode.DISABLED:  # an ended row starts nothing here
                ongoing = ~view(terminated | truncated)
                counted = ongoing if live is None else live & ongoing
            self._last_obs = self._observe(self._last_obs, counted)
            if "final_obs" in shaped:
                shaped["final_obs"] = self.obs_normalizer(shaped["final_obs"])
        return self._last_obs, view(rewards), view(terminated), view(truncated), shaped

    def count_steps(self, steps: Sequence[int]) -> None:
        """Add each member's env steps (see ``live`` in :meth:`step_env`)."""
        self.member_timesteps = [t + int(n) for t, n in zip(self.member_timesteps, steps, strict=True)]

    # ------------------------------------------------------------------ using a trained agent

    @torch.no_grad()
    def predict(self, obs: Any, deterministic: bool = True) -> tuple[Any, None]:
        """SB3-style ``(actions, None)``: numpy in, numpy out; a tensor in, a tensor on its own device.

        One member takes one observation or a batch of them, as SB3's models do; a group takes
        ``(members, batch, ...)``, a batch for each member.
        """
        source = obs.device if isinstance(obs, torch.Tensor) else None
        tensor = torch.as_tensor(obs, device=self.device)
        batch_shape = tensor.shape[: tensor.dim() - len(self.observation_space.shape)]
        if self.n_members > 1 and (not batch_shape or batch_shape[0] != self.n_members):
            raise ValueError(
                f"a group of {self.n_members} members predicts from observations shaped (members, "
                f"batch, *obs_shape), got shape {tuple(tensor.shape)}"
            )
        grouped = self.normalize(tensor.reshape(self.n_members, -1, *self.observation_space.shape))
        actions = self._act(grouped, deterministic).reshape(batch_shape)
        return (actions.to(source) if source is not None else actions.cpu().numpy()), None

    def metadata(self, member: int = 0) -> dict[str, Any]:
        """What a checkpoint needs to rebuild one member as an agent of its own, as plain data."""
        return {
            "agent": self.name,
            "env_id": self.env_id,
            "env_kwargs": self.env_kwargs,
            "seed": self.seeds[member],
            "observation_shape": list(self.observation_space.shape),
            "n_actions": self.n_actions,
            "hparams": {
                k: list(v) if isinstance(v, tuple) else v for k, v in self.config_dict(member).items()
            },
            "num_timesteps": self.member_timesteps[member],
            "versions": {
                "rlzero": package_version(),
                "torch": torch.__version__,
                "gymnasium": gym.__version__,
            },
        }

    def config_dict(self, member: int = 0) -> dict[str, Any]:
        return dataclasses.asdict(self.member_configs[member])

    def save(self, path: str | Path, member: int = 0) -> Path:
        """Write one member's weights and metadata atomically, as the checkpoint of a single agent
        (see :mod:`rlzero.agents.checkpoint`)."""
        state_dicts = {name: member_state_dict(net, member) for name, net in self.networks.items()}
        if self.obs_normalizer is not None:
            state_dicts[OBS_NORMALIZER] = {k: v[member] for k, v in self.obs_normalizer.state_dict().items()}
        return save_checkpoint(path, self.metadata(member), state_dicts)

    def after_transfer(self) -> None:  # noqa: B027 (an optional hook, not an abstract one)
        """Called once pretrained weights are in place (see :mod:`rlzero.agents.transfer`)."""

    def after_load(self, metadata: Mapping[str, Any]) -> None:  # noqa: B027 (optional, as above)
        """Called by :meth:`from_checkpoint` once the weights are in: take back whatever else
        :meth:`metadata` saved."""

    @classmethod
    def hparam_types(cls) -> dict[str, Any]:
        """``--set`` names and their annotated types, from the hyperparameter dataclass."""
        return typing.get_type_hints(cls.config_class)

    @classmethod
    def check_hparams(cls, hparams: Mapping[str, Any], members: Sequence[Mapping[str, Any]]) -> None:
        """ValueError for any hyperparameter a group with these members would refuse, without building it."""
        make_member_configs(cls.config_class, hparams, members)

    def start_from(self, path: str | Path, strategy: str) -> dict[str, Any] | None:
        """Start from a checkpoint's weights as a fine-tuning strategy moves them; return what it moved
        (:class:`rlzero.agents.transfer.TransferReport`)."""
        from rlzero.agents.transfer import transfer

        payload = load_checkpoint(path, map_location=self.device)
        check_agent(payload["metadata"], self.name, path)
        return dataclasses.asdict(transfer(self, payload["state_dicts"], strategy))

    def init_from(self, path: str | Path) -> None:
        """Start every member from the weights of a checkpoint (any agent of the same kind and
        architecture)."""
        payload = load_checkpoint(path, map_location=self.device)
        check_agent(payload["metadata"], self.name, path)
        self.load_weights(payload["state_dicts"])

    def load_weights(self, state_dicts: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
        """Load one agent's weights (a checkpoint's) into every member, every network or none, with its
        observation statistics where the agent normalises: a missing or misshapen tensor, or statistics
        where the agent does not normalise (or none where it does), is a CheckpointError."""
        missing = sorted(set(self.networks) - set(state_dicts))
        if missing:
            raise CheckpointError(f"checkpoint has no weights for {', '.join(missing)} of agent {self.name}")
        normalizer = self.obs_normalizer
        if (normalizer is not None) != (OBS_NORMALIZER in state_dicts):
            trained = "with" if normalizer is None else "without"
            raise CheckpointError(
                f"the weights were trained {trained} observation normalisation: set normalize_obs="
                f"{normalizer is None} to use them"
            )
        for name, net in self.networks.items():
            check_weights(member_state_dict(net, 0), dict(state_dicts[name]), what=f"{self.name} {name}")
        if normalizer is not None:
            stats = dict(state_dicts[OBS_NORMALIZER])
            own = {k: v[0] for k, v in normalizer.state_dict().items()}
            check_weights(own, stats, what=f"{self.name} {OBS_NORMALIZER}")
        for name, net in self.networks.items():
            for member in range(self.n_members):
                load_member(net, member, dict(state_dicts[name]))
        if normalizer is not None:
            with torch.no_grad():
                for key, value in normalizer.state_dict().items():
                    value.copy_(stats[key].to(value).expand_as(value))

    @classmethod
    def load(cls: type[AgentT], path: str | Path, device: str | torch.device = "auto") -> AgentT:
        """Rebuild an agent from a checkpoint on ``device`` (a CUDA checkpoint loads on CPU).

        A checkpoint holds the weights, the hyperparameters and the step count (DQN: its exploration
        rate too), not the optimizer's moments or a replay buffer: training it further starts those
        afresh, as SB3 does without its saved buffer."""
        resolved = resolve_device(device)
        return cls.from_checkpoint(load_checkpoint(path, map_location=resolved), resolved)

    @classmethod
    def from_checkpoint(cls: type[AgentT], payload: Mapping[str, Any], device: torch.device) -> AgentT:
        """Rebuild an agent from a loaded checkpoint payload (see :func:`load_checkpoint`)."""
        meta = payload["metadata"]
        check_agent(meta, cls.name, "the checkpoint")
        agent = cls(
            meta["env_id"],
            device=device,
            seed=meta["seed"],
            env_kwargs=meta["env_kwargs"],
            **meta["hparams"],
        )
        agent.load_weights(payload["state_dicts"])
        agent.num_timesteps = int(meta["num_timesteps"])
        agent.after_load(meta)
        return agent


class OnPolicyAgent(Agent):
    """An agent that learns from what its current policy has just played, then lets it go (SB3's
    ``OnPolicyAlgorithm``)."""

    @abstractmethod
    def _collect_rollout(self) -> Any:
        """Play with the current policy, through :meth:`step_env`; return what :meth:`_train` learns from."""

    @abstractmethod
    def _train(self, rollout: Any) -> Scalars:
        """Learn from the rollout; return the scalars to report."""

    def _iterate(self) -> Scalars:
        return self._train(self._collect_rollout())


class OffPolicyAgent(Agent):
    """An agent that keeps its transitions in a replay buffer and learns from replayed batches once
    ``config.learning_starts`` env steps are in (SB3's ``OffPolicyAlgorithm``)."""

    buffer: ReplayBuffer

    @abstractmethod
    def _collect_step(self) -> None:
        """Step every env once with the exploring policy, through :meth:`step_env`, and store what the
        buffer learns from."""

    @abstractmethod
    def _train(self) -> Scalars:
        """Take one iteration's gradient steps on replayed batches; return the scalars to report."""

    def _iterate(self) -> Scalars:
        self._collect_step()
        if self.num_timesteps < self.config.learning_starts or not self.buffer.size:  # n-step: none in yet
            return {}
        return self._train()


class Reporter:
    """Passes the loop's progress to the callback: every iteration, with metrics every ``log_interval``."""

    def __init__(self, agent: Agent, callback: Callback | None, log_interval: int) -> None:
        self.agent = agent
        self.callback = callback or Callback()
        self.log_interval = log_interval
        self.start_time = time.perf_counter()
        self.start_steps = list(agent.member_timesteps)
        self.next_log = agent.num_timesteps + log_interval

    def step(self, scalars: Scalars) -> bool:
        """Report one iteration; False when the callback asks training to stop.

        When a report is due, the episode statistics and the tensors among ``scalars`` are read back
        together: one host/device sync per ``log_interval`` env steps. Metrics go to the callback
        per member (an empty list when no report is due), with each member's env steps; reports fall
        due by the count of the member that took fewest.
        """
        env_steps = list(self.agent.member_timesteps)
        metrics: list[dict[str, float]] = []
        if min(env_steps) >= self.next_log:
            while self.next_log <= min(env_steps):
                self.next_log += self.log_interval
            metrics = self.agent.episode_stats.pop()
            tensors = {k: v for k, v in scalars.items() if isinstance(v, torch.Tensor)}
            members = len(metrics)
            rows = torch.stack([v.expand(members) for v in tensors.values()]).T.tolist() if tensors else []
            elapsed = time.perf_counter() - self.start_time
            for member, member_metrics in enumerate(metrics):
                if rows:
                    member_metrics.update(zip(tensors, rows[member], strict=True))
                member_metrics.update({k: float(v) for k, v in scalars.items() if k not in tensors})
                member_metrics["charts/SPS"] = (env_steps[member] - self.start_steps[member]) / max(
                    elapsed, 1e-9
                )
        return self.callback.on_step(env_steps, metrics)
