#!/usr/bin/env bash
# Set up a virtual environment with the test extras and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
# two worker processes (the machines have 2 cores), a whole module per worker so each
# module's served workspace and browser are built once; CITIZENDATA_TEST_WORKERS=0 runs in one
exec .venv/bin/python -m pytest -n "${CITIZENDATA_TEST_WORKERS:-2}" --dist loadfile "$@"
