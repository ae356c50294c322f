"""Gymnasium API of the single ZeroOut env: seeding, start distribution, bad input, checkers, SB3."""

import re
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import rlzero
from rlzero.envs import ZeroOutEnv

ENV_IDS = ["ZeroOut-v0", "ZeroOutCountdown-v0", "ZeroOutInOrder-v0", "ZeroOutLarge-v0"]


# ---------------------------------------------------------------- seeding
def trajectory(env, seed, actions):
    obs, info = env.reset(seed=seed)
    out = [(obs.tolist(), info["optimal_return"], info["action_mask"].tolist())]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        out.append((obs.tolist(), reward, terminated, truncated, info["action_mask"].tolist()))
        if terminated or truncated:
            break
    return out


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_boards_and_trajectory(env_id):
    env_a, env_b = gym.make(env_id), gym.make(env_id)
    size = env_a.action_space.n
    actions = [int(a) for a in np.random.default_rng(0).integers(0, size, 300)]
    for seed in (0, 1, 12345):
        assert trajectory(env_a, seed, actions) == trajectory(env_b, seed, actions)
        # Unseeded resets after a seeded one continue the same stream on both envs.
        for _ in range(3):
            obs_a, _ = env_a.reset()
            obs_b, _ = env_b.reset()
            assert np.array_equal(obs_a, obs_b)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_different_seeds_give_different_boards(env_id):
    env = gym.make(env_id)
    boards = {tuple(env.reset(seed=seed)[0].tolist()) for seed in range(20)}
    # 20 boards of >= 10 digits: a collision has probability < 20**2 / 10**10.
    assert len(boards) == 20
    # Unseeded resets of one env keep drawing new boards.
    env.reset(seed=0)
    assert len({tuple(env.reset()[0].tolist()) for _ in range(20)}) == 20


# ---------------------------------------------------------------- start distribution
# Critical values of the chi-square distribution at p = 0.001 (upper tail), by degrees of freedom, from
# standard tables (scipy.stats.chi2.ppf(0.999, df)); scipy is not a dependency, so they are written out here.
CHI2_CRITICAL_P001 = {1: 10.828, 3: 16.266, 9: 27.877, 15: 37.697, 99: 148.230}


def chi_square(counts):
    counts = np.asarray(counts, dtype=float).ravel()
    expected = counts.sum() / counts.size
    return float(((counts - expected) ** 2 / expected).sum())


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [
        ("ZeroOut-v0", {}),
        ("ZeroOutCountdown-v0", {}),
        ("ZeroOutInOrder-v0", {}),
        ("ZeroOutLarge-v0", {}),
        ("ZeroOut-v0", {"max_value": 1}),
        ("ZeroOut-v0", {"size": 4, "max_value": 3}),
    ],
)
def test_initial_entries_are_uniform(env_id, kwargs):
    env = gym.make(env_id, **kwargs)
    size, max_value = env.unwrapped.size, env.unwrapped.max_value
    env.reset(seed=2024)  # fixed seed: the test is deterministic; it fails on a true uniform draw w.p. 0.001
    boards = np.array([env.reset()[0] for _ in range(2000)])
    assert boards.min() == 0 and boards.max() == max_value
    # Every value 0..max_value equally likely, over all entries (df = max_value).
    counts = np.bincount(boards.ravel(), minlength=max_value + 1)
    assert len(counts) == max_value + 1
    assert chi_square(counts) < CHI2_CRITICAL_P001[max_value], counts
    # Independence and uniformity of two adjacent entries: the (max_value + 1)**2 pairs are equally likely.
    if size >= 2:
        pairs = np.bincount(boards[:, 0] * (max_value + 1) + boards[:, 1], minlength=(max_value + 1) ** 2)
        assert chi_square(pairs) < CHI2_CRITICAL_P001[(max_value + 1) ** 2 - 1], pairs


def test_chi_square_test_has_power():
    # The same statistic rejects a clearly non-uniform draw (1..9, never 0), so the test above can fail.
    boards = np.random.default_rng(0).integers(1, 10, (2000, 10))
    assert chi_square(np.bincount(boards.ravel(), minlength=10)) > CHI2_CRITICAL_P001[9]


# ---------------------------------------------------------------- bad actions
BAD_ACTIONS = [
    10,
    -1,
    1.0,
    1.5,
    "1",
    None,
    True,
    np.bool_(True),
    np.array([1]),
    np.array([1, 2]),
    np.array(1.0),
    np.float64(1.0),
    np.int64(10),
]
GOOD_ACTIONS = [3, np.int64(3), np.int32(3), np.uint8(3), np.array(3), np.array(3, dtype=np.int8)]


def snapshot(env):
    return (
        env.board.tolist(),
        env.steps,
        env.episode_return,
        env.optimal_return(),
        env.action_masks().tolist(),
        env.np_random.bit_generator.state,
    )


