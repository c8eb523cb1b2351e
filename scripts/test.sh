#!/usr/bin/env bash
# Set up paperwire with its test tools, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
. .venv/bin/activate
python -m pytest -q "$@"
