"""DQN: it learns ZeroOut-v0, is reproducible, bootstraps correctly, runs on CartPole, validates input."""

import numpy as np
import pytest
import torch

import rlzero
import rlzero.agents.dqn as dqn_module
from rlzero.agents import DQN
from rlzero.agents.buffers import ReplayBuffer, Step, Transitions, n_step_transitions
from rlzero.agents.networks import GroupLayerNorm
from rlzero.curves import criterion
from rlzero.envs.streams import Streams

# Everything the learning test depends on is spelled out, so that changes to DQNConfig's defaults do not
# change what this test measures. Solved by ~30k steps on seeds 0-5, and still solved at 100k.
LEARNING_CONFIG = {
    "num_envs": 256,
    "batch_size": 256,
    "buffer_size": 100_000,
    "learning_starts": 2_000,
    "learning_rate": 1e-3,
    "gamma": 0.99,
    "gradient_steps": 1,
    "target_update_interval": 100,
    "exploration_fraction": 0.25,
    "exploration_initial_eps": 1.0,
    "exploration_final_eps": 0.05,
    "max_grad_norm": 10.0,
    "double_q": True,
    "hidden_sizes": (128, 128),
    "net_arch": "mlp",
}
LEARNING_BUDGET = 100_000

TINY = {"num_envs": 16, "learning_starts": 64, "batch_size": 32, "buffer_size": 1000, "net_arch": "mlp"}


# ---------------------------------------------------------------- learning
@pytest.mark.slow
def test_dqn_solves_zero_out():
    agent = DQN("ZeroOut-v0", seed=0, device="cpu", **LEARNING_CONFIG)
    agent.learn(LEARNING_BUDGET)
    assert agent.num_timesteps >= LEARNING_BUDGET
    result = rlzero.evaluate(agent, "ZeroOut-v0", n_episodes=100)
    assert result.mean_normalized_return >= 0.99, result
    assert criterion("ZeroOut-v0").solved(result.to_dict()), result


# ---------------------------------------------------------------- reproducibility
def short_run(seed):
    agent = DQN("ZeroOut-v0", seed=seed, device="cpu", **TINY).learn(1_500)
    return agent, rlzero.evaluate(agent, "ZeroOut-v0", n_episodes=20)


def test_same_seed_same_weights_and_figures_different_seed_differs():
    a, result_a = short_run(0)
    b, result_b = short_run(0)
    c, _ = short_run(1)
    for name in ("q_net", "target_net"):
        sa, sb = a.networks[name].state_dict(), b.networks[name].state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa), name
    assert result_a == result_b
    # A different seed gives different initial weights, exploration and boards, so different weights.
    sc = c.q_net.state_dict()
    assert not any(torch.equal(a.q_net.state_dict()[k], sc[k]) for k in sc if k.endswith("weight"))


# ---------------------------------------------------------------- bootstrapping
def one_member(batch):
    """Rows of one member's transitions: every field gains the members dimension."""
    return Transitions(*(x.unsqueeze(0) for x in batch))


def constant_q(net, values):
    """Make ``net`` output ``values`` for every observation: zero weights, the head bias holds them."""
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.head.bias.copy_(torch.as_tensor(values, dtype=torch.float32))


def td_loss_on(agent, terminated, reward=0.5, action=0):
    """The loss of one ``_train_step`` on a buffer holding copies of a single hand-made transition."""
    buffer = ReplayBuffer(1, 8, agent.observation_space.shape[0], agent.device)
    obs = torch.ones((8, 10), dtype=torch.int64)
    next_obs = obs.clone()
    next_obs[:, action] = 0
    buffer.add(
        one_member(
            Transitions(
                obs,
                torch.full((8,), action),
                torch.full((8,), reward),
                next_obs,
                torch.full((8,), terminated, dtype=torch.bool),
                torch.full((8,), agent.config.gamma),
            )
        )
    )
    agent.buffer = buffer
    return agent._train_step()


