"""Checkpoints: round trip, metadata, refusing corrupt, truncated and pickled files, atomic save."""

import os
import pickle
import stat

import numpy as np
import pytest
import torch

import rlzero.agents.checkpoint as checkpoint_module
from rlzero.agents import DQN, CheckpointError, Reinforce, load_agent
from rlzero.agents.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from rlzero.runs import write_json

TINY = {"num_envs": 16, "learning_starts": 64, "batch_size": 32, "buffer_size": 1000, "net_arch": "mlp"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    agent = DQN("ZeroOut-v0", seed=0, device="cpu", hidden_sizes=(32,), **TINY).learn(2000)
    path = agent.save(tmp_path_factory.mktemp("ckpt") / "model.pt")
    return agent, path


def observations(n=64, seed=0, size=10):
    return np.random.default_rng(seed).integers(0, 10, size=(n, size))


def assert_same_state_dicts(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key].cpu(), b[key].cpu()), key


# ---------------------------------------------------------------- round trip
@pytest.mark.parametrize("loader", ["DQN.load", "load_agent"])
def test_round_trip_gives_same_greedy_actions_and_weights(trained, loader):
    agent, path = trained
    loaded = DQN.load(path, device="cpu") if loader == "DQN.load" else load_agent(path, device="cpu")
    assert type(loaded) is DQN
    obs = observations()
    actions, state = loaded.predict(obs, deterministic=True)
    assert state is None
    assert np.array_equal(actions, agent.predict(obs, deterministic=True)[0])
    # The Q-values agree exactly, not only their argmax.
    with torch.no_grad():
        assert torch.equal(agent.q_net(torch.as_tensor(obs)[None]), loaded.q_net(torch.as_tensor(obs)[None]))
    for name in ("q_net", "target_net"):
        assert_same_state_dicts(agent.networks[name].state_dict(), loaded.networks[name].state_dict())
    assert loaded.num_timesteps == agent.num_timesteps >= 2000
    assert loaded.config == agent.config
    assert (loaded.env_id, loaded.env_kwargs, loaded.seed) == (agent.env_id, agent.env_kwargs, agent.seed)


def test_metadata_fields(trained):
    agent, path = trained
    payload = load_checkpoint(path)
    assert payload["format"] == FORMAT
    meta = payload["metadata"]
    for key in (
        "agent",
        "env_id",
        "env_kwargs",
        "hparams",
        "num_timesteps",
        "versions",
        "observation_shape",
        "n_actions",
    ):
        assert key in meta, key
    assert meta["agent"] == "dqn"
    assert meta["env_id"] == "ZeroOut-v0"
    assert meta["env_kwargs"] == {}
    assert meta["observation_shape"] == [10]
    assert meta["n_actions"] == 10
    assert meta["num_timesteps"] == agent.num_timesteps
    assert meta["hparams"]["hidden_sizes"] == [32]
    assert meta["hparams"]["batch_size"] == 32
    assert {"rlzero", "torch", "gymnasium"} <= set(meta["versions"])
    # Plain data only: every value survives weights_only loading (it just did) and is JSON-like.
    assert all(type(v) is str for v in meta["versions"].values())
    assert set(payload["state_dicts"]) == {"q_net", "target_net"}


def test_env_kwargs_round_trip(tmp_path):
    agent = DQN("ZeroOut-v0", seed=1, device="cpu", env_kwargs={"size": 6, "max_value": 3}, **TINY)
    path = agent.save(tmp_path / "small.pt")
    loaded = load_agent(path, device="cpu")
    assert loaded.env_kwargs == {"size": 6, "max_value": 3}
    assert loaded.n_actions == 6
    obs = np.random.default_rng(0).integers(0, 4, size=(32, 6))
    assert np.array_equal(loaded.predict(obs)[0], agent.predict(obs)[0])


def test_save_returns_path_and_creates_parent_dirs(trained, tmp_path):
    agent, _ = trained
    path = agent.save(tmp_path / "a" / "b" / "model.pt")
    assert path == tmp_path / "a" / "b" / "model.pt"
    assert path.is_file()
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pt"]


