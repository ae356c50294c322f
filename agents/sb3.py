"""Stable-Baselines3 baselines behind rlzero's agent API: ``sb3-dqn``, ``sb3-ppo``, ``sb3-a2c``.

The adapter runs SB3 as SB3 runs itself (its ``DummyVecEnv`` with ``Monitor``, its defaults) and
only translates at the edges: our callbacks see SB3's progress with the same CleanRL tags as our
agents, and ``rlzero.evaluate`` scores both the same way.

Hyperparameters are SB3's keyword arguments, as rl-zoo3's files give them (the CLIs start from rl-zoo3's
tuned entry where it has one, see :mod:`rlzero.agents.presets`): ``num_envs`` is rl-zoo3's ``n_envs``,
a ``lin_<value>`` learning rate or clip range decays linearly to 0 over the budget, and ``policy_kwargs``
may be rl-zoo3's string (``"dict(net_arch=[256, 256])"``). Without a value, ``num_envs`` is 8 for A2C
(its n_steps=5 rollouts are meant to be batched over envs, as rl-zoo3 does for classic control) and 1
for DQN and PPO.

Checkpoints are SB3's own ``.zip`` with an extra ``rlzero.json`` entry (env id, kwargs, seed,
hyperparameters). Loading rebuilds the model from that JSON and reads the weights with SB3's
``set_parameters``, which uses ``torch.load(weights_only=True)``: SB3's own ``load`` would
unpickle the cloudpickled entries of the zip, which is how arbitrary code gets run.
"""

from __future__ import annotations

import inspect
import io
import json
import time
import typing
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import stable_baselines3 as sb3
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.type_aliases import TrainFreq
from stable_baselines3.common.utils import LinearSchedule
from torch import nn

from rlzero.agents import registry
from rlzero.agents.callbacks import Callback
from rlzero.agents.checkpoint import CheckpointError, check_agent, check_metadata
from rlzero.agents.device import resolve_device
from rlzero.agents.files import atomic_path
from rlzero.envs import normalized_return

METADATA_ENTRY = "rlzero.json"


class NormalizedReturnInfo(gym.Wrapper):
    """Adds ``normalized_return`` to the info of an episode's last step, where the env knows its optimum."""

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self.optimal = info.get("optimal_return")
        self.episode_return = 0.0
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.episode_return += float(reward)
        if (terminated or truncated) and self.optimal:
            info["normalized_return"] = normalized_return(self.episode_return, self.optimal)
        return obs, float(reward), terminated, truncated, info


class _Bridge(BaseCallback):
    """Feeds SB3's training progress to an rlzero :class:`Callback`."""

    def __init__(self, agent: SB3Agent, callback: Callback, log_interval: int, total: int) -> None:
        super().__init__()
        self.agent, self.rl_callback, self.log_interval, self.total = agent, callback, log_interval, total
        self.returns: list[float] = []
        self.lengths: list[int] = []
        self.normalized: list[float] = []

    def _on_training_start(self) -> None:
        self.next_log = self.num_timesteps + self.log_interval
        self.start_steps, self.start_time = self.num_timesteps, time.perf_counter()
        self.rl_callback.on_training_start(self.agent, self.total)

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            if "episode" in info:
                self.returns.append(float(info["episode"]["r"]))
                self.lengths.append(int(info["episode"]["l"]))
            if "normalized_return" in info:
                self.normalized.append(info["normalized_return"])
        metrics: list[dict[str, float]] = []  # an SB3 model is one member
        if self.num_timesteps >= self.next_log:
            self.next_log += self.log_interval
            metrics = [self._metrics()]
        return self.rl_callback.on_step([self.num_timesteps], metrics)

    def _metrics(self) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for tag, values in (
            ("charts/episodic_return", self.returns),
            ("charts/episodic_length", self.lengths),
            ("charts/normalized_return", self.normalized),
        ):
            if values:
                metrics[tag] = float(np.mean(values))
            values.clear()
        logged = self.model.logger.name_to_value
        for key, value in logged.items():
            if key.startswith("train/"):
                metrics[f"losses/{key.removeprefix('train/')}"] = float(value)
        elapsed = max(time.perf_counter() - self.start_time, 1e-9)
        metrics["charts/SPS"] = (self.num_timesteps - self.start_steps) / elapsed
        return metrics

    def _on_training_end(self) -> None:
        self.rl_callback.on_training_end()


SCHEDULED = ("learning_rate", "clip_range", "clip_range_vf")
"""SB3 hyperparameters that rl-zoo3 may give as a ``lin_<value>`` schedule."""


