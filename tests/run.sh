#!/usr/bin/env bash
# The test command of the README: install what the tests need, then run the default suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
"$PYTHON" -m pip install --quiet --disable-pip-version-check -e '.[test]'
exec "$PYTHON" -m pytest "$@"
