"""Callbacks the orchestration layer hands to ``learn``: TensorBoard, periodic evaluation, progress."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from rlzero.agents.callbacks import Callback
from rlzero.evaluation import evaluate


class TensorBoardCallback(Callback):
    """Writes every reported metric as a scalar at its env-step count (CleanRL tags)."""

    def __init__(self, writer: SummaryWriter) -> None:
        self.writer = writer

    def on_step(self, env_steps: int, metrics: Mapping[str, float]) -> bool:
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, env_steps)
        return True

    def on_training_end(self) -> None:
        self.writer.flush()


class EvalCallback(Callback):
    """Evaluates the agent every ``eval_freq`` env steps with the DESIGN protocol and keeps the curve.

    ``history`` holds one row per evaluation: env steps, training seconds (evaluation time left
    out, so agents are compared on what training costs), and the figures of :func:`evaluate`.
    """

    def __init__(
        self,
        env_id: str,
        eval_freq: int,
        n_episodes: int = 100,
        env_kwargs: dict[str, Any] | None = None,
        writer: SummaryWriter | None = None,
        eval_at_start: bool = False,
    ) -> None:
        self.env_id, self.eval_freq, self.n_episodes = env_id, eval_freq, n_episodes
        self.env_kwargs, self.writer, self.eval_at_start = env_kwargs, writer, eval_at_start
        self.history: list[dict[str, Any]] = []
        self.eval_seconds = 0.0

    def on_training_start(self, agent: Any, total_timesteps: int) -> None:
        self.agent = agent
        self.start = time.perf_counter()
        self.start_steps = agent.num_timesteps
        self.next_eval = self.start_steps + self.eval_freq
        if self.eval_at_start:
            self.evaluate(self.start_steps)

    def on_step(self, env_steps: int, metrics: Mapping[str, float]) -> bool:
        if env_steps >= self.next_eval:
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
        return time.perf_counter() - self.start - self.eval_seconds

    def evaluate(self, env_steps: int) -> dict[str, Any]:
        seconds = self.training_seconds
        began = time.perf_counter()
        result = evaluate(self.agent, self.env_id, self.n_episodes, env_kwargs=self.env_kwargs)
        self.eval_seconds += time.perf_counter() - began
        row = {"env_steps": env_steps - self.start_steps, "wall_time_s": round(seconds, 3)}
        row.update(result.to_dict())
        self.history.append(row)
        if self.writer is not None:
            for key in ("mean_return", "mean_normalized_return", "success_rate"):
                if row[key] is not None:
                    self.writer.add_scalar(f"eval/{key}", row[key], env_steps)
        return row


class ProgressCallback(Callback):
    """A tqdm bar over env steps, showing the latest episodic and normalized return."""

    def on_training_start(self, agent: Any, total_timesteps: int) -> None:
        self.start_steps = agent.num_timesteps
        self.bar = tqdm(total=total_timesteps, unit="step", unit_scale=True, dynamic_ncols=True)

    def on_step(self, env_steps: int, metrics: Mapping[str, float]) -> bool:
        if metrics:
            shown = {
                "return": metrics.get("charts/episodic_return"),
                "normalized": metrics.get("charts/normalized_return"),
            }
            self.bar.set_postfix({k: f"{v:.2f}" for k, v in shown.items() if v is not None}, refresh=False)
        self.bar.update(min(env_steps - self.start_steps, self.bar.total) - self.bar.n)
        return True

    def on_training_end(self) -> None:
        self.bar.close()
