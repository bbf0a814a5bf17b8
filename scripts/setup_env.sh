#!/usr/bin/env bash
# Create or update the project's virtual environment in <repo>/.venv (idempotent).
#
#   scripts/setup_env.sh [--force]
#
# Steps: create .venv if missing; install torch==2.13.0 alone first (so pip takes the local
# CPU wheel instead of a multi-GB CUDA build); install requirements/*.txt; install this
# package editable without dependencies. A stamp file (.venv/.compass_nav_stamp) holds a
# sha256 of the requirement files and build inputs: when it matches, nothing is installed
# and the script returns in about a second. --force ignores the stamp. Last, the ROS 2
# interface packages that are not installed (tf2_msgs, nav2_msgs) are built with colcon
# (scripts/build_interfaces.sh, a no-op when up to date or when they are importable).
# It changes nothing in the calling shell; activate with: . .venv/bin/activate
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
STAMP="$VENV/.compass_nav_stamp"
PYTHON="${PYTHON:-python3}"
TORCH_PIN="torch==2.13.0"
FORCE=0

for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup_env.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

say() { echo "[setup_env] $*"; }

digest() {
  {
    "$VENV/bin/python" -c 'import sys; print(sys.version)'
    echo "$TORCH_PIN"
    sha256sum requirements/*.txt setup.py setup.cfg package.xml
  } | sha256sum | cut -d' ' -f1
}

if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtual environment $VENV ($("$PYTHON" --version 2>&1))"
  "$PYTHON" -m venv "$VENV"
fi

want="$(digest)"
if [ "$FORCE" = 0 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  say "environment up to date ($VENV); nothing to install"
  exec "$ROOT/scripts/build_interfaces.sh"
fi

PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check)

say "installing $TORCH_PIN on its own (CPU wheel from the local wheel folder)"
"${PIP[@]}" "$TORCH_PIN"

req_args=()
for f in requirements/*.txt; do req_args+=(-r "$f"); done
say "installing pinned requirements: ${req_args[*]}"
"${PIP[@]}" "${req_args[@]}"

say "installing compass_nav in editable mode (no dependencies)"
"${PIP[@]}" --no-deps -e .

echo "$want" > "$STAMP"
"$ROOT/scripts/build_interfaces.sh"
say "done; activate with: . .venv/bin/activate"
