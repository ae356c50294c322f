"""Each ZeroOut variant's rules, checked step for step against an independent pure-Python reference."""

import itertools
import random

import gymnasium as gym
import numpy as np
import pytest

import rlzero
from rlzero.envs import ZeroOutEnv

# id -> (size, max_value, rule, step limit): the ids' table of ZeroOutEnv's docstring, with its step limits
# size * (10 + (max_value if countdown else 0)), written out by hand rather than computed by the package.
SPEC = {
    "ZeroOut-v0": (10, 9, "zero", 100),
    "ZeroOutCountdown-v0": (10, 9, "countdown", 190),
    "ZeroOutInOrder-v0": (10, 9, "in_order", 100),
    "ZeroOutLarge-v0": (20, 9, "zero", 200),
    "ZeroOutFewestSteps-v0": (10, 9, "fewest_steps", 100),
}
ENV_IDS = list(SPEC)
# Custom variants built through ZeroOutEnv(...): (size, max_value, rule).
CUSTOM = [
    (1, 1, "zero"),
    (1, 3, "countdown"),
    (3, 1, "in_order"),
    (5, 3, "countdown"),
    (7, 2, "in_order"),
    (4, 2, "fewest_steps"),
]


# ---------------------------------------------------------------- the reference
def ref_pick(board, action, rule):
    """One pick on a list of ints; returns (new_board, productive). Knows nothing of the package."""
    new = list(board)
    if new[action] == 0:
        return new, False
    if rule == "in_order" and any(v != 0 for v in new[:action]):
        return new, False  # not the leftmost nonzero entry: changes nothing
    if rule == "countdown":
        new[action] -= 1
    else:
        new[action] = 0
    return new, True


def ref_step(board, action, rule):
    """One pick; returns (new_board, reward): +1 for a productive pick, -1 otherwise, and -1 for every
    pick under fewest_steps."""
    new, productive = ref_pick(board, action, rule)
    return new, 1 if productive and rule != "fewest_steps" else -1


def ref_mask(board, rule):
    return [1 if ref_pick(board, a, rule)[1] else 0 for a in range(len(board))]


def ref_optimal(board, rule):
    picks = sum(board) if rule == "countdown" else sum(1 for v in board if v != 0)
    return -picks if rule == "fewest_steps" else picks


def brute_force_optimal(board, rule, memo=None):
    """Best return to an all-zero board by exhaustive search (unproductive picks only cost, so skip them)."""
    memo = {} if memo is None else memo
    key = tuple(board)
    if not any(key):
        return 0
    if key not in memo:
        best = None
        for a in range(len(board)):
            new, reward = ref_step(board, a, rule)
            if ref_pick(board, a, rule)[1]:
                value = reward + brute_force_optimal(new, rule, memo)
                best = value if best is None else max(best, value)
        memo[key] = best
    return memo[key]


def test_reference_optimal_matches_brute_force():
    # The closed forms of the ids' table ("optimal return"), checked against search on every small board.
    for rule in ("zero", "countdown", "in_order", "fewest_steps"):
        for board in itertools.product(range(3), repeat=3):
            assert brute_force_optimal(list(board), rule) == ref_optimal(list(board), rule)


# ---------------------------------------------------------------- helpers
def run_against_reference(env, rule, max_steps, seed, guided, start_board=None):
    """Play one episode on env and on the reference side by side; return how it ended.

    ``guided`` in [0, 1]: probability of a productive pick (else uniform); in [-1, 0): minus the probability
    of an unproductive pick, so that episodes also run into the step limit.
    """
    rng = random.Random(seed)
    options = None if start_board is None else {"board": start_board}
    obs, info = env.reset(seed=seed, options=options)
    board = obs.tolist()
    size = len(board)
    if start_board is not None:
        assert board == list(start_board)
    assert env.observation_space.contains(obs)
    assert info["optimal_return"] == ref_optimal(board, rule)
    assert env.unwrapped.optimal_return() == ref_optimal(board, rule)
    assert info["action_mask"].dtype == np.int8
    assert info["action_mask"].tolist() == ref_mask(board, rule)
    for t in range(1, max_steps + 1):
        mask = ref_mask(board, rule)
        productive = [a for a in range(size) if mask[a]]
        unproductive = [a for a in range(size) if not mask[a]]
        if guided >= 0 and productive and rng.random() < guided:
            action = rng.choice(productive)
        elif guided < 0 and unproductive and rng.random() < -guided:
            action = rng.choice(unproductive)
        else:
            action = rng.randrange(size)
        board, ref_reward = ref_step(board, action, rule)
        obs, reward, terminated, truncated, info = env.step(action)
        ref_terminated = not any(board)
        assert obs.dtype == np.int64
        assert obs.tolist() == board, (t, action)
        assert reward == ref_reward
        assert isinstance(terminated, bool) and isinstance(truncated, bool)
        assert terminated == ref_terminated
        assert truncated == (not ref_terminated and t == max_steps)
        assert info["action_mask"].dtype == np.int8
        assert info["action_mask"].tolist() == ref_mask(board, rule)
        assert np.array_equal(env.unwrapped.action_masks(), info["action_mask"])
        assert env.unwrapped.optimal_return() == ref_optimal(board, rule)
        if terminated:
            return "terminated"
        if truncated:
            return "truncated"
    raise AssertionError(f"episode still running after {max_steps} steps")


