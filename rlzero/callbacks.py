"""Callbacks the orchestration layer hands to ``learn``: TensorBoard, periodic evaluation, progress."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from rlzero.agents.callbacks import Callback
from rlzero.agents.device import synchronize
from rlzero.evaluation import evaluate_members


class TensorBoardCallback(Callback):
    """Writes every reported metric as a scalar at its env-step count (CleanRL tags), one writer (run
    directory) per member."""

    def __init__(self, writers: Sequence[SummaryWriter]) -> None:
        self.writers = list(writers)

    def on_step(self, env_steps: int, metrics: Sequence[Mapping[str, float]]) -> bool:
        for writer, member_metrics in zip(self.writers, metrics, strict=False):
            for tag, value in member_metrics.items():
                writer.add_scalar(tag, value, env_steps)
        return True

    def on_training_end(self) -> None:
        for writer in self.writers:
            writer.flush()


class EvalCallback(Callback):
    """Evaluates the agent every ``eval_freq`` env steps with the DESIGN protocol and keeps the curve,
    of each member of a group.

    ``histories[m]`` holds one row per evaluation of member ``m``: env steps, training seconds
    (evaluation time left out, so agents are compared on what training costs), and the figures of
    :func:`rlzero.evaluate`; ``history`` is the first member's. Each ``learn`` call it is passed to
    starts a new curve. Past the budget (SB3's algorithms finish their last rollout) it evaluates only
    once, at the end.
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
        self.start, self.eval_seconds, self.histories = time.perf_counter(), 0.0, []
        self.start_steps = agent.num_timesteps
        self.end_steps = self.start_steps + total_timesteps
        self.next_eval = self.start_steps + self.eval_freq
        if self.eval_at_start:
            self.evaluate(self.start_steps)

    def on_step(self, env_steps: int, metrics: Sequence[Mapping[str, float]]) -> bool:
        if self.next_eval <= env_steps < self.end_steps:
            while self.next_eval <= env_steps:
                self.next_eval += self.eval_freq
            self.evaluate(env_steps)
        return True

    def on_training_end(self) -> None:
        # The agent's own count: an interruption may land between its step and its report.
        steps = self.agent.num_timesteps
        if not self.history or self.history[-1]["env_steps"] != steps - self.start_steps:
            self.evaluate(steps)

    @property
    def training_seconds(self) -> float:
        synchronize(self.agent.device)  # training's queued GPU work is training time, not evaluation's
        return time.perf_counter() - self.start - self.eval_seconds

    def evaluate(self, env_steps: int) -> None:
        seconds = self.training_seconds
        began = time.perf_counter()
        results = evaluate_members(self.agent, self.env_id, self.n_episodes, env_kwargs=self.env_kwargs)
        self.eval_seconds += time.perf_counter() - began
        if not self.histories:
            self.histories = [[] for _ in results]
        for member, result in enumerate(results):
            row = {"env_steps": env_steps - self.start_steps, "wall_time_s": round(seconds, 3)}
            row.update(result.to_dict())
            self.histories[member].append(row)
            if member < len(self.writers):
                for key in ("mean_return", "mean_normalized_return", "success_rate"):
                    if row[key] is not None:
                        self.writers[member].add_scalar(f"eval/{key}", row[key], env_steps)


class ProgressCallback(Callback):
    """A tqdm bar over env steps, showing the latest episodic and normalized return (the mean over
    the members of a group)."""

    def on_training_start(self, agent: Any, total_timesteps: int) -> None:
        self.start_steps = agent.num_timesteps
        self.bar = tqdm(total=total_timesteps, unit="step", unit_scale=True, dynamic_ncols=True)

    def on_step(self, env_steps: int, metrics: Sequence[Mapping[str, float]]) -> bool:
        shown = {}
        for name, tag in (("return", "charts/episodic_return"), ("normalized", "charts/normalized_return")):
            values = [m[tag] for m in metrics if tag in m]
            if values:
                shown[name] = f"{sum(values) / len(values):.2f}"
        if shown:
            self.bar.set_postfix(shown, refresh=False)
        self.bar.update(min(env_steps - self.start_steps, self.bar.total) - self.bar.n)
        return True

    def on_training_end(self) -> None:
        self.bar.close()
