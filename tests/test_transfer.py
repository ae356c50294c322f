"""Pretrain -> fine-tune: rlzero.agents.transfer, the finetune CLI and ``train --init-from``.

Each strategy moves and freezes exactly the tensors it says (``requires_grad``, and frozen tensors
bit-identical after fine-tuning); a mismatched transfer fails naming the tensors and changes nothing;
the slot network moves between board sizes; a tiny seeded run of the finetune CLI writes a complete
report. Source weights are a fresh agent's moved by seeded noise (so they differ from any fresh
init) rather than pretrained ones: these checks are about which tensors move, not how good they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import torch

from rlzero import finetune, train
from rlzero.agents.base import Agent
from rlzero.agents.checkpoint import CheckpointError, load_checkpoint
from rlzero.agents.dqn import DQN
from rlzero.agents.networks import member_state_dict
from rlzero.agents.ppo import PPO
from rlzero.agents.presets import preset_for
from rlzero.agents.reinforce import Reinforce
from rlzero.agents.transfer import STRATEGIES, transfer
from rlzero.curves import Criterion, curve_summary
from rlzero.episodes import evaluate
from rlzero.experiment import Trial, build
from rlzero.finetune import FIGURES, verdict
from rlzero.stats import aggregate

SMALL: dict[type[Agent], dict[str, Any]] = {
    DQN: {
        "num_envs": 32,
        "hidden_sizes": (16, 16),
        "learning_starts": 256,
        "batch_size": 32,
        "buffer_size": 4_096,
    },
    Reinforce: {"num_envs": 32, "hidden_sizes": (16,)},
    PPO: {"num_envs": 32, "rollout_steps": 16, "hidden_sizes": (16,)},
}
FINETUNE_STEPS = 2_048
HEAD = ["head.weight", "head.bias"]

StateDicts = dict[str, dict[str, torch.Tensor]]


def make(agent_class: type[Agent], env_id: str = "ZeroOut-v0", seed: int = 0, **extra: Any) -> Agent:
    return agent_class(env_id, device="cpu", seed=seed, **{**SMALL[agent_class], **extra})


def snapshot(agent: Agent) -> StateDicts:
    """The weights of a one-member agent, as its checkpoint holds them."""
    return {
        name: {k: v.clone() for k, v in member_state_dict(net, 0).items()}
        for name, net in agent.networks.items()
    }


def perturb(agent: Agent) -> Agent:
    """Move every parameter by seeded noise (each network on its own: DQN's target differs from q_net)."""
    noise = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for net in agent.networks.values():
            for param in net.parameters():
                param.add_(0.5 * torch.randn(param.shape, generator=noise))
    return agent


def perturbed_source(agent_class: type[Agent], env_id: str = "ZeroOut-v0", **extra: Any) -> StateDicts:
    return snapshot(perturb(make(agent_class, env_id, seed=1, **extra)))


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], keys: Iterable[str]) -> None:
    keys = list(keys)
    assert keys
    for k in keys:
        assert a[k].shape == b[k].shape and torch.equal(a[k], b[k]), k


def assert_all_differ(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], keys: Iterable[str]) -> None:
    keys = list(keys)
    assert keys
    for k in keys:
        assert not torch.equal(a[k], b[k]), k


def is_head(name: str) -> bool:
    return name.startswith("head.")


def body(names: Iterable[str]) -> list[str]:
    return [k for k in names if not is_head(k)]


def param_names(net: torch.nn.Module) -> list[str]:
    return [n for n, _ in net.named_parameters()]


