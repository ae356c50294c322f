"""PPO: GAE on crafted rollouts, the clipped surrogate, minibatch epochs, early stop, learning, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import rlzero
from rlzero.agents import PPO, agent_class, load_agent
from rlzero.agents.networks import member_state_dict
from rlzero.agents.ppo import clipped_surrogate
from rlzero.agents.presets import make_agent
from rlzero.train import main as train_main

SMALL = {"num_envs": 4, "rollout_steps": 32, "anneal_lr": False}


def test_clipped_surrogate_stops_pulling_past_the_clip() -> None:
    advantages = torch.tensor([2.0, -2.0, 2.0, -2.0, 2.0, -2.0])
    played = torch.log(torch.full((6,), 0.5))
    # ratios: 1 (the first epoch), 1 again, then 1.5 and 0.5 in each advantage's direction and against it
    ratios = torch.tensor([1.0, 1.0, 1.5, 0.5, 0.5, 1.5])
    log_probs = (played + ratios.log()).requires_grad_()
    clipped_surrogate(log_probs, played, advantages, torch.tensor(0.2)).sum().backward()
    assert log_probs.grad is not None
    # d(ratio * A) / d log pi = ratio * A: the policy gradient's A at ratio 1, nothing once the ratio
    # has moved past the clip in A's direction, and the full pull back where it moved against A.
    torch.testing.assert_close(log_probs.grad, torch.tensor([2.0, -2.0, 0.0, 0.0, 1.0, -3.0]))


def test_rollouts_have_a_fixed_length_and_go_on_from_each_other() -> None:
    agent = PPO("ZeroOut-v0", device="cpu", seed=3, num_envs=32, rollout_steps=7)
    first = agent._collect_rollout()
    assert first.obs.shape == (1, 7, 32, 10) and first.rewards.shape == (1, 7, 32)  # one member
    assert agent.num_timesteps == 7 * 32
    where_it_stopped = agent.last_obs.clone()
    second = agent._collect_rollout()
    assert torch.equal(second.obs[:, 0], where_it_stopped)
    # Within a rollout each step starts where the last one led, or on a fresh board after an end.
    ended = first.terminated[0] | first.truncated[0]
    continues = ~ended[:-1]
    assert torch.equal(first.obs[0, 1:][continues], first.final_obs[0, :-1][continues])


def test_epochs_of_minibatches_and_what_they_report() -> None:
    agent = PPO("CartPole-v1", device="cpu", seed=0, update_epochs=3, num_minibatches=4, **SMALL)
    scalars = agent._train(agent._collect_rollout())
    assert agent.optimizer.steps.tolist() == [12.0]  # 3 epochs x 4 minibatches
    assert agent.gradient_samples == 3 * 4 * 32  # every epoch's samples count in the replay ratio
    assert agent.replay_ratios == [3.0]
    kl, clipfrac = scalars["losses/approx_kl"], scalars["losses/clipfrac"]
    assert isinstance(kl, torch.Tensor) and isinstance(clipfrac, torch.Tensor)
    assert kl.shape == clipfrac.shape == (1,)
    assert float(kl) > 0 and 0 <= float(clipfrac) <= 1


def test_anneal_clip_narrows_the_clip_to_zero_at_the_end_of_the_budget() -> None:
    config = {**SMALL, "update_epochs": 8, "num_minibatches": 1, "clip_range": 0.2}
    clipfracs = {}
    for anneal in (False, True):
        agent = PPO("CartPole-v1", device="cpu", seed=0, anneal_clip=anneal, **config)
        agent.learn(256)  # the budget is spent: progress 1
        clipfracs[anneal] = float(agent._train(agent._collect_rollout())["losses/clipfrac"])
    # At a clip of 0 every sample whose probability moved at all is past it; at 0.2 few are.
    assert clipfracs[True] > 0.99 > 0.5 > clipfracs[False]


def test_target_kl_stops_each_members_epochs_on_its_own() -> None:
    config = {**SMALL, "update_epochs": 8, "num_minibatches": 1}
    # Member 0 never stops; member 1 stops before its second step, as any step moves its policy.
    group = PPO("CartPole-v1", device="cpu", seed=[0, 1], members=[{}, {"target_kl": 1e-12}], **config)
    group._train(group._collect_rollout())
    assert group.optimizer.steps.tolist() == [8.0, 1.0]
    assert group.replay_ratios == [8.0, 1.0]  # each member's own, as its record reports it
    # A member that stops early is the same agent as alone, and so is the one beside it.
    for member, hparams in enumerate([{}, {"target_kl": 1e-12}]):
        alone = PPO("CartPole-v1", device="cpu", seed=member, **config, **hparams)
        alone._train(alone._collect_rollout())
        assert alone.replay_ratios == [group.replay_ratios[member]]
        for name, net in alone.networks.items():
            together = member_state_dict(group.networks[name], member)
            assert all(torch.equal(v, together[k]) for k, v in member_state_dict(net, 0).items())


def test_shared_network_has_a_value_output_beside_the_logits() -> None:
    agent = PPO("CartPole-v1", device="cpu", seed=0, shared_network=True, **SMALL)
    assert set(agent.networks) == {"actor_critic"}
    logits, values = agent.logits_and_values(torch.zeros(1, 5, 4))
    assert logits.shape == (1, 5, 2) and values.shape == (1, 5)
    agent.learn(256)
    with pytest.raises(ValueError, match="shared_network needs net_arch 'mlp'"):
        PPO("ZeroOut-v0", device="cpu", shared_network=True, net_arch="slot")


def test_ortho_init_gives_orthogonal_layers_with_sb3s_gains_per_member() -> None:
    group = PPO("CartPole-v1", device="cpu", seed=[3, 4], ortho_init=True, **SMALL)
    for net, head_gain in ((group.policy, 0.01), (group.value, 1.0)):
        for name, param in net.named_parameters():
            if name.endswith("bias"):
                assert not param.any()
                continue
            gain = head_gain if name.startswith("head") else 2**0.5
            for weight in param:  # rows or columns orthonormal, scaled by the gain
                small = weight @ weight.T if weight.shape[0] <= weight.shape[1] else weight.T @ weight
                assert torch.allclose(small, gain**2 * torch.eye(small.shape[0]), atol=1e-5)
    alone = PPO("CartPole-v1", device="cpu", seed=4, ortho_init=True, **SMALL)
    member = member_state_dict(group.policy, 1)
    assert all(torch.equal(v, member[k]) for k, v in member_state_dict(alone.policy, 0).items())
    with pytest.raises(ValueError, match="ortho_init needs separate networks"):
        PPO("CartPole-v1", device="cpu", shared_network=True, ortho_init=True)


def test_registered_and_refuses_bad_hyperparameters() -> None:
    assert agent_class("ppo") is PPO
    with pytest.raises(ValueError, match="gae_lambda"):
        PPO("ZeroOut-v0", device="cpu", gae_lambda=1.2)
    with pytest.raises(ValueError, match="update_epochs"):
        PPO("ZeroOut-v0", device="cpu", update_epochs=0)
    with pytest.raises(ValueError, match=r"num_minibatches \(9\) must be <= num_envs \* rollout_steps \(8\)"):
        PPO("ZeroOut-v0", device="cpu", num_envs=2, rollout_steps=4, num_minibatches=9)


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ["ZeroOut-v0", "CartPole-v1"])
def test_learns_with_its_preset_and_round_trips_through_a_checkpoint(env_id: str, tmp_path) -> None:
    budget = 20_000 if env_id == "ZeroOut-v0" else 40_000
    agent = make_agent("ppo", env_id, device="cpu", seed=0).learn(budget)
    result = rlzero.evaluate(agent, env_id, n_episodes=20)
    assert (result.mean_normalized_return or 0) >= 0.99 or result.mean_return >= 475, result
    path = agent.save(tmp_path / "ppo.pt")
    obs = np.asarray([agent.env.single_observation_space.sample() for _ in range(64)])
    for loaded in (PPO.load(path, device="cpu"), load_agent(path, device="cpu")):
        assert isinstance(loaded, PPO) and loaded.num_timesteps == agent.num_timesteps
        assert np.array_equal(loaded.predict(obs)[0], agent.predict(obs)[0])


def test_cli_run_writes_summary_with_ppo_tags(tmp_path) -> None:
    argv = ["--agent", "ppo", "--total-timesteps", "4096", "--logdir", str(tmp_path), "--eval-episodes", "5"]
    assert train_main([*argv, "--no-progress"]) == 0
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["agent"] == "ppo" and summary["env_steps"] >= 4096
    assert json.loads((run_dir / "config.json").read_text())["preset"]["key"] == "ZeroOut-v0"
    assert isinstance(load_agent(run_dir / "model.pt", device="cpu"), PPO)
