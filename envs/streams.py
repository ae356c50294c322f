"""Counter-based random streams: one independent stream per row of a batch, drawn all at once.

A row's draws depend only on its own key and on how many draws it has made, never on the other rows,
the batch size or the device: what many seeds trained side by side in one process need (a member's
boards, exploration and samples must be those it would get alone), and what a global generator cannot
give once the number of draws depends on the data (resetting only the boards whose episodes ended).

Each value is a hash of (row key, row counter, position), so there is no state to split and nothing to
synchronise with the host. The hash is Thomas Mueller's 32-bit integer hash (two rounds of xor-shift and
multiply by 0x45d9f3b), computed exactly in int64 arithmetic (a 32-bit word times a constant below 2**31
stays below 2**63), so CPU and CUDA give the same bits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

MASK32 = 0xFFFFFFFF
GOLDEN = 0x9E3779B9  # 2**32 / golden ratio: spreads consecutive counters and keys apart


MULTIPLIER = 0x45D9F3B


def hash32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash with good avalanche, elementwise on an int64 tensor (its low 32 bits)."""
    x = x & MASK32  # a fresh tensor: the rest works in place on it
    for _ in range(2):
        x ^= x >> 16
        x.mul_(MULTIPLIER).bitwise_and_(MASK32)
    x ^= x >> 16
    return x


def seed_keys(seeds: Sequence[int], device: torch.device | str = "cpu") -> torch.Tensor:
    """A 32-bit stream key per non-negative integer seed: the seed's 32-bit words hashed in turn.

    Seeds below 2**64 (every seed in practice) are keyed all at once; larger ones one by one.
    """
    values = [int(seed) for seed in seeds]
    if any(v < 0 for v in values):
        raise ValueError(f"seeds must be integers >= 0, got {min(values)}")
    if all(v < 2**64 for v in values):
        words = torch.as_tensor(np.array(values, dtype=np.uint64).view(np.int64)).reshape(-1)
        low, high = words & MASK32, (words >> 32) & MASK32
        key = hash32(low + GOLDEN)
        key = torch.where(high != 0, hash32(key ^ (high + GOLDEN)), key)
        return key.to(device)
    keys: list[int] = []
    for value in values:
        chained = 0
        for shift in range(0, max(value.bit_length(), 1), 32):
            chained = int(hash32(torch.tensor(chained ^ (((value >> shift) & MASK32) + GOLDEN))))
        keys.append(chained)
    return torch.tensor(keys, dtype=torch.int64, device=device)


def row_seeds(seed: int, rows: int) -> list[int]:
    """The seed of each of ``rows`` rows seeded together with ``seed``: ``seed * 2**32 + row``.

    A batch seeded with ``seed`` and a batch given these seeds one per row draw the same numbers, which
    is how a member of a group of seeds gets the boards it would get alone.
    """
    return [(int(seed) << 32) + row for row in range(rows)]


class Streams:
    """One random stream per row (``keys``: int64 32-bit keys, shape ``(rows,)``), each with its own counter.

    ``bits(n, rows)`` gives ``n`` fresh 32-bit words to each selected row (all rows by default) and
    advances only those rows' counters; ``uniform`` and ``integers`` build on it.
    """

    def __init__(self, keys: torch.Tensor) -> None:
        self.keys = keys
        self.counters = torch.zeros_like(keys)
        self._offsets: dict[int, torch.Tensor] = {}

    @classmethod
    def from_seeds(cls, seeds: Sequence[int], device: torch.device | str = "cpu") -> Streams:
        return cls(seed_keys(seeds, device))

    def bits(self, n: int, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` 32-bit words per row, the draw numbered by the row's counter, which then advances.

        ``rows`` selects the rows that draw: an int64 index gives words to those rows only, in that
        order; a bool mask gives words to every row (so that shapes never depend on the data, and no
        host sync is needed) but advances the masked rows only, so an unselected row gets the same words
        again next time. None: every row draws.
        """
        offsets = self._offsets.get(n)
        if offsets is None or offsets.device != self.keys.device:  # each position's own offset, hashed once
            positions = torch.arange(n, device=self.keys.device, dtype=torch.int64)
            offsets = self._offsets[n] = hash32(positions + GOLDEN)
        indexed = rows is not None and rows.dtype != torch.bool
        keys, counters = (self.keys[rows], self.counters[rows]) if indexed else (self.keys, self.counters)
        draw = hash32(keys + counters * GOLDEN).unsqueeze(1)  # one value per row and draw
        words = hash32(draw ^ offsets)
        if rows is None:
            self.counters += 1
        elif indexed:
            self.counters[rows] += 1
        else:
            self.counters += rows.long()
        return words

    def uniform(self, n: int, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``(rows, n)`` float32 in [0, 1): 24 random bits each."""
        return (self.bits(n, rows) >> 8).float() * (1.0 / (1 << 24))

    def integers(self, high: int, n: int, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``(rows, n)`` int64 uniform in ``0..high-1``, by multiply-shift: each value from 16 random bits
        (half a word) where ``high <= 256``, its bias below ``high / 2**16``; else from a whole word
        (``high`` at most ``2**31``, where the product still fits in int64)."""
        if not 1 <= high <= 2**31:
            raise ValueError(f"integers: high must lie in [1, 2**31], got {high}")
        if high > 256:
            return (self.bits(n, rows) * high) >> 32
        words = self.bits((n + 1) // 2, rows)
        halves = torch.cat([words & 0xFFFF, words >> 16], dim=1)[:, :n]
        return halves.mul_(high).bitwise_right_shift_(16)