def test_map_location_cpu(trained):
    _, path = trained
    payload = load_checkpoint(path, map_location="cpu")
    for state_dict in payload["state_dicts"].values():
        assert all(t.device.type == "cpu" for t in state_dict.values())
    loaded = DQN.load(path, device=torch.device("cpu"))
    assert loaded.device.type == "cpu"
    assert all(p.device.type == "cpu" for p in loaded.q_net.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_checkpoint_loads_on_cpu(tmp_path):
    agent = DQN("ZeroOut-v0", seed=0, device="cuda", **TINY).learn(500)
    assert next(agent.q_net.parameters()).is_cuda
    path = agent.save(tmp_path / "cuda.pt")
    loaded = load_agent(path, device="cpu")
    assert all(p.device.type == "cpu" for p in loaded.q_net.parameters())
    obs = observations()
    assert np.array_equal(loaded.predict(obs)[0], agent.predict(obs)[0])
    for name in ("q_net", "target_net"):
        assert_same_state_dicts(agent.networks[name].state_dict(), loaded.networks[name].state_dict())
    back = DQN.load(path, device="cuda")
    assert next(back.q_net.parameters()).is_cuda


# ---------------------------------------------------------------- files that are not checkpoints
def test_random_bytes_are_refused_as_corrupt(tmp_path):
    path = tmp_path / "corrupt.pt"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    for load in (load_checkpoint, DQN.load, load_agent):
        with pytest.raises(CheckpointError, match="corrupt or truncated"):
            load(path)


def test_truncated_checkpoint_is_refused(trained, tmp_path):
    _, path = trained
    data = path.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    for load in (load_checkpoint, DQN.load, load_agent):
        with pytest.raises(CheckpointError, match="corrupt or truncated"):
            load(truncated)


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)


class Payload:
    """A class of this test module: not on torch's weights_only allowlist."""

    def __init__(self):
        self.value = 1


EXECUTED = []


def record_execution(marker):
    EXECUTED.append(marker)
    return marker


class Exploit:
    """Unpickling this would call ``record_execution`` (it could as well be ``os.system``)."""

    def __reduce__(self):
        return (record_execution, ("exploit ran",))


def pickle_payloads(tmp_path):
    paths = {}
    paths["torch.save dict"] = tmp_path / "dict.pt"
    torch.save(
        {"format": FORMAT, "metadata": {}, "state_dicts": {}, "extra": Payload()}, paths["torch.save dict"]
    )
    paths["torch.save reduce"] = tmp_path / "reduce.pt"
    torch.save({"format": FORMAT, "metadata": Exploit(), "state_dicts": {}}, paths["torch.save reduce"])
    for protocol in (2, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL):
        for name, obj in (("object", Payload()), ("reduce", Exploit())):
            paths[f"pickle.dumps {name} {protocol}"] = tmp_path / f"{name}{protocol}.pkl"
            paths[f"pickle.dumps {name} {protocol}"].write_bytes(pickle.dumps(obj, protocol=protocol))
    return paths


PAYLOADS = ["torch.save dict", "torch.save reduce"] + [
    f"pickle.dumps {name} {protocol}"
    for protocol in (2, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL)
    for name in ("object", "reduce")
]


def test_pickle_payload_needs_unpickling(tmp_path):
    """The payloads are real: an unrestricted load does build the objects (and runs the reduce)."""
    paths = pickle_payloads(tmp_path)
    assert isinstance(torch.load(paths["torch.save dict"], weights_only=False)["extra"], Payload)
    with pytest.raises(Exception, match="Weights only load failed"):
        torch.load(paths["torch.save dict"], weights_only=True)
    EXECUTED.clear()
    assert pickle.loads(paths["pickle.dumps reduce 2"].read_bytes()) == "exploit ran"
    assert EXECUTED == ["exploit ran"]
    EXECUTED.clear()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("kind", PAYLOADS)
def test_pickle_payloads_are_refused_without_running_code(tmp_path, kind):
    path = pickle_payloads(tmp_path)[kind]
    EXECUTED.clear()
    for load in (load_checkpoint, DQN.load, load_agent):
        with pytest.raises(CheckpointError, match="refused"):
            load(path)
    assert EXECUTED == []


def test_plain_data_that_is_not_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not an rlzero checkpoint"):
        load_checkpoint(path)


