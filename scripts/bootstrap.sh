#!/usr/bin/env bash
# Creates .venv (once) and installs the bot with its test tools into it.  Sourced by start.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON_BIN=${PYTHON:-python3}
if ! "$PYTHON_BIN" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "reelbot needs Python 3.11 or newer (found: $("$PYTHON_BIN" --version 2>&1))" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON_BIN" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]" 2>&1 \
    | grep -v "^WARNING: Location" >&2 || true
  .venv/bin/python -c "import discord, aiohttp, aiosqlite, av, cv2, pytest" \
    || { echo "dependency installation failed" >&2; exit 1; }
  rm -f .venv/.installed-*
  touch "$stamp"
fi
