"""Many seeds in one process: a group's members are independent agents, saved as ordinary ones.

A member's weights and curve depend on its own seed and hyperparameters only: the same whatever the
other members are (their seeds, their learning rates) and the same as a run of that seed alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rlzero import train
from rlzero.agents import DQN, PPO, Reinforce, load_agent
from rlzero.agents.base import Agent
from rlzero.agents.networks import member_state_dict
from rlzero.episodes import evaluate
from rlzero.experiment import Trial, check, run, split

# DQN's gradient-norm threshold lies below its gradients' norms, so each member's clip scales every step.
SMALL: dict[str, dict[str, Any]] = {
    "dqn": {
        "num_envs": 32,
        "learning_starts": 512,
        "batch_size": 64,
        "buffer_size": 8_192,
        "max_grad_norm": 0.1,
    },
    "reinforce": {"num_envs": 32},
    "ppo": {"num_envs": 32, "rollout_steps": 16},
}
AGENTS = {"dqn": DQN, "reinforce": Reinforce, "ppo": PPO}


def run_group(agent: str, env_id: str, seeds: list[int], members: list[dict[str, Any]] | None = None) -> Any:
    trial = Trial(
        agent,
        env_id,
        seed=seeds,
        members=members,
        total_timesteps=4_096,
        hparams=SMALL[agent],
        device="cpu",
        eval_freq=2_048,
        eval_episodes=10,
    )
    return run(trial)


def weights(agent: Agent, member: int) -> dict[str, dict[str, torch.Tensor]]:
    return {name: member_state_dict(net, member) for name, net in agent.networks.items()}


def assert_same_weights(a: dict[str, dict[str, torch.Tensor]], b: dict[str, dict[str, torch.Tensor]]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].keys() == b[name].keys()
        for key in a[name]:
            assert torch.equal(a[name][key], b[name][key]), (name, key)


@pytest.mark.parametrize("agent", list(AGENTS))
@pytest.mark.parametrize(
    ("env_id", "net_arch"), [("ZeroOut-v0", "mlp"), ("ZeroOut-v0", "slot"), ("CartPole-v1", "mlp")]
)
@pytest.mark.slow
def test_members_do_not_depend_on_the_rest_of_their_group(agent: str, env_id: str, net_arch: str) -> None:
    cls = AGENTS[agent]
    kwargs = {"device": "cpu", "net_arch": net_arch, **SMALL[agent]}
    groups = {
        "0,1,2": cls(env_id, seed=[0, 1, 2], **kwargs),
        "0,1,7": cls(env_id, seed=[0, 1, 7], **kwargs),
        "0,1,2 with another lr": cls(
            env_id, seed=[0, 1, 2], members=[{}, {}, {"learning_rate": 0.1}], **kwargs
        ),
    }
    alone = {seed: cls(env_id, seed=seed, **kwargs) for seed in (0, 1)}
    for group in [*groups.values(), *alone.values()]:
        group.learn(3_072)
    reference = groups["0,1,2"]
    for member in (0, 1):
        for group in groups.values():
            assert_same_weights(weights(group, member), weights(reference, member))
        assert_same_weights(weights(alone[member], 0), weights(reference, member))
    # Members do differ: seed 2 from seed 7, and seed 0 from seed 1.
    net = "q_net" if agent == "dqn" else "policy"
    assert not torch.equal(
        weights(groups["0,1,7"], 2)[net]["head.bias"], weights(reference, 2)[net]["head.bias"]
    )
    assert not torch.equal(weights(reference, 0)[net]["head.bias"], weights(reference, 1)[net]["head.bias"])


@pytest.mark.slow
def test_reinforce_members_whose_batches_differ_in_length_equal_their_runs_alone() -> None:
    """Batches of whole episodes: a group plays until its longest episode ends, so each member's update
    runs over more chunks than alone (2 steps of 512 envs a chunk here), all past its own episodes."""
    config = {"device": "cpu", "num_envs": 512, "hidden_sizes": (16,), "normalize_advantage": True}
    group = Reinforce("CartPole-v1", seed=[0, 1, 7], **config).learn(30_000)
    for member, seed in enumerate((0, 1, 7)):
        alone = Reinforce("CartPole-v1", seed=seed, **config).learn(30_000)
        assert alone.num_timesteps == group.member_timesteps[member]
        assert_same_weights(weights(alone, 0), weights(group, member))


@pytest.mark.parametrize("agent", list(AGENTS))
@pytest.mark.slow
def test_member_curves_match_across_groups_and_checkpoints_load_as_single_agents(
    agent: str, tmp_path: Path
) -> None:
    first = run_group(agent, "ZeroOut-v0", [0, 1, 2])
    other = run_group(agent, "ZeroOut-v0", [0, 1, 7], members=[{}, {}, {"learning_rate": 0.05}])
    scores = ("env_steps", "mean_return", "mean_normalized_return", "success_rate", "mean_length")
    for member in (0, 1):
        a, b = first["members"][member]["evaluations"], other["members"][member]["evaluations"]
        assert [[row[k] for k in scores] for row in a] == [[row[k] for k in scores] for row in b]
    assert first["cells"]["seeds"]["seeds"] == 3

    trial = Trial(
        agent,
        seed=[3, 4],
        members=[{"learning_rate": 0.01}, {"learning_rate": 0.02}],
        total_timesteps=2_048,
        hparams=SMALL[agent],
        device="cpu",
        eval_episodes=10,
        run_dir=str(tmp_path / "group"),
    )
    record = run(trial)
    assert set(record["cells"]) == {"learning_rate=0.01", "learning_rate=0.02"}
    for member, (seed, lr) in enumerate([(3, 0.01), (4, 0.02)]):
        member_dir = tmp_path / "group" / f"learning_rate={lr}__seed{seed}"
        loaded = load_agent(member_dir / "model.pt", device="cpu")
        assert type(loaded) is AGENTS[agent] and loaded.n_members == 1
        assert (loaded.seed, loaded.config.learning_rate) == (seed, lr)
        config = json.loads((member_dir / "config.json").read_text())
        assert config["seed"] == seed and config["resolved_hparams"]["learning_rate"] == lr
        summary = json.loads((member_dir / "summary.json").read_text())
        final = evaluate(loaded, "ZeroOut-v0", n_episodes=10)
        assert final.mean_return == summary["mean_return"] == record["members"][member]["mean_return"]
        assert list(member_dir.glob("events.out.tfevents.*"))
    assert (tmp_path / "group" / "curves.png").stat().st_size > 0
    assert json.loads((tmp_path / "group" / "group.json").read_text())["seeds"] == [3, 4]


@pytest.mark.parametrize("agent", list(AGENTS))
@pytest.mark.parametrize("net_arch", ["mlp", "slot"])
def test_each_seed_and_network_starts_from_weights_of_its_own(agent: str, net_arch: str) -> None:
    """Seeds that agree in their low 32 bits, or in none, and an agent's networks all differ at init."""
    group = AGENTS[agent]("ZeroOut-v0", seed=[0, 1, 2**32], device="cpu", net_arch=net_arch)
    firsts = {name: next(net.parameters()).detach() for name, net in group.networks.items()}
    for weights in firsts.values():
        members = [member.flatten() for member in weights]
        assert all(not torch.equal(a, b) for i, a in enumerate(members) for b in members[i + 1 :])
    if agent != "dqn":
        assert not torch.equal(firsts["policy"], firsts["value"])


