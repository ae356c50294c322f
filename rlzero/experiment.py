"""One run, one owner: from a trial's settings to its run directory, its records and its summaries.

:func:`run` is what ``python -m rlzero.train`` runs, what ``python -m rlzero.finetune`` runs per arm, and
what every benchmark runs (many of them through :func:`rlzero.executor.run_trials`). It does each thing
once: checks every setting without building an agent (:func:`check`: a bad value is a ValueError before
anything is written), claims the run directory, builds and trains the agent (:func:`train`) with periodic
evaluation, saves each member's checkpoint and summary, and writes a group's figures. A :class:`Trial` is
plain data, so a process pool or a Ray cluster can ship it; the record :func:`run` returns is plain
JSON-able data: the summary of the final evaluation, the evaluation curve, the curve's figures
(:func:`rlzero.curves.curve_summary`), throughput and replay ratio, and the settings that were used.

With ``run_dir`` set, the run leaves a run directory: TensorBoard events (CleanRL's tags, and the
hyperparameters as text), the checkpoint, ``config.json`` (everything needed to repeat it: the preset, the
overrides, the resolved hyperparameters) and ``summary.json`` (the record without the settings). A run
that fails before writing anything leaves no directory.

A trial whose ``seed`` is a list is a **group**: its members (one per seed, each with its own overrides
from ``members``) train together in one agent (see :mod:`rlzero.agents.base`), and each member leaves
the run directory a single trial would, under the group's directory, as ``seed<S>`` (after its
overrides, ``learning_rate=0.001__seed<S>``). The group's directory adds ``group.json``, the group
record (:func:`group_summary`: the rliable aggregates per distinct set of overrides and a row per
member) and ``curves.png``, every member's curve with the IQM and its band. How a group is trained is
the run's choice, not its caller's: in parts of consecutive members, one part in this process, or with
``workers`` one smaller group per process side by side (each member's run is the same either way); an
agent that trains one seed per agent (the SB3 adapters) trains one part per seed.

Ctrl-C (:func:`rlzero.executor.stop_on_interrupt`) stops training at the next step: every member that
started saves its checkpoint and summary as at its end, ``"interrupted": true``, and parts not started
are left out of the group.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from rlzero.agents import read_metadata
from rlzero.agents.callbacks import Callback, CallbackList
from rlzero.agents.checkpoint import check_agent
from rlzero.agents.device import resolve_device
from rlzero.agents.presets import preset_for
from rlzero.agents.registry import agent_class
from rlzero.curves import Criterion, criterion, curve_summary
from rlzero.envs import check_env_id
from rlzero.executor import run_trials, stop_on_interrupt, stop_requested
from rlzero.monitors import EvalCallback, ProgressCallback, StopCallback, TensorBoardCallback
from rlzero.report import cell_summary
from rlzero.runs import CHECKPOINT_NAME, claim_dir, write_json
from rlzero.system import package_versions

EVALUATIONS_PER_RUN = 20
"""Evaluations over a run when ``eval_freq`` is not given: one every twentieth of the budget."""

REPORTS_PER_EVALUATION = 4
"""TensorBoard reports of the training metrics between two evaluations."""

START_NAME = "start.pt"
"""A member's starting point, with :attr:`Trial.save_start`."""


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
    """with ``init_from``: the fine-tuning strategy (see rlzero.agents.transfer); None: ``full``"""
    run_dir: str | None = None
    """the run directory: created, or ``_1``, ``_2``, ... appended where it exists already; None writes
    nothing"""
    progress: bool = False
    """show a progress bar"""
    command: str | None = None
    """the command line that started the trial, for ``config.json``"""
    save_start: bool = False
    """also save each member's starting point, ``start.pt`` (where fine-tuning starts from)"""

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
        return [member_name(o, s) for o, s in zip(self.member_overrides(), self.seeds, strict=True)]


def member_name(overrides: Mapping[str, Any], seed: int) -> str:
    """A group member's directory name: its overrides, then its seed."""
    return "__".join([*(f"{k}={v}" for k, v in overrides.items()), f"seed{seed}"])


