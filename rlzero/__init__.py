"""rlzero: a small, fast, correct reinforcement-learning workbench on the ZeroOut task family.

``import rlzero`` registers ``ZeroOut-v0``, ``ZeroOutCountdown-v0``, ``ZeroOutInOrder-v0``,
``ZeroOutLarge-v0`` and ``ZeroOutFewestSteps-v0`` with Gymnasium (``gym.register_envs(rlzero)`` keeps
linters from flagging the import).
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from rlzero.envs import ENV_KWARGS, register_envs

register_envs()

if TYPE_CHECKING:
    from rlzero.episodes import EvalResult, evaluate


def __getattr__(name: str) -> Any:
    """``rlzero.evaluate`` and ``rlzero.EvalResult``, imported on first use: ``import rlzero`` (and
    ``gym.make`` of a ZeroOut id) loads the environments only."""
    if name in ("evaluate", "EvalResult"):
        from rlzero import episodes

        return getattr(episodes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ENV_KWARGS", "EvalResult", "__version__", "evaluate", "register_envs"]