def test_members_may_differ_in_float_hyperparameters_only() -> None:
    with pytest.raises(ValueError, match=r"float hyperparameters only; num_envs takes \['16', '32'\]"):
        DQN("ZeroOut-v0", seed=[0, 1], members=[{"num_envs": 16}, {"num_envs": 32}], device="cpu")
    with pytest.raises(ValueError, match="members gives 1 overrides for 2 seeds"):
        DQN("ZeroOut-v0", seed=[0, 1], members=[{}], device="cpu")


def test_a_group_predicts_a_batch_per_member() -> None:
    group = DQN("ZeroOut-v0", seed=[0, 1], device="cpu", num_envs=8)
    obs = np.random.default_rng(0).integers(0, 10, size=(2, 5, 10))
    actions, _ = group.predict(obs)
    assert actions.shape == (2, 5)
    single = DQN("ZeroOut-v0", seed=1, device="cpu", num_envs=8)
    assert np.array_equal(actions[1], single.predict(obs[1])[0])
    with pytest.raises(ValueError, match=r"\(members, batch, \*obs_shape\), got shape \(5, 10\)"):
        group.predict(obs[0])


@pytest.mark.slow
def test_cli_seeds_and_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "--agent",
        "reinforce",
        "--seeds",
        "0-1",
        "5",
        "--sweep",
        "learning_rate=0.01,0.03",
        "--total-timesteps",
        "2048",
        "--eval-episodes",
        "5",
        "--no-progress",
        "--logdir",
        str(tmp_path),
    ]
    assert train.main(argv) == 0
    (group_dir,) = tmp_path.iterdir()
    assert "seeds0-5" in group_dir.name
    group = json.loads((group_dir / "group.json").read_text())
    assert [(row["seed"], row["overrides"]["learning_rate"]) for row in group["table"]] == [
        (s, lr) for lr in (0.01, 0.03) for s in (0, 1, 5)
    ]
    assert {name: cell["seeds"] for name, cell in group["cells"].items()} == {
        "learning_rate=0.01": 3,
        "learning_rate=0.03": 3,
    }
    out = capsys.readouterr().out
    assert "learning_rate=0.03: solved" in out and "95% bootstrap CI" in out


