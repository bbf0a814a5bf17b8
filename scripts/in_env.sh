#!/usr/bin/env bash
# Run a command offline in the project environment: what scripts/main.sh and scripts/test.sh
# share.
#
#   scripts/in_env.sh COMMAND [ARGS...]
#
# Runs scripts/setup_env.sh (a no-op when nothing changed), puts the venv first on PATH, and
# runs COMMAND from the repository root inside a private network namespace
# (scripts/netns_run.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/scripts/setup_env.sh"
export VIRTUAL_ENV="$ROOT/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
exec "$ROOT/scripts/netns_run.sh" "$@"
