"""The categorical policy of the policy-gradient agents: log-probabilities and sampling from logits.

Both are written for the CPU's sake: softmax-like kernels over a few columns are slow there, while an exp
and a matrix-vector product for the normalizer are not, forward and backward.
"""

from __future__ import annotations

import torch

LOGIT_LIMIT = 60.0
"""Logits are clamped to +-LOGIT_LIMIT, so exp stays finite in float32 without subtracting each
row's max; past a gap of 120 the smaller probability is below 1e-52 anyway."""


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Log-probabilities of the categorical distribution softmax(clamped logits) over the last dimension."""
    logits = logits.clamp(-LOGIT_LIMIT, LOGIT_LIMIT)
    ones = torch.ones(logits.shape[-1], dtype=logits.dtype, device=logits.device)
    return logits - (logits.exp() @ ones).log_().unsqueeze(-1)


def entropy(log_probs: torch.Tensor) -> torch.Tensor:
    """The entropy of each distribution given by ``log_probs`` (over the last dimension)."""
    return -(log_probs.exp() * log_probs).sum(dim=-1)


def sample_categorical(logits: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """One action per row of ``logits`` (the last dimension indexes actions), drawn from
    softmax(clamped logits) with ``uniforms`` in [0, 1), one per row (shape ``logits.shape[:-1]``).

    Inverse-CDF sampling: one uniform per row and a ``searchsorted`` on the running sums of
    exp(logits), where ``torch.multinomial`` or Gumbel-max would draw a uniform per column.
    """
    cumulative = logits.clamp(-LOGIT_LIMIT, LOGIT_LIMIT).exp_().cumsum(dim=-1)
    draws = uniforms.to(cumulative.dtype).unsqueeze(-1) * cumulative[..., -1:]
    actions = torch.searchsorted(cumulative, draws).squeeze(-1)
    return actions.clamp_(max=logits.shape[-1] - 1)
