"""One trial, one function: build an agent from its preset, train it with periodic evaluation, summarise.

:func:`run` is what ``python -m rlzero.train`` runs once, what ``python -m rlzero.finetune`` runs per arm
and seed, and what every benchmark runs through :func:`rlzero.executor.run_trials`. A :class:`Trial` is
plain data, so a process pool or a Ray cluster can ship it; the record :func:`run` returns is plain
JSON-able data: the summary of the final evaluation, the evaluation curve, the curve's figures
(:func:`rlzero.curves.curve_summary`), throughput and replay ratio, and the settings that were used.

With ``run_dir`` set, the trial also leaves a run directory: TensorBoard events (CleanRL's tags, and the
hyperparameters as text), the checkpoint, ``config.json`` (everything needed to repeat it: the preset, the
overrides, the resolved hyperparameters) and ``summary.json`` (the record without the settings).

A trial whose ``seed`` is a list is a **group**: its members (one per seed, each with its own overrides
from ``members``) train together in one agent (see :mod:`rlzero.agents.base`), and each member leaves
the run directory a single trial would, under the group's directory, as ``seed<S>`` (after its
overrides, ``learning_rate=0.001__seed<S>``). The group's directory adds ``group.json``, the group
record (:func:`group_summary`: the rliable aggregates per distinct set of overrides and a row per
member) and ``curves.png``, every member's curve with the IQM and its band.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from rlzero.agents.callbacks import Callback, CallbackList
from rlzero.agents.checkpoint import check_agent, load_checkpoint
from rlzero.agents.device import resolve_device
from rlzero.agents.presets import preset_for
from rlzero.agents.registry import agent_class, is_sb3
from rlzero.agents.transfer import transfer
from rlzero.curves import Criterion, criterion, curve_summary
from rlzero.executor import run_trials
from rlzero.monitors import EvalCallback, ProgressCallback, TensorBoardCallback
from rlzero.report import cell_summary
from rlzero.runs import CHECKPOINT_NAME, claim_dir, write_json
from rlzero.system import package_versions

EVALUATIONS_PER_RUN = 20
"""Evaluations over a run when ``eval_freq`` is not given: one every twentieth of the budget."""

REPORTS_PER_EVALUATION = 4
"""TensorBoard reports of the training metrics between two evaluations."""


class TrialInterrupted(KeyboardInterrupt):
    """Ctrl-C during a trial, after its checkpoint and summary were written; carries the record."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__("interrupted")
        self.record = record