def sb3_kwargs(hparams: Mapping[str, Any]) -> dict[str, Any]:
    """SB3 constructor arguments from rl-zoo3-style values, evaluated as rl-zoo3 evaluates them: a
    ``lin_<value>`` schedule becomes SB3's linear schedule from ``value`` to 0, a ``policy_kwargs`` string
    a dict (evaluated with ``dict`` and ``torch.nn`` as its only names), a ``train_freq`` list a tuple."""
    kwargs = dict(hparams)
    for name in SCHEDULED:
        value = kwargs.get(name)
        if isinstance(value, str):
            kind, _, start = value.partition("_")
            if kind != "lin":
                raise ValueError(f"{name}: only lin_<value> schedules are known, got {value!r}")
            kwargs[name] = LinearSchedule(float(start), 0.0, 1.0)
    if isinstance(kwargs.get("policy_kwargs"), str):
        text = kwargs["policy_kwargs"]
        try:
            kwargs["policy_kwargs"] = eval(text, {"__builtins__": {}}, {"dict": dict, "nn": nn})
        except Exception as exc:
            raise ValueError(f"policy_kwargs: cannot read {text!r} ({exc})") from None
    if isinstance(kwargs.get("train_freq"), list):
        kwargs["train_freq"] = tuple(kwargs["train_freq"])
    return kwargs


POSITIVE_COUNTS = ("n_steps", "batch_size", "n_epochs", "train_freq", "buffer_size", "target_update_interval")
"""SB3 hyperparameters that are counts of at least 1: SB3 checks some only once learning starts (a
traceback mid-run), others never."""


