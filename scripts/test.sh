#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what it needs, lints, type-checks, tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -k tracker).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
echo "== ruff"
.venv/bin/ruff check .
echo "== pytest"
.venv/bin/python -m pytest "$@"
