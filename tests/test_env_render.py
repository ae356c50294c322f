"""The single env's render modes: the rgb_array picture of the board, and rendering that changes nothing."""

import gymnasium as gym
import numpy as np
import pytest

import rlzero
from rlzero.envs import ENV_KWARGS, ZeroOutEnv
from rlzero.envs.render import CELL, HEADER, PAD, PRODUCTIVE, UNPRODUCTIVE, ZERO_FILL, frame_shape

gym.register_envs(rlzero)


def cell_colour(frame: np.ndarray, slot: int) -> tuple[int, ...]:
    """The fill colour of a cell, read near its bottom-left corner (clear of the labels drawn on it)."""
    return tuple(int(c) for c in frame[HEADER + CELL - 8, PAD + slot * CELL + 8])


def frame_colour(frame: np.ndarray, slot: int) -> tuple[int, ...]:
    """The colour of a cell's frame, where the last pick is highlighted."""
    return tuple(int(c) for c in frame[HEADER + 1, PAD + slot * CELL + CELL // 2])


def test_metadata_lists_every_mode():
    assert ZeroOutEnv.metadata["render_modes"] == ["ansi", "human", "rgb_array"]
    assert ZeroOutEnv.metadata["render_fps"] > 0


@pytest.mark.parametrize("env_id", list(ENV_KWARGS))
def test_rgb_array_frame_for_every_id(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    size = ENV_KWARGS[env_id]["size"]
    assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8
    assert frame.shape == frame_shape(size) and frame.shape[2] == 3
    assert frame.shape[0] % 16 == 0 and frame.shape[1] % 16 == 0  # video encoders need no resizing
    # Every step draws a frame of the same shape (a video needs that), and a different one.
    env.step(int(np.flatnonzero(env.unwrapped.board)[0]))
    after = env.render()
    assert after.shape == frame.shape and not np.array_equal(after, frame)


def test_zeros_look_different_from_nonzero_entries():
    env = ZeroOutEnv(render_mode="rgb_array")
    env.reset(options={"board": [0, 1, 9, 0, 5, 0, 0, 3, 0, 9]})
    frame = env.render()
    colours = [cell_colour(frame, slot) for slot in range(10)]
    assert all(colours[slot] == ZERO_FILL for slot in (0, 3, 5, 6, 8))
    assert all(colours[slot] != ZERO_FILL for slot in (1, 2, 4, 7, 9))
    # Equal values look equal, and larger values are darker.
    assert colours[2] == colours[9]
    assert sum(colours[1]) > sum(colours[7]) > sum(colours[4]) > sum(colours[9])


def test_the_last_pick_is_framed_by_its_effect():
    env = ZeroOutEnv(render_mode="rgb_array")
    env.reset(options={"board": [0, 4, 0, 0, 0, 0, 0, 0, 0, 2]})
    start = env.render()
    assert not any(frame_colour(start, s) in (PRODUCTIVE, UNPRODUCTIVE) for s in range(10))
    env.step(1)  # productive
    frame = env.render()
    assert frame_colour(frame, 1) == PRODUCTIVE
    assert cell_colour(frame, 1) == ZERO_FILL  # the pick zeroed it
    env.step(0)  # a zero: unproductive, and the frame moves
    frame = env.render()
    assert frame_colour(frame, 0) == UNPRODUCTIVE
    assert frame_colour(frame, 1) != PRODUCTIVE


def test_step_count_and_return_change_the_header():
    env = ZeroOutEnv(render_mode="rgb_array")
    env.reset(options={"board": [0, 4, 0, 0, 0, 0, 0, 0, 0, 2]})
    header = env.render()[:HEADER]
    env.step(0)
    env.reset(options={"board": [0, 4, 0, 0, 0, 0, 0, 0, 0, 2]})
    assert np.array_equal(env.render()[:HEADER], header)  # a function of the state only
    env.step(0)
    assert not np.array_equal(env.render()[:HEADER], header)


@pytest.mark.parametrize("mode", ["ansi", "human", "rgb_array", None])
def test_rendering_changes_no_state(mode, capsys):
    """Rendering between steps leaves the trajectory, the generator and the info exactly as without it."""
    rendered, plain = ZeroOutEnv(rule="countdown", render_mode=mode), ZeroOutEnv(rule="countdown")
    rendered.reset(seed=3)
    plain.reset(seed=3)
    for action in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 3:
        generator = rendered.np_random.bit_generator.state
        for _ in range(2):
            rendered.render()
        assert rendered.np_random.bit_generator.state == generator
        a, b = rendered.step(action), plain.step(action)
        assert np.array_equal(a[0], b[0]) and a[1:4] == b[1:4]
        assert np.array_equal(a[4]["action_mask"], b[4]["action_mask"])
        assert a[4]["optimal_return"] == b[4]["optimal_return"]
        assert rendered.np_random.bit_generator.state == plain.np_random.bit_generator.state
    # The next random board is the same too.
    assert np.array_equal(rendered.reset()[0], plain.reset()[0])
    capsys.readouterr()
