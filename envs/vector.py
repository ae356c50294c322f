"""The ZeroOut rules over many boards at once, held as torch tensors on one device."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from rlzero.envs.zero_out import normalized_return, validate_args


class ZeroOutVectorEnv(VectorEnv):
    """``num_envs`` ZeroOut boards stepped together; the rules are exactly :class:`ZeroOutEnv`'s.

    Made by ``gym.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point", device=...)``,
    with the same ``size``, ``max_value``, ``rule`` and ``max_steps`` arguments as the single env.

    ## Tensors, not arrays
    ``reset`` and ``step`` return torch tensors on ``device`` (observations int64, rewards float32,
    flags bool) and ``step`` accepts an integer tensor of shape ``(num_envs,)`` (numpy arrays and
    lists are converted, at the cost of a copy). A numpy consumer calls ``.cpu().numpy()`` on what it
    gets, or wraps the env in ``gymnasium.wrappers.vector.TorchToNumpy``.

    ## Autoreset: ``AutoresetMode.SAME_STEP``
    A board whose episode ends in a step is reset within that step: the observation returned for it
    is the first one of its next episode. ``info["final_obs"]`` holds, for *every* board, the board
    right after the action and before any reset, so ``(obs, action, reward, info["final_obs"],
    terminated)`` is always a true transition of one episode: no transition crosses a reset, none is
    wasted on a reset step, and a truncated episode's last state is there to bootstrap from.
    ``info["_final_obs"]`` (bool) marks the boards that were reset in this step.

    ## Info (all tensors on ``device``)
    ``action_mask`` (int8, ``(num_envs, size)``) and ``optimal_return`` (int64, the optimal return
    of each board's current episode) on reset and every step; on step also ``episode`` with ``r``
    (return), ``l`` (length) and ``n`` (normalized return, see
    :func:`~rlzero.envs.zero_out.normalized_return`; NaN for an all-zero start) for every board,
    valid where the mask ``_episode`` is true (episodes that ended in this step).

    ## Seeding
    The boards are drawn from the env's own ``torch.Generator`` on ``device``; ``reset(seed=s)``
    reseeds it, so a given seed gives the same boards on a given device. Each board draws its own
    entries, so different boards start from different states.

    ## Options
    ``reset(options={"boards": B})`` starts from the given boards (shape ``(num_envs, size)``) instead
    of random ones: useful for tests and for teaching.
    """

    metadata = {"render_modes": ["ansi"], "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        size: int = 10,
        max_value: int = 9,
        rule: str = "zero",
        max_steps: int | None = None,
        device: str | torch.device = "cpu",
        render_mode: str | None = None,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        self.max_steps = validate_args(size, max_value, rule, max_steps)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render_mode {render_mode!r}; valid: {self.metadata['render_modes']}")
        self.num_envs, self.size, self.max_value, self.rule = (
            int(num_envs),
            int(size),
            int(max_value),
            rule,
        )
        self.render_mode = render_mode
        self.device = torch.device(device)
        self.single_observation_space = spaces.Box(0, self.max_value, (self.size,), np.int64)
        self.single_action_space = spaces.Discrete(self.size)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        self.generator = torch.Generator(device=self.device)
        self.generator.seed()
        # Boards live in the smallest integer dtype that holds max_value; observations are int64.
        self.board_dtype = next(
            dt
            for dt in (torch.int8, torch.int16, torch.int32, torch.int64)
            if self.max_value <= torch.iinfo(dt).max
        )
        zeros = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)
        self.boards = torch.zeros((self.num_envs, self.size), dtype=self.board_dtype, device=self.device)
        self.steps = zeros.clone()
        self.returns = torch.zeros(self.num_envs, dtype=torch.float32, device=self.device)
        self.optimal = zeros.clone()
        self.remaining = zeros.clone()  # productive picks left: 0 iff the board is all zero
        self._slots = torch.arange(self.size, device=self.device)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        if seed is not None:
            self.generator.manual_seed(seed)
        if options and "boards" in options:
            self.boards = self._check_boards(options["boards"])
        else:
            self.boards = self._draw(self.num_envs)
        self.steps.zero_()
        self.returns.zero_()
        self.remaining = self._picks_left(self.boards)
        self.optimal = self._optimal_return(self.remaining)
        return self.boards.long(), {
            "action_mask": self.action_masks(),
            "optimal_return": self.optimal.clone(),
        }

    def step(
        self, actions: Any
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        slots = self._check_actions(actions).unsqueeze(1)
        picked = self.boards.gather(1, slots)
        productive = picked != 0
        if self.rule == "in_order":
            productive &= slots == self._leftmost_nonzero(self.boards).unsqueeze(1)
        emptied = picked - 1 if self.rule == "countdown" else torch.zeros_like(picked)
        self.boards.scatter_(1, slots, torch.where(productive, emptied, picked))
        productive = productive.squeeze(1)
        rewards = torch.full_like(self.returns, -1.0) if self.rule == "fewest_steps" else productive * 2.0 - 1

        self.steps += 1
        self.returns += rewards
        self.remaining -= productive.long()
        terminated = self.remaining == 0
        truncated = ~terminated & (self.steps >= self.max_steps)
        done = terminated | truncated
        optimal = self.optimal.float()
        info: dict[str, Any] = {
            "final_obs": self.boards.long(),
            "_final_obs": done,
            "episode": {
                "r": self.returns.clone(),
                "l": self.steps.clone(),
                "n": normalized_return(self.returns, optimal.where(optimal != 0, torch.nan)),
            },
            "_episode": done.clone(),  # its own tensor: a caller editing one mask must not change the other
        }

        reset_rows = done.nonzero().squeeze(1)
        if reset_rows.numel():
            new_boards = self._draw(reset_rows.numel())
            self.boards[reset_rows] = new_boards
            self.remaining[reset_rows] = picks = self._picks_left(new_boards)
            self.optimal[reset_rows] = self._optimal_return(picks)
            self.steps[reset_rows] = 0
            self.returns[reset_rows] = 0
        info["action_mask"] = self.action_masks()
        info["optimal_return"] = self.optimal.clone()
        return self.boards.long(), rewards, terminated, truncated, info

    def action_masks(self) -> torch.Tensor:
        """1 where picking the slot is productive, per board: int8, ``(num_envs, size)``."""
        nonzero = self.boards.bool()
        if self.rule == "in_order":
            leftmost = self._slots == self._leftmost_nonzero(self.boards).unsqueeze(1)
            nonzero &= leftmost
        return nonzero.view(torch.int8)

    def render(self) -> tuple[str, ...] | None:
        if self.render_mode != "ansi":
            return None
        steps = self.steps.tolist()
        return tuple(
            f"[{' '.join(map(str, board))}]  step {n}/{self.max_steps}"
            for board, n in zip(self.boards.tolist(), steps, strict=True)
        )

    def _draw(self, n: int) -> torch.Tensor:
        return torch.randint(
            0,
            self.max_value + 1,
            (n, self.size),
            generator=self.generator,
            device=self.device,
            dtype=self.board_dtype,
        )

    def _picks_left(self, boards: torch.Tensor) -> torch.Tensor:
        if self.rule == "countdown":
            return boards.sum(dim=1, dtype=torch.int64)
        return boards.bool().sum(dim=1)

    def _optimal_return(self, picks_left: torch.Tensor) -> torch.Tensor:
        return -picks_left if self.rule == "fewest_steps" else picks_left.clone()

    @staticmethod
    def _leftmost_nonzero(boards: torch.Tensor) -> torch.Tensor:
        """Index of each board's leftmost nonzero slot (0 for an all-zero board)."""
        # max(dim) returns the first maximal index, like argmax, and runs faster on the CPU.
        return boards.bool().view(torch.int8).max(dim=1).indices

    def _check_actions(self, actions: Any) -> torch.Tensor:
        """Return the actions as an int64 tensor on ``device``, or raise ValueError and change nothing."""
        valid = (
            f"valid actions are integer tensors of shape ({self.num_envs},) "
            f"with values in [0, {self.size - 1}]"
        )
        if not isinstance(actions, torch.Tensor):
            try:
                actions = torch.as_tensor(np.asarray(actions))
            except (TypeError, ValueError, RuntimeError):
                raise ValueError(f"invalid actions {actions!r}; {valid}") from None
        if actions.shape != (self.num_envs,):
            raise ValueError(f"invalid actions of shape {tuple(actions.shape)}; {valid}")
        if actions.dtype == torch.bool or actions.is_floating_point() or actions.is_complex():
            raise ValueError(f"invalid actions of dtype {actions.dtype}; {valid}")
        actions = actions.to(self.device, torch.int64)
        lowest, highest = actions.aminmax()
        if bool((lowest < 0) | (highest >= self.size)):
            bad = actions[(actions < 0) | (actions >= self.size)].tolist()
            raise ValueError(f"invalid actions {bad}: out of range; {valid}")
        return actions

    def _check_boards(self, boards: Any) -> torch.Tensor:
        expected = f"({self.num_envs}, {self.size}) integers in [0, {self.max_value}]"
        try:
            boards = torch.as_tensor(boards, device=self.device)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ValueError(f"options['boards'] must be {expected}, got {boards!r}") from exc
        if boards.dtype == torch.bool or boards.is_floating_point() or boards.is_complex():
            raise ValueError(f"options['boards'] must be integers, got dtype {boards.dtype}")
        if boards.shape != (self.num_envs, self.size):
            raise ValueError(
                f"options['boards'] must have shape ({self.num_envs}, {self.size}), got {tuple(boards.shape)}"
            )
        if ((boards < 0) | (boards > self.max_value)).any():
            raise ValueError(f"options['boards'] entries must lie in [0, {self.max_value}]")
        return boards.to(self.board_dtype).clone()
