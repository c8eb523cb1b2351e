#!/usr/bin/env bash
# Set up paperwire and run it on the bundled demo data (demo/): ingest, index, serve.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export PAPERWIRE_DB=${PAPERWIRE_DB:-var/demo.db}
paperwire ingest demo/records.jsonl.gz
paperwire stats
paperwire latest --limit 10
