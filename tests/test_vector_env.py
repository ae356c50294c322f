"""The batched ZeroOut env: step-for-step equivalence with the single env, autoreset, seeding, bad input.

Every test that touches tensors runs on the CPU and, where CUDA exists, on CUDA (skipped elsewhere).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

import rlzero
from rlzero.envs import ENV_KWARGS, ZeroOutEnv, ZeroOutVectorEnv
from rlzero.envs.streams import Streams, row_seeds

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


MODES = list(AutoresetMode)


def info_keys(mode: AutoresetMode) -> set[str]:
    """The info keys of reset and of every step in ``mode``."""
    same_step = {"final_obs", "_final_obs"} if mode is AutoresetMode.SAME_STEP else set()
    return {"action_mask", "optimal_return"} | same_step


@pytest.mark.parametrize("sync_free", [False, True], ids=["indexed-resets", "where-resets"])
@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
@pytest.mark.parametrize(("env_id", "kwargs", "n_steps"), EQUIVALENCE_CASES)
def test_matches_single_env_step_for_step(
    device: str, mode: AutoresetMode, sync_free: bool, env_id: str, kwargs: dict, n_steps: int
) -> None:
    """Every mode, and both ways of resetting boards (the CPU's indexed one, CUDA's torch.where one)."""
    n = 16
    # SAME_STEP runs unchecked, as rlzero's agents run it; the other modes check, as outside callers do.
    venv = make_vec(
        n, device, env_id, autoreset_mode=mode, validate_actions=mode is not AutoresetMode.SAME_STEP, **kwargs
    )
    venv.sync_free_resets = sync_free
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
    assert set(info) == info_keys(mode)
    obs_np = np_(obs)
    s_obs = np.zeros_like(obs_np)
    s_mask = np.zeros_like(obs_np, dtype=np.int8)
    s_opt = np.zeros(n, dtype=np.int64)
    ended = np.zeros(n, dtype=bool)  # the single env's episode ended, the batched board has not restarted

    def start_single(i: int, board: np.ndarray) -> None:
        o, inf = singles[i].reset(options={"board": board})
        s_obs[i], s_mask[i], s_opt[i], ended[i] = o, inf["action_mask"], inf["optimal_return"], False

    def assert_same_boards(obs: torch.Tensor, info: dict) -> None:
        np.testing.assert_array_equal(np_(obs), s_obs)
        np.testing.assert_array_equal(np_(info["action_mask"]), s_mask)
        np.testing.assert_array_equal(np_(info["optimal_return"]), s_opt)

    for i in range(n):
        start_single(i, obs_np[i])
    assert_same_boards(obs, info)

    counts = {"terminated": 0, "truncated": 0, "all_zero_start": int((s_opt == 0).sum())}
    for _ in range(n_steps):
        actions = policy(rng, s_mask, aim)
        obs, reward, terminated, truncated, info = venv.step(torch.as_tensor(actions, device=device))
        assert set(info) == info_keys(mode)
        assert reward.dtype == torch.float32
        assert terminated.dtype == truncated.dtype == torch.bool
        obs_np, term_np, trunc_np, reward_np = np_(obs), np_(terminated), np_(truncated), np_(reward)
        for i in range(n):
            if ended[i]:
                # NEXT_STEP restarts the board in this step and ignores its action.
                assert mode is AutoresetMode.NEXT_STEP
                assert reward_np[i] == 0 and not term_np[i] and not trunc_np[i]
                start_single(i, obs_np[i])
                counts["all_zero_start"] += int(s_opt[i] == 0)
                continue
            o, r, term, trunc, inf = singles[i].step(int(actions[i]))
            assert r == reward_np[i], (i, r, reward_np[i])
            assert term == term_np[i] and trunc == trunc_np[i], (i, term, trunc, term_np[i], trunc_np[i])
            assert inf["optimal_return"] == s_opt[i]
            if mode is AutoresetMode.SAME_STEP:
                # final_obs is every board after the action, before any reset.
                np.testing.assert_array_equal(np_(info["final_obs"])[i], o)
                assert np_(info["_final_obs"])[i] == (term or trunc)
            s_obs[i], s_mask[i] = o, inf["action_mask"]
            if term or trunc:
                counts["terminated" if term else "truncated"] += 1
                if mode is AutoresetMode.SAME_STEP:
                    start_single(i, obs_np[i])
                    counts["all_zero_start"] += int(s_opt[i] == 0)
                else:
                    ended[i] = True  # the batched board shows its last state until it restarts
        assert_same_boards(obs, info)
        if mode is AutoresetMode.DISABLED and ended.any():
            # The caller restarts the boards that ended, with a numpy mask as Gymnasium and TorchRL pass it.
            obs, info = venv.reset(options={"reset_mask": ended.copy()})
            assert set(info) == info_keys(mode)
            for i in np.flatnonzero(ended):
                start_single(i, np_(obs)[i])
                counts["all_zero_start"] += int(s_opt[i] == 0)
            assert_same_boards(obs, info)

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
    # Gymnasium's default mode, as an attribute (TorchRL reads it) and in the metadata (Gymnasium's wrappers).
    assert env.autoreset_mode is venv.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
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
    assert set(info) == {"action_mask", "optimal_return"}
    for t in (obs, reward, terminated, truncated, info["action_mask"], info["optimal_return"]):
        assert t.device.type == torch.device(device).type
    assert obs.dtype == torch.int64
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
# Autoreset, as documented in the class docstring
# --------------------------------------------------------------------------------------------------------


def test_termination_resets_in_the_same_step(device: str) -> None:
    env = make_vec(3, device, size=4, max_value=5, rule="zero", autoreset_mode="SameStep")
    boards = torch.tensor([[0, 3, 0, 0], [1, 2, 0, 0], [0, 0, 0, 0]], device=device)
    obs, info = env.reset(seed=3, options={"boards": boards})
    assert torch.equal(obs, boards)
    assert info["optimal_return"].tolist() == [1, 2, 0]
    # The same keys as on step: final_obs is the boards themselves, none of them reset.
    assert torch.equal(info["final_obs"], obs) and info["_final_obs"].tolist() == [False] * 3
    # Board 0 finishes (+1), board 1 makes progress, board 2 (all zero) ends on its first step (-1).
    actions = torch.tensor([1, 0, 2], device=device)
    obs, reward, terminated, truncated, info = env.step(actions)
    assert reward.tolist() == [1.0, 1.0, -1.0]
    assert terminated.tolist() == [True, False, True]
    assert truncated.tolist() == [False, False, False]
    assert info["_final_obs"].tolist() == [True, False, True]
    assert not any(key.startswith(("episode", "_episode")) for key in info)  # RecordEpisodeStatistics' keys
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
    # The reset boards start counting again: their next step is step 1 of the new episode.
    assert env.steps.tolist() == [0, 1, 0]


def test_truncation_resets_in_the_same_step_and_keeps_the_last_state(device: str) -> None:
    env = make_vec(2, device, size=3, max_value=4, rule="countdown", max_steps=3, autoreset_mode="SAME_STEP")
    boards = torch.tensor([[0, 4, 4], [0, 0, 1]], device=device)
    env.reset(seed=0, options={"boards": boards})
    for step in range(1, 4):
        # Board 0 counts its slot 1 down; board 1 keeps picking a zero.
        obs, reward, terminated, truncated, info = env.step(torch.tensor([1, 0], device=device))
        assert reward.tolist() == [1.0, -1.0]
        assert not terminated.any()
        assert truncated.tolist() == ([True, True] if step == 3 else [False, False])
    assert torch.equal(info["final_obs"], torch.tensor([[0, 1, 4], [0, 0, 1]], device=device))
    assert env.steps.tolist() == [0, 0]
    assert torch.equal(info["optimal_return"], obs.sum(dim=1))


def test_final_obs_equals_obs_where_no_reset(device: str) -> None:
    env = make_vec(64, device, autoreset_mode=AutoresetMode.SAME_STEP)
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


def test_autoreset_mode_argument_attribute_and_metadata() -> None:
    for given, mode in [
        (AutoresetMode.SAME_STEP, AutoresetMode.SAME_STEP),
        ("SameStep", AutoresetMode.SAME_STEP),  # Gymnasium's value strings
        ("Disabled", AutoresetMode.DISABLED),
        ("NEXT_STEP", AutoresetMode.NEXT_STEP),  # and the members' names
    ]:
        env = gym.make_vec(
            "ZeroOut-v0", num_envs=2, vectorization_mode="vector_entry_point", autoreset_mode=given
        )
        assert env.unwrapped.autoreset_mode is env.metadata["autoreset_mode"] is mode
    # Each env has its own metadata: the class keeps the default.
    assert ZeroOutVectorEnv.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    for bad in ("same_step", "sync", 1, None):
        with pytest.raises(ValueError, match=r"autoreset_mode.*valid.*NextStep"):
            ZeroOutVectorEnv(2, autoreset_mode=bad)


def test_next_step_restarts_an_ended_board_on_the_next_call(device: str) -> None:
    env = make_vec(2, device, size=3, max_value=3, rule="zero")
    env.reset(seed=5, options={"boards": torch.tensor([[0, 2, 0], [1, 1, 0]], device=device)})
    obs, reward, terminated, truncated, info = env.step(torch.tensor([1, 0], device=device))
    assert reward.tolist() == [1.0, 1.0] and terminated.tolist() == [True, False]
    # The ended board is still shown as it ended, and keeps its episode's optimum, until the next call.
    assert obs[0].tolist() == [0, 0, 0] and obs[1].tolist() == [0, 1, 0]
    assert info["optimal_return"].tolist() == [1, 2] and env.ended.tolist() == [True, False]
    # That call starts its next episode and ignores its action: reward 0, both flags false.
    obs, reward, terminated, truncated, info = env.step(torch.tensor([2, 1], device=device))
    assert reward.tolist() == [0.0, 1.0]
    assert terminated.tolist() == [False, True] and truncated.tolist() == [False, False]
    assert env.steps.tolist() == [0, 2]
    assert info["optimal_return"][0].item() == int((obs[0] != 0).sum())  # the new episode's optimum
    assert torch.equal(info["action_mask"][0], (obs[0] != 0).to(torch.int8))


def test_disabled_resets_only_what_the_caller_masks(device: str) -> None:
    env = make_vec(3, device, size=3, max_value=3, rule="zero", autoreset_mode=AutoresetMode.DISABLED)
    boards = torch.tensor([[0, 2, 0], [1, 1, 0], [0, 0, 3]], device=device)
    env.reset(seed=5, options={"boards": boards})
    obs, _, terminated, _, _ = env.step(torch.tensor([1, 0, 2], device=device))
    assert terminated.tolist() == [True, False, True]
    before = (env.boards.clone(), env.steps.clone(), env.remaining.clone())
    with pytest.raises(ValueError, match=r"boards \[0, 2\] ended.*reset_mask"):
        env.step(torch.tensor([0, 1, 0], device=device))
    assert all(torch.equal(x, y) for x, y in zip(before, (env.boards, env.steps, env.remaining), strict=True))
    # Masked boards restart (a torch mask works as well as a numpy one); the others are left as they are.
    obs, info = env.reset(options={"reset_mask": torch.tensor([True, False, False], device=device)})
    assert obs[1:].tolist() == [[0, 1, 0], [0, 0, 0]] and env.steps.tolist() == [0, 1, 1]
    assert info["optimal_return"][0].item() == int((obs[0] != 0).sum())
    assert env.ended.tolist() == [False, False, True]
    with pytest.raises(ValueError, match=r"boards \[2\] ended"):
        env.step(torch.tensor([0, 1, 0], device=device))
    env.reset(options={"reset_mask": np.array([False, False, True])})
    env.step(torch.tensor([0, 1, 0], device=device))  # every board running again


def test_disabled_steps_ended_boards_unchecked_when_told_to() -> None:
    env = ZeroOutVectorEnv(1, size=2, max_value=1, autoreset_mode="Disabled", validate_actions=False)
    env.reset(options={"boards": [[1, 0]]})
    assert env.step(torch.tensor([0]))[2].item()
    # A trusted caller that steps an ended board gets what the rules give: a zero pays -1, still ended.
    _, reward, terminated, _, _ = env.step(torch.tensor([0]))
    assert reward.item() == -1.0 and terminated.item()


@pytest.mark.parametrize(
    "mask",
    [
        [True, False],  # a list, not an array
        np.array([1, 0]),  # not bool
        np.array([True, False, True]),  # wrong length
        torch.tensor([[True, False]]),  # wrong shape
    ],
)
def test_bad_reset_mask_raises_and_changes_nothing(mask) -> None:
    env = ZeroOutVectorEnv(2, autoreset_mode="Disabled")
    env.reset(seed=0)
    before = env.boards.clone()
    with pytest.raises(ValueError, match=r"reset_mask.*bool.*\(2,\)"):
        env.reset(seed=1, options={"reset_mask": mask})
    assert torch.equal(env.boards, before)
    # The seed was not applied either: the streams go on as if the call never happened.
    twin = ZeroOutVectorEnv(2, autoreset_mode="Disabled")
    twin.reset(seed=0)
    assert torch.equal(env.reset()[0], twin.reset()[0])


# --------------------------------------------------------------------------------------------------------
# Device: no host/device sync in the agents' loop
# --------------------------------------------------------------------------------------------------------


@CUDA
@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP], ids=lambda m: m.name)
def test_step_makes_no_host_device_sync_on_cuda(mode: AutoresetMode) -> None:
    env = make_vec(256, "cuda", max_steps=3, autoreset_mode=mode, validate_actions=False)
    env.reset(seed=0)
    gen = torch.Generator(device="cuda").manual_seed(0)
    torch.cuda.set_sync_debug_mode("error")  # any synchronising call raises
    try:
        for _ in range(10):  # max_steps=3: boards reset along the way
            env.step(torch.randint(0, env.size, (256,), device="cuda", generator=gen))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert int(env.steps.max()) <= 3


def test_unchecked_actions_still_get_shape_and_dtype_checks(device: str) -> None:
    env = make_vec(3, device, size=4, validate_actions=False)
    env.reset(seed=0)
    for bad in (torch.zeros(2, dtype=torch.int64, device=device), torch.zeros(3, device=device), "012"):
        with pytest.raises(ValueError, match="valid actions"):
            env.step(bad)


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


@pytest.mark.parametrize("sync_free", [False, True], ids=["indexed-resets", "where-resets"])
@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP], ids=lambda m: m.name)
def test_same_seed_same_boards_and_trajectories(device: str, mode: AutoresetMode, sync_free: bool) -> None:
    a, b = (make_vec(32, device, max_steps=5, autoreset_mode=mode) for _ in range(2))
    a.sync_free_resets = b.sync_free_resets = sync_free
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
    # reset() without a seed continues the streams: new boards, reproducible after reseeding.
    c, _ = env.reset()
    assert not torch.equal(b, c)
    env.reset(seed=2)
    assert torch.equal(env.reset()[0], c)


def test_both_reset_paths_draw_the_same_boards(device: str) -> None:
    indexed, where = (make_vec(32, device, max_steps=5, autoreset_mode="SameStep") for _ in range(2))
    indexed.sync_free_resets, where.sync_free_resets = False, True
    assert same(rollout(indexed, seed=4), rollout(where, seed=4))


def test_a_boards_episodes_depend_on_its_own_seed_only(device: str) -> None:
    """What seeds trained side by side need: board i of a batch seeded with s is board i of any batch
    whose board i gets the seed s * 2**32 + i, whatever the other boards, their number or their seeds."""
    alone = make_vec(4, device, max_steps=4)
    crowd = make_vec(7, device, max_steps=4)
    alone_run = rollout(alone, seed=9)
    seeds = [*row_seeds(9, 4), 3, 1, 2**40]
    obs, _ = crowd.reset(seed=seeds)
    crowd_run = [obs.clone()]
    actions = torch.arange(7, device=device) % 10  # boards 0-3 act as in rollout(alone)
    for _ in range(40):
        crowd_run += [t.clone() for t in crowd.step(actions)[:4]]
    assert same([t[:4] for t in crowd_run], alone_run)
    # Episodes ended (max_steps=4 truncates them) and boards were drawn again.
    assert bool(torch.stack(alone_run[3::4]).any() or torch.stack(alone_run[4::4]).any())


@pytest.mark.parametrize("bad", [[1, 2], [1, 2, -3], [0.5, 1, 2], "abc", -1, True])
def test_bad_seeds_raise_value_errors(bad: Any) -> None:
    env = ZeroOutVectorEnv(3)
    with pytest.raises(ValueError, match="seed"):
        env.reset(seed=bad)


def test_boards_in_a_batch_differ(device: str) -> None:
    env = make_vec(256, device)
    obs, _ = env.reset(seed=0)
    assert torch.unique(obs, dim=0).shape[0] > 250
    # Every value 0..max_value appears in every slot: entries are drawn independently.
    for slot in range(env.size):
        assert set(obs[:, slot].tolist()) == set(range(env.max_value + 1))


def test_uses_its_own_streams(device: str) -> None:
    env = make_vec(16, device, max_steps=3)
    assert isinstance(env.streams, Streams) and env.streams.keys.device.type == torch.device(device).type
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
        before = (env.boards.clone(), env.steps.clone(), env.remaining.clone())
        with pytest.raises(ValueError, match="valid actions"):
            env.step(bad)
        after = (env.boards, env.steps, env.remaining)
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
    kwargs = dict(kwargs)  # the parametrized dict is shared: leave it whole
    num_envs = kwargs.pop("num_envs", 2)
    with pytest.raises(ValueError):
        ZeroOutVectorEnv(num_envs=num_envs, **kwargs)
    with pytest.raises(ValueError):
        gym.make_vec("ZeroOut-v0", num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)


@pytest.mark.parametrize("device", ["tpu", "cuda"])
def test_an_unknown_or_absent_device_is_a_value_error(device: str) -> None:
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("CUDA is here")
    with pytest.raises(ValueError, match=f"'{device}'"):
        ZeroOutVectorEnv(2, device=device)