# ---------------------------------------------------------------- registered ids
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_registered_spec(env_id):
    size, max_value, rule, max_steps = SPEC[env_id]
    env = gym.make(env_id)
    assert env.observation_space == gym.spaces.Box(0, max_value, (size,), np.int64)
    assert env.action_space == gym.spaces.Discrete(size)
    assert env.unwrapped.rule == rule
    assert env.unwrapped.max_steps == max_steps
    assert rlzero.ENV_KWARGS[env_id] == {"size": size, "max_value": max_value, "rule": rule}


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_rules_match_reference(env_id):
    _, _, rule, max_steps = SPEC[env_id]
    env = gym.make(env_id)
    endings = set()
    for seed in range(60):
        guided = (0.0, 0.5, 0.9, 1.0, -0.97)[seed % 5]  # from mostly stuck to always productive play
        endings.add(run_against_reference(env, rule, max_steps, seed, guided))
    # The sample covers both ways an episode ends, so both branches above were really compared.
    assert endings == {"terminated", "truncated"}


@pytest.mark.parametrize(("size", "max_value", "rule"), CUSTOM)
def test_custom_variants_match_reference(size, max_value, rule):
    max_steps = size * (10 + (max_value if rule == "countdown" else 0))
    env = ZeroOutEnv(size=size, max_value=max_value, rule=rule)
    assert env.max_steps == max_steps
    for seed in range(40):
        run_against_reference(env, rule, max_steps, seed, guided=(0.0, 0.7, -0.9)[seed % 3])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_given_boards_match_reference(env_id):
    size, max_value, rule, max_steps = SPEC[env_id]
    env = gym.make(env_id)
    rng = random.Random(1234)
    boards = [[0] * size, [max_value] * size, [0] * (size - 1) + [1], [1] + [0] * (size - 1)]
    boards += [[rng.randint(0, max_value) for _ in range(size)] for _ in range(10)]
    for i, board in enumerate(boards):
        run_against_reference(env, rule, max_steps, seed=i, guided=0.8, start_board=board)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_all_zero_board_terminates_on_first_step(env_id):
    size = SPEC[env_id][0]
    env = gym.make(env_id)
    _, info = env.reset(options={"board": [0] * size})
    assert info["optimal_return"] == 0
    assert not info["action_mask"].any()
    _, reward, terminated, truncated, _ = env.step(0)
    assert (reward, terminated, truncated) == (-1, True, False)


# ---------------------------------------------------------------- step limit
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_truncates_exactly_at_step_limit_when_picking_a_zero(env_id):
    size, max_value, _, max_steps = SPEC[env_id]
    env = gym.make(env_id)
    board = [0] + [max_value] * (size - 1)
    obs, _ = env.reset(seed=0, options={"board": board})
    for t in range(1, max_steps + 1):
        obs, reward, terminated, truncated, _ = env.step(0)
        assert reward == -1
        assert obs.tolist() == board
        assert not terminated
        assert truncated == (t == max_steps), t


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_step_limit_counts_productive_steps_too(env_id):
    size, _, _, max_steps = SPEC[env_id]
    env = gym.make(env_id)
    board = [0] + [1] * (size - 1)  # one productive pick per slot, under every rule
    env.reset(options={"board": board})
    for t in range(1, max_steps + 1):
        action = t if t < size - 1 else 0  # clear all but the last slot, then stick to the zero slot
        _, _, terminated, truncated, _ = env.step(action)
        assert not terminated
        assert truncated == (t == max_steps), t


def test_custom_max_steps_and_termination_on_the_last_allowed_step():
    env = gym.make("ZeroOut-v0", max_steps=3)
    env.reset(options={"board": [0] * 9 + [5]})
    assert env.step(0)[2:4] == (False, False)
    assert env.step(0)[2:4] == (False, False)
    # The third and last allowed step clears the board: that is termination, not truncation.
    assert env.step(9)[2:4] == (True, False)

    env.reset(options={"board": [0] * 9 + [5]})
    assert [env.step(0)[3] for _ in range(3)] == [False, False, True]


def test_in_order_sticking_to_a_later_nonzero_slot_truncates():
    env = gym.make("ZeroOutInOrder-v0")
    board = [3, 4] + [0] * 8
    env.reset(options={"board": board})
    for t in range(1, 101):
        obs, reward, terminated, truncated, _ = env.step(1)
        assert reward == -1 and obs.tolist() == board and not terminated
        assert truncated == (t == 100)