def test_a_run_splits_a_group_into_parts_of_consecutive_members_and_refuses_twins() -> None:
    trial = Trial("dqn", seed=list(range(5)), members=[{"gamma": 0.9 + i / 100} for i in range(5)])
    parts = split(trial, 3)
    assert [p.seeds for p in parts] == [[0, 1], [2], [3, 4]]
    assert [m for p in parts for m in p.member_overrides()] == trial.member_overrides()
    assert [p.seeds for p in split(trial, 9)] == [[s] for s in range(5)]
    assert split(trial, 1) == [trial]
    # An agent that trains one seed per agent (SB3's) trains one part per seed, whatever the workers.
    assert [p.seeds for p in split(Trial("sb3-ppo", seed=[3, 4]), 1)] == [[3], [4]]
    with pytest.raises(ValueError, match="members must differ"):
        check(Trial("dqn", seed=[1, 1]))


@pytest.mark.slow
def test_cli_workers_split_the_group_and_change_no_member(tmp_path: Path) -> None:
    def group_dir(workers: int) -> Path:
        argv = ["--agent", "dqn", "--seeds", "0-2", "--sweep", "learning_rate=0.001,0.003"]
        argv += ["--set", *(f"{k}={v}" for k, v in SMALL["dqn"].items())]
        argv += ["--total-timesteps", "2048", "--eval-freq", "1024", "--eval-episodes", "5", "--no-progress"]
        logdir = tmp_path / f"workers{workers}"
        assert train.main([*argv, "--workers", str(workers), "--threads", "1", "--logdir", str(logdir)]) == 0
        (run_dir,) = logdir.iterdir()
        return run_dir

    one, split = group_dir(1), group_dir(2)
    groups = [json.loads((d / "group.json").read_text()) for d in (one, split)]
    assert groups[1]["timing"]["parts"] == 2
    assert [
        {k: v for k, v in row.items() if k not in ("run_dir", "seconds_to_solved")}
        for row in groups[0]["table"]
    ] == [
        {k: v for k, v in row.items() if k not in ("run_dir", "seconds_to_solved")}
        for row in groups[1]["table"]
    ]
    names = sorted(d.name for d in one.iterdir() if d.is_dir())
    assert names == sorted(d.name for d in split.iterdir() if d.is_dir()) and len(names) == 6
    assert (split / "curves.png").stat().st_size > 0
    for name in names:
        scores = [
            [row["mean_return"] for row in json.loads((d / name / "summary.json").read_text())["evaluations"]]
            for d in (one, split)
        ]
        assert scores[0] == scores[1]
        weights = [load_agent(d / name / "model.pt", device="cpu").q_net.state_dict() for d in (one, split)]
        assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--agent", "dqn", "--workers", "2"], "--workers splits a group: give --seeds or --sweep"),
        (["--agent", "dqn", "--sweep", "num_envs=8,16"], "--sweep num_envs: only float hyperparameters"),
        (["--agent", "dqn", "--sweep", "nope=1,2"], "--sweep: unknown hyperparameter 'nope'"),
        (["--agent", "dqn", "--seeds", "3-1"], "expected seeds >= 0 in increasing order"),
        (["--agent", "dqn", "--seed", "1", "--seeds", "0-3"], "not allowed with argument"),
    ],
)
def test_cli_group_misuse_exits_2_with_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        train.main([*argv, "--logdir", str(tmp_path)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_an_sb3_group_trains_one_seed_after_another_each_as_it_would_alone(tmp_path: Path) -> None:
    """The SB3 adapter answers a group as a group of one agent per seed: the caller does not ask."""
    common: dict[str, Any] = {
        "agent": "sb3-ppo",
        "total_timesteps": 128,
        "eval_freq": 64,
        "eval_episodes": 5,
        "hparams": {"n_steps": 64, "batch_size": 32, "n_epochs": 1},
        "device": "cpu",
    }
    group = run(Trial(seed=[0, 1], run_dir=str(tmp_path / "group"), **common))
    alone = run(Trial(seed=1, **common))
    assert group["timing"]["parts"] == 2 and [r["seed"] for r in group["table"]] == [0, 1]

    def scores(record: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [(e["env_steps"], e["mean_return"], e["mean_length"]) for e in record["evaluations"]]

    assert scores(group["members"][1]) == scores(alone)
    saved = load_agent(tmp_path / "group" / "seed1" / "model.zip", device="cpu")
    assert saved.num_timesteps == group["members"][1]["env_steps"] >= 128
    assert (tmp_path / "group" / "group.json").is_file()
