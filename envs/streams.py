"""Counter-based random streams: one independent stream per row of a batch, drawn all at once.

A row's draws depend only on its own key and on how many draws it has made, never on the other rows,
the batch size or the device: what many seeds trained side by side in one process need (a member's
boards, exploration and samples must be those it would get alone), and what a global generator cannot
give once the number of draws depends on the data (resetting only the boards whose episodes ended).

Each value is a hash of (row key, row counter, position), so there is no state to split and nothing to
synchronise with the host. The hash is Chris Wellons' ``lowbias32`` on 32-bit words, computed exactly
in int64 arithmetic (no product exceeds 2**63), so CPU and CUDA give the same bits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

MASK32 = 0xFFFFFFFF
GOLDEN = 0x9E3779B9  # 2**32 / golden ratio: spreads consecutive counters and keys apart


def _mul32(x: torch.Tensor, constant: int) -> torch.Tensor:
    """``(x * constant) mod 2**32`` for 32-bit ``x`` without int64 overflow: multiply 16-bit halves."""
    high = ((x >> 16) * constant) & 0xFFFF
    return ((high << 16) + (x & 0xFFFF) * constant) & MASK32


def hash32(x: torch.Tensor) -> torch.Tensor:
    """``lowbias32``: a 32-bit integer hash with good avalanche, elementwise on an int64 tensor."""
    x = x & MASK32
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def seed_keys(seeds: Sequence[int] | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """32-bit stream keys from integer seeds (any size: the seed's 32-bit words are hashed together)."""
    keys = []
    for seed in torch.as_tensor(seeds).reshape(-1).tolist():
        key, seed = 0, int(seed)
        for _ in range(max(1, (seed.bit_length() + 31) // 32)):
            key = int(hash32(torch.tensor(key ^ ((seed & MASK32) + GOLDEN))))
            seed >>= 32
        keys.append(key)
    return torch.tensor(keys, dtype=torch.int64, device=device)


class Streams:
    """One random stream per row (``keys``: int64 32-bit keys, shape ``(rows,)``), each with its own counter.

    ``bits(rows, n)`` gives ``n`` fresh 32-bit words to each selected row (all rows by default) and
    advances only those rows' counters; ``uniform`` and ``integers`` build on it.
    """

    def __init__(self, keys: torch.Tensor) -> None:
        self.keys = keys
        self.counters = torch.zeros_like(keys)
        self._positions: dict[int, torch.Tensor] = {}

    @classmethod
    def from_seeds(cls, seeds: Sequence[int] | torch.Tensor, device: torch.device | str = "cpu") -> Streams:
        return cls(seed_keys(seeds, device))

    def bits(self, n: int, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``(rows, n)`` 32-bit words: draw ``counter`` of each selected row, at positions 0..n-1.

        ``rows`` is a bool mask; unselected rows get words too (so that shapes never depend on the data)
        but their counters do not move, so what they get is drawn again, the same, next time.
        """
        positions = self._positions.get(n)
        if positions is None or positions.device != self.keys.device:
            positions = self._positions[n] = torch.arange(n, device=self.keys.device, dtype=torch.int64)
        draw = hash32(self.keys ^ hash32(self.counters * GOLDEN)).unsqueeze(1)
        words = hash32(draw ^ hash32(positions + GOLDEN))
        self.counters += 1 if rows is None else rows.long()
        return words

    def uniform(self, n: int, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``(rows, n)`` float32 in [0, 1): 24 random bits each."""
        return (self.bits(n, rows) >> 8).float() * (1.0 / (1 << 24))

    def integers(self, high: int, n: int, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``(rows, n)`` int64 uniform in ``0..high-1`` (32-bit multiply-shift: bias below high / 2**32)."""
        return (self.bits(n, rows) * high) >> 32