def test_missing_file_is_file_not_found(tmp_path):
    for load in (load_checkpoint, DQN.load, load_agent):
        with pytest.raises(FileNotFoundError, match=r"nothere\.pt"):
            load(tmp_path / "nothere.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path)  # a directory is not a checkpoint file either


def test_unknown_agent_name_is_refused(trained, tmp_path):
    _, path = trained
    payload = load_checkpoint(path)
    payload["metadata"]["agent"] = "nonesuch"
    other = save_checkpoint(tmp_path / "other.pt", payload["metadata"], payload["state_dicts"])
    with pytest.raises(CheckpointError, match="nonesuch"):
        load_agent(other, device="cpu")
    with pytest.raises(CheckpointError, match="nonesuch"):
        DQN.load(other, device="cpu")


# ---------------------------------------------------------------- architecture mismatch
def test_hidden_size_mismatch_names_the_tensors(trained):
    _, path = trained  # hidden_sizes=(32,)
    wider = DQN("ZeroOut-v0", seed=0, device="cpu", hidden_sizes=(64,), **TINY)
    before = {k: v.clone() for k, v in wider.q_net.state_dict().items()}
    with pytest.raises(CheckpointError) as info:
        wider.init_from(path)
    message = str(info.value)
    assert "features.0.weight" in message
    assert "features.0.bias" in message
    assert "head.weight" in message
    assert "(32" in message and "(64" in message
    # Nothing was loaded: no silent partial load.
    assert_same_state_dicts(before, wider.q_net.state_dict())


def test_board_size_mismatch_names_the_tensors(trained):
    _, path = trained  # size 10
    larger = DQN("ZeroOut-v0", seed=0, device="cpu", env_kwargs={"size": 12}, hidden_sizes=(32,), **TINY)
    with pytest.raises(CheckpointError) as info:
        larger.load_weights(load_checkpoint(path)["state_dicts"])
    message = str(info.value)
    assert "shape mismatch" in message
    assert "features.0.weight" in message
    assert "head.weight" in message


def test_depth_mismatch_names_missing_and_unexpected_tensors(trained):
    _, path = trained
    deeper = DQN("ZeroOut-v0", seed=0, device="cpu", hidden_sizes=(32, 32), **TINY)
    with pytest.raises(CheckpointError) as info:
        deeper.init_from(path)
    message = str(info.value)
    assert "missing" in message
    assert "features.2.weight" in message


def test_missing_network_is_named(trained):
    agent, path = trained
    state_dicts = load_checkpoint(path)["state_dicts"]
    del state_dicts["target_net"]
    with pytest.raises(CheckpointError, match="target_net"):
        agent.load_weights(state_dicts)


# ---------------------------------------------------------------- atomic writes
@pytest.mark.parametrize(
    ("error", "raised"),
    # torch's zip writer reports a failed write as a RuntimeError: save raises it as the OSError it is
    [(RuntimeError("disk full"), OSError), (KeyboardInterrupt(), KeyboardInterrupt)],
)
def test_crash_during_save_leaves_previous_checkpoint_intact(trained, tmp_path, monkeypatch, error, raised):
    agent, _ = trained
    path = agent.save(tmp_path / "model.pt")
    before = path.read_bytes()
    real_save = torch.save

    def crashing_save(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        os.truncate(f, 100)  # leave partial bytes behind, as a crash half-way through would
        raise error

    monkeypatch.setattr(checkpoint_module.torch, "save", crashing_save)
    with pytest.raises(raised):
        agent.save(path)
    with pytest.raises(raised):
        agent.save(tmp_path / "new.pt")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.pt"]  # no temp files, no half-written new.pt
    assert DQN.load(path, device="cpu").num_timesteps == agent.num_timesteps


def test_save_replaces_an_existing_checkpoint(tmp_path):
    agent = DQN("ZeroOut-v0", seed=0, device="cpu", **TINY)
    path = agent.save(tmp_path / "model.pt")
    agent.learn(200)
    agent.save(path)
    assert load_checkpoint(path)["metadata"]["num_timesteps"] == agent.num_timesteps > 0
    assert sorted(os.listdir(tmp_path)) == ["model.pt"]


def test_files_get_the_permissions_open_would_give(tmp_path):
    old = os.umask(0o027)
    try:
        path = DQN("ZeroOut-v0", seed=0, device="cpu", **TINY).save(tmp_path / "model.pt")
        write_json(tmp_path / "summary.json", {"solved": True})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "summary.json").stat().st_mode) == 0o640


def test_a_group_members_checkpoint_holds_its_own_weights_only(tmp_path):
    group = DQN("ZeroOut-v0", seed=[0, 1, 2, 3], device="cpu", **TINY)
    member = load_checkpoint(group.save(tmp_path / "member.pt", member=1))
    single = load_checkpoint(DQN("ZeroOut-v0", seed=1, device="cpu", **TINY).save(tmp_path / "single.pt"))
    for name, state_dict in member["state_dicts"].items():
        assert_same_state_dicts(state_dict, single["state_dicts"][name])
        for tensor in state_dict.values():  # not a view into the group's weights, saved whole
            assert tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size()
    assert (tmp_path / "member.pt").stat().st_size < 1.05 * (tmp_path / "single.pt").stat().st_size


def test_activation_round_trips_and_an_unknown_one_is_refused(tmp_path):
    agent = Reinforce("CartPole-v1", seed=0, device="cpu", num_envs=4, activation="tanh").learn(256)
    loaded = load_agent(agent.save(tmp_path / "tanh.pt"), device="cpu")
    assert loaded.config.activation == "tanh"
    assert any(isinstance(m, torch.nn.Tanh) for m in loaded.policy.modules())
    obs = torch.as_tensor(np.random.default_rng(0).normal(size=(1, 32, 4)), dtype=torch.float32)
    with torch.no_grad():
        assert torch.equal(agent.policy(obs), loaded.policy(obs))
    with pytest.raises(ValueError, match="unknown activation 'sigmoid'; valid: relu, tanh"):
        DQN("ZeroOut-v0", device="cpu", activation="sigmoid")
