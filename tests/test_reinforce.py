"""REINFORCE: returns and masking on crafted rollouts, sampling, learning, checkpoints, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import rlzero
from rlzero.agents import Reinforce, agent_class, load_agent
from rlzero.agents.networks import member_state_dict
from rlzero.agents.reinforce import (
    clipped_surrogate,
    log_softmax,
    reward_to_go,
    rollout_returns,
    sample_categorical,
)
from rlzero.train import main as train_main

# A crafted rollout, 5 steps (rows) of 3 envs (columns), gamma = 0.5.
#   env 0: an episode terminates at t=1; the next one (t=2..4) is still running at the horizon.
#   env 1: one episode terminates at the last step.
#   env 2: an episode terminates at t=0; the next one is truncated at t=3; a third starts at t=4.
REWARDS = torch.tensor(
    [
        [1.0, -1.0, 4.0],
        [2.0, -1.0, 1.0],
        [4.0, 1.0, 1.0],
        [8.0, 1.0, 1.0],
        [16.0, 1.0, 1.0],
    ]
)
TERMINATED = torch.tensor(
    [
        [False, False, True],
        [True, False, False],
        [False, False, False],
        [False, False, False],
        [False, True, False],
    ]
)
TRUNCATED = torch.zeros_like(TERMINATED)
TRUNCATED[3, 2] = True
DONES = TERMINATED | TRUNCATED
GAMMA = 0.5

# Everything the learning test depends on is spelled out, so that changes to ReinforceConfig's defaults
# do not change what this test measures (these are the defaults of this writing). Seed 0 solves by ~300k
# steps (the learning rate decays to 0 over the budget, so the budget is part of the setting).
LEARNING_CONFIG = {
    "num_envs": 1024,
    "learning_rate": 0.03,
    "gamma": 0.99,
    "ent_coef": 0.001,
    "max_grad_norm": 0.5,
    "normalize_advantage": True,
    "anneal_lr": True,
    "rollout_steps": 16,
    "hidden_sizes": (32,),
    "net_arch": "mlp",
}
LEARNING_BUDGET = 400_000


def test_reward_to_go_restarts_at_episode_ends() -> None:
    expected = torch.tensor(
        [
            [1 + 0.5 * 2, -1 - 0.5 + 0.25 + 0.125 + 0.0625, 4.0],
            [2.0, -1 + 0.5 + 0.25 + 0.125, 1 + 0.5 + 0.25],
            # env 0's trailing episode is summed only up to the horizon (partial)
            [4 + 0.5 * 8 + 0.25 * 16, 1 + 0.5 + 0.25, 1 + 0.5],
            [8 + 0.5 * 16, 1 + 0.5, 1.0],
            [16.0, 1.0, 1.0],
        ]
    )
    torch.testing.assert_close(reward_to_go(REWARDS, DONES, GAMMA), expected)


def test_rollout_returns_bootstrap_where_cut_and_end_where_terminated() -> None:
    next_values = torch.full_like(REWARDS, 10.0)  # V of the state each step led to
    expected = torch.tensor(
        [
            [1 + 0.5 * 2, -1 - 0.5 + 0.25 + 0.125 + 0.0625, 4.0],
            [2.0, -1 + 0.5 + 0.25 + 0.125, 1 + 0.5 * 4],
            # env 0's second episode runs past the rollout: bootstrapped from V at the last step
            [4 + 0.5 * 18.5, 1 + 0.5 + 0.25, 1 + 0.5 * 6],
            [8 + 0.5 * 21, 1 + 0.5, 1 + 0.5 * 10],  # env 2 truncated here: bootstrapped
            [16 + 0.5 * 10, 1.0, 1 + 0.5 * 10],  # env 1 terminated at the last step: not
        ]
    )
    torch.testing.assert_close(rollout_returns(REWARDS, TERMINATED, TRUNCATED, next_values, GAMMA), expected)
    # A step both terminated and truncated is terminal: nothing is bootstrapped there.
    both = TRUNCATED.clone()
    both[1, 0] = True
    torch.testing.assert_close(rollout_returns(REWARDS, TERMINATED, both, next_values, GAMMA), expected)


def test_lambda_returns_minus_values_are_gae_advantages() -> None:
    value = 10.0  # V of every state, so V(s_t) is known where the rollout only holds V(s_{t+1})
    next_values = torch.full_like(REWARDS, value)
    # lam = 0: one-step targets r + gamma * V(s'), with nothing after a terminal step.
    one_step = REWARDS + GAMMA * value * ~TERMINATED
    torch.testing.assert_close(
        rollout_returns(REWARDS, TERMINATED, TRUNCATED, next_values, GAMMA, 0.0), one_step
    )
    # Any lam: G - V is GAE's sum of (gamma * lam)^k TD errors, restarting at every end or cut.
    lam = 0.5
    deltas = one_step - value
    expected = torch.empty_like(deltas)
    for env in range(REWARDS.shape[1]):
        advantage = 0.0
        for t in reversed(range(REWARDS.shape[0])):
            if DONES[t, env] or t == REWARDS.shape[0] - 1:
                advantage = 0.0
            advantage = deltas[t, env] + GAMMA * lam * advantage
            expected[t, env] = advantage
    got = rollout_returns(REWARDS, TERMINATED, TRUNCATED, next_values, GAMMA, lam) - value
    torch.testing.assert_close(got, expected)


def test_clipped_surrogate_is_reinforce_at_first_and_stops_pulling_past_the_clip() -> None:
    advantages = torch.tensor([2.0, -2.0, 2.0, -2.0, 2.0, -2.0])
    played = torch.log(torch.full((6,), 0.5))
    # ratios: 1 (the first epoch), 1 again, then 1.5 and 0.5 in each advantage's direction and against it
    ratios = torch.tensor([1.0, 1.0, 1.5, 0.5, 0.5, 1.5])
    log_probs = (played + ratios.log()).requires_grad_()
    clipped_surrogate(log_probs, played, advantages, torch.tensor(0.2)).sum().backward()
    assert log_probs.grad is not None
    # d(ratio * A) / d log pi = ratio * A: REINFORCE's A at ratio 1, nothing once the ratio has moved
    # past the clip in A's direction, and the full pull back where it moved against A.
    torch.testing.assert_close(log_probs.grad, torch.tensor([2.0, -2.0, 0.0, 0.0, 1.0, -3.0]))


def test_log_softmax_and_sampling_match_the_categorical_distribution() -> None:
    logits = torch.randn(64, 7) * 4
    torch.testing.assert_close(log_softmax(logits), torch.log_softmax(logits, dim=1))
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.0])
    many = probs.clamp(min=1e-30).log().expand(100_000, 5).contiguous()
    actions = sample_categorical(many, torch.rand(100_000, generator=torch.Generator().manual_seed(0)))
    frequencies = torch.bincount(actions, minlength=5).float() / actions.numel()
    torch.testing.assert_close(frequencies, probs, atol=0.01, rtol=0)


def test_rollouts_have_a_fixed_length_and_go_on_from_each_other() -> None:
    agent = Reinforce("ZeroOut-v0", device="cpu", seed=3, num_envs=32, rollout_steps=7)
    first = agent._collect()
    assert first.obs.shape == (1, 7, 32, 10) and first.rewards.shape == (1, 7, 32)  # one member
    assert agent.num_timesteps == 7 * 32
    where_it_stopped = agent.last_obs.clone()
    second = agent._collect()
    assert torch.equal(second.obs[:, 0], where_it_stopped)
    # Within a rollout each step starts where the last one led, or on a fresh board after an end.
    ended = first.terminated[0] | first.truncated[0]
    continues = ~ended[:-1]
    assert torch.equal(first.obs[0, 1:][continues], first.final_obs[0, :-1][continues])


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
        agent = Reinforce("ZeroOut-v0", device="cpu", seed=seed, num_envs=64).learn(3_000)
        return [p.detach().clone() for net in agent.networks.values() for p in net.parameters()]

    first, again, other = weights(7), weights(7), weights(8)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_bad_hyperparameters_are_refused() -> None:
    with pytest.raises(ValueError, match="gamma"):
        Reinforce("ZeroOut-v0", device="cpu", gamma=1.5)
    with pytest.raises(ValueError, match="ent_coef"):
        Reinforce("ZeroOut-v0", device="cpu", ent_coef=-0.1)
    with pytest.raises(ValueError, match="target_kl"):
        Reinforce("ZeroOut-v0", device="cpu", target_kl=-0.01)
    with pytest.raises(ValueError, match="gae_lambda"):
        Reinforce("ZeroOut-v0", device="cpu", gae_lambda=1.2)
    with pytest.raises(ValueError, match="update_epochs"):
        Reinforce("ZeroOut-v0", device="cpu", update_epochs=0)
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        Reinforce("ZeroOut-v0", device="cpu", buffer_size=10)


def test_learns_zero_out_and_round_trips_through_a_checkpoint(tmp_path) -> None:
    agent = Reinforce("ZeroOut-v0", device="cpu", seed=0, **LEARNING_CONFIG).learn(LEARNING_BUDGET)
    result = rlzero.evaluate(agent, "ZeroOut-v0", n_episodes=100)
    assert result.solved, result

    path = agent.save(tmp_path / "reinforce.pt")
    obs = np.random.default_rng(1).integers(0, 10, size=(256, 10))
    expected = agent.predict(obs)[0]
    for loaded in (Reinforce.load(path, device="cpu"), load_agent(path, device="cpu")):
        assert isinstance(loaded, Reinforce)
        assert loaded.num_timesteps == agent.num_timesteps
        assert np.array_equal(loaded.predict(obs)[0], expected)


def test_trains_on_cartpole_through_the_numpy_adapter() -> None:
    agent = Reinforce("CartPole-v1", device="cpu", seed=0, num_envs=4, hidden_sizes=(16,))
    agent.learn(2_000)
    assert agent.num_timesteps >= 2_000
    action, _ = agent.predict(np.zeros(4, dtype=np.float32))
    assert action.shape == () and 0 <= int(action) < 2


def test_several_epochs_report_how_far_the_policy_moved() -> None:
    plain = Reinforce("CartPole-v1", device="cpu", seed=0, num_envs=4, rollout_steps=32)
    assert "losses/approx_kl" not in plain._update(plain._collect())
    config = {"num_envs": 4, "rollout_steps": 32, "update_epochs": 8, "anneal_lr": False}
    agent = Reinforce("CartPole-v1", device="cpu", seed=0, **config)
    scalars = agent._update(agent._collect())
    assert agent.gradient_samples == 8 * 4 * 32  # every epoch's batch counts in the replay ratio
    kl, clipfrac = scalars["losses/approx_kl"], scalars["losses/clipfrac"]
    assert isinstance(kl, torch.Tensor) and isinstance(clipfrac, torch.Tensor)
    assert kl.shape == clipfrac.shape == (1,)
    assert float(kl) > 0 and 0 <= float(clipfrac) <= 1


def test_anneal_clip_narrows_the_clip_to_zero_at_the_end_of_the_budget() -> None:
    config = {"num_envs": 4, "rollout_steps": 32, "update_epochs": 8, "anneal_lr": False, "clip_range": 0.2}
    clipfracs = {}
    for anneal in (False, True):
        agent = Reinforce("CartPole-v1", device="cpu", seed=0, anneal_clip=anneal, **config)
        agent.learn(256)  # the budget is spent: progress 1
        clipfracs[anneal] = float(agent._update(agent._collect())["losses/clipfrac"])
    # At a clip of 0 every sample whose probability moved at all is past it; at 0.2 few are.
    assert clipfracs[True] > 0.99 > 0.5 > clipfracs[False]


def test_target_kl_stops_each_members_epochs_on_its_own() -> None:
    config = {"num_envs": 4, "rollout_steps": 32, "update_epochs": 8, "anneal_lr": False}
    # Member 0 never stops; member 1 stops before its second epoch, as any step moves its policy.
    group = Reinforce("CartPole-v1", device="cpu", seed=[0, 1], members=[{}, {"target_kl": 1e-12}], **config)
    group._update(group._collect())
    assert group.optimizer.steps.tolist() == [8.0, 1.0]
    assert group.replay_ratios == [8.0, 1.0]  # each member's own, as its record reports it
    assert group.replay_ratio == (8 + 1) / 2  # the members' mean
    # A member that stops early is the same agent as alone, and so is the one beside it.
    for member, hparams in enumerate([{}, {"target_kl": 1e-12}]):
        alone = Reinforce("CartPole-v1", device="cpu", seed=member, **config, **hparams)
        alone._update(alone._collect())
        assert alone.replay_ratios == [group.replay_ratios[member]]
        for name, net in alone.networks.items():
            together = member_state_dict(group.networks[name], member)
            assert all(torch.equal(v, together[k]) for k, v in member_state_dict(net, 0).items())


def test_cli_run_writes_summary_and_tensorboard_tags(tmp_path) -> None:
    argv = ["--agent", "reinforce", "--total-timesteps", "30000", "--logdir", str(tmp_path)]
    argv += ["--eval-episodes", "10", "--no-progress", "--set", "num_envs=256"]
    assert train_main(argv) == 0
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["agent"] == "reinforce" and summary["env_steps"] >= 30_000
    config = json.loads((run_dir / "config.json").read_text())
    assert config["resolved_hparams"]["num_envs"] == config["overrides"]["num_envs"] == 256
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
