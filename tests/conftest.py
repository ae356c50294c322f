"""Shared test setup."""

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """Every module runs on one torch thread and leaves the count as it found it.

    The networks are small, so one thread is fastest and does not oversubscribe a shared machine;
    the CLIs under test also set the count (``--threads``, default 1), and this restores it.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
