#!/usr/bin/env bash
# Run the test suite offline: set up the environment, then pytest inside a private netns.
#
#   scripts/test.sh [pytest args...]     e.g. scripts/test.sh test/test_packaging.py -x
#
# With no path argument pytest collects test/ (testpaths in pyproject.toml), so options such
# as `-k name` still run over the whole suite while an explicit file runs only that file.
set -euo pipefail

exec "$(dirname "${BASH_SOURCE[0]}")/in_env.sh" python -m pytest -q "$@"