class SB3Agent:
    """An SB3 algorithm with rlzero's agent API (``learn``, ``predict``, ``save``, ``load``)."""

    name: ClassVar[str]
    algo_class: ClassVar[type[BaseAlgorithm]]
    default_num_envs: ClassVar[int] = 1
    trains_groups: ClassVar[bool] = False
    """one seed per agent: a group of seeds is one agent per seed (see :func:`rlzero.experiment.run`)"""
    strategies: ClassVar[tuple[str, ...]] = ("full",)
    """SB3's weights move whole"""

    def __init__(
        self,
        env_id: str,
        *,
        device: str | torch.device = "auto",
        seed: int = 0,
        env_kwargs: Mapping[str, Any] | None = None,
        **hparams: Any,
    ) -> None:
        self.env_id, self.env_kwargs, self.seed = env_id, dict(env_kwargs or {}), int(seed)
        self.device = resolve_device(device)
        self.hparams = dict(hparams)
        self.num_envs = int(self.hparams.pop("num_envs", self.default_num_envs))
        for name, value in {"num_envs": self.num_envs, **self.hparams}.items():
            if (name == "num_envs" or name in POSITIVE_COUNTS) and isinstance(value, int) and value < 1:
                raise ValueError(f"{self.name}: {name} must be >= 1, got {value}")
        self.env = make_vec_env(
            env_id,
            n_envs=self.num_envs,
            seed=self.seed,
            env_kwargs=self.env_kwargs,
            wrapper_class=NormalizedReturnInfo,
        )
        try:
            self.model = self.algo_class(
                "MlpPolicy",
                self.env,
                seed=self.seed,
                device=self.device,
                verbose=0,
                **sb3_kwargs(self.hparams),
            )
        except (TypeError, AssertionError) as exc:  # an unknown keyword; a value SB3 asserts against
            raise ValueError(f"{self.name}: {exc}") from None

    @classmethod
    def hparam_types(cls) -> dict[str, type]:
        """``--set`` names and types: the SB3 constructor's keyword arguments with simple defaults."""
        types: dict[str, type] = {"num_envs": int}
        for name, param in inspect.signature(cls.algo_class.__init__).parameters.items():
            if name in ("device", "seed", "verbose") or name.startswith("_"):
                continue
            if type(param.default) in (int, float, bool, str):
                types[name] = type(param.default)
        return types

    @property
    def replay_ratio(self) -> float:
        """Samples per env step that enter a gradient step (each algorithm's own count)."""
        raise NotImplementedError

    @property
    def replay_ratios(self) -> list[float]:
        """One agent's :attr:`replay_ratio`, as the list a group of one would give."""
        return [self.replay_ratio]

    @property
    def num_timesteps(self) -> int:
        return int(self.model.num_timesteps)

    @property
    def member_timesteps(self) -> list[int]:
        """The env steps of each member, as a group of one gives them."""
        return [self.num_timesteps]

    def init_from(self, path: str | Path) -> None:
        """Start from the weights of a checkpoint saved by the same kind of agent."""
        check_agent(self.read_metadata(path), self.name, path)
        try:
            self.model.set_parameters(str(path), exact_match=True, device=self.device)
        except Exception as exc:
            raise CheckpointError(f"cannot load the weights in {path}: {exc}") from None

    @classmethod
    def check_hparams(cls, hparams: Mapping[str, Any], members: Sequence[Mapping[str, Any]]) -> None:
        """ValueError for an unknown keyword, a count below 1 or a value rl-zoo3's evaluation cannot read,
        without building the model (SB3 checks the rest when it is built)."""
        known = set(inspect.signature(cls.algo_class.__init__).parameters) - {"self", "device", "seed"}
        for member in members:
            values = {**hparams, **member}
            unknown = sorted(set(values) - known - {"num_envs"})
            if unknown:
                raise ValueError(f"{cls.name}: unknown hyperparameter(s) {', '.join(unknown)}")
            for name in ("num_envs", *POSITIVE_COUNTS):
                value = values.get(name)
                if isinstance(value, int) and value < 1:
                    raise ValueError(f"{cls.name}: {name} must be >= 1, got {value}")
            sb3_kwargs(values)

    def start_from(self, path: str | Path, strategy: str) -> None:
        """Start from every weight of a checkpoint (``strategy`` ``"full"``: SB3's weights move whole)."""
        if strategy not in self.strategies:
            raise ValueError(f"{self.name} moves weights with strategy 'full' only, got {strategy!r}")
        self.init_from(path)

    def config_dict(self, member: int = 0) -> dict[str, Any]:
        return {"num_envs": self.num_envs, **self.hparams}

    def learn(
        self,
        total_timesteps: int,
        callback: Callback | None = None,
        log_interval: int = 10_000,
        reset_num_timesteps: bool = True,
    ) -> SB3Agent:
        """SB3's own ``learn``, with the same meaning of ``reset_num_timesteps`` as our agents'."""
        bridge = _Bridge(self, callback or Callback(), log_interval, total_timesteps)
        self.model.learn(total_timesteps, callback=bridge, reset_num_timesteps=reset_num_timesteps)
        return self

    def predict(self, obs: Any, deterministic: bool = True) -> tuple[np.ndarray, None]:
        actions, _ = self.model.predict(np.asarray(obs), deterministic=deterministic)
        return actions, None

    def metadata(self) -> dict[str, Any]:
        return {
            "agent": self.name,
            "env_id": self.env_id,
            "env_kwargs": self.env_kwargs,
            "seed": self.seed,
            "hparams": self.config_dict(),
            "num_timesteps": self.num_timesteps,
            "versions": {"stable_baselines3": sb3.__version__, "torch": torch.__version__},
        }

    def save(self, path: str | Path, member: int = 0) -> Path:
        """SB3's zip plus ``rlzero.json``, built in memory, then written to a temp file (not named
        ``*.zip``) and renamed into place (``member``: 0, the one member an SB3 agent has)."""
        if member != 0:
            raise ValueError(f"{self.name} has one member, 0; got member {member}")
        path = Path(path).with_suffix(".zip")
        buffer = io.BytesIO()
        self.model.save(buffer)
        with zipfile.ZipFile(buffer, "a") as archive:
            archive.writestr(METADATA_ENTRY, json.dumps(self.metadata()))
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(buffer.getvalue())
        return path

    @classmethod
    def read_metadata(cls, path: str | Path) -> dict[str, Any]:
        """The ``rlzero.json`` entry of a zip saved by :meth:`save` (plain JSON, nothing unpickled),
        checked to hold every field a checkpoint's metadata has."""
        try:
            with zipfile.ZipFile(path) as archive:
                metadata = json.loads(archive.read(METADATA_ENTRY))
        except (OSError, zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"{path} is not an rlzero SB3 checkpoint ({exc})") from None
        return check_metadata(metadata, path)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "auto") -> SB3Agent:
        meta = cls.read_metadata(path)
        name = meta.get("agent", "")
        agent_class = (
            registry.agent_class(name) if name in registry.AGENTS and registry.is_sb3(name) else None
        )
        if agent_class is None or not issubclass(agent_class, cls):
            raise CheckpointError(f"{path} holds a {name!r} agent, not an {cls.__name__}")
        agent = agent_class(
            meta["env_id"], device=device, seed=meta["seed"], env_kwargs=meta["env_kwargs"], **meta["hparams"]
        )
        agent.init_from(path)
        agent.model.num_timesteps = int(meta["num_timesteps"])
        return agent


class SB3DQN(SB3Agent):
    name = "sb3-dqn"
    algo_class = sb3.DQN

    @property
    def replay_ratio(self) -> float:
        """``batch_size * gradient_steps`` samples every ``train_freq`` steps of all envs."""
        model = typing.cast(sb3.DQN, self.model)
        steps = typing.cast(TrainFreq, model.train_freq).frequency * self.num_envs
        gradient_steps = model.gradient_steps if model.gradient_steps > 0 else steps
        return model.batch_size * gradient_steps / steps


class SB3PPO(SB3Agent):
    name = "sb3-ppo"
    algo_class = sb3.PPO

    @property
    def replay_ratio(self) -> float:
        """Every rollout sample enters one gradient step per epoch."""
        return float(typing.cast(sb3.PPO, self.model).n_epochs)


class SB3A2C(SB3Agent):
    name = "sb3-a2c"
    algo_class = sb3.A2C
    default_num_envs = 8

    @property
    def replay_ratio(self) -> float:
        """Every rollout sample enters exactly one gradient step."""
        return 1.0
