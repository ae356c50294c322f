# One command per developer chore. PYTHON defaults to the project's venv (see the README's set-up).
PYTHON ?= .venv/bin/python

.PHONY: test lint format type check bench

test:  ## the README's test command
	$(PYTHON) -m pytest -q

lint:  ## what CI checks: ruff's rules and formatting
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

format:  ## fix what ruff can fix, and format
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

type:  ## mypy on rlzero, rlzero.envs and rlzero.agents as they install
	PYTHON=$(PYTHON) .ci/typecheck

check: lint type test  ## everything CI runs after installing

bench:  ## every benchmark's pipeline on a tiny budget (the full runs: benchmarks/README.md)
	$(PYTHON) benchmarks/throughput.py --quick --out /tmp/rlzero-bench/throughput.json
	$(PYTHON) benchmarks/seeds.py --agents dqn --envs ZeroOut-v0 --seeds 0 --out /tmp/rlzero-bench/seeds
	$(PYTHON) benchmarks/groups.py --agents reinforce --seeds 0-1 --budget ZeroOut-v0=4096 --out /tmp/rlzero-bench/groups
	$(PYTHON) benchmarks/compare_sb3.py --quick --out /tmp/rlzero-bench/compare_sb3
	$(PYTHON) benchmarks/transfer.py --quick --out /tmp/rlzero-bench/transfer
	$(PYTHON) benchmarks/diagnostics.py --quick --out /tmp/rlzero-bench/diagnostics
