"""The closed forms of V* and Q* (rlzero.envs.optimal) against value iteration on every small board, for
every rule, several discounts and custom sizes; and on the batched env's device."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlzero  # noqa: F401
from rlzero.envs import optimal_q, optimal_value
from rlzero.envs.zero_out import RULES


def value_iteration(size: int, max_value: int, rule: str, gamma: float) -> dict[tuple[int, ...], np.ndarray]:
    """Q* of every board, by value iteration over the single env's own transitions (no step limit)."""
    env = gym.make("ZeroOut-v0", size=size, max_value=max_value, rule=rule).unwrapped
    boards = list(itertools.product(range(max_value + 1), repeat=size))
    model = {}
    for board in boards:
        outcomes = []
        for action in range(size):
            env.reset(options={"board": np.array(board)})
            next_board, reward, terminated, _, _ = env.step(action)
            outcomes.append((tuple(int(v) for v in next_board), reward, terminated))
        model[board] = outcomes
    values = dict.fromkeys(boards, 0.0)
    for _ in range(10_000):
        q = {
            board: np.array([r + (0.0 if done else gamma * values[nxt]) for nxt, r, done in outcomes])
            for board, outcomes in model.items()
        }
        new = {board: float(q[board].max()) if any(board) else 0.0 for board in boards}
        change = max(abs(new[b] - values[b]) for b in boards)
        values = new
        if change < 1e-13:
            break
    return {board: (q[board] if any(board) else np.zeros(size)) for board in boards}


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize(("size", "max_value"), [(3, 2), (2, 3), (4, 1)])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9])
def test_closed_forms_match_value_iteration_on_every_board(
    rule: str, size: int, max_value: int, gamma: float
) -> None:
    searched = value_iteration(size, max_value, rule, gamma)
    boards = torch.tensor(list(searched), dtype=torch.int64)
    expected_q = torch.tensor(np.stack(list(searched.values())))
    torch.testing.assert_close(optimal_q(boards, gamma, rule), expected_q, rtol=0, atol=1e-9)
    torch.testing.assert_close(
        optimal_value(boards, gamma, rule), expected_q.max(dim=1).values, rtol=0, atol=1e-9
    )


def test_the_optimal_return_is_v_star_at_gamma_one_and_values_follow_the_boards_device() -> None:
    envs = gym.make_vec("ZeroOutCountdown-v0", num_envs=64, vectorization_mode="vector_entry_point")
    boards, info = envs.reset(seed=0)
    torch.testing.assert_close(optimal_value(boards, 1.0, "countdown"), info["optimal_return"].double())
    batched = boards.view(8, 8, 10)  # any leading shape
    assert optimal_q(batched, 0.9, "countdown").shape == (8, 8, 10)
    assert optimal_q(batched, 0.9, "countdown").device == boards.device
    with pytest.raises(ValueError, match="unknown rule 'sum'"):
        optimal_value(boards, 0.9, "sum")
    with pytest.raises(ValueError, match="gamma must lie in"):
        optimal_value(boards, 1.5, "zero")