# ---------------------------------------------------------------- info and masks
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_info_and_action_masks(env_id):
    size, _, rule, _ = SPEC[env_id]
    env = gym.make(env_id)
    obs, info = env.reset(seed=7)
    # The same keys on reset and step, optimal_return a numpy integer (batching readers need both).
    assert set(info) == {"action_mask", "optimal_return"}
    assert isinstance(info["optimal_return"], np.int64)
    episode_optimal = info["optimal_return"]
    for mask in (info["action_mask"], env.unwrapped.action_masks()):
        assert mask.dtype == np.int8 and mask.shape == (size,)
        assert mask.tolist() == ref_mask(obs.tolist(), rule)
    for action in (0, size - 1, 0, size // 2):
        obs, _, _, _, info = env.step(action)
        assert set(info) == {"action_mask", "optimal_return"}
        # The episode's optimum, from its start state, not what is left of it.
        assert isinstance(info["optimal_return"], np.int64) and info["optimal_return"] == episode_optimal
        assert info["action_mask"].dtype == np.int8 and info["action_mask"].shape == (size,)
        assert np.array_equal(env.unwrapped.action_masks(), info["action_mask"])
        assert info["action_mask"].tolist() == ref_mask(obs.tolist(), rule)


def test_returned_arrays_are_copies():
    env = ZeroOutEnv()
    obs, info = env.reset(seed=3)
    before = env.board.copy()
    obs[:] = 0
    info["action_mask"][:] = 0
    assert np.array_equal(env.board, before)
    obs2, _, _, _, _ = env.step(0)
    snapshot = env.board.copy()
    obs2[:] = 5
    assert np.array_equal(env.board, snapshot)


# ---------------------------------------------------------------- rendering
def test_render_ansi_returns_the_board_as_text():
    env = gym.make("ZeroOut-v0", render_mode="ansi")
    env.reset(options={"board": [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]})
    text = env.render()
    assert isinstance(text, str)
    assert "1 2 3 4 5 6 7 8 9 0" in text
    env.step(2)
    text2 = env.render()
    assert isinstance(text2, str) and "1 2 0 4 5 6 7 8 9 0" in text2


def test_render_human_prints(capsys):
    env = gym.make("ZeroOutCountdown-v0", render_mode="human")
    env.reset(options={"board": [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]})
    assert "9 8 7 6 5 4 3 2 1 0" in capsys.readouterr().out
    env.step(0)
    assert "8 8 7 6 5 4 3 2 1 0" in capsys.readouterr().out
    assert env.render() is None
    assert "8 8 7 6 5 4 3 2 1 0" in capsys.readouterr().out


def test_no_render_mode_renders_nothing(capsys):
    env = ZeroOutEnv()
    env.reset(seed=0)
    env.step(0)
    assert env.render() is None
    assert capsys.readouterr().out == ""


def test_unknown_render_mode_is_refused():
    with pytest.raises(ValueError, match=r"'rgb'.*ansi.*human.*rgb_array"):
        ZeroOutEnv(render_mode="rgb")


# ---------------------------------------------------------------- reset(options={"board": ...})
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_reset_with_given_board(env_id):
    size, max_value, rule, _ = SPEC[env_id]
    env = gym.make(env_id)
    board = [(i * 7) % (max_value + 1) for i in range(size)]
    for given in (board, np.array(board, dtype=np.int32), np.array(board, dtype=np.uint8)):
        obs, info = env.reset(options={"board": given})
        assert obs.dtype == np.int64 and obs.tolist() == board
        assert info["optimal_return"] == ref_optimal(board, rule)
        assert info["action_mask"].tolist() == ref_mask(board, rule)


def test_reset_board_is_copied_not_aliased():
    env = ZeroOutEnv()
    given = np.arange(10, dtype=np.int64)
    env.reset(options={"board": given})
    given[:] = 0
    assert env.board.tolist() == list(range(10))
    env.step(5)
    assert given.tolist() == [0] * 10


def test_reset_without_board_option_draws_a_random_board():
    env = ZeroOutEnv()
    a, _ = env.reset(seed=5, options={})
    b, _ = env.reset(seed=5, options={"something_else": 1})
    c, _ = env.reset(seed=5)
    assert np.array_equal(a, b) and np.array_equal(a, c)


@pytest.mark.parametrize(
    "bad",
    [
        [1, 2, 3],  # too short
        list(range(11)),  # too long
        [0] * 9 + [10],  # above max_value
        [0] * 9 + [-1],  # negative
        [0.0] * 10,  # float entries
        [1.5] * 10,
        [[1] * 10],  # 2-D
        [True] * 10,  # bools
        ["1"] * 10,  # strings
        None,
        5,
    ],
)
def test_reset_rejects_bad_boards_and_keeps_state(bad):
    env = ZeroOutEnv()
    env.reset(seed=0)
    env.step(0)
    board, steps, ret = env.board.copy(), env.steps, env.episode_return
    generator = env.np_random.bit_generator.state
    with pytest.raises(ValueError, match="board"):
        env.reset(seed=7, options={"board": bad})
    assert np.array_equal(env.board, board)
    assert (env.steps, env.episode_return) == (steps, ret)
    assert env.np_random.bit_generator.state == generator  # not reseeded by a refused call
