"""TorchRL on the ZeroOut envs, built as TorchRL's docs build them (skipped where torchrl is not installed).

Every rollout is checked against the rules, not only for running: each ``(observation, action,
("next", "observation"), ("next", "reward"))`` must be one true ZeroOut-v0 transition, so a reset that
leaks into a transition (a wrong final observation) fails the test.
"""

import gymnasium as gym
import pytest
import torch
from gymnasium.vector import AutoresetMode

import rlzero

gym.register_envs(rlzero)
torchrl_envs = pytest.importorskip("torchrl.envs")
from torchrl.envs.utils import check_env_specs  # noqa: E402

STEPS = 40


def assert_true_transitions(rollout, final_obs_known: bool = True) -> int:
    """Each step picks one slot of ``observation``; return the number of episodes that ended.

    ``final_obs_known=False``: skip the steps that ended an episode, whose next observation TorchRL
    fills with a placeholder when the vector env does not hand over the final one.
    """
    obs, following = rollout["observation"], rollout["next", "observation"]
    slots = rollout["action"].argmax(-1, keepdim=True)  # one-hot actions, TorchRL's default encoding
    picked = obs.gather(-1, slots).squeeze(-1)
    reward = rollout["next", "reward"].squeeze(-1)
    done = rollout["next", "done"].squeeze(-1)
    assert torch.equal(reward, torch.where(picked != 0, 1.0, -1.0))
    expected = obs.scatter(-1, slots, 0)  # ZeroOut-v0: a pick sets the slot to 0
    keep = torch.ones_like(done) if final_obs_known else ~done
    assert torch.equal(following[keep], expected[keep])
    return int(done.sum())


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.DISABLED], ids=lambda m: m.name)
def test_gym_wrapper_on_the_batched_env(mode):
    venv = gym.make_vec(
        "ZeroOut-v0", num_envs=4, vectorization_mode="vector_entry_point", autoreset_mode=mode, max_steps=5
    )
    env = torchrl_envs.GymWrapper(venv)
    check_env_specs(env)
    rollout = env.rollout(STEPS, break_when_any_done=False)
    assert rollout.batch_size == (4, STEPS)
    assert assert_true_transitions(rollout) >= 4 * STEPS // 5
    if mode is AutoresetMode.SAME_STEP:  # TorchRL reads the info only where it must find final_obs in it
        optimal = rollout["next", "optimal_return"]
        assert optimal.dtype == torch.int64 and rollout["next", "action_mask"].shape == (4, STEPS, 10)


def test_gym_wrapper_refuses_next_step():
    """TorchRL takes SAME_STEP or DISABLED and says so: it reads the env's autoreset_mode attribute."""
    venv = gym.make_vec("ZeroOut-v0", num_envs=2, vectorization_mode="vector_entry_point")
    with pytest.raises(RuntimeError, match="SAME_STEP or DISABLED"):
        torchrl_envs.GymWrapper(venv)


def test_gym_env_single_with_its_info():
    env = torchrl_envs.GymEnv("ZeroOut-v0", max_steps=5)
    env.auto_register_info_dict()  # the info keys must be the same on reset and step for this
    check_env_specs(env)
    rollout = env.rollout(STEPS, break_when_any_done=False)
    assert assert_true_transitions(rollout) >= STEPS // 5
    assert rollout["next", "optimal_return"].dtype == torch.int64
    assert torch.equal(rollout["next", "action_mask"].bool(), rollout["next", "observation"] != 0)


def test_gym_env_with_num_envs():
    # Gymnasium's AsyncVectorEnv inside: the "rlzero:" prefix registers the ids in each worker process.
    env = torchrl_envs.GymEnv("rlzero:ZeroOut-v0", num_envs=4, max_steps=5)
    try:
        check_env_specs(env)
        rollout = env.rollout(STEPS, break_when_any_done=False)
        assert rollout.batch_size == (4, STEPS)
        assert assert_true_transitions(rollout, final_obs_known=False) >= 4 * STEPS // 5
        running = ~rollout["next", "done"].squeeze(-1)
        mask, following = rollout["next", "action_mask"], rollout["next", "observation"]
        assert torch.equal(mask[running].bool(), following[running] != 0)
    finally:
        env.close()
