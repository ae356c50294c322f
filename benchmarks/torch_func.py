"""What writing an algorithm for one agent and mapping it over a group with ``torch.func`` would cost.

Our agents train a group of members in one process with group layers (``GroupLinear``: one ``baddbmm``
for every member's layer) and a loss summed over members. ``torch.func`` offers the other way: write the
loss for one agent with an ordinary ``nn.Module``, stack the members' weights
(``torch.func.stack_module_state``) and map the loss's gradient over them
(``vmap(grad(loss))``). This script times one DQN gradient step (Q-network forward on a replayed batch,
the double-DQN target, the Huber loss, backward, and Adam on the stacked weights) both ways, side by side in
one run, for groups of 1 to 64 members, and first checks that both give the same gradients. The script
measures and writes; it never asserts.

    python benchmarks/torch_func.py
    python benchmarks/torch_func.py --quick    # the pipeline only

It writes ``benchmarks/results/torch_func.json`` (figures, settings, machine, load average) and prints a
markdown table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, stack_module_state, vmap

from rlzero.agents.networks import build_network
from rlzero.agents.optim import GroupAdam
from rlzero.report import markdown_table
from rlzero.system import describe_machine, machine_info

OBS, ACTIONS, HIDDEN, BATCH, GAMMA = 10, 10, (128, 128), 512, 0.9
"""ZeroOut-v0's sizes and DQN's ZeroOut network and batch."""


def single_network(seed: int) -> nn.Module:
    """One member's Q-network as an ordinary module (the group network's member ``seed``)."""
    torch.manual_seed(seed)
    sizes = (OBS, *HIDDEN)
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(sizes[-1], ACTIONS))


def td_loss(q: torch.Tensor, next_q: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The Huber loss of Q(s, a) against the one-step target, over the last (batch) dimension."""
    target = batch["rewards"] + GAMMA * (1 - batch["terminated"]) * next_q
    chosen = q.gather(-1, batch["actions"].unsqueeze(-1)).squeeze(-1)
    return F.smooth_l1_loss(chosen, target, reduction="none").mean(dim=-1)


def make_batch(members: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    return {
        "obs": torch.rand(members, BATCH, OBS, generator=generator),
        "next_obs": torch.rand(members, BATCH, OBS, generator=generator),
        "actions": torch.randint(ACTIONS, (members, BATCH), generator=generator),
        "rewards": torch.rand(members, BATCH, generator=generator),
        "terminated": (torch.rand(members, BATCH, generator=generator) < 0.1).float(),
    }


class GroupLayers:
    """The way our agents do it: group layers, the members' losses summed."""

    def __init__(self, members: int) -> None:
        space = gym.spaces.Box(0.0, 1.0, (OBS,), np.float32)
        self.net = build_network("mlp", space, ACTIONS, HIDDEN, seeds=list(range(members)))
        self.optimizer = GroupAdam(self.net.parameters(), lr=torch.full((members,), 1e-3))

    def gradients(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        with torch.no_grad():
            next_q = self.net(batch["next_obs"]).max(dim=-1).values
        loss = td_loss(self.net(batch["obs"]), next_q, batch)
        self.optimizer.zero_grad()
        loss.sum().backward()
        return [p.grad for p in self.net.parameters() if p.grad is not None]

    def step(self, batch: dict[str, torch.Tensor]) -> None:
        self.gradients(batch)
        self.optimizer.step()


class FuncMapped:
    """The torch.func way: the loss of one agent, its gradient mapped over the stacked weights."""

    def __init__(self, members: int) -> None:
        singles = [single_network(seed) for seed in range(members)]
        self.params, _ = stack_module_state(singles)
        self.template = singles[0].to("meta")
        self.tensors = list(self.params.values())
        self.optimizer = GroupAdam(self.tensors, lr=torch.full((members,), 1e-3))

        def loss(params: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
            q = functional_call(self.template, params, (batch["obs"],))
            next_q = functional_call(self.template, params, (batch["next_obs"],)).max(dim=-1).values
            return td_loss(q, next_q.detach(), batch)

        self.grad = vmap(grad(loss))

    def gradients(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        grads = self.grad(self.params, batch)
        return [grads[name] for name in self.params]

    def step(self, batch: dict[str, torch.Tensor]) -> None:
        for tensor, g in zip(self.tensors, self.gradients(batch), strict=True):
            tensor.grad = g
        self.optimizer.step()


def same_gradients(members: int) -> float:
    """The largest difference between the two ways' gradients on one batch (their layouts differ only
    in the group layers' bias shape)."""
    batch = make_batch(members, torch.Generator().manual_seed(0))
    ours = GroupLayers(members).gradients(batch)
    theirs = FuncMapped(members).gradients(batch)
    return max(float((a - b.view_as(a)).detach().abs().max()) for a, b in zip(ours, theirs, strict=True))


def time_steps(step: Callable[[dict[str, torch.Tensor]], None], members: int, seconds: float) -> float:
    """Median seconds per gradient step over rounds of ``seconds`` / 5 each, after a warm-up."""
    batch = make_batch(members, torch.Generator().manual_seed(1))
    for _ in range(3):
        step(batch)
    rounds = []
    for _ in range(5):
        count, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds / 5:
            step(batch)
            count += 1
        rounds.append((time.perf_counter() - began) / count)
    return statistics.median(rounds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/torch_func.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", nargs="+", type=int, default=[1, 8, 32, 64])
    parser.add_argument("--seconds", type=float, default=6.0, help="timing per configuration and way")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as a trial runs)")
    parser.add_argument("--quick", action="store_true", help="a few seconds: the pipeline only")
    parser.add_argument("--out", default="benchmarks/results/torch_func.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    members_list, seconds = ([1, 4], 0.5) if args.quick else (args.members, args.seconds)
    rows, figures = [], []
    for members in members_list:
        difference = same_gradients(members)
        group = GroupLayers(members)
        mapped = FuncMapped(members)
        group_s = time_steps(group.step, members, seconds)
        mapped_s = time_steps(mapped.step, members, seconds)
        figures.append(
            {
                "members": members,
                "group_layers_ms": group_s * 1e3,
                "torch_func_ms": mapped_s * 1e3,
                "ratio": mapped_s / group_s,
                "max_gradient_difference": difference,
            }
        )
        rows.append(
            [
                members,
                f"{group_s * 1e3:.2f}",
                f"{mapped_s * 1e3:.2f}",
                f"{mapped_s / group_s:.2f}x",
                f"{difference:.1e}",
            ]
        )
        print(
            f"members {members}: group layers {group_s * 1e3:.2f} ms, torch.func {mapped_s * 1e3:.2f} ms",
            flush=True,
        )
    header = [
        "members",
        "group layers (ms/step)",
        "torch.func vmap (ms/step)",
        "torch.func / group",
        "max gradient difference",
    ]
    table = markdown_table(header, rows, align="r" * 5)
    machine = machine_info()
    result = {
        "command": " ".join(
            ["python benchmarks/torch_func.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "machine": machine,
        "machine_line": describe_machine(machine),
        "load_avg_end": os.getloadavg()[0],
        "threads": args.threads,
        "sizes": {"obs": OBS, "actions": ACTIONS, "hidden": HIDDEN, "batch": BATCH},
        "figures": figures,
        "table_markdown": table,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
