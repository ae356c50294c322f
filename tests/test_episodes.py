"""The evaluation protocol: exact figures for scripted policies, both policy kinds, bad input."""

import math

import gymnasium as gym
import numpy as np
import pytest

import rlzero
from rlzero.curves import SOLVED_THRESHOLD, criterion
from rlzero.episodes import EVAL_SEED, EvalResult, as_action_fn, evaluate

ZEROOUT_IDS = ["ZeroOut-v0", "ZeroOutInOrder-v0", "ZeroOutCountdown-v0"]


def leftmost_nonzero(obs):
    """Optimal on every ZeroOut rule: pick the leftmost nonzero entry (one of them is left until done)."""
    return (obs != 0).argmax(axis=1)


def uniform_random(seed=0):
    rng = np.random.default_rng(seed)
    return lambda obs: rng.integers(0, obs.shape[1], size=obs.shape[0])


class PredictPolicy:
    """Has SB3's ``predict(obs, deterministic) -> (actions, state)`` and records how it was called."""

    def __init__(self):
        self.calls = []

    def predict(self, obs, deterministic=False):
        self.calls.append((obs.shape, deterministic))
        return leftmost_nonzero(obs), None


@pytest.mark.parametrize("env_id", ZEROOUT_IDS)
def test_optimal_policy_scores_exactly_one(env_id):
    result = evaluate(leftmost_nonzero, env_id, n_episodes=100)
    assert result.n_episodes == 100
    assert result.mean_normalized_return == 1.0
    assert result.success_rate == 1.0
    assert criterion("ZeroOut-v0").solved(result.to_dict())
    # Optimal play makes only productive picks: one step per unit of reward.
    assert result.mean_length == result.mean_return > 0


def test_fewest_steps_normalizes_a_negative_optimum_to_one():
    # Every pick pays -1 there, so the optimal return is minus the number of nonzero entries.
    best = evaluate(leftmost_nonzero, "ZeroOutFewestSteps-v0", n_episodes=100)
    assert (best.mean_normalized_return, best.success_rate) == (1.0, 1.0)
    assert best.mean_return == -best.mean_length < 0
    # A random picker wastes about two picks per necessary one: 1 - regret / |optimal| falls below 0.
    random_play = evaluate(uniform_random(0), "ZeroOutFewestSteps-v0", n_episodes=100)
    assert random_play.mean_normalized_return < 0 and random_play.success_rate < 0.1
    assert random_play.mean_return == -random_play.mean_length


def test_optimal_policy_through_top_level_name():
    assert rlzero.evaluate is evaluate
    assert rlzero.evaluate(leftmost_nonzero, "ZeroOut-v0", 10).mean_normalized_return == 1.0


def test_uniform_random_policy_scores_about_minus_1_2():
    result = evaluate(uniform_random(0), "ZeroOut-v0", n_episodes=100)
    assert -1.5 <= result.mean_normalized_return <= -0.9
    assert result.success_rate < 0.1
    assert not criterion("ZeroOut-v0").solved(result.to_dict())
    # Every episode pays for wasted picks; with 10 slots a random picker needs ~29 picks on average.
    assert result.mean_return < 0
    assert 15 < result.mean_length < 45


def test_all_zero_starts_are_left_out_of_the_normalized_return():
    # With one slot of values 0..1, about half the starts are all zero (optimal return 0).
    result = evaluate(leftmost_nonzero, "ZeroOut-v0", 100, env_kwargs={"size": 1, "max_value": 1})
    assert result.mean_normalized_return == 1.0
    assert result.success_rate == 1.0
    assert result.mean_return < 1.0  # the all-zero starts still count in the plain return


def test_object_with_predict_is_called_deterministically_on_batches():
    policy = PredictPolicy()
    result = evaluate(policy, "ZeroOut-v0", n_episodes=7)
    assert result.mean_normalized_return == 1.0
    assert policy.calls
    assert all(shape == (7, 10) and deterministic is True for shape, deterministic in policy.calls)


def test_predict_is_preferred_over_call():
    class Both(PredictPolicy):
        def __call__(self, obs):
            raise AssertionError("evaluate must use predict when there is one")

    assert evaluate(Both(), "ZeroOut-v0", 5).mean_normalized_return == 1.0


def test_plain_callables_work():
    def function(obs):
        return leftmost_nonzero(obs)

    assert evaluate(function, "ZeroOutInOrder-v0", 5).mean_normalized_return == 1.0
    # Lists are fine too: the result is turned into an array.
    assert evaluate(lambda obs: leftmost_nonzero(obs).tolist(), "ZeroOut-v0", 5).success_rate == 1.0


@pytest.mark.parametrize("policy", [42, "leftmost", None, object()])
def test_anything_else_is_a_type_error(policy):
    with pytest.raises(TypeError, match="predict"):
        evaluate(policy, "ZeroOut-v0", 5)
    with pytest.raises(TypeError):
        as_action_fn(policy)


@pytest.mark.parametrize("bad", [10, -1])
def test_a_policy_s_invalid_action_is_a_value_error_naming_it_and_the_range(bad):
    with pytest.raises(ValueError, match=rf"invalid actions \[{bad}, {bad}\].*values in \[0, 9\]"):
        evaluate(lambda obs: np.full(len(obs), bad), "ZeroOut-v0", 2)


