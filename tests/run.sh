#!/usr/bin/env bash
# The test command of the README: install what the tests need, then run the default suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
"$PYTHON" -m pip install --quiet --disable-pip-version-check -e '.[test]'
# Horovod for the multi-process tests: built once from PyPI's source release and cached.
PYTHON="$PYTHON" bash launch/install_horovod.sh --no-smoke-test
# One pytest worker per core (pytest-xdist): most tests are single-threaded tracing and XLA
# compilation, so 2 workers on 2 cores take 11 minutes instead of 18. TFQSR_TEST_WORKERS=0 runs
# the tests in one process.
exec "$PYTHON" -m pytest -n "${TFQSR_TEST_WORKERS:-auto}" "$@"