# ---------------------------------------------------------------- the three strategies
@pytest.fixture(scope="module", params=[DQN, Reinforce, PPO], ids=["dqn", "reinforce", "ppo"])
def source(request: pytest.FixtureRequest) -> tuple[type[Agent], StateDicts]:
    return request.param, perturbed_source(request.param)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategy_moves_and_freezes_exactly_its_tensors(
    source: tuple[type[Agent], StateDicts], strategy: str
) -> None:
    agent_class, src = source
    agent = make(agent_class, "ZeroOutInOrder-v0", seed=0)
    fresh = snapshot(agent)
    report = transfer(agent, src, strategy)
    loaded = snapshot(agent)
    dqn = isinstance(agent, DQN)
    names = list(agent.networks)
    assert set(report.loaded) == set(report.reinitialised) == set(report.frozen) == set(names)

    for name, net in agent.networks.items():
        # What the network should now hold; DQN's target net is synced to the transferred q_net.
        expected = src["q_net" if dqn else name]
        keys, params = list(loaded[name]), param_names(net)
        trainable = [n for n, p in net.named_parameters() if p.requires_grad]
        if strategy == "head":
            assert_same(loaded[name], expected, body(keys))
            assert_same(loaded[name], fresh[name], HEAD)  # the fresh agent's own init ...
            assert_all_differ(loaded[name], expected, HEAD)  # ... not the source's
            assert report.loaded[name] == body(keys)
            assert report.reinitialised[name] == HEAD
        else:
            assert_same(loaded[name], expected, keys)
            assert report.loaded[name] == keys
            assert report.reinitialised[name] == []
        if strategy == "freeze":
            assert trainable == HEAD
            assert report.frozen[name] == body(params) != []
        else:
            assert trainable == params
            assert report.frozen[name] == []
        assert report.trainable[name] == trainable
    if dqn:
        # after_transfer: the target starts from the transferred online net, not the source's target.
        assert_same(loaded["target_net"], loaded["q_net"], loaded["q_net"])
        assert_all_differ(src["target_net"], src["q_net"], param_names(agent.q_net))
    assert list(report.loaded) == names

    agent.learn(FINETUNE_STEPS)
    tuned = snapshot(agent)
    for name, net in agent.networks.items():
        if name == "target_net":
            continue  # it only copies q_net (every 100 updates; fewer happen here)
        params = param_names(net)
        assert_all_differ(tuned[name], loaded[name], HEAD)
        if strategy == "freeze":
            # every frozen tensor (buffers included) is bit-identical to the source's
            assert_same(tuned[name], src[name], body(tuned[name]))
        else:
            assert_all_differ(tuned[name], loaded[name], body(params))
        assert [n for n, p in net.named_parameters() if p.requires_grad] == report.trainable[name]


# ---------------------------------------------------------------- failures
@pytest.fixture(scope="module")
def ten_slot_mlp() -> StateDicts:
    return perturbed_source(DQN, "ZeroOut-v0")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_mismatched_transfer_names_the_tensors_and_loads_nothing(
    ten_slot_mlp: StateDicts, strategy: str
) -> None:
    agent = make(DQN, "ZeroOutLarge-v0")
    before = snapshot(agent)
    with pytest.raises(CheckpointError) as raised:
        transfer(agent, ten_slot_mlp, strategy)
    message = str(raised.value)
    assert "q_net" in message
    assert "features.0.weight (checkpoint (16, 100) vs dqn q_net (16, 200))" in message
    # the head is re-initialised under `head`, so only then is it not a mismatch
    assert ("head.weight" in message) == (strategy != "head")
    after = snapshot(agent)
    for name in before:
        assert_same(after[name], before[name], before[name])
    assert all(p.requires_grad for net in agent.networks.values() for p in net.parameters())


def test_a_mismatch_in_a_later_network_loads_nothing_either(ten_slot_mlp: StateDicts) -> None:
    """q_net fits and target_net does not: neither is loaded, and nothing gets frozen."""
    agent = make(DQN, "ZeroOutLarge-v0")
    before = snapshot(agent)
    fitting = perturbed_source(DQN, "ZeroOutLarge-v0")
    with pytest.raises(CheckpointError, match="target_net"):
        transfer(agent, {"q_net": fitting["q_net"], "target_net": ten_slot_mlp["target_net"]}, "freeze")
    after = snapshot(agent)
    for name in before:
        assert_same(after[name], before[name], before[name])
    assert all(p.requires_grad for net in agent.networks.values() for p in net.parameters())


def test_unknown_strategy_and_missing_network(ten_slot_mlp: StateDicts) -> None:
    agent = make(DQN)
    with pytest.raises(ValueError, match="unknown strategy 'partial'; valid: full, freeze, head"):
        transfer(agent, ten_slot_mlp, "partial")
    with pytest.raises(CheckpointError, match="target_net"):
        transfer(agent, {"q_net": ten_slot_mlp["q_net"]}, "full")


