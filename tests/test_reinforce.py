"""REINFORCE: returns of whole episodes, one gradient step per batch, learning, checkpoints, the CLI."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import rlzero
from rlzero.agents import Reinforce, agent_class, load_agent
from rlzero.agents.callbacks import Callback
from rlzero.agents.distributions import log_softmax, sample_categorical
from rlzero.train import main as train_main


def test_log_softmax_and_sampling_match_the_categorical_distribution() -> None:
    logits = torch.randn(64, 7) * 4
    torch.testing.assert_close(log_softmax(logits), torch.log_softmax(logits, dim=1))
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.0])
    many = probs.clamp(min=1e-30).log().expand(100_000, 5).contiguous()
    actions = sample_categorical(many, torch.rand(100_000, generator=torch.Generator().manual_seed(0)))
    frequencies = torch.bincount(actions, minlength=5).float() / actions.numel()
    torch.testing.assert_close(frequencies, probs, atol=0.01, rtol=0)


@pytest.mark.parametrize("env_id", ["ZeroOut-v0", "CartPole-v1", "Acrobot-v1"])
def test_a_batch_is_one_whole_episode_per_env_played_from_its_reset(env_id: str) -> None:
    agent = Reinforce(env_id, device="cpu", seed=3, num_envs=8)
    batch = agent._collect_rollout()
    live = batch.live[0]  # (T, envs): one member
    lengths = live.sum(dim=0)
    # Each env's steps are one unbroken run from t = 0 that ends in its only terminal or truncated step.
    for env in range(8):
        n = int(lengths[env])
        assert n >= 1 and bool(live[:n, env].all()) and not bool(live[n:, env].any())
        ends = (batch.terminated[0, :, env] | batch.truncated[0, :, env]).nonzero().flatten().tolist()
        assert ends == [n - 1]
        # Each step starts where the last one led.
        assert torch.equal(batch.obs[0, 1:n, env], batch.next_obs[0, : n - 1, env])
    # Past an episode's end everything is zero, and only live steps are counted.
    assert not bool(batch.rewards[0][~live].any()) and not bool(batch.obs[0][~live].any())
    assert agent.num_timesteps == int(lengths.sum())
    # The next batch starts on freshly reset envs.
    second = agent._collect_rollout()
    assert agent.num_timesteps == int(lengths.sum()) + int(second.live.sum())
    assert not torch.equal(second.obs[0, 0], batch.obs[0, 0])


def capture_gradients(agent: Reinforce) -> list[dict[str, torch.Tensor]]:
    """Make each optimizer record the gradients it steps on: one dict per step, by parameter name."""
    steps: list[dict[str, torch.Tensor]] = []
    for optimizer, net in zip(
        (agent.policy_optimizer, agent.value_optimizer), (agent.policy, agent.value), strict=True
    ):
        real_step = optimizer.step

        def step(active: torch.Tensor | None = None, real_step=real_step, net=net) -> None:
            steps.append({name: p.grad.clone() for name, p in net.named_parameters() if p.grad is not None})
            real_step(active)

        optimizer.step = step  # type: ignore[method-assign]
    return steps


def test_one_gradient_step_on_the_textbook_loss() -> None:
    """The update is one gradient step on ``-mean(log pi(a|s) * (G - b(s)))`` for the policy and one on
    ``mean((b(s) - G)**2)`` for the baseline, G the plain discounted reward-to-go of each episode."""
    agent = Reinforce("ZeroOut-v0", device="cpu", seed=0, num_envs=4, gamma=0.9)
    batch = agent._collect_rollout()
    live = batch.live[0]
    assert not bool((batch.truncated[0] & ~batch.terminated[0]).any())  # no episode cut short here
    returns = torch.zeros_like(batch.rewards[0])  # by hand: per env, backwards over its one episode
    for env in range(4):
        future = 0.0
        for t in reversed(range(int(live[:, env].sum()))):
            future = float(batch.rewards[0, t, env]) + 0.9 * future
            returns[t, env] = future
    obs, actions, returns = batch.obs[0][live].unsqueeze(0), batch.actions[0][live], returns[live]
    policy, value = copy.deepcopy(agent.policy), copy.deepcopy(agent.value)
    baseline = value(obs).sum(dim=2)[0]
    log_probs = torch.log_softmax(policy(obs)[0], dim=1).gather(1, actions.unsqueeze(1)).squeeze(1)
    (-(log_probs * (returns - baseline.detach())).mean()).backward()
    (baseline - returns).square().mean().backward()

    gradients = capture_gradients(agent)
    agent._train(batch)
    assert len(gradients) == 2  # one step of each optimizer: policy, then baseline
    for got, reference in zip(gradients, (policy, value), strict=True):
        for name, param in reference.named_parameters():
            torch.testing.assert_close(got[name], param.grad, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("baseline", [True, False])
def test_a_time_limit_cut_is_finished_by_the_baseline_only(baseline: bool) -> None:
    """Two steps allowed, three productive picks needed: every episode is cut by the time limit. With a
    baseline the cut return ends in ``gamma * b(s')``; without one (plain REINFORCE) it just ends."""
    agent = Reinforce(
        "ZeroOut-v0",
        device="cpu",
        seed=0,
        num_envs=2,
        gamma=0.5,
        baseline=baseline,
        env_kwargs={"size": 5, "max_steps": 2},
    )
    boards = torch.tensor([[1, 1, 1, 0, 0]] * 2)
    obs, _ = agent.env.reset(seed=0, options={"boards": boards})
    agent._last_obs, agent.fresh_episodes = agent.members_view(obs), True
    batch = agent._collect_rollout()
    assert batch.live[0, :2].all() and bool(batch.truncated[0, 1].all()) and not bool(batch.terminated.any())
    rewards, states, last = batch.rewards[0, :2], batch.obs[0, :2], batch.next_obs[0, 1]
    with torch.no_grad():
        value = (
            (lambda x: agent.value(x.unsqueeze(0)).sum(dim=2)[0])
            if baseline
            else (lambda x: torch.zeros(len(x)))
        )
        cut_return = rewards[1] + 0.5 * value(last)
        returns = torch.stack([rewards[0] + 0.5 * cut_return, cut_return])  # (t, env)
        log_probs = torch.log_softmax(agent.policy(states.flatten(0, 1).unsqueeze(0))[0], dim=1)
        chosen = log_probs.gather(1, batch.actions[0, :2].flatten().unsqueeze(1)).squeeze(1)
        advantages = returns.flatten() - value(states.flatten(0, 1))
        value_loss = (value(states.flatten(0, 1)) - returns.flatten()).square().mean().view(1)
    scalars = agent._train(batch)
    torch.testing.assert_close(scalars["losses/policy_loss"], -(chosen * advantages).mean().view(1))
    if baseline:
        torch.testing.assert_close(scalars["losses/value_loss"], value_loss)
    else:
        assert "losses/value_loss" not in scalars


def test_registered_and_stochastic_actions_follow_the_seed() -> None:
    assert agent_class("reinforce") is Reinforce
    obs = np.random.default_rng(0).integers(0, 10, size=(50, 10))
    agent = Reinforce("ZeroOut-v0", device="cpu", seed=5, num_envs=4)
    first = agent.predict(obs, deterministic=False)[0]
    again = Reinforce("ZeroOut-v0", device="cpu", seed=5, num_envs=4).predict(obs, deterministic=False)[0]
    assert np.array_equal(first, again)
    # Sampled, not the greedy action: a fresh policy's draws differ from its argmax and from its next draws.
    assert not np.array_equal(first, agent.predict(obs, deterministic=True)[0])
    assert not np.array_equal(first, agent.predict(obs, deterministic=False)[0])


def test_same_seed_same_weights() -> None:
    def weights(seed: int) -> list[torch.Tensor]:
        agent = Reinforce("ZeroOut-v0", device="cpu", seed=seed, num_envs=16).learn(3_000)
        return [p.detach().clone() for net in agent.networks.values() for p in net.parameters()]

    first, again, other = weights(7), weights(7), weights(8)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_bad_hyperparameters_are_refused() -> None:
    with pytest.raises(ValueError, match="gamma"):
        Reinforce("ZeroOut-v0", device="cpu", gamma=1.5)
    with pytest.raises(ValueError, match="ent_coef"):
        Reinforce("ZeroOut-v0", device="cpu", ent_coef=-0.1)
    with pytest.raises(ValueError, match="reward_scale must be > 0"):
        Reinforce("ZeroOut-v0", device="cpu", reward_scale=0.0)
    # What would make it PPO is not a REINFORCE hyperparameter.
    for ppo_only in ("update_epochs", "clip_range", "gae_lambda"):
        with pytest.raises(ValueError, match=f"unknown hyperparameter.*{ppo_only}"):
            Reinforce("ZeroOut-v0", device="cpu", **{ppo_only: 1})
    with pytest.raises(ValueError, match="needs a step limit"):
        Reinforce("CartPole-v1", device="cpu", env_kwargs={"max_episode_steps": None})


@pytest.mark.slow
def test_solves_zero_out_with_its_preset_and_round_trips_through_a_checkpoint(tmp_path) -> None:
    agent = rlzero.agents.presets.make_agent("reinforce", "ZeroOut-v0", device="cpu", seed=0).learn(20_000)
    result = rlzero.evaluate(agent, "ZeroOut-v0", n_episodes=100)
    assert result.mean_normalized_return >= 0.99, result

    path = agent.save(tmp_path / "reinforce.pt")
    obs = np.random.default_rng(1).integers(0, 10, size=(256, 10))
    expected = agent.predict(obs)[0]
    for loaded in (Reinforce.load(path, device="cpu"), load_agent(path, device="cpu")):
        assert isinstance(loaded, Reinforce)
        assert loaded.num_timesteps == agent.num_timesteps
        assert np.array_equal(loaded.predict(obs)[0], expected)


class LearningRates(Callback):
    """Records each member's policy learning rate after every batch."""

    def on_training_start(self, agent: Any, total_timesteps: int) -> None:
        self.agent, self.rates = agent, []

    def on_step(self, env_steps: Sequence[int], metrics: object) -> bool:
        self.rates.append(self.agent.policy_optimizer.lr.tolist())
        return True


def test_each_member_counts_its_own_steps_and_anneals_by_them() -> None:
    config = {"num_envs": 4, "anneal_lr": True, "hidden_sizes": (8,)}
    group, recorded = Reinforce("CartPole-v1", device="cpu", seed=[0, 1], **config), LearningRates()
    group.learn(400, callback=recorded)
    for member, seed in enumerate((0, 1)):
        alone, own = Reinforce("CartPole-v1", device="cpu", seed=seed, **config), LearningRates()
        alone.learn(400, callback=own)
        # Episodes differ in length: each member stopped at its own count past the budget, as alone,
        # its learning rate decaying with its own count.
        assert group.member_timesteps[member] == alone.num_timesteps >= 400
        assert [rates[member] for rates in recorded.rates[: len(own.rates)]] == [r[0] for r in own.rates]
    assert group.member_timesteps[0] != group.member_timesteps[1]
    assert any(0 < a != b > 0 for a, b in recorded.rates)


def test_cli_run_writes_summary_and_tensorboard_tags(tmp_path) -> None:
    argv = ["--agent", "reinforce", "--total-timesteps", "4000", "--logdir", str(tmp_path)]
    argv += ["--eval-episodes", "10", "--no-progress", "--set", "num_envs=32"]
    assert train_main(argv) == 0
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["agent"] == "reinforce" and summary["env_steps"] >= 4_000
    config = json.loads((run_dir / "config.json").read_text())
    assert config["resolved_hparams"]["num_envs"] == config["overrides"]["num_envs"] == 32
    assert config["preset"]["key"] == "ZeroOut-v0"
    events = EventAccumulator(str(run_dir))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    expected = {"losses/policy_loss", "losses/entropy", "losses/value_loss", "charts/episodic_return"}
    expected |= {"charts/SPS", "eval/mean_normalized_return"}
    assert expected <= tags
    assert isinstance(load_agent(run_dir / "model.pt", device="cpu"), Reinforce)


def test_cli_refuses_bad_hyperparameters(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train_main(["--agent", "reinforce", "--set", "gamma=2"])
    assert exit_info.value.code == 2
    assert "gamma" in capsys.readouterr().err
