#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what it needs, lints (ruff), type-checks (mypy), tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -k tracker).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy"
.venv/bin/mypy bot cogs storage
echo "== pytest"
.venv/bin/python -m pytest "$@"
