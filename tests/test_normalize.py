"""Observation normalisation (``normalize_obs``): SB3 VecNormalize's semantics, per member.

The statistics are the running mean and variance of every training observation (SB3's parallel update
from a count of 1e-4), the networks see ``clip((obs - mean) / sqrt(var + 1e-8))``, ``predict`` and
evaluation use them frozen, checkpoints and fine-tuning carry them, and a member of a group keeps
statistics of its own envs only: bit for bit those of its run alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import rlzero
from rlzero.agents import DQN, PPO, Reinforce
from rlzero.agents.base import OBS_NORMALIZER, Agent
from rlzero.agents.checkpoint import CheckpointError, load_checkpoint
from rlzero.agents.networks import member_state_dict
from rlzero.agents.normalize import ObsNormalizer
from rlzero.agents.transfer import transfer

SMALL: dict[type[Agent], dict[str, Any]] = {
    DQN: {
        "num_envs": 8,
        "learning_starts": 64,
        "batch_size": 32,
        "buffer_size": 1_024,
        "hidden_sizes": (16,),
    },
    PPO: {"num_envs": 8, "rollout_steps": 16, "hidden_sizes": (16,)},
    Reinforce: {"num_envs": 8, "hidden_sizes": (16,)},
}


def make(cls: type[Agent], env_id: str = "MountainCar-v0", seed: Any = 0, **extra: Any) -> Agent:
    return cls(env_id, device="cpu", seed=seed, normalize_obs=True, **{**SMALL[cls], **extra})


def stats(agent: Agent, member: int = 0) -> dict[str, torch.Tensor]:
    assert agent.obs_normalizer is not None
    return {k: v[member].clone() for k, v in agent.obs_normalizer.state_dict().items()}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_running_statistics_are_those_of_all_the_data_seen() -> None:
    """Batch after batch, the statistics are those of all the data at once, with SB3's prior of mean 0
    and variance 1 weighted by a count of 1e-4."""
    rng = np.random.default_rng(0)
    batches = [rng.normal([3.0, -1.0], [0.5, 20.0], size=(2, 16, 2)).astype(np.float32) for _ in range(5)]
    normalizer = ObsNormalizer((2,), torch.tensor([10.0, 10.0]))
    for batch in batches:
        normalizer.update(torch.as_tensor(batch))
    data = np.concatenate(batches, axis=1).astype(np.float64)  # (members, 80, 2)
    count = 80 + 1e-4
    mean = data.sum(axis=1) / count
    var = (1e-4 * 1.0 + np.square(data).sum(axis=1)) / count - np.square(mean)
    np.testing.assert_allclose(normalizer.mean.numpy(), mean, rtol=1e-9)
    np.testing.assert_allclose(normalizer.var.numpy(), var, rtol=1e-9)
    np.testing.assert_allclose(normalizer.count.numpy(), [count] * 2)
    obs = torch.as_tensor(data[:, :3], dtype=torch.float32)
    expected = (data[:, :3] - mean[:, None]) / np.sqrt(var[:, None] + 1e-8)
    np.testing.assert_allclose(normalizer(obs).numpy(), expected, rtol=1e-6, atol=1e-6)
    assert normalizer(obs).dtype == torch.float32


def test_masked_rows_do_not_count_and_a_member_without_rows_keeps_its_statistics() -> None:
    rng = np.random.default_rng(1)
    obs = torch.as_tensor(rng.normal(size=(2, 6, 3)), dtype=torch.float32)
    first = ObsNormalizer((3,), torch.tensor([10.0, 10.0]))
    first.update(torch.as_tensor(rng.normal(size=(2, 6, 3)), dtype=torch.float32))
    before = {k: v.clone() for k, v in first.state_dict().items()}
    mask = torch.tensor([[True, False, True, True, False, True], [False] * 6])
    masked = ObsNormalizer((3,), torch.tensor([10.0, 10.0]))
    masked.load_state_dict(before)
    masked.update(obs, mask)
    only_kept = ObsNormalizer((3,), torch.tensor([10.0, 10.0]))
    only_kept.load_state_dict(before)
    only_kept.update(obs[:, mask[0]])
    torch.testing.assert_close(masked.mean[0], only_kept.mean[0])
    torch.testing.assert_close(masked.var[0], only_kept.var[0])
    assert masked.count[0] == before["count"][0] + 4
    for key in ("mean", "var", "count"):
        assert torch.equal(getattr(masked, key)[1], before[key][1]), key


def test_normalised_observations_are_clipped_per_member() -> None:
    normalizer = ObsNormalizer((1,), torch.tensor([10.0, 2.0]))
    normalizer.update(torch.zeros(2, 4, 1))  # mean 0, variance 0: any other value is far off
    out = normalizer(torch.tensor([[[5.0], [-5.0]], [[5.0], [-5.0]]]))
    assert out.tolist() == [[[10.0], [-10.0]], [[2.0], [-2.0]]]


def test_training_observations_are_normalised_with_statistics_updated_first() -> None:
    agent, raw = make(PPO), PPO("MountainCar-v0", device="cpu", **SMALL[PPO])
    assert agent.obs_normalizer is not None
    reference = ObsNormalizer((2,), torch.tensor([10.0]))
    for step in range(3):
        if step == 0:
            obs, raw_obs = agent.reset_env(), raw.reset_env()
            final, raw_final = obs, raw_obs
        else:
            actions = torch.full((1, 8), step, dtype=torch.long)
            obs, _, _, _, info = agent.step_env(actions)
            raw_obs, _, _, _, raw_info = raw.step_env(actions)
            final, raw_final = info["final_obs"], raw_info["final_obs"]
        reference.update(raw_obs)
        assert_same(stats(agent), {k: v[0] for k, v in reference.state_dict().items()})
        assert torch.equal(obs, reference(raw_obs)) and torch.equal(obs, agent.last_obs)
        assert torch.equal(final, reference(raw_final))
    assert agent.obs_normalizer.count.item() == pytest.approx(24 + 1e-4)
    assert agent.observation_space.low.min() == -10 and agent.observation_space.high.max() == 10


def test_predict_and_evaluation_use_the_statistics_frozen() -> None:
    agent = make(PPO).learn(512)
    before = stats(agent)
    obs = np.array([[-0.5, 0.01], [0.3, -0.02]], dtype=np.float32)
    actions, _ = agent.predict(obs)
    rlzero.evaluate(agent, "MountainCar-v0", n_episodes=2)
    assert_same(stats(agent), before)
    assert before["count"].item() == pytest.approx(512 + 8 + 1e-4)
    assert np.array_equal(actions, agent._act(agent.normalize(torch.as_tensor(obs)[None]), True)[0].numpy())


@pytest.mark.parametrize("cls", [DQN, PPO, Reinforce])
def test_a_checkpoint_restores_the_statistics(cls: type[Agent], tmp_path: Path) -> None:
    agent = make(cls, "CartPole-v1").learn(1_024)
    path = agent.save(tmp_path / "model.pt")
    assert set(load_checkpoint(path)["state_dicts"][OBS_NORMALIZER]) == {"mean", "var", "count"}
    loaded = cls.load(path, device="cpu")
    assert_same(stats(loaded), stats(agent))
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    assert np.array_equal(loaded.predict(obs)[0], agent.predict(obs)[0])
    assert rlzero.evaluate(loaded, "CartPole-v1", n_episodes=5) == rlzero.evaluate(
        agent, "CartPole-v1", n_episodes=5
    )


def test_weights_and_statistics_go_together(tmp_path: Path) -> None:
    normalised = make(PPO).save(tmp_path / "normalised.pt")
    raw = PPO("MountainCar-v0", device="cpu", **SMALL[PPO]).save(tmp_path / "raw.pt")
    with pytest.raises(
        CheckpointError, match="trained with observation normalisation: set normalize_obs=True"
    ):
        PPO("MountainCar-v0", device="cpu", **SMALL[PPO]).init_from(normalised)
    with pytest.raises(CheckpointError, match="trained without observation normalisation"):
        make(PPO).init_from(raw)


@pytest.mark.parametrize("strategy", ["full", "head", "freeze"])
def test_fine_tuning_takes_the_statistics_with_the_body(strategy: str) -> None:
    source = make(PPO, seed=5).learn(512)
    state_dicts = {name: member_state_dict(net, 0) for name, net in source.networks.items()}
    state_dicts[OBS_NORMALIZER] = stats(source)
    target = make(PPO, seed=[0, 1])
    transfer(target, state_dicts, strategy)
    for member in (0, 1):
        assert_same(stats(target, member), stats(source))
    target.learn(256)
    moved = not torch.equal(stats(target)["mean"], stats(source)["mean"])
    assert moved == (strategy != "freeze")  # frozen with the body under freeze


@pytest.mark.parametrize(
    ("cls", "env_id"), [(DQN, "MountainCar-v0"), (PPO, "MountainCar-v0"), (Reinforce, "CartPole-v1")]
)
@pytest.mark.slow
def test_a_normalised_member_equals_its_run_alone(cls: type[Agent], env_id: str) -> None:
    """Each member's statistics come from its own envs: REINFORCE's members, whose batches of whole
    episodes differ in length, included."""
    group = make(cls, env_id, seed=[0, 1, 7]).learn(3_072)
    for member, seed in enumerate((0, 1, 7)):
        alone = make(cls, env_id, seed=seed).learn(3_072)
        assert alone.member_timesteps[0] == group.member_timesteps[member]
        assert_same(stats(alone), stats(group, member))
        for name, net in alone.networks.items():
            assert_same(member_state_dict(net, 0), member_state_dict(group.networks[name], member))


def test_the_config_checks_its_fields() -> None:
    with pytest.raises(ValueError, match="clip_obs must be > 0"):
        PPO("CartPole-v1", device="cpu", normalize_obs=True, clip_obs=0.0)
    with pytest.raises(ValueError, match="normalize_obs needs net_arch 'mlp'"):
        DQN("ZeroOut-v0", device="cpu", normalize_obs=True, net_arch="slot")
    assert DQN("CartPole-v1", device="cpu").obs_normalizer is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_statistics_live_on_the_agents_device_and_load_on_the_cpu(tmp_path: Path) -> None:
    agent = PPO("CartPole-v1", device="cuda", seed=0, normalize_obs=True, **SMALL[PPO]).learn(512)
    assert agent.obs_normalizer is not None
    assert {t.device.type for t in agent.obs_normalizer.state_dict().values()} == {"cuda"}
    loaded = PPO.load(agent.save(tmp_path / "model.pt"), device="cpu")
    assert_same(stats(loaded), {k: v.cpu() for k, v in stats(agent).items()})
    obs = torch.randn(1, 16, 4)
    torch.testing.assert_close(agent.normalize(obs.cuda()).cpu(), loaded.normalize(obs))
    assert agent.predict(obs[0])[0].device.type == "cpu"  # a CPU tensor in: a CPU tensor out