def check(trial: Trial) -> Criterion:
    """Check every setting of ``trial`` without building its agent (ValueError, naming the bad value); return
    the env's criterion for "solved". Building the agent checks the rest: memory, and whether a
    checkpoint's weights fit."""
    cls = agent_class(trial.agent)
    if any(s < 0 for s in trial.seeds) or not trial.seeds:
        raise ValueError(f"seed must be an integer >= 0 or a non-empty list of them, got {trial.seed!r}")
    if trial.members is not None and len(trial.members) != len(trial.seeds):
        raise ValueError(f"members gives {len(trial.members)} overrides for {len(trial.seeds)} seeds")
    names = trial.member_names()
    if len(set(names)) < len(names):
        raise ValueError("a group's members must differ: every seed once per set of overrides")
    for name, value in (("total_timesteps", trial.total_timesteps), ("eval_freq", trial.eval_freq)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if trial.eval_episodes < 1:
        raise ValueError(f"eval_episodes must be >= 1, got {trial.eval_episodes}")
    if trial.strategy is not None and trial.strategy not in cls.strategies:
        raise ValueError(
            f"{trial.agent} fine-tunes with strategy {' or '.join(map(repr, cls.strategies))}, "
            f"got {trial.strategy!r}"
        )
    resolve_device(trial.device)  # CUDA asked for where there is none
    check_env_id(trial.env_id)
    rule = criterion(trial.env_id, trial.env_kwargs)  # builds the env: its id and kwargs are checked
    _, preset = preset_for(trial.agent, trial.env_id)
    cls.check_hparams({**preset.hparams, **trial.hparams}, trial.member_overrides())
    if trial.init_from is not None:
        check_agent(read_metadata(trial.init_from), trial.agent, trial.init_from)
    return rule


Built = tuple[Any, dict[str, Any]]
"""An agent and the settings to record, as :func:`build` gives them."""


def build(trial: Trial) -> Built:
    """The agent of ``trial`` (a whole run, or a part of one) from its preset with the overrides on top,
    started from ``init_from``'s weights where given, and the settings to record."""
    preset_key, preset = preset_for(trial.agent, trial.env_id)
    hparams = {**preset.hparams, **trial.hparams}
    cls = agent_class(trial.agent)
    seed: int | list[int] = trial.seed
    if not cls.trains_groups:
        if len(trial.seeds) > 1:
            raise ValueError(f"{trial.agent} trains one seed per agent; got the group {trial.seeds}")
        seed = trial.seeds[0]
        hparams.update(trial.member_overrides()[0])
    elif isinstance(trial.seed, list) or trial.members is not None:
        hparams["members"] = trial.member_overrides()
    agent = cls(
        trial.env_id, device=resolve_device(trial.device), seed=seed, env_kwargs=trial.env_kwargs, **hparams
    )
    moved = (
        agent.start_from(trial.init_from, trial.strategy or "full") if trial.init_from is not None else None
    )
    settings = {
        **dataclasses.asdict(trial),
        "device": str(agent.device),
        "total_timesteps": trial.budget(),
        "eval_freq": trial.evaluation_interval(),
        "preset": {"key": preset_key, **dataclasses.asdict(preset)},
        "overrides": dict(trial.hparams),
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


def run(
    trial: Trial | Mapping[str, Any],
    workers: int = 1,
    on_claim: Callable[[Path], None] | None = None,
    parts: int | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Check, claim the run directory, train and summarise one trial; return its record (a group's:
    :func:`group_summary`, holding each member's).

    ``workers`` > 1 trains a group as that many smaller groups side by side, one process each, through
    :func:`rlzero.executor.run_trials` (``options``: its backend, threads...); every member's run is the
    one it has in the whole group, and on a CPU with several cores, one smaller group per core trains
    faster than one group on every core's threads. ``parts`` splits it into that many groups instead
    (run ``workers`` at a time). ``on_claim`` is told the directory once it is claimed.
    """
    if not isinstance(trial, Trial):
        trial = Trial(**trial)
    with stop_on_interrupt():
        rule = check(trial)
        began = time.perf_counter()
        pieces = split(trial, parts or workers)
        in_process = workers == 1 or len(pieces) == 1
        # In this process the first agent is built before the directory is claimed, so that what only
        # building finds (memory, weights that do not fit) leaves nothing behind.
        first = build(pieces[0]) if in_process else None
        run_dir = claim_dir(trial.run_dir) if trial.run_dir is not None else None
        if run_dir is not None and on_claim is not None:
            on_claim(run_dir)
        pieces = [dataclasses.replace(p, run_dir=str(run_dir) if run_dir else None) for p in pieces]
        try:
            trained = train_parts(pieces, workers, options, first)
        except BaseException:
            if run_dir is not None and run_dir.is_dir() and not any(run_dir.iterdir()):
                run_dir.rmdir()  # nothing written: no run to keep
            raise
    members = [record for part in trained for record in part["members"]]
    if not isinstance(trial.seed, list):
        return members[0]
    timing = {
        "trial_seconds": round(time.perf_counter() - began, 3),
        "parts": len(pieces),
        "eval_seconds": round(sum(part["timing"]["eval_seconds"] for part in trained), 3),
    }
    result = group_summary(members, trial, rule, timing)
    result["run_dir"] = str(run_dir) if run_dir is not None else None
    if run_dir is not None:
        write_group(result, run_dir, rule)
    return result


def split(trial: Trial, parts: int) -> list[Trial]:
    """The parts a run trains: the trial itself, or a group as ``parts`` groups of consecutive members
    (sizes differing by one at most), one per member for an agent that trains one seed per agent; the
    first part alone shows the progress bar."""
    count = len(trial.seeds) if not agent_class(trial.agent).trains_groups else min(parts, len(trial.seeds))
    if not isinstance(trial.seed, list) or count == 1:
        return [trial]
    bounds = [round(i * len(trial.seeds) / count) for i in range(count + 1)]
    return [
        dataclasses.replace(select_members(trial, range(start, stop)), progress=trial.progress and start == 0)
        for start, stop in itertools.pairwise(bounds)
    ]


def train_parts(
    parts: Sequence[Trial], workers: int, options: Mapping[str, Any], first: Built | None = None
) -> list[dict[str, Any]]:
    """Train the parts, in this process one after another (given ``first``, the first one's agent built
    already) or ``workers`` at a time side by side; after a stop, parts not started are left out. A part
    that fails raises here."""
    if first is not None:
        trained = [train(parts[0], first)]
        for part in parts[1:]:
            if stop_requested():
                break
            trained.append(train(part))
        return trained
    outcomes = run_trials(train, parts, workers=workers, **options)
    failed = [o["error"]["message"] for o in outcomes if "error" in o]
    if failed:
        raise RuntimeError(f"a part of the group failed: {failed[0]}")
    return [o["result"] for o in outcomes if o["ok"]]


def train(trial: Trial, built: Built | None = None) -> dict[str, Any]:
    """Build (unless ``built``), train with periodic evaluation and save one part of a run (a single
    trial, or members of a group) into its claimed ``run_dir``; return each member's record and the
    part's timing."""
    began, cpu_began = time.perf_counter(), time.process_time()
    agent, settings = built if built is not None else build(trial)
    settings["run_dir"] = trial.run_dir
    group = isinstance(trial.seed, list)
    members = range(len(trial.seeds))
    member_dirs: list[Path] = []
    if trial.run_dir is not None:
        run_dir = Path(trial.run_dir)
        member_dirs = [run_dir / name for name in trial.member_names()] if group else [run_dir]
    configs = [member_settings(agent, trial, settings, m) if group else settings for m in members]
    setup_seconds = time.perf_counter() - began
    budget, eval_freq = settings["total_timesteps"], settings["eval_freq"]
    writers: list[Any] = []
    starts: list[Path | None] = [None for _ in members]
    stop = StopCallback()
    try:
        for m, (config, member_dir) in enumerate(zip(configs, member_dirs, strict=False)):
            from torch.utils.tensorboard import SummaryWriter

            member_dir.mkdir(exist_ok=True)
            write_json(member_dir / "config.json", {**config, "run_dir": str(member_dir)})
            writers.append(SummaryWriter(str(member_dir)))
            writers[-1].add_text("hyperparameters", hparams_table(config["resolved_hparams"]))
            if trial.save_start:
                starts[m] = agent.save(member_dir / START_NAME, member=m)
        evaluator = EvalCallback(
            trial.env_id, eval_freq, trial.eval_episodes, trial.env_kwargs, writers, trial.eval_at_start
        )
        callbacks: list[Callback] = [evaluator, stop]
        if writers:
            callbacks.append(TensorBoardCallback(writers))
        if trial.progress:
            callbacks.append(ProgressCallback())
        agent.learn(budget, CallbackList(callbacks), log_interval=max(eval_freq // REPORTS_PER_EVALUATION, 1))
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
        checkpoint = agent.save(member_dirs[m] / CHECKPOINT_NAME, member=m) if member_dirs else None
        record = member_record(agent, trial, evaluator.histories[m], rule, stop.stopped, checkpoint, m)
        if starts[m] is not None:
            record["start_checkpoint"] = str(starts[m])
        record["timing"] = timing
        if member_dirs:
            write_json(member_dirs[m] / "summary.json", record)
        record["settings"] = configs[m]
        records.append(record)
    return {"members": records, "timing": timing}


def write_group(result: Mapping[str, Any], run_dir: Path, rule: Criterion) -> None:
    """Write a group's ``group.json`` and ``curves.png`` (every member's curve, the IQM and its band)."""
    from rlzero.plots import plot_curves  # matplotlib: only where a plot is drawn

    write_json(run_dir / "group.json", dict(result))
    records = result["members"]
    if not records:
        return
    curves = {result["agent"]: [r["evaluations"] for r in records]}
    title = f"{result['agent']} on {result['env_id']}, {len(records)} members"
    plot_curves(curves, run_dir / "curves.png", rule, title=title)


def select_members(trial: Trial, indices: Iterable[int]) -> Trial:
    """The group trial of the given members of ``trial`` only."""
    chosen = list(indices)
    overrides = trial.member_overrides()
    return dataclasses.replace(
        trial,
        seed=[trial.seeds[i] for i in chosen],
        members=[overrides[i] for i in chosen] if trial.members is not None else None,
    )


def member_records(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The per-seed records in what :func:`run` returned: a group's members, or the single run itself."""
    return list(result.get("members", [result]))


def seed_results(trial: Trial, record: Mapping[str, Any]) -> list[dict[str, Any] | None]:
    """One entry per seed of ``trial`` in its trial runner's ``record``: the seed's record, or None for a
    seed without one (its trial failed, or a stop came before it started)."""
    result = record.get("result")
    found = {}
    for r in member_records(result) if result is not None else []:
        group = r["settings"].get("group") or {"member_overrides": {}}
        found[member_name(group["member_overrides"], r["seed"])] = r
    return [found.get(name) for name in trial.member_names()]


def group_summary(
    records: list[dict[str, Any]], trial: Trial, rule: Criterion, timing: Mapping[str, Any]
) -> dict[str, Any]:
    """A group's record: the rliable figures (:func:`rlzero.report.cell_summary`: IQM of the final
    score with its bootstrap interval, solved and stayed-solved counts...) of each distinct set of
    member overrides (one cell for a group of seeds alone), a row per member, and every member's record
    (of the members that started, after a stop)."""
    cells: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        overrides = record["settings"]["group"]["member_overrides"]
        name = "__".join(f"{k}={v}" for k, v in overrides.items()) or "seeds"
        cells.setdefault(name, []).append(record)
    return {
        "agent": trial.agent,
        "env_id": trial.env_id,
        "seeds": [r["seed"] for r in records],
        "solved_metric": rule.metric,
        "solved_threshold": rule.threshold,
        "interrupted": len(records) < len(trial.seeds) or any(r["interrupted"] for r in records),
        "cells": {name: cell_summary(cell) for name, cell in cells.items()},
        "table": [
            {
                "seed": r["seed"],
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
