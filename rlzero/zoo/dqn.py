"""rl-zoo3's ``-conf rlzero.zoo.dqn``: SB3 DQN hyperparameters per ZeroOut id, from ``dqn.yml``."""

from rlzero.zoo import load

hyperparams = load("dqn")
