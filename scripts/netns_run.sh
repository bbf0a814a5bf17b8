#!/usr/bin/env bash
# Run a command inside a private network namespace where only loopback is up.
#
#   scripts/netns_run.sh CMD [ARGS...]
#
# Fast DDS multicasts discovery and data out of the machine's network interfaces even when
# told to stay on localhost, so every process that starts ROS 2 nodes (tests, demos,
# benchmarks) runs through this script. If a namespace cannot be created the command is NOT
# run: there is deliberately no fallback to the real network.
# Also sets, when unset: RMW_IMPLEMENTATION=rmw_fastrtps_cpp, and puts the venv prefix
# ($VIRTUAL_ENV, else <repo>/.venv) on AMENT_PREFIX_PATH so ament_index finds the messages.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() { echo "netns_run.sh: $*" >&2; exit 1; }

if [ "$#" -eq 0 ]; then
  echo "usage: scripts/netns_run.sh CMD [ARGS...]" >&2
  exit 2
fi

command -v unshare >/dev/null 2>&1 \
  || die "'unshare' not found; install util-linux (apt-get install -y util-linux)"
command -v ip >/dev/null 2>&1 \
  || die "'ip' not found; install iproute2 (apt-get install -y iproute2)"

if ! err="$(unshare -n true 2>&1)"; then
  die "cannot create a private network namespace (unshare -n: ${err:-failed}).
Run as root or with CAP_SYS_ADMIN (in a container: --cap-add SYS_ADMIN).
Refusing to run '$1' on the real network: DDS would leave this machine."
fi

prefix="${VIRTUAL_ENV:-$ROOT/.venv}"
case ":${AMENT_PREFIX_PATH:-}:" in
  *":$prefix:"*) ;;
  *) export AMENT_PREFIX_PATH="$prefix${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
esac
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"

# shellcheck disable=SC2016  # "$@" must expand inside the namespace's shell, not here.
exec unshare -n sh -c 'ip link set lo up || exit 1; exec "$@"' sh "$@"