def test_envs_without_an_optimum_report_no_normalized_return():
    result = evaluate(lambda obs: np.zeros(len(obs), dtype=np.int64), "CartPole-v1", n_episodes=10)
    assert result.mean_normalized_return is None
    assert result.success_rate is None
    assert not criterion("ZeroOut-v0").solved(result.to_dict())
    # Pushing left every step topples the pole within a few dozen steps; each step pays +1.
    assert result.mean_return == result.mean_length
    assert 5 <= result.mean_length <= 50


@pytest.mark.parametrize("n_episodes", [0, -1])
def test_fewer_than_one_episode_is_a_value_error(n_episodes):
    with pytest.raises(ValueError, match="n_episodes"):
        evaluate(leftmost_nonzero, "ZeroOut-v0", n_episodes=n_episodes)


def test_same_seed_same_figures_and_default_seed_is_far_from_training_seeds():
    assert EVAL_SEED >= 1000
    a = evaluate(uniform_random(3), "ZeroOut-v0", 20)
    b = evaluate(uniform_random(3), "ZeroOut-v0", 20)
    assert a == b
    c = evaluate(uniform_random(3), "ZeroOut-v0", 20, seed=7)
    assert a != c


def test_env_kwargs_reach_the_env():
    result = evaluate(leftmost_nonzero, "ZeroOut-v0", 20, env_kwargs={"size": 3, "max_value": 1})
    assert result.mean_normalized_return == 1.0
    assert result.mean_return <= 3


def test_solved_threshold_and_the_result_as_a_dict():
    def result(normalized):
        return EvalResult(
            n_episodes=100,
            mean_return=1.0,
            mean_length=1.0,
            mean_normalized_return=normalized,
            success_rate=None if normalized is None else 0.5,
        )

    def solved(normalized, env_id="ZeroOut-v0"):
        return criterion(env_id).solved(result(normalized).to_dict())

    assert SOLVED_THRESHOLD == 0.99
    assert solved(0.99) and solved(1.0)
    assert not solved(0.9899) and not solved(-1.2) and not solved(None) and not solved(math.nan)
    # CartPole-v1 has no optimum: it is scored by its return against the env's reward_threshold.
    assert criterion("CartPole-v1").threshold == 475 and not solved(1.0, "CartPole-v1")
    as_dict = result(0.5).to_dict()
    assert as_dict == {
        "n_episodes": 100,
        "mean_return": 1.0,
        "mean_length": 1.0,
        "mean_normalized_return": 0.5,
        "success_rate": 0.5,
    }


def test_importing_the_cli_modules_leaves_the_function_in_place():
    # A submodule named like the function would replace it on the package once imported.
    import rlzero.eval
    import rlzero.finetune
    import rlzero.train

    assert rlzero.evaluate is evaluate
    assert callable(rlzero.evaluate)


def sync_vector_play(policy, env_id, n_episodes, env_kwargs=None):
    """The protocol as Gymnasium's SyncVectorEnv plays it: episode i from reset(seed=EVAL_SEED + i)."""
    envs = gym.make_vec(env_id, n_episodes, vectorization_mode="sync", **(env_kwargs or {}))
    obs, _ = envs.reset(seed=[EVAL_SEED + i for i in range(n_episodes)])
    returns, lengths = np.zeros(n_episodes), np.zeros(n_episodes)
    running = np.ones(n_episodes, dtype=bool)
    while running.any():
        obs, rewards, terminated, truncated, _ = envs.step(policy(obs))
        returns += rewards * running
        lengths += running
        running &= ~(terminated | truncated)
    return returns.mean(), lengths.mean()


def random_pushes(seed=0):
    rng = np.random.default_rng(seed)
    return lambda obs: rng.integers(0, 2, size=obs.shape[0])


def balance(obs):
    """A CartPole controller that holds the pole for hundreds of steps: push towards where it falls."""
    return ((obs[:, 2] + 0.3 * obs[:, 3] + 0.02 * obs[:, 1]) > 0).astype(np.int64)


@pytest.mark.parametrize(
    ("env_id", "make_policy", "env_kwargs"),
    [
        ("ZeroOut-v0", uniform_random, None),
        ("ZeroOutCountdown-v0", uniform_random, {"size": 6, "max_value": 3}),
        ("CartPole-v1", lambda: balance, None),
        ("CartPole-v1", random_pushes, None),
    ],
)
def test_batched_evaluation_plays_the_episodes_of_a_sync_vector_env(env_id, make_policy, env_kwargs):
    """ZeroOut and CartPole evaluate on batched envs; the episodes are the SyncVectorEnv's, step for step."""
    result = evaluate(make_policy(), env_id, n_episodes=40, env_kwargs=env_kwargs)
    mean_return, mean_length = sync_vector_play(make_policy(), env_id, 40, env_kwargs)
    assert (result.mean_return, result.mean_length) == (mean_return, mean_length)
    if env_id == "CartPole-v1" and make_policy() is balance:
        assert result.mean_length > 150  # long episodes: the dynamics agree over hundreds of steps
