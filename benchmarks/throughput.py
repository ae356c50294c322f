"""Env steps per second of the ZeroOut env: one env, gymnasium's SyncVectorEnv, and the batched torch env.

Measured side by side in one run, on the same machine, with random actions (drawn before the clock starts):

* ``single``: one ``gym.make(env_id)`` env in a Python loop, reset when an episode ends;
* ``sync-8``: ``gym.make_vec(env_id, num_envs=8, vectorization_mode="sync")``, gymnasium's
  ``SyncVectorEnv`` with its default autoreset (``NEXT_STEP``; every sub-env of every call counts as a
  step, the reset steps included, which flatters it slightly);
* ``batched``: ``ZeroOutVectorEnv`` as our agents run it (``rlzero.agents.vec_env.make_vec_env``:
  ``SAME_STEP`` autoreset, actions trusted, so no range check) at N = 1, 64, 4,096 and 65,536 boards, on
  the CPU and, when ``torch.cuda.is_available()``, on CUDA (labelled ``cuda``; timed between
  ``torch.cuda.synchronize()`` calls), and once at 65,536 boards as ``gym.make_vec(env_id, num_envs=N,
  vectorization_mode="vector_entry_point")`` builds it by default (Gymnasium's ``NEXT_STEP`` autoreset,
  actions checked). Actions are pregenerated on the device and every step's outputs (observations,
  rewards, flags, the info tensors) are produced as in training.

A step of N boards counts as N env steps. The configurations are measured in ``--rounds`` interleaved
rounds of ``--seconds / --rounds`` each, after a warm-up, and the median round is reported, so a
background load that comes and goes hits every configuration alike. Each figure is also given as a
ratio to ``sync-8``. The script measures and writes; it never asserts.

torch runs on all CPU cores by default (``--threads``). On a machine shared with other busy processes,
the batched CPU figures can collapse (measured here: 7x to 45x slower on 2 cores at a load average of
3 to 6): PyTorch's OpenMP worker threads spin while they wait for each other and for the cores.
``OMP_WAIT_POLICY=PASSIVE`` in the environment, or ``--threads 1``, avoids that. At 65,536 boards much
of the remaining time is the kernel zero-filling fresh pages for the returned tensors (glibc gives the
freed ones back to the system); ``MALLOC_TOP_PAD_=67108864`` or jemalloc/tcmalloc keep them. The JSON
records these environment variables and the load average, so figures can be read in context.

Run (about 75 s on a 2-core machine without a GPU; ``--quick`` takes a few seconds)::

    .venv/bin/python benchmarks/throughput.py
    .venv/bin/python benchmarks/throughput.py --quick --out /tmp/throughput.json

It prints a markdown table and writes the figures, the settings and the machine (platform, CPU, Python,
torch, gymnasium and numpy versions, date) as JSON to ``--out``
(default ``benchmarks/results/throughput.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import rlzero
from rlzero import system
from rlzero.agents.vec_env import make_vec_env

gym.register_envs(rlzero)

BATCH_SIZES = (1, 64, 4096, 65536)
SYNC_ENVS = 8
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "throughput.json"
RUNTIME_ENV = ("OMP_", "GOMP_", "KMP_", "MKL_", "MALLOC_")


class Measurement:
    """One configuration: ``run(k)`` performs ``k`` calls and returns the env steps they made."""

    def __init__(
        self,
        name: str,
        label: str,
        device: str,
        num_envs: int,
        run: Callable[[int], int],
        sync: Callable[[], None] = lambda: None,
    ) -> None:
        self.name, self.label, self.device, self.num_envs = name, label, device, num_envs
        self.run, self.sync = run, sync
        self.rates: list[float] = []
        self.calls_per_chunk = 1

    def measure(self, seconds: float) -> float:
        """Steps/s over about ``seconds``, timed in chunks of calls sized to ~0.05 s each."""
        steps, elapsed = 0, 0.0
        while elapsed < seconds:
            self.sync()
            t0 = time.perf_counter()
            steps += self.run(self.calls_per_chunk)
            self.sync()
            dt = time.perf_counter() - t0
            elapsed += dt
            if dt < 0.05:
                self.calls_per_chunk *= 2
        return steps / elapsed

    @property
    def steps_per_s(self) -> float:
        return statistics.median(self.rates)


def single_env(env_id: str, seed: int) -> Measurement:
    env = gym.make(env_id)
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(0, env.action_space.n, 4096).tolist()
    state = {"i": 0}

    def run(k: int) -> int:
        i = state["i"]
        for _ in range(k):
            _, _, terminated, truncated, _ = env.step(actions[i])
            if terminated or truncated:
                env.reset()
            i = (i + 1) % len(actions)
        state["i"] = i
        return k

    return Measurement("single", "single env, gym.make loop", "cpu", 1, run)


def sync_vector_env(env_id: str, seed: int) -> Measurement:
    envs = gym.make_vec(env_id, num_envs=SYNC_ENVS, vectorization_mode="sync")
    envs.reset(seed=seed)
    n_actions = envs.single_action_space.n
    actions = list(np.random.default_rng(seed).integers(0, n_actions, (512, SYNC_ENVS)))
    state = {"i": 0}

    def run(k: int) -> int:
        i = state["i"]
        for _ in range(k):
            envs.step(actions[i])
            i = (i + 1) % len(actions)
        state["i"] = i
        return k * SYNC_ENVS

    return Measurement(
        f"sync-{SYNC_ENVS}", f"gymnasium SyncVectorEnv, {SYNC_ENVS} envs", "cpu", SYNC_ENVS, run
    )


def batched_env(env_id: str, num_envs: int, device: str, seed: int, as_agents: bool = True) -> Measurement:
    """The batched env as our agents build it, or (``as_agents=False``) as Gymnasium's defaults build it."""
    if as_agents:
        envs = make_vec_env(env_id, num_envs, torch.device(device))
    else:
        envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", device=device)
    envs.reset(seed=seed)
    n_actions = envs.single_action_space.n
    # Enough distinct action rows to look random, at most 2**22 actions (32 MiB) in memory.
    rows = max(16, min(1024, 2**22 // num_envs))
    generator = torch.Generator(device=device).manual_seed(seed)
    actions = torch.randint(0, n_actions, (rows, num_envs), device=device, generator=generator)
    state = {"i": 0}

    def run(k: int) -> int:
        i = state["i"]
        for _ in range(k):
            envs.step(actions[i])
            i = (i + 1) % rows
        state["i"] = i
        return k * num_envs

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    boards = f"{num_envs:,} board" + ("s" if num_envs > 1 else "")
    mode = "" if as_agents else ", Gymnasium's defaults (NEXT_STEP, actions checked)"
    label = f"batched ZeroOutVectorEnv, {boards}{mode}" + (" (GPU)" if device == "cuda" else "")
    name = f"batched-{device}-{num_envs}" + ("" if as_agents else "-defaults")
    return Measurement(name, label, device, num_envs, run, sync)


def machine_info() -> dict[str, object]:
    """The machine and versions, plus the OpenMP and glibc malloc settings that change the batched figures
    (see the module docstring)."""
    runtime = {k: v for k, v in os.environ.items() if k.startswith(RUNTIME_ENV) or k == "LD_PRELOAD"}
    return {**system.machine_info(), **system.package_versions(), "runtime_env": runtime}


def markdown_table(results: list[Measurement], sync_rate: float) -> str:
    lines = [
        "| configuration | device | envs | env steps/s | x SyncVectorEnv |",
        "|---|---|---:|---:|---:|",
    ]
    for m in results:
        lines.append(
            f"| {m.label} | {m.device} | {m.num_envs:,} | {m.steps_per_s:,.0f} | "
            f"{m.steps_per_s / sync_rate:,.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="timed seconds per configuration, split over the rounds (default 10: about 75 s in all)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    parser.add_argument("--quick", action="store_true", help="a few seconds in all (0.2 s, 1 round each)")
    parser.add_argument("--env", default="ZeroOut-v0", help="env id (default ZeroOut-v0)")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="torch CPU threads (default: all cores)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"JSON results path (default {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds = 0.2, 1
    if args.seconds <= 0 or args.rounds < 1 or args.threads < 1:
        parser.error("--seconds must be > 0, --rounds and --threads >= 1")

    torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    info = machine_info()
    print(
        f"torch threads: {torch.get_num_threads()} of {os.cpu_count()} CPUs; devices: {', '.join(devices)}; "
        f"{args.rounds} round(s) of {args.seconds / args.rounds:.2f} s per configuration",
        flush=True,
    )
    print(
        f"{info['platform']}, {info['cpu']}, Python {info['python']}, torch {info['torch']}, "
        f"gymnasium {info['gymnasium']}, numpy {info['numpy']}; load average {info['load_avg_1m']}",
        flush=True,
    )

    configs = [single_env(args.env, args.seed), sync_vector_env(args.env, args.seed)]
    configs += [batched_env(args.env, n, d, args.seed) for d in devices for n in BATCH_SIZES]
    configs.append(batched_env(args.env, BATCH_SIZES[-1], "cpu", args.seed, as_agents=False))
    warmup = min(1.0, args.seconds / args.rounds / 4)
    for m in configs:
        m.measure(warmup)
    for r in range(args.rounds):
        for m in configs:
            m.rates.append(m.measure(args.seconds / args.rounds))
            print(f"  round {r + 1}/{args.rounds}  {m.name:22s} {m.rates[-1]:>16,.0f} steps/s", flush=True)

    if hasattr(os, "getloadavg"):
        info["load_avg_1m_end"] = os.getloadavg()[0]
    sync_rate = next(m for m in configs if m.name.startswith("sync-")).steps_per_s
    table = markdown_table(configs, sync_rate)
    print()
    print(table)

    report = {
        "benchmark": "throughput",
        "command": " ".join(
            [*(f"{k}={v}" for k, v in info["runtime_env"].items()), Path(sys.executable).name, *sys.argv]
        ),
        "env_id": args.env,
        "settings": {
            "seconds_per_config": args.seconds,
            "rounds": args.rounds,
            "warmup_s": warmup,
            "seed": args.seed,
            "quick": args.quick,
        },
        "machine": info,
        "results": [
            {
                "name": m.name,
                "label": m.label,
                "device": m.device,
                "num_envs": m.num_envs,
                "steps_per_s": m.steps_per_s,
                "ratio_to_sync": m.steps_per_s / sync_rate,
                "rounds_steps_per_s": m.rates,
            }
            for m in configs
        ],
        "table_markdown": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
