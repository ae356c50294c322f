"""What a run attaches to ``learn`` (as callbacks): TensorBoard, periodic evaluation, progress, stopping."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from rlzero.agents.callbacks import Callback
from rlzero.agents.device import synchronize
from rlzero.diagnostics import diagnose
from rlzero.episodes import evaluate_members
from rlzero.executor import stop_requested


class TensorBoardCallback(Callback):
    """Writes every reported metric as a scalar at its member's env-step count (CleanRL tags), one
    writer (run directory) per member."""

    def __init__(self, writers: Sequence[SummaryWriter]) -> None:
        self.writers = list(writers)

    def on_step(self, env_steps: Sequence[int], metrics: Sequence[Mapping[str, float]]) -> bool:
        for writer, steps, member_metrics in zip(self.writers, env_steps, metrics, strict=False):
            for tag, value in member_metrics.items():
                writer.add_scalar(tag, value, steps)
        return True

    def on_training_end(self) -> None:
        for writer in self.writers:
            writer.flush()


class EvalCallback(Callback):
    """Evaluates the agent every ``eval_freq`` env steps with the evaluation protocol
    (:mod:`rlzero.episodes`) and keeps the curve, of each member of a group.

    ``histories[m]`` holds one row per evaluation of member ``m``: env steps, training seconds
    (evaluation time left out, so agents are compared on what training costs), and the figures of
    :func:`rlzero.evaluate`; ``history`` is the first member's. Each member is evaluated at its own
    env-step count (members of an episodic agent's group take different counts; the whole group is
    played and the rows of the members due are kept). Each ``learn`` call it is passed to starts a new
    curve. Past the budget (SB3's algorithms finish their last rollout) it evaluates only once, at the
    end.
    """

    def __init__(
        self,
        env_id: str,
        eval_freq: int,
        n_episodes: int = 100,
        env_kwargs: dict[str, Any] | None = None,
        writers: Sequence[SummaryWriter] = (),
        eval_at_start: bool = False,
    ) -> None:
        if eval_freq < 1 or n_episodes < 1:
            raise ValueError(f"eval_freq and n_episodes must be >= 1, got {eval_freq} and {n_episodes}")
        self.env_id, self.eval_freq, self.n_episodes = env_id, eval_freq, n_episodes
        self.env_kwargs, self.writers, self.eval_at_start = env_kwargs, list(writers), eval_at_start
        self.histories: list[list[dict[str, Any]]] = []
        self.eval_seconds = 0.0

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.histories[0] if self.histories else []

    def on_training_start(self, agent: Any, total_timesteps: int) -> None:
        self.agent = agent
        self.start, self.eval_seconds = time.perf_counter(), 0.0
        self.start_steps = list(agent.member_timesteps)
        self.histories = [[] for _ in self.start_steps]
        self.end_steps = [steps + total_timesteps for steps in self.start_steps]
        self.next_eval = [steps + self.eval_freq for steps in self.start_steps]
        self.ended_at: list[tuple[int, float] | None] = [None for _ in self.start_steps]
        """per member: its env steps and training seconds when it reached its budget"""
        if self.eval_at_start:
            self.evaluate(self.start_steps, range(len(self.start_steps)))

    def on_step(self, env_steps: Sequence[int], metrics: Sequence[Mapping[str, float]]) -> bool:
        due = []
        for member, steps in enumerate(env_steps):
            if self.next_eval[member] <= steps < self.end_steps[member]:
                while self.next_eval[member] <= steps:
                    self.next_eval[member] += self.eval_freq
                due.append(member)
            elif steps >= self.end_steps[member] and self.ended_at[member] is None:
                self.ended_at[member] = (steps, self.training_seconds)
        if due:
            self.evaluate(env_steps, due)
        return True

    def on_training_end(self) -> None:
        # The agent's own count: an interruption may land between its step and its report.
        steps = list(self.agent.member_timesteps)
        due = [
            member
            for member, history in enumerate(self.histories)
            if not history or history[-1]["env_steps"] != steps[member] - self.start_steps[member]
        ]
        if due:
            self.evaluate(steps, due)

    @property
    def training_seconds(self) -> float:
        synchronize(self.agent.device)  # training's queued GPU work is training time, not evaluation's
        return time.perf_counter() - self.start - self.eval_seconds

    def evaluate(self, env_steps: Sequence[int], members: Iterable[int]) -> None:
        """Evaluate the group and keep the rows of ``members``, at their ``env_steps``."""
        seconds = self.training_seconds
        began = time.perf_counter()
        results = evaluate_members(self.agent, self.env_id, self.n_episodes, env_kwargs=self.env_kwargs)
        diagnostics = diagnose(self.agent, self.env_id, self.env_kwargs)
        self.eval_seconds += time.perf_counter() - began
        for member in members:
            # A member that has not moved since it reached its budget (while the rest of its group
            # went on) is timed where it stopped.
            ended = self.ended_at[member]
            stopped = ended is not None and ended[0] == env_steps[member]
            row = {
                "env_steps": env_steps[member] - self.start_steps[member],
                "wall_time_s": round(ended[1] if ended is not None and stopped else seconds, 3),
            }
            row.update(results[member].to_dict())
            row.update(diagnostics[member])
            self.histories[member].append(row)
            if member < len(self.writers):
                for key in ("mean_return", "mean_normalized_return", "success_rate"):
                    if row[key] is not None:
                        self.writers[member].add_scalar(f"eval/{key}", row[key], env_steps[member])
                for tag, value in diagnostics[member].items():
                    self.writers[member].add_scalar(tag, value, env_steps[member])


class ProgressCallback(Callback):
    """A tqdm bar over env steps, showing the latest episodic and normalized return (the mean over
    the members of a group)."""

    def on_training_start(self, agent: Any, total_timesteps: int) -> None:
        self.start_steps = agent.num_timesteps
        self.bar = tqdm(total=total_timesteps, unit="step", unit_scale=True, dynamic_ncols=True)

    def on_step(self, env_steps: Sequence[int], metrics: Sequence[Mapping[str, float]]) -> bool:
        shown = {}
        for name, tag in (("return", "charts/episodic_return"), ("normalized", "charts/normalized_return")):
            values = [m[tag] for m in metrics if tag in m]
            if values:
                shown[name] = f"{sum(values) / len(values):.2f}"
        if shown:
            self.bar.set_postfix(shown, refresh=False)
        self.bar.update(min(min(env_steps) - self.start_steps, self.bar.total) - self.bar.n)
        return True

    def on_training_end(self) -> None:
        self.bar.close()


class StopCallback(Callback):
    """Ends training at the next step once a stop was requested (Ctrl-C: see
    :func:`rlzero.executor.stop_on_interrupt`), and remembers that it did."""

    stopped = False

    def on_step(self, env_steps: Sequence[int], metrics: Sequence[Mapping[str, float]]) -> bool:
        self.stopped = stop_requested()
        return not self.stopped
