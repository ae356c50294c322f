"""rlzero: a small, fast, correct reinforcement-learning workbench on the ZeroOut task family.

``import rlzero`` registers ``ZeroOut-v0``, ``ZeroOutCountdown-v0``, ``ZeroOutInOrder-v0`` and
``ZeroOutLarge-v0`` with Gymnasium (``gym.register_envs(rlzero)`` keeps linters from flagging the import).
"""

from rlzero.registration import ENV_KWARGS, register_envs

__version__ = "0.1.0"

register_envs()

__all__ = ["ENV_KWARGS", "__version__", "register_envs"]
