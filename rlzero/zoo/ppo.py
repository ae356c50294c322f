"""rl-zoo3's ``-conf rlzero.zoo.ppo``: SB3 PPO hyperparameters per ZeroOut id, from ``ppo.yml``."""

from rlzero.zoo import load

hyperparams = load("ppo")
