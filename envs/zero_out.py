"""The ZeroOut environment: pick the nonzero entries of a board until every entry is zero."""

from __future__ import annotations

import operator
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlzero.envs.render import draw_board

RULES = ("zero", "countdown", "in_order", "fewest_steps")
"""Valid values of the ``rule`` argument, in the order of the ids' table of :class:`ZeroOutEnv`."""


def normalized_return(episode_return: Any, optimal_return: Any) -> Any:
    """``1 - regret / |optimal|``: 1.0 is optimal for every rule (numbers, numpy arrays or tensors).

    Where the optimum is positive this is ``return / optimal``; under ``fewest_steps``, whose optimum is
    minus the number of nonzero entries, it is 1 minus the wasted picks per necessary one. Undefined
    (a division by zero) for an all-zero start, whose optimum is 0: callers skip those episodes.
    """
    return 1 - (optimal_return - episode_return) / abs(optimal_return)


MAX_VALUE_LIMIT = 2**31 - 1
"""The largest ``max_value``: entries are drawn from 32-bit random words."""


def validate_args(size: int, max_value: int, rule: str, max_steps: int | None) -> int:
    """Check constructor arguments shared by the single and the batched env; return the step limit."""
    for name, value in (("size", size), ("max_value", max_value)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if max_value > MAX_VALUE_LIMIT:  # the batched env draws entries from 32-bit words
        raise ValueError(f"max_value must lie in [1, {MAX_VALUE_LIMIT}], got {max_value!r}")
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; valid rules: {', '.join(RULES)}")
    if max_steps is None:
        return default_max_steps(int(size), int(max_value), rule)
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise ValueError(f"max_steps must be an integer >= 1 or None, got {max_steps!r}")
    return int(max_steps)


def default_max_steps(size: int, max_value: int, rule: str) -> int:
    """Ten picks per slot, plus the ``max_value`` productive picks per slot that ``countdown`` needs.

    The optimal policy needs at most ``size`` picks (``size * max_value`` under countdown), so it always
    finishes; a policy stuck on a zero slot is cut off after a bounded, size-proportional number of steps.
    """
    return size * (10 + (max_value if rule == "countdown" else 0))


def picks_left(board: np.ndarray, rule: str) -> int:
    """Productive picks an optimal policy still makes: the sum of the entries under countdown, else
    the number of nonzero entries."""
    return int(board.sum()) if rule == "countdown" else int(np.count_nonzero(board))


class ZeroOutEnv(gym.Env[np.ndarray, np.int64]):
    """Zero out the nonzero entries of a board of small integers.

    ## Observation
    ``Box(0, max_value, (size,), int64)``: the board.

    ## Action
    ``Discrete(size)``: the slot to pick. Python ints, numpy integer scalars and 0-d integer arrays
    are accepted; anything else (out of range, negative, float, bool, string, None, another shape)
    raises ``ValueError`` and leaves the state untouched.

    ## Rules (``rule`` argument)
    Picking a slot whose value is 0 pays -1 and changes nothing. Picking a nonzero slot:

    | rule           | effect                                  | reward | optimal return           |
    |----------------|-----------------------------------------|--------|--------------------------|
    | `zero`         | set it to 0                             | +1     | number of nonzero entries |
    | `countdown`    | decrement it by 1                       | +1     | sum of the entries        |
    | `in_order`     | leftmost nonzero slot only: set it to 0 | +1     | number of nonzero entries |
    | `fewest_steps` | set it to 0                             | -1     | minus that number         |

    Under `in_order` a pick of any other nonzero slot also pays -1 and changes nothing. Under
    `fewest_steps` every pick pays -1, productive or not, so the return is minus the episode's length:
    no single reward tells a productive pick from a wasted one, only the shorter future does. It is
    the variant that needs credit assignment (a learner with discount 0 sees every action as equal).

    ## Normalized return
    :func:`normalized_return`, ``1 - regret / |optimal|``, is 1.0 for an optimal episode under every
    rule (``return / optimal`` where the optimum is positive); an episode counts as a success when its
    return reaches the optimum. The optimal values themselves, ``V*`` per board and ``Q*`` per board and
    pick at any discount, have closed forms derived in :mod:`rlzero.envs.optimal`.

    ## Episode end
    Terminates when every entry is 0. Truncates after ``max_steps`` steps, by default
    ``size * 10`` (``size * (10 + max_value)`` under ``countdown``): long enough for the optimal
    policy to finish, short enough that a policy stuck on a zero slot cannot run forever.
    The limit is enforced by the env itself (not a ``TimeLimit`` wrapper) so that it follows ``size``.

    ## Starting state
    Each entry is drawn independently and uniformly from ``0..max_value`` with ``self.np_random``.
    An all-zero board (probability ``(max_value + 1) ** -size``) is possible; its optimal return is 0
    and the first step terminates it.

    ## Options
    ``reset(options={"board": b})`` starts from the given board instead of a random one.

    ## Info
    The same keys on reset and every step (TorchRL and other batching readers rely on that):
    ``action_mask`` (int8 array, 1 where a pick is productive) and ``optimal_return`` (``np.int64``, the
    best return reachable from the episode's start state; constant over the episode).
    ``action_masks()`` returns the current mask (sb3-contrib MaskablePPO convention), and
    :meth:`optimal_return` the best return reachable from the current board.

    ## Rendering (``render_mode``)
    ``"ansi"``: ``render()`` returns the board, step count and return as one line of text.
    ``"human"``: the same line is printed on reset, on every step and on ``render()``.
    ``"rgb_array"``: ``render()`` returns an ``HxWx3`` uint8 picture (see :mod:`rlzero.envs.render`):
    labelled cells, zeros in grey, the last pick framed (green: productive, red: not), the step count
    and the return. This is the mode SB3, ``RecordVideo`` and video recorders ask for.
    Rendering reads the state and never changes it.

    ## Registered ids
    ``ZeroOut-v0`` (10 slots, 0..9, zero), ``ZeroOutCountdown-v0`` (countdown),
    ``ZeroOutInOrder-v0`` (in_order), ``ZeroOutLarge-v0`` (20 slots, zero),
    ``ZeroOutFewestSteps-v0`` (fewest_steps).
    ``gym.make(id, size=..., max_value=..., rule=..., max_steps=...)`` builds custom variants.

    ## Version history
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi", "human", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        size: int = 10,
        max_value: int = 9,
        rule: str = "zero",
        max_steps: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.max_steps = validate_args(size, max_value, rule, max_steps)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render_mode {render_mode!r}; valid: {self.metadata['render_modes']}")
        self.size, self.max_value, self.rule = int(size), int(max_value), rule
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0, self.max_value, (self.size,), np.int64)
        self.action_space = spaces.Discrete(self.size)
        self.board = np.zeros(self.size, dtype=np.int64)
        self.steps = 0
        self.episode_return = 0
        self.remaining = 0  # productive picks left: 0 iff the board is all zero
        self.episode_optimal = np.int64(0)
        self.last_pick: int | None = None  # the slot of the last step, for the picture
        self.last_productive = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        board = self._check_board(options["board"]) if options and "board" in options else None
        super().reset(seed=seed)  # after the check: a refused board leaves the generator as it was
        if board is not None:
            self.board = board
        else:
            self.board = self.np_random.integers(0, self.max_value + 1, self.size, dtype=np.int64)
        self.steps = 0
        self.episode_return = 0
        self.remaining = picks_left(self.board, self.rule)
        self.episode_optimal = np.int64(self.optimal_return())
        self.last_pick, self.last_productive = None, False
        if self.render_mode == "human":
            self.render()
        return self.board.copy(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        slot = self._check_action(action)
        value = int(self.board[slot])
        productive = value != 0 and (self.rule != "in_order" or slot == self._leftmost_nonzero())
        if productive:
            self.board[slot] = value - 1 if self.rule == "countdown" else 0
            self.remaining -= 1
        reward = 1 if productive and self.rule != "fewest_steps" else -1
        self.steps += 1
        self.episode_return += reward
        self.last_pick, self.last_productive = slot, productive
        terminated = self.remaining == 0
        truncated = not terminated and self.steps >= self.max_steps
        if self.render_mode == "human":
            self.render()
        return self.board.copy(), float(reward), terminated, truncated, self._info()

    def _info(self) -> dict[str, Any]:
        return {"action_mask": self.action_masks(), "optimal_return": self.episode_optimal}

    def action_masks(self) -> np.ndarray:
        """1 where picking the slot is productive (pays +1), else 0."""
        if self.rule == "in_order":
            mask = np.zeros(self.size, dtype=np.int8)
            if self.remaining:
                mask[self._leftmost_nonzero()] = 1
            return mask
        return (self.board != 0).astype(np.int8)

    def _leftmost_nonzero(self) -> int:
        return int((self.board != 0).argmax())

    def optimal_return(self) -> int:
        """The best return reachable from the current board."""
        picks = picks_left(self.board, self.rule)
        return -picks if self.rule == "fewest_steps" else picks

    def render(self) -> str | np.ndarray | None:
        """The board in ``render_mode``: text (``ansi``), printed text (``human``) or a picture."""
        status = f"step {self.steps}/{self.max_steps}  return {self.episode_return}"
        if self.render_mode == "rgb_array":
            if self.last_pick is None:
                footer = "start of the episode"
            else:
                effect = "productive" if self.last_productive else "unproductive"
                footer = f"picked slot {self.last_pick}: {effect}"
            return draw_board(
                self.board, self.max_value, status, footer, self.last_pick, self.last_productive
            )
        text = f"[{' '.join(str(v) for v in self.board)}]  {status}"
        if self.render_mode == "ansi":
            return text
        if self.render_mode == "human":
            print(text)
        return None

    def _check_action(self, action: Any) -> int:
        """Return the action as a Python int, or raise ValueError naming it and the valid range."""
        valid = f"valid actions are integers in [0, {self.size - 1}]"
        if isinstance(action, np.ndarray):
            if action.shape != () or not np.issubdtype(action.dtype, np.integer):
                raise ValueError(
                    f"invalid action {action!r} (shape {action.shape}, dtype {action.dtype}); {valid}"
                )
            action = action.item()
        if isinstance(action, (bool, np.bool_)):
            raise ValueError(f"invalid action {action!r} (a bool); {valid}")
        try:
            slot = operator.index(action)
        except TypeError:
            raise ValueError(f"invalid action {action!r} (type {type(action).__name__}); {valid}") from None
        if not 0 <= slot < self.size:
            raise ValueError(f"invalid action {action!r}: out of range; {valid}")
        return slot

    def _check_board(self, board: Any) -> np.ndarray:
        board = np.asarray(board)
        if board.shape != (self.size,) or not np.issubdtype(board.dtype, np.integer):
            raise ValueError(f"options['board'] must be {self.size} integers, got {board!r}")
        if board.min() < 0 or board.max() > self.max_value:
            raise ValueError(f"options['board'] entries must lie in [0, {self.max_value}]")
        return board.astype(np.int64)
