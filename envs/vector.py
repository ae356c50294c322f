"""The ZeroOut rules over many boards at once, held as torch tensors on one device."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from rlzero.envs.streams import Streams, row_seeds
from rlzero.envs.zero_out import validate_args

AUTORESET_MODES = {mode.value: mode for mode in AutoresetMode} | {mode.name: mode for mode in AutoresetMode}
"""``autoreset_mode`` strings: Gymnasium's values (``"NextStep"``, ...) and the names (``"NEXT_STEP"``)."""


def as_autoreset_mode(mode: AutoresetMode | str) -> AutoresetMode:
    """An :class:`AutoresetMode` from the enum itself or one of :data:`AUTORESET_MODES`."""
    if isinstance(mode, AutoresetMode):
        return mode
    if isinstance(mode, str) and mode in AUTORESET_MODES:
        return AUTORESET_MODES[mode]
    valid = f"AutoresetMode members or {sorted(AUTORESET_MODES)}"
    raise ValueError(f"unknown autoreset_mode {mode!r}; valid: {valid}")


class ZeroOutVectorEnv(VectorEnv):
    """``num_envs`` ZeroOut boards stepped together; the rules are exactly :class:`ZeroOutEnv`'s.

    Made by ``gym.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point", device=...)``,
    with the same ``size``, ``max_value``, ``rule`` and ``max_steps`` arguments as the single env.

    ## Tensors, not arrays
    ``reset`` and ``step`` return torch tensors on ``device`` (observations int64, rewards float32,
    flags bool, info values too) and ``step`` accepts an integer tensor of shape ``(num_envs,)`` (numpy
    arrays and lists are converted, at the cost of a copy). For numpy, wrap the env in Gymnasium's
    ``ArrayConversion(env, env_xp=torch, target_xp=numpy)`` (``gymnasium.wrappers.vector``; it needs
    ``pip install "gymnasium[array-api]"``): Gymnasium's numpy vector wrappers then work on top of it.

    ## Autoreset (``autoreset_mode``; also ``metadata["autoreset_mode"]``)
    Gymnasium's three modes (https://farama.org/Vector-Autoreset-Mode), as its ``SyncVectorEnv``
    runs them; the argument takes the enum or one of :data:`AUTORESET_MODES`.

    * ``NEXT_STEP`` (the default, as in Gymnasium): a board whose episode ended is reset by the next
      ``step`` call, which ignores that board's action and returns its first observation of the new
      episode with reward 0 and both flags false.
    * ``SAME_STEP``: a board whose episode ends is reset within that step; the observation returned
      for it is the first one of its next episode. ``info["final_obs"]`` holds, for *every* board, the
      board right after the action and before any reset, so ``(obs, action, reward, info["final_obs"],
      terminated)`` is always a true transition of one episode, and a truncated episode's last state is
      there to bootstrap from. ``info["_final_obs"]`` (bool) marks the boards reset in this step.
    * ``DISABLED``: nothing resets by itself; the caller resets the boards that ended with
      ``reset(options={"reset_mask": mask})`` (bool, ``(num_envs,)``, numpy or torch) before stepping
      them again.

    ## Info (tensors on ``device``; the same keys on reset and step)
    ``action_mask`` (int8, ``(num_envs, size)``) and ``optimal_return`` (int64, ``(num_envs,)``: the
    optimal return of each board's current episode, so of the new one for a board just reset); under
    ``SAME_STEP`` also ``final_obs`` and ``_final_obs`` (on reset: the boards themselves, and all false).
    No episode statistics: Gymnasium's ``RecordEpisodeStatistics`` adds ``episode``/``_episode`` itself
    (it refuses to overwrite them), and the normalized return of an episode follows from its return and
    the ``optimal_return`` that came with its first observation
    (:func:`~rlzero.envs.zero_out.normalized_return`).

    ## Action checks (``validate_actions``)
    By default ``step`` checks that every action lies in ``[0, size)`` and, under ``DISABLED``, that no
    board that ended is stepped before it is reset, and raises ``ValueError`` naming the bad actions or
    boards. Both checks read tensors back from the device, which on CUDA stalls the pipeline, so a
    trusted caller that produces valid actions itself (rlzero's agents) passes ``validate_actions=False``;
    the checks of shape and dtype, which need no device read, always run.

    ## Device
    On CUDA ``step`` makes no host/device synchronisation (with ``validate_actions=False``): boards that
    end are replaced by fresh draws for every board, selected with ``torch.where``. On the CPU, where
    reading a tensor costs nothing, only the boards that ended are drawn and written. The attribute
    ``sync_free_resets`` (true off the CPU) picks the way; both draw the same boards.

    ## Seeding
    Every board has a random stream of its own (:class:`~rlzero.envs.streams.Streams`): its k-th
    episode starts from the k-th draw of its stream, whatever the other boards do, the number of boards
    or the device. ``reset(seed=s)`` seeds board ``i`` with ``s * 2**32 + i``; ``reset(seed=[s0, s1,
    ...])`` seeds each board with its own (Gymnasium's convention for a list of seeds), so boards seeded
    alike start alike. Unseeded, the streams start from fresh entropy.

    ## Options
    ``reset(options={"boards": B})`` starts from the given boards (shape ``(num_envs, size)``) instead
    of random ones: useful for tests and for teaching. With a ``reset_mask`` too, only the masked
    boards are replaced.
    """

    metadata = {"render_modes": ["ansi"], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        size: int = 10,
        max_value: int = 9,
        rule: str = "zero",
        max_steps: int | None = None,
        device: str | torch.device = "cpu",
        render_mode: str | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        validate_actions: bool = True,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        self.max_steps = validate_args(size, max_value, rule, max_steps)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render_mode {render_mode!r}; valid: {self.metadata['render_modes']}")
        self.autoreset_mode = as_autoreset_mode(autoreset_mode)
        # This env's own metadata: the class's says only what the default mode is.
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.validate_actions = bool(validate_actions)
        self.num_envs, self.size, self.max_value, self.rule = (
            int(num_envs),
            int(size),
            int(max_value),
            rule,
        )
        self.render_mode = render_mode
        try:
            self.device = torch.device(device)
        except RuntimeError:
            raise ValueError(f"unknown device {device!r}; valid: cpu, cuda") from None
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available here; valid: cpu")
        self.sync_free_resets = self.device.type != "cpu"
        self.single_observation_space = spaces.Box(0, self.max_value, (self.size,), np.int64)
        self.single_action_space = spaces.Discrete(self.size)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        self.streams = Streams.from_seeds(row_seeds(secrets.randbits(32), self.num_envs), self.device)
        # Boards live in the smallest integer dtype that holds max_value; observations are int64.
        self.board_dtype = next(
            dt
            for dt in (torch.int8, torch.int16, torch.int32, torch.int64)
            if self.max_value <= torch.iinfo(dt).max
        )
        zeros = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)
        self.boards = torch.zeros((self.num_envs, self.size), dtype=self.board_dtype, device=self.device)
        self.steps = zeros.clone()
        self.optimal = zeros.clone()
        self.remaining = zeros.clone()  # productive picks left: 0 iff the board is all zero
        # Boards whose episode ended and that have not been reset yet (NEXT_STEP and DISABLED only).
        self.ended = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        self._slots = torch.arange(self.size, device=self.device)

    def reset(
        self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        options = options or {}
        rows = self._check_reset_mask(options["reset_mask"]) if "reset_mask" in options else None
        boards = self._check_boards(options["boards"]) if "boards" in options else None
        if seed is not None:
            self.streams = Streams.from_seeds(self._check_seeds(seed), self.device)
        if rows is None:
            rows = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        self._start_episodes(rows, boards)
        obs = self.boards.long()
        info = {"action_mask": self.action_masks(), "optimal_return": self.optimal.clone()}
        if self.autoreset_mode is AutoresetMode.SAME_STEP:
            info["final_obs"] = obs.clone()
            info["_final_obs"] = torch.zeros_like(rows)
        return obs, info

    def step(
        self, actions: Any
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        slots = self._check_actions(actions).unsqueeze(1)
        mode = self.autoreset_mode
        if mode is AutoresetMode.DISABLED and self.validate_actions and bool(self.ended.any()):
            raise ValueError(
                f"boards {self.ended.nonzero().squeeze(1).tolist()} ended and autoreset_mode is DISABLED: "
                "reset them with reset(options={'reset_mask': mask}) before stepping them"
            )
        picked = self.boards.gather(1, slots)
        productive = picked != 0
        if self.rule == "in_order":
            productive &= slots == self._leftmost_nonzero(self.boards).unsqueeze(1)
        emptied = picked - 1 if self.rule == "countdown" else torch.zeros_like(picked)
        self.boards.scatter_(1, slots, torch.where(productive, emptied, picked))
        productive = productive.squeeze(1)
        rewards = (
            torch.full(productive.shape, -1.0, device=self.device)
            if self.rule == "fewest_steps"
            else productive * 2.0 - 1
        )

        self.steps += 1
        self.remaining -= productive.long()
        terminated = self.remaining == 0
        truncated = ~terminated & (self.steps >= self.max_steps)
        info: dict[str, Any] = {}
        if mode is AutoresetMode.SAME_STEP:
            done = terminated | truncated
            info["final_obs"] = self.boards.long()
            info["_final_obs"] = done
            self._start_episodes(done)
        else:
            if mode is AutoresetMode.NEXT_STEP:
                # Boards that ended in the previous step start again now: their action was ignored.
                restart = self.ended.clone()  # _start_episodes clears self.ended
                self._start_episodes(restart)
                rewards.masked_fill_(restart, 0.0)
                terminated &= ~restart
                truncated &= ~restart
            self.ended = terminated | truncated
        info["action_mask"] = self.action_masks()
        info["optimal_return"] = self.optimal.clone()
        return self.boards.long(), rewards, terminated, truncated, info

    def _start_episodes(self, rows: torch.Tensor, boards: torch.Tensor | None = None) -> None:
        """Start a new episode on each board where ``rows`` (bool) is true, from ``boards`` or fresh draws."""
        if not self.sync_free_resets:
            index = rows.nonzero().squeeze(1)
            if index.numel():
                new = self._draw(index) if boards is None else boards[index]
                self.boards[index] = new
                self.remaining[index] = picks = self._picks_left(new)
                self.optimal[index] = self._optimal_return(picks)
                self.steps[index] = 0
                self.ended[index] = False
        else:
            # No host/device sync: draw every board, keep the draws where rows is true.
            new = self._draw(rows) if boards is None else boards
            picks = self._picks_left(new)
            self.boards = torch.where(rows.unsqueeze(1), new, self.boards)
            self.remaining = torch.where(rows, picks, self.remaining)
            self.optimal = torch.where(rows, self._optimal_return(picks), self.optimal)
            self.steps.masked_fill_(rows, 0)
            self.ended.masked_fill_(rows, False)

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

    def _draw(self, rows: torch.Tensor) -> torch.Tensor:
        """Fresh boards from the streams of ``rows`` (an index, or a mask: every board, see Streams)."""
        return self.streams.integers(self.max_value + 1, self.size, rows).to(self.board_dtype)

    def _check_seeds(self, seed: int | Sequence[int]) -> list[int]:
        """Each board's seed, from one seed or one per board; ValueError naming what is wrong."""
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            seeds = row_seeds(int(seed), self.num_envs)
        else:
            seeds = list(seed) if isinstance(seed, (list, tuple, np.ndarray)) else []
            if len(seeds) != self.num_envs:
                raise ValueError(
                    f"seed must be an integer or {self.num_envs} integers (one per board), got {seed!r}"
                )
        if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in seeds):
            raise ValueError(f"seeds must be integers >= 0, got {seed!r}")
        return [int(s) for s in seeds]

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
        if self.validate_actions:
            lowest, highest = actions.aminmax()
            if bool((lowest < 0) | (highest >= self.size)):
                bad = actions[(actions < 0) | (actions >= self.size)].tolist()
                raise ValueError(f"invalid actions {bad}: out of range; {valid}")
        return actions

    def _check_reset_mask(self, mask: Any) -> torch.Tensor:
        """``options["reset_mask"]`` as a bool tensor on ``device``, or ValueError naming what is wrong."""
        expected = f"a bool array or tensor of shape ({self.num_envs},)"
        if not isinstance(mask, (np.ndarray, torch.Tensor)):
            raise ValueError(f"options['reset_mask'] must be {expected}, got {type(mask).__name__}")
        mask = torch.as_tensor(mask, device=self.device)
        if mask.dtype != torch.bool or mask.shape != (self.num_envs,):
            got = f"dtype {mask.dtype} and shape {tuple(mask.shape)}"
            raise ValueError(f"options['reset_mask'] must be {expected}, got {got}")
        return mask

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
