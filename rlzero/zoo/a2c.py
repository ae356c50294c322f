"""rl-zoo3's ``-conf rlzero.zoo.a2c``: SB3 A2C hyperparameters per ZeroOut id, from ``a2c.yml``."""

from rlzero.zoo import load

hyperparams = load("a2c")
