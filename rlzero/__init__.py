"""rlzero: a small, fast, correct reinforcement-learning workbench on the ZeroOut task family.

``import rlzero`` registers ``ZeroOut-v0``, ``ZeroOutCountdown-v0``, ``ZeroOutInOrder-v0``,
``ZeroOutLarge-v0`` and ``ZeroOutFewestSteps-v0`` with Gymnasium (``gym.register_envs(rlzero)`` keeps
linters from flagging the import).
"""

__version__ = "0.1.0"

from rlzero.registration import ENV_KWARGS, register_envs

register_envs()

from rlzero.evaluation import EvalResult, evaluate  # noqa: E402

__all__ = ["ENV_KWARGS", "EvalResult", "__version__", "evaluate", "register_envs"]
