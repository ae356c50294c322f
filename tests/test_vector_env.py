"""The batched ZeroOut env: step-for-step equivalence with the single env, autoreset, seeding, bad input.

Every test that touches tensors runs on the CPU and, where CUDA exists, on CUDA (skipped elsewhere).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

import rlzero
from rlzero.envs import ZeroOutEnv, ZeroOutVectorEnv
from rlzero.registration import ENV_KWARGS

gym.register_envs(rlzero)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
DEVICES = ["cpu", pytest.param("cuda", marks=CUDA)]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    return request.param


def make_vec(num_envs: int, device: str, env_id: str = "ZeroOut-v0", **kwargs) -> ZeroOutVectorEnv:
    env = gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", device=device, **kwargs
    )
    assert isinstance(env.unwrapped, ZeroOutVectorEnv)
    return env.unwrapped


def np_(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy()


# --------------------------------------------------------------------------------------------------------
# Step-for-step equivalence with the single env
# --------------------------------------------------------------------------------------------------------

# (env id, extra kwargs, steps). The custom variants cover all-zero starts (size 3 with values 0..1: one
# board in eight; 0..2 under countdown: one in 27), int16 boards (max_value 300), and short step limits,
# so that every rule also truncates often.
EQUIVALENCE_CASES = [
    ("ZeroOut-v0", {}, 250),
    ("ZeroOutCountdown-v0", {}, 450),
    ("ZeroOutInOrder-v0", {}, 250),
    ("ZeroOutLarge-v0", {}, 300),
    ("ZeroOutFewestSteps-v0", {}, 250),
    ("ZeroOut-v0", {"size": 3, "max_value": 1, "rule": "zero", "max_steps": 4}, 120),
    ("ZeroOut-v0", {"size": 3, "max_value": 2, "rule": "countdown", "max_steps": 4}, 120),
    ("ZeroOut-v0", {"size": 3, "max_value": 1, "rule": "in_order", "max_steps": 4}, 120),
    ("ZeroOut-v0", {"size": 3, "max_value": 1, "rule": "fewest_steps", "max_steps": 4}, 120),
    ("ZeroOut-v0", {"size": 7, "max_value": 300, "rule": "zero", "max_steps": 15}, 150),
    ("ZeroOut-v0", {"size": 5, "max_value": 3, "rule": "countdown", "max_steps": 12}, 150),
    ("ZeroOut-v0", {"size": 6, "max_value": 4, "rule": "in_order", "max_steps": 10}, 150),
]


def policy(rng: np.random.Generator, mask: np.ndarray, aim: np.ndarray) -> np.ndarray:
    """Board i aims with probability ``|aim[i]|``, else picks a uniformly random slot.

    Aiming picks a productive slot where ``aim[i] > 0`` and an unproductive one (a zero, or under
    ``in_order`` a nonzero slot that is not the leftmost) where ``aim[i] < 0``, if there is one. So
    episodes end both ways: terminated by the boards that aim well, truncated by the ones that aim badly.
    """
    n, size = mask.shape
    uniform = rng.integers(0, size, n)
    sign = np.sign(aim)[:, None]
    aimed = (rng.random((n, size)) + sign * mask).argmax(axis=1)  # mask shifts the scores by +-1
    return np.where(rng.random(n) < np.abs(aim), aimed, uniform)


@pytest.mark.parametrize(("env_id", "kwargs", "n_steps"), EQUIVALENCE_CASES)
def test_matches_single_env_step_for_step(device: str, env_id: str, kwargs: dict, n_steps: int) -> None:
    n = 16
    venv = make_vec(n, device, env_id, **kwargs)
    spec_kwargs = {**ENV_KWARGS[env_id], **kwargs}
    assert (venv.size, venv.max_value, venv.rule) == (
        spec_kwargs["size"],
        spec_kwargs["max_value"],
        spec_kwargs["rule"],
    )
    singles = [gym.make(env_id, **kwargs).unwrapped for _ in range(n)]
    assert all(isinstance(s, ZeroOutEnv) and s.max_steps == venv.max_steps for s in singles)
    rng = np.random.default_rng(12345)
    # Six boards always aim at a useless slot (and truncate), the others range from careless to perfect.
    aim = np.r_[np.full(6, -1.0), np.linspace(-0.5, 1.0, n - 6)]

    obs, info = venv.reset(seed=7)
    assert obs.dtype == torch.int64 and obs.device.type == torch.device(device).type
    obs_np = np_(obs)
    s_obs = np.zeros_like(obs_np)
    s_mask = np.zeros_like(obs_np, dtype=np.int8)
    s_opt = np.zeros(n, dtype=np.int64)
    s_ret = np.zeros(n)
    s_len = np.zeros(n, dtype=np.int64)

    def start_single(i: int, board: np.ndarray) -> None:
        o, inf = singles[i].reset(options={"board": board})
        s_obs[i], s_mask[i], s_opt[i], s_ret[i], s_len[i] = o, inf["action_mask"], inf["optimal_return"], 0, 0

    for i in range(n):
        start_single(i, obs_np[i])
    np.testing.assert_array_equal(obs_np, s_obs)
    np.testing.assert_array_equal(np_(info["action_mask"]), s_mask)
    np.testing.assert_array_equal(np_(info["optimal_return"]), s_opt)

    counts = {"terminated": 0, "truncated": 0, "all_zero_start": int((s_opt == 0).sum())}
    for _ in range(n_steps):
        actions = policy(rng, s_mask, aim)
        obs, reward, terminated, truncated, info = venv.step(torch.as_tensor(actions, device=device))
        obs_np, final_np = np_(obs), np_(info["final_obs"])
        term_np, trunc_np, reward_np = np_(terminated), np_(truncated), np_(reward)
        reset_rows = np_(info["_final_obs"])
        np.testing.assert_array_equal(np_(info["_episode"]), reset_rows)
        stats = {k: np_(v) for k, v in info["episode"].items()}

        for i in range(n):
            o, r, term, trunc, inf = singles[i].step(int(actions[i]))
            s_ret[i] += r
            s_len[i] += 1
            assert r == reward_np[i], (i, r, reward_np[i])
            assert term == term_np[i] and trunc == trunc_np[i], (i, term, trunc, term_np[i], trunc_np[i])
            assert reset_rows[i] == (term or trunc)
            # final_obs is every board after the action, before any reset.
            np.testing.assert_array_equal(final_np[i], o)
            if term or trunc:
                counts["terminated" if term else "truncated"] += 1
                assert stats["r"][i] == s_ret[i] and stats["l"][i] == s_len[i]
                if s_opt[i] == 0:
                    assert np.isnan(stats["n"][i])
                else:
                    regret = s_opt[i] - s_ret[i]
                    assert stats["n"][i] == pytest.approx(1 - regret / abs(s_opt[i]), rel=1e-6)
                start_single(i, obs_np[i])
                counts["all_zero_start"] += int(s_opt[i] == 0)
            else:
                s_obs[i], s_mask[i] = o, inf["action_mask"]
        np.testing.assert_array_equal(obs_np, s_obs)
        np.testing.assert_array_equal(np_(info["action_mask"]), s_mask)
        np.testing.assert_array_equal(np_(info["optimal_return"]), s_opt)
        assert reward.dtype == torch.float32
        assert terminated.dtype == truncated.dtype == torch.bool

    # The run must have crossed resets both ways, or it proves little.
    assert counts["terminated"] >= 10 and counts["truncated"] >= 5, counts
    if spec_kwargs["size"] == 3:
        assert counts["all_zero_start"] >= 1, counts


# --------------------------------------------------------------------------------------------------------
# Construction through gym.make_vec
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env_id", list(ENV_KWARGS))
def test_make_vec_builds_every_id(device: str, env_id: str) -> None:
    venv = gym.make_vec(env_id, num_envs=5, vectorization_mode="vector_entry_point", device=device)
    env = venv.unwrapped
    assert isinstance(env, ZeroOutVectorEnv)
    kw = ENV_KWARGS[env_id]
    assert (env.num_envs, env.size, env.max_value, env.rule) == (5, kw["size"], kw["max_value"], kw["rule"])
    assert env.max_steps == ZeroOutEnv(**kw).max_steps
    assert venv.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    assert env.single_observation_space == gym.spaces.Box(0, kw["max_value"], (kw["size"],), np.int64)
    assert env.single_action_space == gym.spaces.Discrete(kw["size"])
    assert env.observation_space.shape == (5, kw["size"])
    obs, info = venv.reset(seed=0)
    assert obs.shape == (5, kw["size"]) and obs.dtype == torch.int64
    assert obs.device.type == torch.device(device).type
    assert info["action_mask"].dtype == torch.int8 and info["action_mask"].shape == (5, kw["size"])
    assert info["optimal_return"].dtype == torch.int64 and info["optimal_return"].shape == (5,)
    assert int(obs.min()) >= 0 and int(obs.max()) <= kw["max_value"]
    actions = torch.zeros(5, dtype=torch.int64, device=device)
    obs, reward, terminated, truncated, info = venv.step(actions)
    for t in (
        obs,
        reward,
        terminated,
        truncated,
        info["final_obs"],
        info["action_mask"],
        info["episode"]["r"],
    ):
        assert t.device.type == torch.device(device).type
    assert obs.dtype == info["final_obs"].dtype == torch.int64
    venv.close()


def test_make_vec_passes_kwargs_through(device: str) -> None:
    for rule in ("zero", "countdown", "in_order"):
        env = make_vec(3, device, "ZeroOut-v0", size=4, max_value=300, rule=rule, max_steps=9)
        assert (env.size, env.max_value, env.rule, env.max_steps) == (4, 300, rule, 9)
        obs, _ = env.reset(seed=1)
        assert obs.shape == (3, 4) and obs.dtype == torch.int64
        assert int(obs.max()) <= 300
    # Without max_steps the default follows the rule and size, as in the single env.
    env = make_vec(2, device, "ZeroOutCountdown-v0", size=6)
    assert env.max_steps == ZeroOutEnv(size=6, rule="countdown").max_steps == 6 * (10 + 9)


# --------------------------------------------------------------------------------------------------------
# Autoreset (SAME_STEP), as documented in the class docstring
# --------------------------------------------------------------------------------------------------------


def test_termination_resets_in_the_same_step(device: str) -> None:
    env = make_vec(3, device, size=4, max_value=5, rule="zero")
    boards = torch.tensor([[0, 3, 0, 0], [1, 2, 0, 0], [0, 0, 0, 0]], device=device)
    obs, info = env.reset(seed=3, options={"boards": boards})
    assert torch.equal(obs, boards)
    assert info["optimal_return"].tolist() == [1, 2, 0]
    # Board 0 finishes (+1), board 1 makes progress, board 2 (all zero) ends on its first step (-1).
    actions = torch.tensor([1, 0, 2], device=device)
    obs, reward, terminated, truncated, info = env.step(actions)
    assert reward.tolist() == [1.0, 1.0, -1.0]
    assert terminated.tolist() == [True, False, True]
    assert truncated.tolist() == [False, False, False]
    assert info["_final_obs"].tolist() == [True, False, True]
    assert info["_episode"].tolist() == [True, False, True]
    info["_final_obs"][0] = False  # the masks are separate tensors: editing one leaves the other
    assert info["_episode"].tolist() == [True, False, True]
    expected_final = torch.tensor([[0, 0, 0, 0], [0, 2, 0, 0], [0, 0, 0, 0]], device=device)
    assert torch.equal(info["final_obs"], expected_final)
    # The board that did not end continues; the others already show their next episode's first board.
    assert torch.equal(obs[1], expected_final[1])
    new_boards = obs[[0, 2]]
    assert torch.equal(env.boards[[0, 2]].long(), new_boards)
    nonzero = (new_boards != 0).sum(dim=1)
    assert info["optimal_return"][[0, 2]].tolist() == nonzero.tolist()
    assert info["optimal_return"][1].item() == 2
    assert torch.equal(info["action_mask"], (obs != 0).to(torch.int8))
    # Episode statistics for the boards that ended, without a Python loop on the env side.
    ep = info["episode"]
    assert ep["r"][[0, 2]].tolist() == [1.0, -1.0]
    assert ep["l"][[0, 2]].tolist() == [1, 1]
    assert ep["n"][0].item() == 1.0 and torch.isnan(ep["n"][2])
    # The reset boards start counting again: their next step is step 1 of the new episode.
    assert env.steps.tolist() == [0, 1, 0]
    assert env.returns.tolist() == [0.0, 1.0, 0.0]


def test_truncation_resets_in_the_same_step_and_keeps_the_last_state(device: str) -> None:
    env = make_vec(2, device, size=3, max_value=4, rule="countdown", max_steps=3)
    boards = torch.tensor([[0, 4, 4], [0, 0, 1]], device=device)
    env.reset(seed=0, options={"boards": boards})
    for step in range(1, 4):
        # Board 0 counts its slot 1 down; board 1 keeps picking a zero.
        obs, reward, terminated, truncated, info = env.step(torch.tensor([1, 0], device=device))
        assert reward.tolist() == [1.0, -1.0]
        assert not terminated.any()
        assert truncated.tolist() == ([True, True] if step == 3 else [False, False])
    assert torch.equal(info["final_obs"], torch.tensor([[0, 1, 4], [0, 0, 1]], device=device))
    assert info["episode"]["r"].tolist() == [3.0, -3.0]
    assert info["episode"]["l"].tolist() == [3, 3]
    assert info["episode"]["n"].tolist() == pytest.approx([3 / 8, -3.0])
    assert env.steps.tolist() == [0, 0]
    assert torch.equal(info["optimal_return"], obs.sum(dim=1))


def test_final_obs_equals_obs_where_no_reset(device: str) -> None:
    env = make_vec(64, device)
    env.reset(seed=11)
    gen = torch.Generator(device=device).manual_seed(0)
    resets = 0
    for _ in range(60):
        actions = torch.randint(0, env.size, (64,), device=device, generator=gen)
        prev = env.boards.long().clone()
        obs, _, terminated, truncated, info = env.step(actions)
        done = terminated | truncated
        assert torch.equal(info["_final_obs"], done)
        assert torch.equal(info["final_obs"][~done], obs[~done])
        # final_obs differs from the previous board in at most the picked slot.
        changed = info["final_obs"] != prev
        assert bool((changed.sum(dim=1) <= 1).all())
        assert bool((changed.float().argmax(dim=1) == actions)[changed.any(dim=1)].all())
        resets += int(done.sum())
    assert resets > 0


# --------------------------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------------------------


def rollout(env: ZeroOutVectorEnv, seed: int, n_steps: int = 40) -> list[torch.Tensor]:
    """Observations, rewards and dones of a seeded run with fixed actions (autoresets draw new boards)."""
    obs, _ = env.reset(seed=seed)
    out = [obs.clone()]
    actions = torch.arange(env.num_envs, device=env.device) % env.size
    for _ in range(n_steps):
        obs, reward, terminated, truncated, _ = env.step(actions)
        out += [obs.clone(), reward.clone(), terminated.clone(), truncated.clone()]
    return out


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_same_seed_same_boards_and_trajectories(device: str) -> None:
    a, b = make_vec(32, device, max_steps=5), make_vec(32, device, max_steps=5)
    run_a, run_b = rollout(a, seed=123), rollout(b, seed=123)
    assert same(run_a, run_b)
    # Reseeding the same env replays it too.
    assert same(rollout(a, seed=123), run_a)
    # Runs that reset mid-way compared too: max_steps=5 forces resets.
    assert bool(torch.stack(run_a[3::4]).any() or torch.stack(run_a[4::4]).any())


def test_different_seeds_differ(device: str) -> None:
    env = make_vec(32, device)
    a, _ = env.reset(seed=1)
    a = a.clone()
    b, _ = env.reset(seed=2)
    assert not torch.equal(a, b)
    # reset() without a seed continues the generator: new boards, reproducible after reseeding.
    c, _ = env.reset()
    assert not torch.equal(b, c)
    env.reset(seed=2)
    assert torch.equal(env.reset()[0], c)


def test_boards_in_a_batch_differ(device: str) -> None:
    env = make_vec(256, device)
    obs, _ = env.reset(seed=0)
    assert torch.unique(obs, dim=0).shape[0] > 250
    # Every value 0..max_value appears in every slot: entries are drawn independently.
    for slot in range(env.size):
        assert set(obs[:, slot].tolist()) == set(range(env.max_value + 1))


def test_uses_its_own_generator(device: str) -> None:
    env = make_vec(16, device, max_steps=3)
    assert isinstance(env.generator, torch.Generator)
    assert env.generator.device.type == torch.device(device).type
    torch.manual_seed(0)
    run_a = rollout(env, seed=5)
    torch.manual_seed(999)
    torch.randint(0, 10, (100,))
    run_b = rollout(env, seed=5)
    assert same(run_a, run_b)
    # And it leaves the global generator alone.
    torch.manual_seed(42)
    expected = torch.rand(3)
    torch.manual_seed(42)
    rollout(env, seed=6, n_steps=10)
    assert torch.equal(torch.rand(3), expected)


def test_unseeded_envs_differ(device: str) -> None:
    a, b = make_vec(64, device), make_vec(64, device)
    assert not torch.equal(a.reset()[0], b.reset()[0])


# --------------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------------

N_BAD = 6
SIZE = 10


def bad_actions(device: str) -> list:
    ok = torch.zeros(N_BAD, dtype=torch.int64, device=device)
    return [
        torch.zeros(N_BAD - 1, dtype=torch.int64, device=device),  # too short
        torch.zeros(N_BAD + 1, dtype=torch.int64, device=device),  # too long
        ok.unsqueeze(1),  # (N, 1)
        ok.unsqueeze(0),  # (1, N)
        torch.tensor(0, device=device),  # a scalar
        torch.zeros(N_BAD, dtype=torch.float32, device=device),  # float tensor
        torch.zeros(N_BAD, dtype=torch.float64, device=device),
        torch.zeros(N_BAD, dtype=torch.bool, device=device),  # bool tensor
        np.zeros(N_BAD, dtype=np.float64),  # float array
        np.zeros(N_BAD, dtype=bool),  # bool array
        [0.0] * N_BAD,  # floats in a list
        [True] * N_BAD,  # bools in a list
        torch.tensor([0, 1, 2, 3, 4, -1], device=device),  # negative
        torch.tensor([0, 1, 2, 3, 4, SIZE], device=device),  # == size
        torch.tensor([0, 1, 2, 3, 4, 10**6], device=device),  # far out
        np.array([0, 1, 2, 3, 4, -5]),
        [0, 1, 2, 3, 4, SIZE],
        "0",
        "000000",
        ["0"] * N_BAD,
        np.array(["0"] * N_BAD),
        None,
        3,  # a plain int is not a batch
        [[0] * N_BAD],
        {"a": 1},
    ]


def test_bad_actions_raise_and_change_nothing(device: str) -> None:
    env = make_vec(N_BAD, device, size=SIZE, max_steps=1000)
    twin = make_vec(N_BAD, device, size=SIZE, max_steps=1000)
    env.reset(seed=4)
    twin.reset(seed=4)
    good = torch.tensor([1, 2, 3, 4, 5, 6], device=device)
    env.step(good)
    twin.step(good)
    for bad in bad_actions(device):
        before = (env.boards.clone(), env.steps.clone(), env.returns.clone(), env.remaining.clone())
        with pytest.raises(ValueError, match="valid actions"):
            env.step(bad)
        after = (env.boards, env.steps, env.returns, env.remaining)
        assert all(torch.equal(x, y) for x, y in zip(before, after, strict=True)), repr(bad)
    # The env carries on exactly as its twin that never saw a bad action (generator untouched too).
    for _ in range(30):
        a = env.step(good)
        b = twin.step(good)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and torch.equal(a[2], b[2])


def test_valid_non_tensor_actions_are_accepted(device: str) -> None:
    env = make_vec(3, device, size=4)
    twin = make_vec(3, device, size=4)
    boards = torch.tensor([[1, 0, 2, 0], [0, 0, 0, 3], [4, 4, 4, 4]])
    for actions in ([0, 1, 3], np.array([0, 1, 3]), np.array([0, 1, 3], dtype=np.int8)):
        env.reset(options={"boards": boards})
        twin.reset(options={"boards": boards})
        a = env.step(actions)
        b = twin.step(torch.tensor([0, 1, 3], device=device))
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        assert a[1].tolist() == [1.0, -1.0, 1.0]


def test_error_message_names_the_actions_and_the_range(device: str) -> None:
    env = make_vec(3, device, size=4)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"\[7\].*out of range.*\[0, 3\]"):
        env.step(torch.tensor([0, 7, 1], device=device))
    with pytest.raises(ValueError, match=r"shape \(2,\).*\(3,\)"):
        env.step(torch.tensor([0, 1], device=device))


@pytest.mark.parametrize(
    "boards",
    [
        [[0, 1, 2]],  # wrong shape
        [[0, 1, 2, 3]] * 3,
        [[0, 1, 2, 10]] * 2,  # > max_value
        [[0, 1, 2, -1]] * 2,  # negative
        [[0.0, 1.0, 2.0, 3.0]] * 2,  # float
        [[True, False, True, False]] * 2,  # bool
        [["0", "1", "2", "3"]] * 2,  # strings
        [{"a": 1}, None],  # not an array at all
    ],
)
def test_bad_reset_boards_raise_and_change_nothing(device: str, boards: list) -> None:
    env = make_vec(2, device, size=4, max_value=9)
    env.reset(seed=0)
    before = env.boards.clone()
    with pytest.raises(ValueError, match="boards"):
        env.reset(options={"boards": boards})
    assert torch.equal(env.boards, before)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_envs": 0},
        {"num_envs": -3},
        {"num_envs": 2.5},
        {"num_envs": True},
        {"size": 0},
        {"size": -1},
        {"max_value": 0},
        {"rule": "x"},
        {"rule": "Zero"},
        {"max_steps": 0},
    ],
)
def test_bad_constructor_args_raise(kwargs: dict) -> None:
    num_envs = kwargs.pop("num_envs", 2)
    with pytest.raises(ValueError):
        ZeroOutVectorEnv(num_envs=num_envs, **kwargs)
    with pytest.raises(ValueError):
        gym.make_vec("ZeroOut-v0", num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
