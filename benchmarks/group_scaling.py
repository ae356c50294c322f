"""How far can a group of seeds gain on one core? Training throughput as the group grows.

For each agent and env, one group of each size (``--members``, seeds 0..m-1, the preset's hyperparameters
with ``--set`` on top) trains on ``--threads`` torch threads in this process: a warm-up learn of
``--warmup`` env steps per member (past the preset's learning starts, so every timed iteration has its
gradient steps), then a timed learn that continues it for ``--steps`` more, without evaluation; each
size is measured ``--repeats`` times, the sizes interleaved round by round. It reports the median
member-env-steps per second, their range, and the median's ratio to the group of one (a single run).
A group shares its per-step Python, launches and env calls among its members, so its cost per member
falls as it grows, towards the arithmetic each member needs, which it pays in full: the plateau is the
most a group can gain over separate single runs on the same cores. ``--device cuda`` trains the
groups on the GPU instead (the clock waits for its queued kernels). It writes ``group_scaling.json``
and ``group_scaling.md`` to ``--out``; it measures and never asserts.

    python benchmarks/group_scaling.py --agents dqn reinforce --envs CartPole-v1
    python benchmarks/group_scaling.py --agents dqn --envs CartPole-v1 --set num_envs=8 batch_size=64
    python benchmarks/group_scaling.py --device cuda --members 1 16 64 256 1024 --repeats 1
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from rlzero.agents.device import DEVICE_CHOICES, resolve_device, synchronize
from rlzero.agents.presets import make_agent
from rlzero.agents.registry import FROM_SCRATCH, agent_class
from rlzero.cli import ArgumentParser, UsageError, add_hparams_arg, check_env_id, fail, parse_hparams
from rlzero.report import command_line, markdown_table, write_results
from rlzero.system import describe_machine


def throughput(
    agent: str, env_id: str, hparams: dict[str, Any], members: int, warmup: int, steps: int, device: str
) -> float:
    """Member-env-steps per second of a timed learn that continues a warm-up one."""
    model = make_agent(agent, env_id, hparams, seed=list(range(members)), device=device)
    model.learn(warmup)
    synchronize(model.device)
    start, began = model.num_timesteps, time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    synchronize(model.device)
    return members * (model.num_timesteps - start) / (time.perf_counter() - began)


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="benchmarks/group_scaling.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", nargs="+", default=list(FROM_SCRATCH), choices=FROM_SCRATCH)
    parser.add_argument("--envs", nargs="+", default=["CartPole-v1"], help="env ids (default: %(default)s)")
    parser.add_argument("--members", nargs="+", type=int, default=[1, 2, 4, 8, 16, 32, 64])
    add_hparams_arg(parser, "hyperparameters on top of the preset")
    parser.add_argument("--warmup", type=int, default=10_000, help="untimed env steps per member first")
    parser.add_argument("--steps", type=int, default=10_000, help="timed env steps per member")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over the sizes (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--device", default="cpu", choices=DEVICE_CHOICES, help="where the groups train")
    parser.add_argument("--out", default="benchmarks/results/group_scaling", help="results folder")
    args = parser.parse_args(argv)
    try:
        for env_id in args.envs:
            check_env_id(env_id)
        device = str(resolve_device(args.device))
        if min(args.members) < 1 or min(args.steps, args.repeats) < 1 or args.warmup < 0:
            raise UsageError("--members, --steps and --repeats must be positive, --warmup non-negative")
        hparams = {
            agent: parse_hparams(args.hparams, agent_class(agent).hparam_types()) for agent in args.agents
        }
    except (UsageError, ValueError) as exc:
        fail(parser, str(exc))
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {describe_machine()}; {args.threads} torch thread(s), {device}", flush=True)
    cells = []
    for env_id in args.envs:
        for agent in args.agents:
            load = os.getloadavg()[0]
            rates: dict[int, list[float]] = {members: [] for members in args.members}
            for _ in range(args.repeats):
                for members in args.members:
                    rate = throughput(agent, env_id, hparams[agent], members, args.warmup, args.steps, device)
                    rates[members].append(rate)
                    print(f"{env_id} {agent} {members} members: {rate:,.0f} member-env-steps/s", flush=True)
            single = statistics.median(rates[1]) if 1 in rates else None
            for members, measured in rates.items():
                median = statistics.median(measured)
                cells.append(
                    {
                        "agent": agent,
                        "env_id": env_id,
                        "hparams": hparams[agent],
                        "members": members,
                        "threads": args.threads,
                        "device": device,
                        "load_average_before": load,
                        "rates": [round(r) for r in measured],
                        "median": round(median),
                        "vs_single": None if single is None else round(median / single, 2),
                    }
                )
    rows = [
        [
            c["agent"],
            c["env_id"],
            c["members"],
            f"{c['median']:,} ({min(c['rates']):,}-{max(c['rates']):,})",
            f"{1e6 / c['median']:.1f}",
            "—" if c["vs_single"] is None else f"{c['vs_single']:.2f}x",
        ]
        for c in cells
    ]
    header = [
        "agent",
        "env",
        "members",
        "member-env-steps/s: median (range)",
        "µs per member-env-step",
        "x group of one",
    ]
    table = markdown_table(header, rows)
    write_results(out, "group_scaling", table, cells, command_line("benchmarks/group_scaling.py", argv))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
