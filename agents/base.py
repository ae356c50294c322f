"""What every from-scratch agent shares: config, seeding, env, predict, save and load.

An agent subclass declares its hyperparameter dataclass (``config_class``), builds its networks in
``_setup``, names them in ``networks``, picks actions in ``_act`` and trains in ``learn``.
"""

from __future__ import annotations

import dataclasses
import random
import time
import typing
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn

import rlzero
from rlzero.agents.callbacks import Callback
from rlzero.agents.checkpoint import CheckpointError, check_weights, load_checkpoint, save_checkpoint
from rlzero.agents.device import resolve_device
from rlzero.agents.vec_env import make_vec_env

AgentT = TypeVar("AgentT", bound="Agent")


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


def check_positive(config: Any, *names: str) -> None:
    """Raise ValueError for any named field of ``config`` that is not > 0."""
    for name in names:
        value = getattr(config, name)
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value!r}")


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch's global generators (network initialisation draws from them)."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (third-party code may still draw from the legacy global)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


class EpisodeLog:
    """Sums of finished-episode statistics kept on device; read back once per log interval."""

    def __init__(self, device: torch.device) -> None:
        self.sums = torch.zeros(5, device=device)  # episodes, return, length, normalized, n. count

    def record(self, info: Mapping[str, Any]) -> None:
        done = info["_episode"].float()
        ep = info["episode"]
        normalized = ep["n"].nan_to_num(0.0) * done
        has_n = (~ep["n"].isnan()).float() * done
        self.sums += torch.stack(
            [done.sum(), (ep["r"] * done).sum(), (ep["l"] * done).sum(), normalized.sum(), has_n.sum()]
        )

    def pop(self) -> dict[str, float]:
        episodes, ret, length, normalized, n_count = self.sums.tolist()
        self.sums.zero_()
        if episodes == 0:
            return {}
        metrics = {"charts/episodic_return": ret / episodes, "charts/episodic_length": length / episodes}
        if n_count:
            metrics["charts/normalized_return"] = normalized / n_count
        return metrics


