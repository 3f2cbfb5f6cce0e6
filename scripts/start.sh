#!/usr/bin/env bash
# Starts the bot.  With the default VIDEO_PROVIDER=simulator it needs only DISCORD_TOKEN in .env:
# the built-in simulator serves the Videos API on a loopback port inside the same process.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
exec .venv/bin/python -m bot run "$@"
