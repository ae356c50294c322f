"""ZeroOutFewestSteps-v0 needs credit assignment; CartPole-v1 learns with the shipped presets.

On FewestSteps every pick pays -1, productive or not, so only the future (a shorter episode) tells a
productive pick from a wasted one: an agent that looks one step ahead (``gamma=0``, a contextual
bandit) cannot solve it, while the same agent with its preset's discount does. On every other
ZeroOut id a right pick pays at once, which a bandit learns as well as anyone.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import rlzero
from rlzero.agents.callbacks import Callback
from rlzero.agents.presets import make_agent, preset_for
from rlzero.episodes import evaluate_members


class StopAt(Callback):
    def __init__(self, steps: int) -> None:
        self.steps = steps

    def on_step(self, env_steps: Sequence[int], metrics: object) -> bool:
        return min(env_steps) < self.steps


FEWEST = "ZeroOutFewestSteps-v0"
SEEDS = [0, 1, 2, 3]
STOP = {"dqn": None, "reinforce": 30_000, "ppo": 30_000}
"""Env steps after which a run stops (None: the preset's budget). The policy agents solve FewestSteps
within 10k env steps of their preset's run, DQN only late in its budget."""


def final_scores(agent: str, overrides: dict[str, float]) -> list[float]:
    """Final mean normalized return of each of seeds 0-3, trained as one group with the preset."""
    budget = preset_for(agent, FEWEST)[1].total_timesteps
    stop = STOP[agent]
    callback = StopAt(stop) if stop is not None else None
    group = make_agent(agent, FEWEST, overrides, device="cpu", seed=SEEDS).learn(budget, callback=callback)
    return [result.mean_normalized_return for result in evaluate_members(group, FEWEST)]


@pytest.mark.slow
@pytest.mark.parametrize("agent", ["dqn", "reinforce", "ppo"])
def test_fewest_steps_needs_the_discount(agent: str) -> None:
    """The myopic agent has no signal (every pick pays -1), so its policy only drifts: on a seed it may
    drift onto the optimum by chance, hence several seeds and their mean."""
    default, myopic = final_scores(agent, {}), final_scores(agent, {"gamma": 0.0})
    assert min(default) >= 0.99, default
    assert sum(myopic) / len(myopic) < 0.5, myopic


@pytest.mark.slow
@pytest.mark.parametrize(("agent", "steps"), [("dqn", 20_000), ("reinforce", 25_000), ("ppo", 15_000)])
def test_cartpole_preset_learns_to_balance(agent: str, steps: int) -> None:
    """The first ``steps`` of the preset's run (its schedules set by the whole budget) balance far
    longer than chance: random play lasts about 22 steps, always pushing one way about 9. The full
    budget's figures are in benchmarks/README.md."""
    budget = preset_for(agent, "CartPole-v1")[1].total_timesteps
    trained = make_agent(agent, "CartPole-v1", device="cpu", seed=0).learn(budget, callback=StopAt(steps))
    assert trained.num_timesteps < budget
    assert rlzero.evaluate(trained, "CartPole-v1", n_episodes=20).mean_return >= 100