@pytest.fixture
def controlled():
    """gamma 0.5; the online net prefers action 9, the target net values action 9 at 2 and action 0 at 10."""
    agent = DQN("ZeroOut-v0", seed=0, device="cpu", gamma=0.5, **{**TINY, "batch_size": 8})
    constant_q(agent.q_net, np.arange(10) * 0.01)  # Q(s, 0) = 0, argmax at 9
    target = np.zeros(10)
    target[0], target[9] = 10.0, 2.0
    constant_q(agent.target_net, target)
    return agent


def huber(x):
    return 0.5 * x * x if abs(x) < 1 else abs(x) - 0.5


def test_terminal_transition_target_is_the_reward(controlled):
    out = td_loss_on(controlled, terminated=True, reward=0.5)
    assert out["losses/q_values"].item() == pytest.approx(0.0)
    # target = r = 0.5, Q = 0
    assert out["losses/td_loss"].item() == pytest.approx(huber(0.5 - 0.0))


def test_non_terminal_transition_bootstraps_with_double_q(controlled):
    out = td_loss_on(controlled, terminated=False, reward=0.5)
    # target = r + gamma * Q_target(s', argmax_a Q_online(s', a)) = 0.5 + 0.5 * 2 = 1.5
    assert out["losses/td_loss"].item() == pytest.approx(huber(1.5 - 0.0))


def test_non_terminal_transition_bootstraps_with_max_without_double_q(controlled):
    controlled.config.double_q = False
    out = td_loss_on(controlled, terminated=False, reward=0.5)
    # target = r + gamma * max_a Q_target(s', a) = 0.5 + 0.5 * 10 = 5.5
    assert out["losses/td_loss"].item() == pytest.approx(huber(5.5 - 0.0))


def test_targets_seen_by_the_loss(controlled, monkeypatch):
    """The regression targets themselves: reward alone when terminal, bootstrapped otherwise."""
    seen = []

    def spy_on(real_loss):
        def spy(q, target, *args, **kwargs):
            seen.append(target.detach().clone())
            return real_loss(q, target, *args, **kwargs)

        return spy

    for name in ("smooth_l1_loss", "huber_loss", "mse_loss"):  # whichever regression loss DQN uses
        monkeypatch.setattr(dqn_module.F, name, spy_on(getattr(dqn_module.F, name)))
    td_loss_on(controlled, terminated=True, reward=0.5)
    td_loss_on(controlled, terminated=False, reward=-1.0)
    assert len(seen) == 2
    assert torch.allclose(seen[0], torch.full((8,), 0.5))
    assert torch.allclose(seen[1], torch.full((8,), -1.0 + 0.5 * 2.0))


class RecordingBuffer(ReplayBuffer):
    instances = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        RecordingBuffer.instances.append(self)


def test_stored_transitions_never_cross_a_reset(monkeypatch):
    """Every stored row is one real ZeroOut step; truncated rows are not terminal; terminal rows end at 0."""
    RecordingBuffer.instances = []
    monkeypatch.setattr(dqn_module, "ReplayBuffer", RecordingBuffer)
    # max_steps=4 truncates most episodes, so resets happen at every kind of boundary.
    agent = DQN(
        "ZeroOut-v0", seed=0, device="cpu", env_kwargs={"size": 4, "max_value": 2, "max_steps": 4}, **TINY
    )
    agent.learn(800)
    (buffer,) = RecordingBuffer.instances
    n = buffer.size
    assert n == 800 // 16 * 16 or n == buffer.capacity
    obs, next_obs = buffer.obs[0, :n], buffer.next_obs[0, :n]
    actions, rewards, terminated = buffer.actions[0, :n], buffer.rewards[0, :n], buffer.terminated[0, :n]
    rows = torch.arange(n)
    picked = obs[rows, actions]
    expected = obs.clone()
    expected[rows, actions] = 0
    assert torch.equal(next_obs, expected)
    assert torch.equal(rewards, torch.where(picked != 0, 1.0, -1.0))
    assert torch.equal(terminated.bool(), (next_obs == 0).all(dim=1))
    assert terminated.sum() > 0
    # Some stored transitions were cut by the step limit with nonzero entries left: they bootstrap.
    assert ((next_obs != 0).any(dim=1) & ~terminated.bool()).sum() > 0