class Agent(ABC):
    """SB3-shaped API over a batched env on one device: ``learn``, ``predict``, ``save``, ``load``."""

    name: ClassVar[str]
    config_class: ClassVar[type]
    default_timesteps: ClassVar[int]

    def __init__(
        self,
        env_id: str,
        *,
        device: str | torch.device = "auto",
        seed: int = 0,
        env_kwargs: Mapping[str, Any] | None = None,
        **hparams: Any,
    ) -> None:
        self.config = make_config(self.config_class, hparams)
        self.env_id, self.env_kwargs, self.seed = env_id, dict(env_kwargs or {}), int(seed)
        self.device = resolve_device(device)
        seed_everything(self.seed)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(self.seed)
        self.env = make_vec_env(env_id, self.config.num_envs, self.device, self.env_kwargs)
        self.observation_space = self.env.single_observation_space
        self.n_actions = int(self.env.single_action_space.n)
        self.num_timesteps = 0
        self._setup()

    @abstractmethod
    def _setup(self) -> None:
        """Build networks and optimizers from ``self.config``."""

    @property
    @abstractmethod
    def networks(self) -> dict[str, nn.Module]:
        """Every module whose weights a checkpoint holds, by name."""

    @abstractmethod
    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        """Actions for a batch of observations already on ``self.device``."""

    @abstractmethod
    def learn(
        self, total_timesteps: int, callback: Callback | None = None, log_interval: int = 10_000
    ) -> Agent:
        """Train for ``total_timesteps`` env steps; return self."""

    @torch.no_grad()
    def predict(self, obs: Any, deterministic: bool = True) -> tuple[Any, None]:
        """SB3-style ``(actions, None)``: numpy in, numpy out; a tensor in gives a tensor on its device."""
        is_tensor = isinstance(obs, torch.Tensor)
        tensor = torch.as_tensor(obs, device=self.device)
        single = tensor.dim() == len(self.observation_space.shape)
        actions = self._act(tensor.unsqueeze(0) if single else tensor, deterministic)
        if single:
            actions = actions.squeeze(0)
        return (actions.to(tensor.device) if is_tensor else actions.cpu().numpy()), None

    def metadata(self) -> dict[str, Any]:
        """What a checkpoint needs to rebuild this agent, as plain data."""
        return {
            "agent": self.name,
            "env_id": self.env_id,
            "env_kwargs": self.env_kwargs,
            "seed": self.seed,
            "observation_shape": list(self.observation_space.shape),
            "n_actions": self.n_actions,
            "hparams": {k: list(v) if isinstance(v, tuple) else v for k, v in self.config_dict().items()},
            "num_timesteps": self.num_timesteps,
            "versions": {
                "rlzero": rlzero.__version__,
                "torch": torch.__version__,
                "gymnasium": gym.__version__,
            },
        }

    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)

    def save(self, path: str | Path) -> Path:
        """Write weights and metadata atomically (see :mod:`rlzero.agents.checkpoint`)."""
        return save_checkpoint(
            path, self.metadata(), {name: net.state_dict() for name, net in self.networks.items()}
        )

    def after_transfer(self) -> None:  # noqa: B027 (an optional hook, not an abstract one)
        """Called once pretrained weights are in place (see :mod:`rlzero.agents.transfer`)."""

    @classmethod
    def hparam_types(cls) -> dict[str, Any]:
        """``--set`` names and their annotated types, from the hyperparameter dataclass."""
        return typing.get_type_hints(cls.config_class)

    def init_from(self, path: str | Path) -> None:
        """Start from the weights of a checkpoint (any agent of the same kind and architecture)."""
        self.load_weights(load_checkpoint(path, map_location=self.device)["state_dicts"])

    def load_weights(self, state_dicts: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
        """Load every network's weights, or none: a missing or misshapen tensor is a CheckpointError."""
        missing = sorted(set(self.networks) - set(state_dicts))
        if missing:
            raise CheckpointError(f"checkpoint has no weights for {', '.join(missing)} of agent {self.name}")
        for name, net in self.networks.items():
            check_weights(net, dict(state_dicts[name]), what=f"{self.name} {name}")
        for name, net in self.networks.items():
            net.load_state_dict(dict(state_dicts[name]))

    @classmethod
    def load(cls: type[AgentT], path: str | Path, device: str | torch.device = "auto") -> AgentT:
        """Rebuild an agent from a checkpoint on ``device`` (a CUDA checkpoint loads on CPU)."""
        resolved = resolve_device(device)
        return cls.from_checkpoint(load_checkpoint(path, map_location=resolved), resolved)

    @classmethod
    def from_checkpoint(cls: type[AgentT], payload: Mapping[str, Any], device: torch.device) -> AgentT:
        """Rebuild an agent from a loaded checkpoint payload (see :func:`load_checkpoint`)."""
        meta = payload["metadata"]
        if meta.get("agent") != cls.name:
            raise CheckpointError(f"checkpoint holds a {meta.get('agent')!r} agent, not {cls.name!r}")
        agent = cls(
            meta["env_id"],
            device=device,
            seed=meta["seed"],
            env_kwargs=meta["env_kwargs"],
            **meta["hparams"],
        )
        agent.load_weights(payload["state_dicts"])
        agent.num_timesteps = int(meta["num_timesteps"])
        return agent


class Reporter:
    """Turns an agent's training progress into callback calls with CleanRL-tagged metrics."""

    def __init__(self, agent: Agent, callback: Callback | None, log_interval: int) -> None:
        self.callback = callback or Callback()
        self.log_interval = log_interval
        self.episodes = EpisodeLog(agent.device)
        self.start_time = time.perf_counter()
        self.start_steps = agent.num_timesteps
        self.next_log = agent.num_timesteps + log_interval

    def step(self, env_steps: int, scalars: Mapping[str, torch.Tensor | float] | None = None) -> bool:
        """Pass progress on; every ``log_interval`` env steps with metrics (one device sync).

        ``scalars`` are the agent's latest losses and such, as 0-d tensors (read only when logging)
        or floats.
        """
        metrics: dict[str, float] = {}
        if env_steps >= self.next_log:
            self.next_log += self.log_interval
            metrics = self.episodes.pop()
            tensors = {k: v for k, v in (scalars or {}).items() if isinstance(v, torch.Tensor)}
            if tensors:
                metrics.update(zip(tensors, torch.stack(list(tensors.values())).tolist(), strict=True))
            metrics.update({k: float(v) for k, v in (scalars or {}).items() if k not in tensors})
            elapsed = time.perf_counter() - self.start_time
            metrics["charts/SPS"] = (env_steps - self.start_steps) / max(elapsed, 1e-9)
        return self.callback.on_step(env_steps, metrics)