@dataclasses.dataclass
class Trial:
    """One training run, as plain data."""

    agent: str
    env_id: str = "ZeroOut-v0"
    seed: int | list[int] = 0
    """one seed, or a list of them: a group trained together in one process"""
    members: list[dict[str, Any]] | None = None
    """a group's per-member overrides on top of ``hparams`` (float hyperparameters only), one per seed"""
    total_timesteps: int | None = None
    """env steps to train for; None: the preset's budget"""
    hparams: dict[str, Any] = dataclasses.field(default_factory=dict)
    """overrides on top of the preset (``--set``)"""
    env_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    device: str = "auto"
    """resolved by the trial itself, on the machine that runs it"""
    eval_freq: int | None = None
    """env steps between evaluations; None: a twentieth of the budget"""
    eval_episodes: int = 100
    eval_at_start: bool = False
    """also evaluate before any update (the jumpstart of a fine-tuned run)"""
    init_from: str | None = None
    """checkpoint whose weights the agent starts from"""
    strategy: str | None = None
    """with ``init_from``: the fine-tuning strategy (see rlzero.agents.transfer); None loads every weight"""
    run_dir: str | None = None
    """the run directory: created, or ``_1``, ``_2``, ... appended where it holds something already;
    None writes nothing"""
    progress: bool = False
    """show a progress bar"""
    command: str | None = None
    """the command line that started the trial, for ``config.json``"""
    group_part: bool = False
    """a part of a larger group (see :func:`run_parts`): the members' directories go into ``run_dir``
    as it is, and ``group.json`` and ``curves.png`` are left to the whole group"""

    def budget(self) -> int:
        return self.total_timesteps or preset_for(self.agent, self.env_id)[1].total_timesteps

    def evaluation_interval(self) -> int:
        return self.eval_freq or max(self.budget() // EVALUATIONS_PER_RUN, 1)

    @property
    def seeds(self) -> list[int]:
        return list(self.seed) if isinstance(self.seed, list) else [self.seed]

    def member_overrides(self) -> list[dict[str, Any]]:
        """Each member's overrides on top of ``hparams`` (empty ones without ``members``)."""
        return [dict(m) for m in self.members] if self.members is not None else [{} for _ in self.seeds]

    def member_names(self) -> list[str]:
        """The directory name of each member of a group: its overrides, then its seed."""
        return [
            "__".join([*(f"{k}={v}" for k, v in overrides.items()), f"seed{seed}"])
            for overrides, seed in zip(self.member_overrides(), self.seeds, strict=True)
        ]


def build(trial: Trial) -> tuple[Any, dict[str, Any]]:
    """The trial's agent, from its preset with the overrides on top (weights moved in where asked),
    and the settings to record."""
    preset_key, preset = preset_for(trial.agent, trial.env_id)
    hparams = {**preset.hparams, **trial.hparams}
    device = resolve_device(trial.device)
    if isinstance(trial.seed, list) or trial.members is not None:
        if is_sb3(trial.agent):
            raise ValueError(f"{trial.agent} trains one seed per process: give one seed, not a group")
        hparams["members"] = trial.member_overrides()
    agent = agent_class(trial.agent)(
        trial.env_id, device=device, seed=trial.seed, env_kwargs=trial.env_kwargs, **hparams
    )
    moved = None
    if trial.init_from is not None:
        if trial.strategy is None or is_sb3(trial.agent):
            if trial.strategy not in (None, "full"):
                raise ValueError(
                    f"{trial.agent} moves weights with strategy 'full' only, got {trial.strategy!r}"
                )
            agent.init_from(trial.init_from)
        else:
            payload = load_checkpoint(trial.init_from, map_location=agent.device)
            check_agent(payload["metadata"], trial.agent, trial.init_from)
            moved = dataclasses.asdict(transfer(agent, payload["state_dicts"], trial.strategy))
    settings = {
        **dataclasses.asdict(trial),
        "device": str(agent.device),
        "total_timesteps": trial.budget(),
        "eval_freq": trial.evaluation_interval(),
        "preset": {"key": preset_key, **dataclasses.asdict(preset)},
        "overrides": dict(trial.hparams),
        # Checked here, before any training: an env with no way to call it solved is refused.
        "solved_criterion": dataclasses.asdict(criterion(trial.env_id, trial.env_kwargs)),
        "resolved_hparams": agent.config_dict(),
        "transfer": moved,
        "gpu": torch.cuda.get_device_name(agent.device) if agent.device.type == "cuda" else None,
        "torch_threads": torch.get_num_threads(),
        "versions": package_versions(),
    }
    return agent, settings


def member_settings(agent: Any, trial: Trial, settings: Mapping[str, Any], member: int) -> dict[str, Any]:
    """What a group member's ``config.json`` records: the trial's settings as a single trial of its own."""
    overrides = trial.member_overrides()[member]
    return {
        **settings,
        "seed": trial.seeds[member],
        "members": None,
        "overrides": {**trial.hparams, **overrides},
        "resolved_hparams": agent.config_dict(member),
        "group": {"seeds": trial.seeds, "member": member, "member_overrides": overrides},
    }


def run(trial: Trial | Mapping[str, Any], built: tuple[Any, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Build (unless ``built`` is :func:`build`'s result), train with periodic evaluation, save and
    summarise one trial; return its record (a group's: :func:`group_summary`, holding each member's).

    Ctrl-C stops training, saves the checkpoints and the summaries (``"interrupted": true``), then
    raises :class:`TrialInterrupted` carrying the record.
    """
    if not isinstance(trial, Trial):
        trial = Trial(**trial)
    began, cpu_began = time.perf_counter(), time.process_time()
    agent, settings = built if built is not None else build(trial)
    group = isinstance(trial.seed, list)
    members = range(len(trial.seeds))
    run_dir = None
    if trial.run_dir is not None:
        run_dir = Path(trial.run_dir) if trial.group_part else claim_dir(trial.run_dir, take_empty=True)
        run_dir.mkdir(parents=True, exist_ok=True)
    member_dirs: list[Path] = []
    if run_dir is not None:
        settings["run_dir"] = str(run_dir)  # the directory claimed, which may carry a suffix
        member_dirs = [run_dir / name for name in trial.member_names()] if group else [run_dir]
    configs = [member_settings(agent, trial, settings, m) if group else settings for m in members]
    setup_seconds = time.perf_counter() - began
    budget, eval_freq = settings["total_timesteps"], settings["eval_freq"]
    writers: list[Any] = []
    new_evaluator = functools.partial(  # reads `writers` when called, once they are open
        EvalCallback,
        trial.env_id,
        eval_freq,
        trial.eval_episodes,
        trial.env_kwargs,
        writers,
        trial.eval_at_start,
    )
    evaluator: EvalCallback | None = None
    interrupted = False
    try:  # from the first events file on: a Ctrl-C at any point after it still leaves a complete run
        for config, member_dir in zip(configs, member_dirs, strict=False):
            from torch.utils.tensorboard import SummaryWriter

            member_dir.mkdir(exist_ok=True)
            write_json(member_dir / "config.json", {**config, "run_dir": str(member_dir)})
            writers.append(SummaryWriter(str(member_dir)))
            writers[-1].add_text("hyperparameters", hparams_table(config["resolved_hparams"]))
        evaluator = new_evaluator()
        callbacks: list[Callback] = [evaluator]
        if writers:
            callbacks.append(TensorBoardCallback(writers))
        if trial.progress:
            callbacks.append(ProgressCallback())
        agent.learn(budget, CallbackList(callbacks), log_interval=max(eval_freq // REPORTS_PER_EVALUATION, 1))
    except KeyboardInterrupt:
        interrupted = True
        evaluator = evaluator or new_evaluator()  # None if Ctrl-C came while the writers were opened
        if not evaluator.history:  # Ctrl-C before learn reached its loop: evaluate the agent as it is
            evaluator.on_training_start(agent, budget)
            evaluator.on_training_end()
    finally:
        for writer in writers:
            writer.close()
        agent.env.close()
    timing = {
        "setup_seconds": round(setup_seconds, 3),
        "eval_seconds": round(evaluator.eval_seconds, 3),
        "trial_seconds": round(time.perf_counter() - began, 3),
        "trial_cpu_seconds": round(time.process_time() - cpu_began, 3),
    }
    rule = Criterion(**settings["solved_criterion"])
    records = []
    for m in members:
        checkpoint = None
        if member_dirs:
            path = member_dirs[m] / CHECKPOINT_NAME
            checkpoint = agent.save(path, member=m) if group else agent.save(path)
        record = member_record(agent, trial, evaluator.histories[m], rule, interrupted, checkpoint, m)
        record["timing"] = timing
        if member_dirs:
            write_json(member_dirs[m] / "summary.json", record)
        record["settings"] = configs[m]
        records.append(record)
    if group:
        result = group_summary(records, trial, rule, timing)
        result["run_dir"] = str(run_dir) if run_dir is not None else None
        if run_dir is not None and not trial.group_part:
            write_group(result, run_dir, rule)
    else:
        result = records[0]
    if interrupted:
        raise TrialInterrupted(result)
    return result


def write_group(result: Mapping[str, Any], run_dir: Path, rule: Criterion) -> None:
    """Write a group's ``group.json`` and ``curves.png`` (every member's curve, the IQM and its band)."""
    from rlzero.plots import plot_curves  # matplotlib: only where a plot is drawn

    write_json(run_dir / "group.json", dict(result))
    records = result["members"]
    curves = {result["agent"]: [r["evaluations"] for r in records]}
    title = f"{result['agent']} on {result['env_id']}, {len(records)} members"
    plot_curves(curves, run_dir / "curves.png", rule, title=title)


def split_group(trial: Trial, parts: int) -> list[Trial]:
    """A group trial as ``parts`` groups of consecutive members (their sizes differ by one at most),
    each a :attr:`Trial.group_part` of the whole; the first one alone shows the progress bar."""
    names = trial.member_names()
    if len(set(names)) < len(names):
        raise ValueError("a group split into parts needs distinct members: every seed once per overrides")
    bounds = [round(i * len(names) / parts) for i in range(parts + 1)]
    return [
        dataclasses.replace(
            select_members(trial, range(start, stop)), group_part=True, progress=trial.progress and start == 0
        )
        for start, stop in itertools.pairwise(bounds)
        if stop > start
    ]


def select_members(trial: Trial, indices: Iterable[int]) -> Trial:
    """The group trial of the given members of ``trial`` only."""
    chosen = list(indices)
    overrides = trial.member_overrides()
    return dataclasses.replace(
        trial,
        seed=[trial.seeds[i] for i in chosen],
        members=[overrides[i] for i in chosen] if trial.members is not None else None,
    )


def run_parts(trial: Trial, parts: int, **options: Any) -> dict[str, Any]:
    """Run a group trial as ``parts`` smaller groups side by side through
    :func:`rlzero.executor.run_trials` (``options``: its backend, workers, threads...), and return the
    record of the whole group, as :func:`run` returns it.

    Every member's run equals the one it has in the whole group (members are independent, see
    :mod:`rlzero.agents.base`), and the members' directories, ``group.json`` and ``curves.png`` go
    into one group directory. Where a CPU has several cores, one smaller group per core trains faster
    than one group on every core's threads, whose small matrix products gain little from more of them.

    Ctrl-C stops every part as it stops a single trial; the group record is then made of the summaries
    the members saved, and :class:`TrialInterrupted` carries it (a bare KeyboardInterrupt where none
    had started).
    """
    began = time.perf_counter()
    run_dir = claim_dir(trial.run_dir, take_empty=True) if trial.run_dir is not None else None
    whole = dataclasses.replace(trial, run_dir=str(run_dir) if run_dir is not None else None)
    pieces = split_group(whole, parts)
    interrupted = False
    try:
        outcomes = run_trials(run, pieces, **options)
        failed = [o["error"]["message"] for o in outcomes if not o["ok"]]
        if failed:
            raise RuntimeError(f"a part of the group failed: {failed[0]}")
        records = [m for o in outcomes for m in o["result"]["members"]]
        eval_seconds: float | None = sum(o["result"]["timing"]["eval_seconds"] for o in outcomes)
    except KeyboardInterrupt:
        if run_dir is None:
            raise
        interrupted = True
        names = whole.member_names()
        whole = select_members(
            whole, [i for i, n in enumerate(names) if (run_dir / n / "summary.json").is_file()]
        )
        if not whole.seeds:
            raise
        records = [saved_record(run_dir / name) for name in whole.member_names()]
        eval_seconds = None
    timing = {
        "trial_seconds": round(time.perf_counter() - began, 3),
        "parts": len(pieces),
        "eval_seconds": eval_seconds,  # summed over the parts
    }
    rule = criterion(trial.env_id, trial.env_kwargs)
    result = group_summary(records, whole, rule, timing)
    result["run_dir"] = str(run_dir) if run_dir is not None else None
    if run_dir is not None:
        write_group(result, run_dir, rule)
    if interrupted:
        raise TrialInterrupted(result)
    return result


def saved_record(member_dir: Path) -> dict[str, Any]:
    """A member's record as its run directory holds it (``summary.json`` and ``config.json``)."""
    missing = [name for name in ("summary.json", "config.json") if not (member_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{member_dir} has no {' or '.join(missing)}: its part did not save it")
    record = json.loads((member_dir / "summary.json").read_text())
    record["settings"] = json.loads((member_dir / "config.json").read_text())
    return record


def member_records(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The per-seed records in what :func:`run` returned: a group's members, or the single run itself."""
    return list(result.get("members", [result]))


def seed_results(trial: Trial, record: Mapping[str, Any]) -> list[dict[str, Any] | None]:
    """One entry per seed of ``trial`` in its trial runner's ``record``: the seed's record, or None
    for each seed of a trial that failed."""
    result = record.get("result")
    if result is None:
        return [None] * len(trial.seeds)
    return list(member_records(result))


def group_summary(
    records: list[dict[str, Any]], trial: Trial, rule: Criterion, timing: Mapping[str, Any]
) -> dict[str, Any]:
    """A group's record: the rliable figures (:func:`rlzero.report.cell_summary`: IQM of the final
    score with its bootstrap interval, solved and stayed-solved counts...) of each distinct set of
    member overrides (one cell for a group of seeds alone), a row per member, and every member's record."""
    cells: dict[str, list[dict[str, Any]]] = {}
    for overrides, record in zip(trial.member_overrides(), records, strict=True):
        name = "__".join(f"{k}={v}" for k, v in overrides.items()) or "seeds"
        cells.setdefault(name, []).append(record)
    return {
        "agent": records[0]["agent"],
        "env_id": trial.env_id,
        "seeds": trial.seeds,
        "solved_metric": rule.metric,
        "solved_threshold": rule.threshold,
        "interrupted": any(r["interrupted"] for r in records),
        "cells": {name: cell_summary(cell) for name, cell in cells.items()},
        "table": [
            {
                "seed": r["settings"]["seed"],
                "overrides": r["settings"]["group"]["member_overrides"],
                **{k: r[k] for k in ("final", "steps_to_solved", "seconds_to_solved", "stayed_solved")},
                "run_dir": r["run_dir"],
            }
            for r in records
        ],
        "timing": dict(timing),
        "members": records,
    }


def member_record(
    agent: Any,
    trial: Trial,
    history: list[dict[str, Any]],
    rule: Criterion,
    interrupted: bool,
    checkpoint: Path | None,
    member: int = 0,
) -> dict[str, Any]:
    """One member's final evaluation, its curve and the curve's figures, throughput and replay ratio."""
    final = history[-1]
    return {
        "agent": agent.name,
        "env_id": trial.env_id,
        "seed": trial.seeds[member],
        "env_steps": final["env_steps"],
        "wall_time_s": final["wall_time_s"],
        "mean_return": final["mean_return"],
        "mean_normalized_return": final["mean_normalized_return"],
        "success_rate": final["success_rate"],
        "mean_length": final["mean_length"],
        "diagnostics": {k: v for k, v in final.items() if k.startswith("diagnostics/")},
        "solved": rule.solved(final),
        "interrupted": interrupted,
        "checkpoint": str(checkpoint) if checkpoint is not None else None,
        "run_dir": str(checkpoint.parent) if checkpoint is not None else None,
        "env_steps_per_s": final["env_steps"] / max(final["wall_time_s"], 1e-9),
        "replay_ratio": agent.replay_ratios[member],
        "solved_metric": rule.metric,
        "solved_threshold": rule.threshold,
        **curve_summary(history, rule),
        "evaluations": history,
    }


def hparams_table(hparams: Mapping[str, Any]) -> str:
    """A markdown table of the hyperparameters, as CleanRL logs them to TensorBoard."""
    rows = "\n".join(f"|{key}|{value}|" for key, value in hparams.items())
    return f"|param|value|\n|-|-|\n{rows}"
