#!/usr/bin/env bash
# Quick start: set up the environment, then run the end-to-end demo offline.
#
#   scripts/main.sh [demo args...]      e.g. scripts/main.sh --help
#
# Runs scripts/setup_env.sh (a no-op when nothing changed), then `compass-nav demo ARGS`
# inside a private network namespace (scripts/netns_run.sh) with the venv first on PATH.
set -euo pipefail

exec "$(dirname "${BASH_SOURCE[0]}")/in_env.sh" compass-nav demo "$@"
