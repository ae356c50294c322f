"""Counter-based random streams: a row's draws are its own, whatever the batch around it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from rlzero.envs.streams import Streams, hash32, seed_keys


def test_a_rows_draws_do_not_depend_on_the_other_rows() -> None:
    alone = Streams.from_seeds([5])
    crowd = Streams.from_seeds([1, 5, 9, 5])
    for n in (3, 1, 7):
        mine = alone.bits(n)[0]
        theirs = crowd.bits(n)
        assert torch.equal(theirs[1], mine) and torch.equal(theirs[3], mine)  # same seed, same stream
        assert not torch.equal(theirs[0], mine) and not torch.equal(theirs[2], mine)


def test_only_selected_rows_advance() -> None:
    streams = Streams.from_seeds([0, 1])
    first = streams.bits(4, rows=torch.tensor([True, False]))
    second = streams.bits(4)
    assert torch.equal(second[1], first[1])  # row 1 did not draw: it gets the same words again
    assert not torch.equal(second[0], first[0])
    assert streams.counters.tolist() == [2, 1]


def test_an_index_draws_what_a_mask_draws() -> None:
    by_mask, by_index = Streams.from_seeds(range(6)), Streams.from_seeds(range(6))
    for rows in ([True, False, True, False, False, True], [False] * 5 + [True], [True] * 6):
        mask = torch.tensor(rows)
        masked = by_mask.bits(3, rows=mask)
        indexed = by_index.bits(3, rows=mask.nonzero().squeeze(1))
        assert torch.equal(masked[mask], indexed)
    assert torch.equal(by_mask.counters, by_index.counters)


def test_seeds_and_same_seed_reproduce() -> None:
    assert torch.equal(seed_keys([0, 1, 2**40 + 3]), seed_keys([0, 1, 2**40 + 3]))
    assert len(set(seed_keys(range(1000)).tolist())) == 1000
    assert seed_keys([2**40 + 3]) != seed_keys([3])  # high words count too
    # Seeds past 2**64 take the slow path; below it the fast one gives the same keys.
    huge = [2**70 + 5, 2**64 - 1, 7]
    assert seed_keys(huge)[1:].tolist() == seed_keys(huge[1:]).tolist()
    assert len(set(seed_keys([*huge, 2**70]).tolist())) == 4
    with pytest.raises(ValueError, match=">= 0"):
        seed_keys([-1])
    a, b = Streams.from_seeds([3]), Streams.from_seeds([3])
    assert torch.equal(a.uniform(100), b.uniform(100))


def test_values_are_uniform_and_in_range() -> None:
    streams = Streams.from_seeds(range(64))
    draws = torch.cat([streams.integers(10, 50) for _ in range(20)]).flatten().numpy()
    assert draws.min() == 0 and draws.max() == 9
    counts = np.bincount(draws, minlength=10)
    assert stats.chisquare(counts).pvalue > 1e-4, counts
    uniform = streams.uniform(1000).flatten().numpy()
    assert uniform.min() >= 0 and uniform.max() < 1
    assert stats.kstest(uniform, "uniform").pvalue > 1e-4
    # Consecutive words of a row, consecutive draws, and neighbouring rows (seeds) are uncorrelated.
    many = Streams.from_seeds(range(20_000))
    first, second = many.uniform(2).numpy(), many.uniform(1).numpy()
    for a, b in ((first[:, 0], first[:, 1]), (first[:, 0], second[:, 0]), (first[:-1, 0], first[1:, 0])):
        assert abs(np.corrcoef(a, b)[0, 1]) < 0.03


def test_hash_is_exact_32_bit_arithmetic() -> None:
    # Inputs at the top of the 32-bit range, and beyond it (only the low 32 bits count).
    x = torch.tensor([0, 1, 0xFFFFFFFF, 0x80000000, 2**40 + 1], dtype=torch.int64)
    out = hash32(x)
    assert out.tolist() == [reference_hash(v & 0xFFFFFFFF) for v in x.tolist()]
    assert out[1] == out[4] and int(out.max()) < 2**32


def reference_hash(x: int) -> int:
    """The same hash in Python's exact integers."""
    x = ((x ^ (x >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
    x = ((x ^ (x >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
    return x ^ (x >> 16)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_cuda_gives_the_same_bits_as_the_cpu() -> None:
    cpu, cuda = Streams.from_seeds(range(8)), Streams.from_seeds(range(8), device="cuda")
    assert torch.equal(cpu.bits(16), cuda.bits(16).cpu())
