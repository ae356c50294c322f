"""Hypothesis property tests of the single ZeroOut env over random action sequences."""

import itertools

import gymnasium as gym
import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

import rlzero  # noqa: F401  (registers the ids)

CAPPED_COUNTDOWN = ("ZeroOut-v0", {"size": 6, "max_value": 4, "rule": "countdown", "max_steps": 15})
"""The config whose optimum can exceed its step limit (named, not indexed: CONFIGS may grow)."""

# (id, extra gym.make kwargs): the five registered ids plus a few custom variants built from them.
CONFIGS = [
    ("ZeroOut-v0", {}),
    ("ZeroOutCountdown-v0", {}),
    ("ZeroOutInOrder-v0", {}),
    ("ZeroOutLarge-v0", {}),
    ("ZeroOutFewestSteps-v0", {}),
    ("ZeroOut-v0", {"size": 4, "max_value": 3, "rule": "fewest_steps", "max_steps": 6}),
    ("ZeroOut-v0", {"size": 1, "max_value": 1, "rule": "countdown"}),
    ("ZeroOut-v0", {"size": 3, "max_value": 2, "rule": "in_order"}),
    CAPPED_COUNTDOWN,
    ("ZeroOut-v0", {"size": 5, "max_value": 1, "rule": "zero"}),
    ("ZeroOutInOrder-v0", {"size": 4, "max_value": 7}),
]
SETTINGS = settings(max_examples=80, deadline=None)


def pays(env, productive):
    """A productive pick pays +1 and any other -1, except under fewest_steps, where every pick pays -1."""
    return 1.0 if productive and env.unwrapped.rule != "fewest_steps" else -1.0


def play(env, obs, info, actions):
    """Cycle through actions until the episode ends, checking the per-step properties; return steps."""
    space = env.observation_space
    size = space.shape[0]
    limit = env.unwrapped.max_steps
    sign = -1 if env.unwrapped.rule == "fewest_steps" else 1
    remaining = env.unwrapped.optimal_return()  # sign * the productive picks still to make
    assert space.contains(obs)
    assert remaining == info["optimal_return"] and sign * remaining >= 0
    assert (remaining == 0) == (not obs.any())
    mask = info["action_mask"]
    for t, raw in enumerate(itertools.cycle(actions), start=1):
        action = raw % size
        obs, reward, terminated, truncated, info = env.step(action)
        assert space.contains(obs), obs
        # The mask shown before the step predicts the reward of every pick.
        assert reward == pays(env, bool(mask[action]))
        new_remaining = env.unwrapped.optimal_return()
        # The productive picks left drop by exactly one on a productive pick, else stay.
        assert sign * new_remaining == sign * remaining - (1 if mask[action] else 0)
        assert sign * new_remaining >= 0
        assert terminated == (not obs.any())
        assert not (terminated and truncated)
        assert truncated == (not terminated and t == limit)
        assert t <= limit
        remaining, mask = new_remaining, info["action_mask"]
        if terminated or truncated:
            return t
    raise AssertionError("unreachable")


@SETTINGS
@given(
    config=st.sampled_from(CONFIGS),
    seed=st.integers(0, 2**32 - 1),
    actions=st.lists(st.integers(0, 10**6), min_size=1, max_size=200),
)
def test_properties_from_random_boards(config, seed, actions):
    env_id, kwargs = config
    env = gym.make(env_id, **kwargs)
    obs, info = env.reset(seed=seed)
    steps = play(env, obs, info, actions)
    assert 1 <= steps <= env.unwrapped.max_steps


@SETTINGS
@given(config=st.sampled_from(CONFIGS), data=st.data())
def test_properties_from_given_boards(config, data):
    env_id, kwargs = config
    env = gym.make(env_id, **kwargs)
    size, high = env.observation_space.shape[0], int(env.observation_space.high[0])
    board = data.draw(st.lists(st.integers(0, high), min_size=size, max_size=size), label="board")
    actions = data.draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=60), label="actions")
    obs, info = env.reset(options={"board": board})
    assert obs.tolist() == board
    play(env, obs, info, actions)


@SETTINGS
@given(config=st.sampled_from(CONFIGS), seed=st.integers(0, 2**32 - 1))
@example(config=CAPPED_COUNTDOWN, seed=4)  # optimal return 21 > max_steps 15: the truncated branch
@example(config=CAPPED_COUNTDOWN, seed=5)  # optimal return 15 == max_steps: ends on the last allowed step
def test_following_the_mask_reaches_the_optimal_return(config, seed):
    env_id, kwargs = config
    env = gym.make(env_id, **kwargs)
    _, info = env.reset(seed=seed)
    optimal, total, done = info["optimal_return"], 0.0, False
    rng = np.random.default_rng(seed)
    while not done:
        mask = info["action_mask"]
        action = int(rng.choice(np.flatnonzero(mask))) if mask.any() else 0
        _, reward, terminated, truncated, info = env.step(action)
        total += reward
        done = terminated or truncated
    limit = env.unwrapped.max_steps
    if optimal == 0:
        assert terminated and total == -1  # an all-zero board ends on the first (unproductive) step
    elif abs(optimal) <= limit:
        # Productive picks only: the episode terminates (never truncates) with exactly the optimal return.
        assert terminated and total == optimal
    else:
        # Only a custom max_steps can be shorter than the optimal episode: each step paid alike until the cut.
        assert truncated and not terminated and total == pays(env, True) * limit