# ---------------------------------------------------------------- other envs
def test_n_step_transitions_stop_at_the_episode_end():
    """Env 0 runs on, env 1 terminates at its second step, env 2 is truncated at its first."""
    gamma = 0.5
    never = torch.zeros(3, dtype=torch.bool)
    steps = [
        Step(
            obs=torch.full((3, 1), 10 * k),
            actions=torch.full((3,), k),
            rewards=torch.tensor(rewards),
            next_obs=torch.full((3, 1), 10 * k + 1),
            terminated=torch.tensor(terminated),
            truncated=torch.tensor(truncated),
        )
        for k, (rewards, terminated, truncated) in enumerate(
            [
                ([1.0, 1.0, 3.0], [False, False, False], [False, False, True]),
                ([1.0, 2.0, 7.0], [False, True, False], [False, False, False]),
                ([1.0, 5.0, 7.0], never.tolist(), never.tolist()),
            ]
        )
    ]
    out = n_step_transitions(steps, gamma)
    assert out.obs.tolist() == [[0], [0], [0]] and out.actions.tolist() == [0, 0, 0]
    assert out.rewards.tolist() == [1.75, 2.0, 3.0]  # 1 + .5 + .25; 1 + .5 * 2; 3
    assert out.next_obs.tolist() == [[21], [11], [1]]  # where each sum stops
    assert out.terminated.tolist() == [False, True, False]  # only env 1 stops bootstrapping
    assert out.discounts.tolist() == [0.125, 0.25, 0.5]
    one = n_step_transitions(steps[:1], gamma)  # n = 1 is the one-step transition
    assert one.rewards.tolist() == [1.0, 1.0, 3.0] and one.discounts.tolist() == [0.5] * 3