# ---------------------------------------------------------------- the size-agnostic network
@pytest.mark.parametrize("agent_class", [DQN, Reinforce, PPO], ids=["dqn", "reinforce", "ppo"])
def test_slot_network_moves_from_10_to_20_slots(agent_class: type[Agent]) -> None:
    src = perturbed_source(agent_class, "ZeroOut-v0", net_arch="slot")
    agent = make(agent_class, "ZeroOutLarge-v0", net_arch="slot")
    report = transfer(agent, src, "full")
    for name, net in agent.networks.items():
        sd = member_state_dict(net, 0)
        assert {k: v.shape for k, v in sd.items()} == {k: v.shape for k, v in src[name].items()}
        assert report.loaded[name] == list(sd)
    expected = src["q_net"] if isinstance(agent, DQN) else src["policy"]
    net = agent.q_net if isinstance(agent, DQN) else agent.policy
    assert_same(member_state_dict(net, 0), expected, expected)
    obs, _ = agent.env.reset(seed=0)
    assert net(obs[None]).shape == (1, agent.config.num_envs, 20)  # one output per slot
    actions, _ = agent.predict(obs.cpu().numpy())
    assert actions.shape == (agent.config.num_envs,) and actions.min() >= 0 and actions.max() < 20
    single, _ = agent.predict(obs[0].cpu().numpy())
    assert single.shape == () and 0 <= int(single) < 20


# ---------------------------------------------------------------- report figures
def row(steps: int, normalized: float | None, ret: float = 0.0, seconds: float = 0.0) -> dict[str, Any]:
    return {
        "env_steps": steps,
        "wall_time_s": seconds,
        "mean_normalized_return": normalized,
        "mean_return": ret,
    }


NORMALIZED = Criterion("mean_normalized_return", 0.99)


def test_curve_summary() -> None:
    curve = [row(0, 0.2), row(1000, 0.5, seconds=1.5), row(2000, 0.995, seconds=3.0), row(3000, 0.98)]
    assert curve_summary(curve, NORMALIZED) == {
        "jumpstart": 0.2,
        "final": 0.98,
        "auc": pytest.approx((0.2 + 0.5 + 0.995 + 0.98) / 4),
        "steps_to_solved": 2000,
        "seconds_to_solved": 3.0,
        "stayed_solved": False,
        "solved_final": False,
    }
    assert curve_summary([row(0, 0.99)], NORMALIZED)["steps_to_solved"] == 0  # the threshold counts
    stayed = curve_summary([row(0, 0.1), row(500, 0.99), row(1000, 1.0)], NORMALIZED)
    assert stayed["stayed_solved"] and stayed["solved_final"] and stayed["steps_to_solved"] == 500
    never = curve_summary([row(0, 0.1), row(500, 0.989)], NORMALIZED)
    assert never["steps_to_solved"] is None and never["final"] == 0.989 and not never["stayed_solved"]
    # envs without an optimum (no normalized return) are measured by return against their threshold
    by_return = curve_summary([row(0, None, 12.0), row(10, None, 480.0)], Criterion("mean_return", 475.0))
    assert by_return["auc"] == 246.0 and by_return["steps_to_solved"] == 10


def steps(*values: int | None) -> dict[str, Any]:
    return {"steps_to_solved": aggregate(list(values))}


@pytest.mark.slow
def test_verdict() -> None:
    assert verdict(steps(1000, 1000, 1000), steps(3000, 4000, 5000), 3) == (
        "fine-tuned median steps to solved 1000 vs scratch 4000 (ratio 0.25: at most half of scratch)"
    )
    assert "at most half" in verdict(steps(2000), steps(4000), 1)  # exactly half counts
    assert "more than half" in verdict(steps(3000), steps(4000), 1)
    assert verdict(steps(1000, None, None), steps(3000, 3000, 3000), 3) == (
        "fine-tuning reached solved on only 1/3 seeds"
    )
    assert verdict(steps(1000, 1000, None), steps(3000, None, None), 3) == (
        "fine-tuning solved on 2/3 seeds; scratch only on 1/3"
    )


# ---------------------------------------------------------------- the CLIs
FINETUNE_ARGV = [
    "--agent",
    "dqn",
    "--strategy",
    "freeze",
    "--pretrain-timesteps",
    "4000",
    "--total-timesteps",
    "3000",
    "--eval-freq",
    "1500",
    "--eval-episodes",
    "5",
    "--seeds",
    "0",
    "1",
    "--device",
    "cpu",
    "--workers",
    "1",
    "--set",
    "num_envs=64",
    "learning_starts=500",
    "batch_size=64",
    "hidden_sizes=32,32",
    "buffer_size=10000",
    "--no-progress",
]


