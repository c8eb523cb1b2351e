#!/usr/bin/env bash
# Set up paperwire with its test tools, then run the test suite on both engines: SQLite, then
# PostgreSQL (a throwaway server from scripts/pg-cluster.sh, or the one PAPERWIRE_TEST_DB names,
# on which every test gets its own database). PAPERWIRE_TEST_ENGINES=sqlite or postgresql runs
# one half only. Arguments go to pytest in both halves (e.g. a test file).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
. .venv/bin/activate
ENGINES=${PAPERWIRE_TEST_ENGINES:-sqlite postgresql}

# The PostgreSQL half runs the same tests; the few that need something not yet ported are
# skipped there with their reason (tests/conftest.py NOT_ON_POSTGRES; -rs lists every one).

if [[ " $ENGINES " == *" sqlite "* ]]; then
    env -u PAPERWIRE_TEST_DB python -m pytest -q "$@"
fi
if [[ " $ENGINES " == *" postgresql "* ]]; then
    if [ -z "${PAPERWIRE_TEST_DB:-}" ]; then
        PGDIR=$(bash scripts/pg-cluster.sh start)
        trap 'bash scripts/pg-cluster.sh stop "$PGDIR"' EXIT
        export PAPERWIRE_TEST_DB=$(bash scripts/pg-cluster.sh url "$PGDIR")
    fi
    python -m pytest -q -rs "$@"
fi