def test_n_step_agent_stores_sums_of_real_steps(monkeypatch):
    """With n_steps=3 each stored row starts at a real state and sums rewards of its own episode."""
    RecordingBuffer.instances = []
    monkeypatch.setattr(dqn_module, "ReplayBuffer", RecordingBuffer)
    kwargs = {"size": 4, "max_value": 2, "max_steps": 4}
    agent = DQN("ZeroOut-v0", seed=0, device="cpu", env_kwargs=kwargs, n_steps=3, gamma=0.5, **TINY)
    agent.learn(800)
    (buffer,) = RecordingBuffer.instances
    n = buffer.size
    assert n == (800 // 16 - 2) * 16  # the first two iterations only fill the window
    discounts = buffer.discounts[0, :n]
    assert set(discounts.tolist()) <= {0.5, 0.25, 0.125}
    assert (discounts == 0.125).any() and (discounts > 0.125).any()
    # ZeroOut pays +1 or -1 a step, so a k-step sum is one of the sums of k such discounted terms.
    rewards, steps_used = buffer.rewards[0, :n], torch.log2(1 / discounts).round().long()
    for k in (1, 2, 3):
        sums = {sum((2 * b - 1) * 0.5**i for i, b in enumerate(bits)) for bits in np.ndindex(*(2,) * k)}
        assert set(rewards[steps_used == k].tolist()) <= sums, k


def test_polyak_target_moves_tau_of_the_way():
    agent = DQN("ZeroOut-v0", seed=0, device="cpu", tau=0.25, **TINY)
    before = [p.clone() for p in agent.target_net.parameters()]
    with torch.no_grad():
        for p in agent.q_net.parameters():
            p.add_(1.0)
    agent._update_target()
    for old, new, online in zip(before, agent.target_net.parameters(), agent.q_net.parameters(), strict=True):
        assert torch.allclose(new, old + 0.25 * (online - old))
    agent.tau.fill_(1.0)
    agent._update_target()
    pairs = zip(agent.target_net.parameters(), agent.q_net.parameters(), strict=True)
    assert all(torch.equal(target, online) for target, online in pairs)


def test_an_integer_tau_is_a_float_hyperparameter():
    agent = DQN("ZeroOut-v0", seed=0, device="cpu", tau=1, target_update_interval=1, **TINY).learn(128)
    assert agent.n_updates > 0
    pairs = zip(agent.target_net.parameters(), agent.q_net.parameters(), strict=True)
    assert all(torch.equal(target, online) for target, online in pairs)


def test_no_update_before_the_buffer_holds_a_transition():
    """n-step transitions reach the buffer n - 1 iterations late: there is nothing to learn from before."""
    config = {**TINY, "learning_starts": 0, "n_steps": 3}
    agent = DQN("ZeroOut-v0", seed=0, device="cpu", **config).learn(2 * TINY["num_envs"])
    assert (agent.buffer.size, agent.n_updates) == (0, 0)
    agent.learn(TINY["num_envs"], reset_num_timesteps=False)
    assert (agent.buffer.size, agent.n_updates) == (TINY["num_envs"], 1)
    with pytest.raises(ValueError, match="empty replay buffer"):
        ReplayBuffer(1, 10, 1, torch.device("cpu")).sample(4, Streams.from_seeds([0]))


def test_a_loaded_agent_resumes_on_what_it_collects_and_explores_as_saved(tmp_path):
    agent = DQN("ZeroOut-v0", seed=0, device="cpu", n_steps=2, **TINY).learn(512)
    loaded = DQN.load(agent.save(tmp_path / "model.pt"), device="cpu")
    assert torch.equal(loaded.exploration_rate, agent.exploration_rate)
    assert float(loaded.exploration_rate[0]) == pytest.approx(agent.config.exploration_final_eps)
    loaded.learn(TINY["num_envs"], reset_num_timesteps=False)  # past learning_starts, an empty buffer
    assert (loaded.buffer.size, loaded.n_updates) == (0, 0)
    loaded.learn(TINY["num_envs"], reset_num_timesteps=False)
    assert (loaded.buffer.size, loaded.n_updates) == (TINY["num_envs"], 1)


def test_layer_norm_and_annealed_learning_rate():
    agent = DQN("ZeroOut-v0", seed=0, device="cpu", layer_norm=True, anneal_lr=True, **TINY)
    assert sum(isinstance(m, GroupLayerNorm) for m in agent.q_net.modules()) == 2
    agent.learn(800)
    assert float(agent.optimizer.lr[0]) < agent.config.learning_rate * 0.05


@pytest.mark.slow
def test_dqn_trains_on_cartpole_through_the_numpy_adapter():
    agent = DQN(
        "CartPole-v1",
        seed=0,
        device="cpu",
        num_envs=4,
        learning_starts=500,
        batch_size=64,
        buffer_size=5_000,
        hidden_sizes=(64, 64),
    )
    agent.learn(3_000)
    assert agent.num_timesteps >= 3_000
    obs = np.array([0.01, -0.02, 0.03, 0.04], dtype=np.float32)
    action, state = agent.predict(obs)
    assert state is None
    assert isinstance(action, np.ndarray) and action.shape == ()
    assert int(action) in (0, 1)
    batch = np.random.default_rng(0).normal(0, 0.05, size=(5, 4)).astype(np.float32)
    actions, _ = agent.predict(batch, deterministic=True)
    assert actions.shape == (5,)
    assert set(actions.tolist()) <= {0, 1}
    tensor_actions, _ = agent.predict(torch.as_tensor(batch))
    assert isinstance(tensor_actions, torch.Tensor)
    assert tensor_actions.tolist() == actions.tolist()
    result = rlzero.evaluate(agent, "CartPole-v1", n_episodes=5)
    assert result.mean_normalized_return is None
    assert result.mean_length > 11  # longer than pushing one way lasts (8 to 11 steps): it acts on the state


def test_predict_single_and_batched_observations_agree():
    agent = DQN("ZeroOut-v0", seed=0, device="cpu", **TINY)
    batch = np.random.default_rng(0).integers(0, 10, size=(6, 10))
    actions, _ = agent.predict(batch)
    assert actions.shape == (6,)
    for row, action in zip(batch, actions, strict=True):
        single, _ = agent.predict(row)
        assert single.shape == ()
        assert int(single) == int(action)


# ---------------------------------------------------------------- hyperparameters
def test_unknown_hyperparameter_lists_valid_ones():
    with pytest.raises(ValueError, match="learnin_rate") as info:
        DQN("ZeroOut-v0", device="cpu", learnin_rate=1e-3)
    message = str(info.value)
    assert "valid" in message
    for name in ("learning_rate", "batch_size", "gamma", "buffer_size", "target_update_interval"):
        assert name in message


@pytest.mark.parametrize(
    ("hparams", "name"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": -32}, "batch_size"),
        ({"gamma": 2}, "gamma"),
        ({"gamma": -0.1}, "gamma"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"num_envs": 0}, "num_envs"),
        ({"buffer_size": 8, "num_envs": 16}, "buffer_size"),
        ({"target_update_interval": 0}, "target_update_interval"),
        ({"tau": 0.0}, "tau"),
        ({"tau": 1.5}, "tau"),
        ({"n_steps": 0}, "n_steps"),
        ({"max_grad_norm": 0.0}, "max_grad_norm"),
        ({"exploration_initial_eps": 1.5}, "exploration_initial_eps"),
        ({"exploration_final_eps": -0.01}, "exploration_final_eps"),
    ],
)
def test_bad_hyperparameter_values_are_value_errors(hparams, name):
    with pytest.raises(ValueError, match=name):
        DQN("ZeroOut-v0", device="cpu", **hparams)