@pytest.fixture(scope="module")
def finetune_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    logdir = tmp_path_factory.mktemp("finetune")
    assert finetune.main([*FINETUNE_ARGV, "--logdir", str(logdir)]) == 0
    (run_dir,) = logdir.iterdir()
    return run_dir, json.loads((run_dir / "transfer_report.json").read_text())


@pytest.mark.slow
def test_finetune_cli_writes_a_complete_report(finetune_run: tuple[Path, dict[str, Any]]) -> None:
    run_dir, report = finetune_run
    assert run_dir.name.startswith("ZeroOutInOrder-v0__finetune-dqn-freeze__ZeroOut-v0__")
    assert (report["agent"], report["source"], report["target"]) == ("dqn", "ZeroOut-v0", "ZeroOutInOrder-v0")
    assert report["strategy"] == "freeze" and report["total_timesteps"] == 3000
    # Both arms train at the same (preset) learning rate: only the starting weights differ.
    preset = preset_for("dqn", "ZeroOutInOrder-v0")[1].hparams  # both arms train at the target's rate
    assert report["learning_rate"] == pytest.approx(preset["learning_rate"])
    assert report["failed"] == []
    assert isinstance(report["verdict"], str) and report["verdict"]
    for arm in ("finetuned", "scratch"):
        figures = report["aggregate"][arm]
        assert set(figures) == set(FIGURES)
        for key, stats in figures.items():
            assert set(stats) == {"iqm", "ci95", "median", "min", "max", "n", "of"}
            if key != "steps_to_solved":
                assert stats["n"] == stats["of"] == 2 and stats["min"] <= stats["iqm"] <= stats["max"]

    assert [s["seed"] for s in report["seeds"]] == [0, 1]
    for seed in report["seeds"]:
        for arm in ("finetuned", "scratch"):
            curve = seed["curves"][arm]
            assert curve[0]["env_steps"] == 0  # the jumpstart: evaluated before any update
            assert curve[-1]["env_steps"] >= 3000
            assert seed[arm] == curve_summary(curve, NORMALIZED)
        moved = seed["transfer"]
        # The preset's body: Linear, LayerNorm, ReLU, Linear, LayerNorm, ReLU.
        q_params = [f"features.{i}.{p}" for i in (0, 1, 3, 4) for p in ("weight", "bias")]
        assert moved["frozen"] == {"q_net": q_params, "target_net": q_params}
        assert moved["trainable"] == {"q_net": HEAD, "target_net": HEAD}
        assert moved["reinitialised"] == {"q_net": [], "target_net": []}
        assert "head.weight" in moved["loaded"]["q_net"]

    # Every weight is loaded under `freeze`, so the jumpstart is the pretrained policy's on the
    # target, the same for both seeds.
    pretrained = DQN.load(report["pretrained"], device="cpu")
    assert Path(report["pretrained"]).is_relative_to(run_dir / "pretrain")
    jumpstart = evaluate(pretrained, "ZeroOutInOrder-v0", 5).mean_normalized_return
    assert [s["finetuned"]["jumpstart"] for s in report["seeds"]] == [jumpstart, jumpstart]

    assert len((run_dir / "trials.jsonl").read_text().splitlines()) == 2  # a group of both seeds per arm
    png = run_dir / "transfer_curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for moment in ("before", "after"):
        assert Path(report["videos"][moment]) == run_dir / f"{moment}.gif"
        assert (run_dir / f"{moment}.gif").read_bytes()[:6] == b"GIF89a"


@pytest.mark.slow
def test_finetune_cli_to_a_larger_board_writes_the_report_and_both_videos(tmp_path: Path) -> None:
    """The size-agnostic transfer: the before video is played by the target agent the fine-tuned arm
    starts from (the pretrained agent itself cannot act on the larger board)."""
    budgets = ["--pretrain-timesteps", "1024", "--total-timesteps", "1024", "--eval-episodes", "5"]
    argv = ["--agent", "reinforce", "--target", "ZeroOutLarge-v0", "--seeds", "0", "--workers", "1", *budgets]
    assert finetune.main([*argv, "--no-progress", "--logdir", str(tmp_path)]) == 0
    (run_dir,) = tmp_path.iterdir()
    report = json.loads((run_dir / "transfer_report.json").read_text())
    assert report["target"] == "ZeroOutLarge-v0"
    for moment in ("before", "after"):
        assert (run_dir / f"{moment}.gif").read_bytes()[:6] == b"GIF89a"


