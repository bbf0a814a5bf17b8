#!/usr/bin/env bash
# Run a command offline in the project environment: what scripts/main.sh and scripts/test.sh
# share.
#
#   scripts/in_env.sh COMMAND [ARGS...]
#
# Runs scripts/setup_env.sh (a no-op when nothing changed), puts the venv first on PATH and
# the interface packages built by scripts/build_interfaces.sh (if any) on PYTHONPATH, and
# runs COMMAND from the repository root inside a private network namespace
# (scripts/netns_run.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/scripts/setup_env.sh"
export VIRTUAL_ENV="$ROOT/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
# Interface packages built by scripts/build_interfaces.sh (only those not installed otherwise),
# after anything already on PYTHONPATH so that a sourced ROS install keeps precedence.
FALLBACK_INSTALL="$ROOT/ros_ws/fallback/install"
if [ -s "$FALLBACK_INSTALL/.compass_nav_built" ]; then
  for site in "$FALLBACK_INSTALL"/lib/python3*/site-packages; do
    export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$site"
  done
fi
exec "$ROOT/scripts/netns_run.sh" "$@"
