#!/usr/bin/env bash
# Quick start: set up the environment, then run the end-to-end demo offline.
#
#   scripts/main.sh [demo args...]      e.g. scripts/main.sh --help
#
# Runs scripts/setup_env.sh (a no-op when nothing changed), then `compass-nav demo ARGS`
# inside a private network namespace (scripts/netns_run.sh) with the venv first on PATH.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/scripts/setup_env.sh"
export VIRTUAL_ENV="$ROOT/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
exec "$ROOT/scripts/netns_run.sh" compass-nav demo "$@"