@pytest.mark.slow
def test_finetune_between_variants_named_by_their_constructor_arguments(tmp_path: Path) -> None:
    """A variant is an id plus kwargs: here a 6-slot board, pretrained with the plain rule and fine-tuned
    with the in-order one, and the report records both."""
    budgets = ["--pretrain-timesteps", "1024", "--total-timesteps", "1024", "--eval-episodes", "5"]
    variants = [
        "--source-kwargs",
        "size=6",
        "--target",
        "ZeroOut-v0",
        "--target-kwargs",
        "size=6",
        "rule=in_order",
    ]
    argv = ["--agent", "ppo", *variants, "--seeds", "0", "--workers", "1", *budgets]
    assert finetune.main([*argv, "--no-progress", "--logdir", str(tmp_path)]) == 0
    (run_dir,) = tmp_path.iterdir()
    report = json.loads((run_dir / "transfer_report.json").read_text())
    assert report["source_kwargs"] == {"size": 6}
    assert report["target_kwargs"] == {"size": 6, "rule": "in_order"}
    pretrain = json.loads((run_dir / "pretrain" / "config.json").read_text())
    finetuned = json.loads((run_dir / "finetune" / "seed0" / "config.json").read_text())
    assert pretrain["env_kwargs"] == {"size": 6} and finetuned["env_kwargs"] == {
        "size": 6,
        "rule": "in_order",
    }
    with pytest.raises(SystemExit) as exited:  # a bad variant is refused before any work
        finetune.main([*argv, "--source-kwargs", "size=0", "--logdir", str(tmp_path / "bad")])
    assert exited.value.code == 2 and not (tmp_path / "bad").exists()


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--lr", "-1"], "learning_rate"),
        (["--seeds", "-1"], "-1"),
        (["--set", "hidden_sizes=8,0"], "hidden_sizes"),
    ],
)
def test_finetune_cli_bad_flags_exit_2_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], named: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        finetune.main(["--agent", "dqn", *flags, "--logdir", str(tmp_path / "runs")])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err
    assert not (tmp_path / "runs").exists()


def test_finetune_cli_exits_1_when_every_seed_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    agent, _ = build(Trial(agent="dqn", env_id="ZeroOut-v0", seed=0, device="cpu"))
    pretrained = agent.save(tmp_path / "pretrained.pt")

    def crash(trial: Trial) -> dict[str, Any]:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(finetune, "run", crash)
    argv = ["--agent", "dqn", "--pretrained", str(pretrained), "--workers", "1", "--no-progress"]
    assert finetune.main([*argv, "--logdir", str(tmp_path / "runs")]) == 1
    assert "every seed failed; first error: out of memory" in capsys.readouterr().err


def test_finetune_cli_missing_pretrained_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere" / "missing.pt"
    argv = ["--agent", "dqn", "--pretrained", str(missing), "--logdir", str(tmp_path / "runs")]
    with pytest.raises(SystemExit) as exited:
        finetune.main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing.pt" in err
    assert not (tmp_path / "runs").exists()  # failed before any work


def test_train_init_from_starts_from_the_saved_weights_as_the_full_strategy_moves_them(
    tmp_path: Path,
) -> None:
    source = perturb(make(DQN, seed=1))
    checkpoint = source.save(tmp_path / "source.pt")
    argv = [
        "--agent",
        "dqn",
        "--init-from",
        str(checkpoint),
        "--total-timesteps",
        "64",  # two steps of 32 boards, no update before learning_starts: the weights stay put
        "--set",
        "num_envs=32",
        "hidden_sizes=16,16",
        "layer_norm=false",  # the source's architecture (the preset's has LayerNorm)
        "learning_starts=1000000",
        "buffer_size=1000",
        "--eval-episodes",
        "5",
        "--no-progress",
        "--logdir",
        str(tmp_path / "runs"),
    ]
    assert train.main(argv) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "config.json").read_text())["init_from"] == str(checkpoint)
    saved = load_checkpoint(run_dir / "model.pt")["state_dicts"]
    expected = snapshot(source)
    fresh = snapshot(make(DQN, seed=0))
    # As finetune --strategy full: every weight moves, and the target network starts from the online one.
    for name in expected:
        assert_same(saved[name], expected["q_net"], expected["q_net"])
        assert_all_differ(saved[name], fresh[name], param_names(source.networks[name]))