def test_unknown_env_is_a_value_error():
    with pytest.raises(ValueError, match="NoSuchEnv-v0"):
        DQN("NoSuchEnv-v0", device="cpu", **TINY)


# ---------------------------------------------------------------- replay buffer
def test_replay_buffer_wraps_around():
    buffer = ReplayBuffer(1, 10, 2, torch.device("cpu"))
    for start in (0, 4, 8, 12):  # rows of 4 into a capacity of 10: 4, 8, 10 (wrapped), 10
        ids = torch.arange(start, start + 4)
        buffer.add(
            one_member(
                Transitions(
                    torch.stack([ids, ids], dim=1),
                    ids,
                    ids.float(),
                    torch.stack([ids, -ids], dim=1),
                    ids % 2 == 0,
                    ids.float() / 100,
                )
            )
        )
    # Row i holds the most recent id congruent to i mod 10: ids 10..15 overwrote 0..5.
    expected = torch.tensor([10, 11, 12, 13, 14, 15, 6, 7, 8, 9])
    assert buffer.size == 10
    assert buffer.pos == 16 % 10
    assert torch.equal(buffer.actions[0], expected)
    assert torch.equal(buffer.rewards[0], expected.float())
    assert torch.equal(buffer.obs[0], torch.stack([expected, expected], dim=1).float())
    assert torch.equal(buffer.next_obs[0], torch.stack([expected, -expected], dim=1).float())
    assert torch.equal(buffer.terminated[0], (expected % 2 == 0).float())
    assert torch.equal(buffer.discounts[0], expected.float() / 100)


def test_replay_buffer_partial_fill_and_sampling():
    buffer = ReplayBuffer(1, 10, 1, torch.device("cpu"))
    ids = torch.arange(3)
    buffer.add(one_member(Transitions(ids[:, None], ids, ids.float(), ids[:, None], ids < 0, ids.float())))
    assert (buffer.size, buffer.pos) == (3, 3)
    batch = Transitions(*(x[0] for x in buffer.sample(200, Streams.from_seeds([0]))))
    # Only filled rows are sampled, and each sample keeps its fields together.
    assert set(batch.actions.tolist()) == {0, 1, 2}
    assert torch.equal(batch.rewards, batch.actions.float())
    assert torch.equal(batch.obs[:, 0], batch.actions.float())
    assert torch.equal(batch.discounts, batch.actions.float())
    # One add larger than what is left before the end wraps in the same call.
    more = torch.arange(3, 11)
    buffer.add(
        one_member(Transitions(more[:, None], more, more.float(), more[:, None], more < 0, more.float()))
    )
    assert (buffer.size, buffer.pos) == (10, 1)
    assert buffer.actions[0].tolist() == [10, 1, 2, 3, 4, 5, 6, 7, 8, 9]
