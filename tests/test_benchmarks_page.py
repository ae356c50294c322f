"""benchmarks/page.py builds the results page from whatever results are there, and only from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark


def test_a_section_shows_its_first_line_and_first_tables_and_skips_what_has_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = load_benchmark("page")
    monkeypatch.setattr(page, "RESULTS", tmp_path)
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "seeds.md").write_text("`python benchmarks/seeds.py`\n\n| a |\n\n| per seed |\n")
    (tmp_path / "seeds" / "ZeroOut-v0.png").write_bytes(b"")
    (tmp_path / "diagnostics").mkdir()
    (tmp_path / "diagnostics" / "diagnostics.md").write_text("`line`\n\n| dqn |\n\n| policy |\n\n| more |\n")
    text = page.page()
    assert "## Our agents over seeds" in text and "| a |" in text and "| per seed |" not in text
    assert "[ZeroOut-v0](results/seeds/ZeroOut-v0.png)" in text
    assert "| dqn |" in text and "| policy |" in text and "| more |" not in text
    assert "tuned against tuned" not in text  # compare_sb3 has no results here: no section