@pytest.mark.parametrize("action", BAD_ACTIONS, ids=repr)
@pytest.mark.parametrize("rule", ["zero", "countdown", "in_order", "fewest_steps"])
def test_bad_action_raises_and_leaves_state_untouched(action, rule):
    env = ZeroOutEnv(rule=rule)
    env.reset(seed=0, options={"board": [0, 5, 0, 7, 1, 0, 2, 3, 9, 4]})
    env.step(1)
    before = snapshot(env)
    with pytest.raises(ValueError) as err:
        env.step(action)
    message = str(err.value)
    assert repr(action) in message, message  # names the action ...
    assert re.search(r"0(, |\.\.| to | - )9", message), message  # ... and the valid range
    assert snapshot(env) == before
    # The env still works, and the failed call did not count as a step.
    env.step(3)
    assert env.steps == before[1] + 1


def test_bad_action_through_gym_make_raises_value_error():
    env = gym.make("ZeroOutLarge-v0")
    env.reset(seed=0)
    for action in (20, -1, 2.0, "3"):
        with pytest.raises(ValueError, match=r"0, 19|0\.\.19"):
            env.step(action)
    assert env.unwrapped.steps == 0


@pytest.mark.parametrize("action", GOOD_ACTIONS, ids=repr)
def test_integer_like_actions_are_accepted(action):
    reference, env = ZeroOutEnv(rule="countdown"), ZeroOutEnv(rule="countdown")
    board = [0, 5, 0, 7, 1, 0, 2, 3, 9, 4]
    reference.reset(options={"board": board})
    env.reset(options={"board": board})
    expected = reference.step(3)
    got = env.step(action)
    assert np.array_equal(got[0], expected[0]) and got[1:4] == expected[1:4]
    assert env.board[3] == 6


def test_action_boundaries():
    env = ZeroOutEnv(size=4)
    env.reset(seed=0)
    env.step(0)
    env.step(3)
    with pytest.raises(ValueError):
        env.step(4)


# ---------------------------------------------------------------- bad constructor arguments
@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"size": 0}, r"size.*>= ?1"),
        ({"size": -1}, r"size.*>= ?1"),
        ({"size": 1.5}, r"size.*integer"),
        ({"size": True}, r"size.*integer"),
        ({"max_value": 0}, r"max_value.*>= ?1"),
        ({"max_value": -3}, r"max_value.*>= ?1"),
        ({"rule": "nope"}, r"'nope'.*zero.*countdown.*in_order"),
        ({"max_steps": 0}, r"max_steps.*>= ?1"),
        ({"max_steps": 2.5}, r"max_steps.*integer"),
    ],
)
def test_bad_constructor_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        ZeroOutEnv(**kwargs)
    with pytest.raises(ValueError, match=pattern):
        gym.make("ZeroOut-v0", **kwargs)


def test_integer_like_constructor_arguments_are_accepted():
    env = ZeroOutEnv(size=np.int64(4), max_value=np.int32(2), max_steps=np.int16(7))
    assert env.observation_space == gym.spaces.Box(0, 2, (4,), np.int64)
    assert env.max_steps == 7


# ---------------------------------------------------------------- checkers and registration
def checker_warnings(check, env):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check(env)
    return [str(w.message) for w in caught]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_check_env_unwrapped(env_id):
    assert checker_warnings(gym_check_env, gym.make(env_id).unwrapped) == []


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_check_env_on_made_env(env_id):
    found = checker_warnings(gym_check_env, gym.make(env_id))
    # gymnasium's checker always warns, about the checker itself, when handed a wrapped env ("... is different
    # from the unwrapped version ... We recommend using the raw environment"); gym.make always wraps. That
    # one warning says nothing about the env, so it is the only one let through; any other fails the test.
    about_wrapping = [w for w in found if "is different from the unwrapped version" in w]
    assert len(about_wrapping) <= 1
    assert [w for w in found if w not in about_wrapping] == []


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sb3_check_env(env_id):
    assert checker_warnings(sb3_check_env, gym.make(env_id)) == []
    assert checker_warnings(sb3_check_env, gym.make(env_id).unwrapped) == []


def test_gym_make_with_module_prefix_in_a_fresh_interpreter():
    code = (
        "import sys, gymnasium as gym\n"
        "assert 'rlzero' not in sys.modules\n"
        "env = gym.make('rlzero:ZeroOut-v0')\n"
        "obs, info = env.reset(seed=0)\n"
        "print(type(env.unwrapped).__name__, obs.shape, sorted(info))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "ZeroOutEnv (10,) ['action_mask', 'optimal_return']"


def test_gym_make_after_import():
    gym.register_envs(rlzero)
    assert isinstance(gym.make("rlzero:ZeroOut-v0").unwrapped, ZeroOutEnv)
    for env_id in ENV_IDS:
        assert isinstance(gym.make(env_id).unwrapped, ZeroOutEnv)
    rlzero.register_envs()  # idempotent
    assert gym.make("ZeroOut-v0").unwrapped.size == 10


def test_sb3_ppo_runs_on_zero_out():
    from stable_baselines3 import PPO

    env = gym.make("ZeroOut-v0")
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=2, device="cpu", seed=0, verbose=0)
    model.learn(total_timesteps=256)
    assert model.num_timesteps == 256
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(int(action))
    obs, reward, _, _, _ = env.step(action)  # the 0-d integer array predict returns is a valid action
    assert reward in (1.0, -1.0)
