#!/usr/bin/env bash
# Build the ROS 2 interface packages the nodes need that are not installed (idempotent).
#
#   scripts/build_interfaces.sh [--force] [--check]
#
# The navigator's TF input (tf2_msgs/TFMessage) and its Nav2 actions (nav2_msgs NavigateToPose,
# FollowPath and the SpeedLimit message) come from packages that a ROS 2 install provides but
# PyPI does not. For each of them that Python cannot import (outside this script's own output),
# this builds a stand-in from ros_ws/fallback/src (same package, type and field names as the
# real packages, so it is wire-compatible) with colcon into ros_ws/fallback/install. A package
# that is importable (a sourced ROS install, or a wheel) is never built, so a real install is
# never shadowed. A stamp (install/.compass_nav_stamp: a digest of the definitions, this Python
# and the packages built) makes a second run return at once.
#
#   --force  rebuild even when the stamp matches
#   --check  only say which packages are importable and which would be built
#
# Output: the list of packages built is in ros_ws/fallback/install/.compass_nav_built (one a
# line; empty when every package was importable); scripts/in_env.sh adds the install's
# site-packages to PYTHONPATH when that list is not empty, and compass_nav.ros.interfaces
# does the same inside Python. Environment: PYTHON (default .venv/bin/python);
# COMPASS_NAV_INTERFACES_WS (default ros_ws/fallback) to build elsewhere.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WS="${COMPASS_NAV_INTERFACES_WS:-$ROOT/ros_ws/fallback}"
SRC="$ROOT/ros_ws/fallback/src"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
FORCE=0
CHECK=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --check) CHECK=1 ;;
    -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build_interfaces.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done
say() { echo "[build_interfaces] $*"; }

INSTALL="$WS/install"
PYVER="$("$PY" -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}")')"
SITE="$INSTALL/lib/$PYVER/site-packages"

# Which packages are missing? Checked with this script's own output taken off PYTHONPATH.
clean_pp=""
IFS=: read -r -a _pp <<< "${PYTHONPATH:-}"
for _p in "${_pp[@]}"; do
  [ -n "$_p" ] && [ "$_p" != "$SITE" ] && clean_pp="${clean_pp:+$clean_pp:}$_p"
done
missing="$(PYTHONPATH="$clean_pp" "$PY" - <<'EOF'
import importlib

CHECKS = {
    "tf2_msgs": [("tf2_msgs.msg", "TFMessage")],
    "nav2_msgs": [
        ("nav2_msgs.action", "NavigateToPose"),
        ("nav2_msgs.action", "FollowPath"),
        ("nav2_msgs.msg", "SpeedLimit"),
    ],
}
for pkg, items in CHECKS.items():
    try:
        for mod, name in items:
            getattr(importlib.import_module(mod), name)
        print(f"have {pkg} {importlib.import_module(pkg).__path__[0]}")
    except (ImportError, AttributeError):
        print(f"need {pkg}")
EOF
)"
need=()
while read -r verb pkg where; do
  if [ "$verb" = have ]; then
    say "$pkg is importable ($where): not built"
  else
    need+=("$pkg")
  fi
done <<< "$missing"

if [ "$CHECK" = 1 ]; then
  say "would build: ${need[*]:-nothing}"
  exit 0
fi

digest() {
  {
    echo "$PYVER ${need[*]:-}"
    "$PY" -c 'import sys; print(sys.version)'
    (cd "$ROOT/ros_ws/fallback" && find src cmake -type f | LC_ALL=C sort | xargs sha256sum)
  } | sha256sum | cut -d' ' -f1
}
want="$(digest)"
STAMP="$INSTALL/.compass_nav_stamp"
if [ "$FORCE" = 0 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  say "up to date (${need[*]:-nothing to build})"
  exit 0
fi

rm -rf "$WS/build" "$INSTALL"
mkdir -p "$INSTALL"
if [ "${#need[@]}" = 0 ]; then
  : > "$INSTALL/.compass_nav_built"
  echo "$want" > "$STAMP"
  say "every interface package is installed; nothing to build"
  exit 0
fi

BIN="$(dirname "$PY")"
PREFIX="$("$PY" -c 'import sys; print(sys.prefix)')"
if ! "$PY" -c 'import colcon_core' 2>/dev/null || [ ! -d "$PREFIX/share/rosidl_default_generators" ]; then
  echo "build_interfaces.sh: cannot build ${need[*]}: colcon and the ROS 2 build wheels" \
    "(requirements/ros.txt: ros-kilted-ament-cmake*, ros-kilted-rosidl-default-generators)" \
    "are not installed in $PREFIX; run scripts/setup_env.sh" >&2
  exit 1
fi
say "building ${need[*]} into $INSTALL (colcon, ~15 s)"
log="$WS/build.log"
mkdir -p "$WS"
# Prefix paths: this environment (the wheels install ament packages in the venv prefix)
# after whatever ROS install is sourced.
export AMENT_PREFIX_PATH="${AMENT_PREFIX_PATH:+$AMENT_PREFIX_PATH:}$PREFIX"
export CMAKE_PREFIX_PATH="${CMAKE_PREFIX_PATH:+$CMAKE_PREFIX_PATH:}$PREFIX"
if ! (cd "$WS" && PATH="$BIN:$PATH" PYTHONPATH="$clean_pp" "$BIN/colcon" \
      --log-base "$WS/log" build --merge-install \
      --base-paths "$SRC" --build-base "$WS/build" --install-base "$INSTALL" \
      --packages-select "${need[@]}" \
      --cmake-args -DBUILD_TESTING=OFF "-DPython3_EXECUTABLE=$PY" \
        "-DCOMPASS_NAV_WHEEL_FIX=$ROOT/ros_ws/fallback/cmake/wheel_paths.cmake" \
        '-DCMAKE_INSTALL_RPATH=$ORIGIN;$ORIGIN/../../..' ) > "$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "build_interfaces.sh: colcon build of ${need[*]} failed; full log: $log" >&2
  exit 1
fi
printf '%s\n' "${need[@]}" > "$INSTALL/.compass_nav_built"
echo "$want" > "$STAMP"
say "built ${need[*]}; importable from $SITE"
